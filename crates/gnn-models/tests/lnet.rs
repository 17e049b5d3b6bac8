//! L0Net / L1Net (`gnn_models::LNet`) on QM9 molecules of the embedded sample, in f64:
//! the predicted scalar is invariant under proper and improper rotations, translations and atom
//! permutations; forces equal finite differences; the dipole head's moments rotate with the
//! molecule; unknown elements are errors.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use chem_graph::neighbors::RadiusOptions;
use chem_graph::qm9::Qm9Dataset;
use chem_graph::{GraphBatch, Structure};
use gnn_layers::o3::SoftOneHotBasis;
use gnn_layers::GraphTensors;
use gnn_models::models::schnet::Readout;
use gnn_models::GraphModel;
use gnn_models::{LNet, LNetConfig, LNetHead};

fn config(features: &str, lmax_filter: u32) -> LNetConfig {
    LNetConfig {
        elements: vec![1, 6, 7, 8, 9],
        embedding: 8,
        features: features.parse().unwrap(),
        layers: 2,
        lmax_filter,
        cutoff: 4.0,
        radial_basis: 6,
        basis: SoftOneHotBasis::Bessel,
        radial_neurons: 12,
        radial_layers: 1,
        residual: true,
        num_neighbors: 10.0,
        readout: Readout::Add,
        mean: 0.3,
        std: 2.0,
        atomref: Some(vec![-0.5, -38.0, -54.6, -75.1, -99.7]),
        head: LNetHead::Scalar,
    }
}

fn network(config: &LNetConfig) -> LNet {
    let varmap = VarMap::new();
    LNet::new(config, VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap()
}

fn molecules() -> Vec<Structure> {
    let d = Qm9Dataset::embedded_sample().unwrap();
    vec![d.structure(11), d.structure(1234)]
}

/// Outputs `[graphs]` and the positions variable.
fn predict(net: &LNet, molecules: &[Structure]) -> (Vec<f64>, Tensor, Var) {
    let batch = GraphBatch::from_structures(molecules, &RadiusOptions::new(net.config().cutoff)).unwrap();
    let g = GraphTensors::new(&batch, DType::F64, &Device::Cpu).unwrap();
    let positions = Var::from_tensor(&g.positions).unwrap();
    let y = net.forward(&g, positions.as_tensor()).unwrap();
    (y.flatten_all().unwrap().to_vec1::<f64>().unwrap(), y, positions)
}

fn transformed(molecules: &[Structure], f: impl Fn([f64; 3]) -> [f64; 3]) -> Vec<Structure> {
    molecules
        .iter()
        .map(|m| Structure::molecule(m.numbers.clone(), m.positions.iter().map(|&p| f(p)).collect()).unwrap())
        .collect()
}

fn close(a: &[f64], b: &[f64], tolerance: f64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tolerance * y.abs().max(1.0))
}

#[test]
fn l0net_and_l1net_predictions_are_invariant() {
    for (features, lmax, basis) in [
        ("12x0e", 0, SoftOneHotBasis::Bessel),
        ("6x0e+3x1o", 1, SoftOneHotBasis::Bessel),
        ("6x0e+3x1o", 1, SoftOneHotBasis::Gaussian),
        ("6x0e+3x1o+2x2e", 2, SoftOneHotBasis::Bessel),
    ] {
        let net = network(&LNetConfig { basis, ..config(features, lmax) });
        let mols = molecules();
        let (y, _, _) = predict(&net, &mols);
        let (s, c) = 0.8f64.sin_cos();
        let rotate = |p: [f64; 3]| [c * p[0] - s * p[2], p[1], s * p[0] + c * p[2]];
        let (rotated, _, _) = predict(&net, &transformed(&mols, rotate));
        let (inverted, _, _) = predict(&net, &transformed(&mols, |p| rotate(p).map(|v| -v)));
        let (shifted, _, _) = predict(&net, &transformed(&mols, |p| [p[0] + 5.0, p[1] - 2.0, p[2] + 0.5]));
        for (name, other) in [("rotation", &rotated), ("improper rotation", &inverted), ("translation", &shifted)] {
            assert!(close(other, &y, 1e-10), "{features}: {name} changed {y:?} to {other:?}");
        }
        let reversed: Vec<Structure> = mols
            .iter()
            .map(|m| {
                let order: Vec<usize> = (0..m.len()).rev().collect();
                let numbers = order.iter().map(|&a| m.numbers[a]).collect();
                Structure::molecule(numbers, order.iter().map(|&a| m.positions[a]).collect()).unwrap()
            })
            .collect();
        assert!(close(&predict(&net, &reversed).0, &y, 1e-10), "{features}: atom order matters");
    }
}

/// Dipole moments `[graphs][3]` of the dipole head.
fn dipoles(net: &LNet, molecules: &[Structure]) -> Vec<Vec<f64>> {
    let batch = GraphBatch::from_structures(molecules, &RadiusOptions::new(net.config().cutoff)).unwrap();
    let g = GraphTensors::new(&batch, DType::F64, &Device::Cpu).unwrap();
    net.dipole(&g, &g.positions).unwrap().to_vec2::<f64>().unwrap()
}

#[test]
fn dipole_heads_predict_moments_that_rotate_with_the_molecule() {
    for (features, lmax) in [("12x0e", 0), ("6x0e+3x1o", 1)] {
        let net = network(&LNetConfig { head: LNetHead::Dipole, ..config(features, lmax) });
        let mols = molecules();
        let mu = dipoles(&net, &mols);
        let (s, c) = 0.8f64.sin_cos();
        let rotate = |p: [f64; 3]| [c * p[0] - s * p[2], p[1], s * p[0] + c * p[2]];
        let expected: Vec<f64> = mu.iter().flat_map(|m| rotate([m[0], m[1], m[2]])).collect();
        let rotated: Vec<f64> = dipoles(&net, &transformed(&mols, rotate)).concat();
        assert!(close(&rotated, &expected, 1e-10), "{features}: {rotated:?} vs R·μ {expected:?}");
        let inverted: Vec<f64> = dipoles(&net, &transformed(&mols, |p| p.map(|v| -v))).concat();
        let minus: Vec<f64> = mu.concat().iter().map(|v| -v).collect();
        assert!(close(&inverted, &minus, 1e-10), "{features}: inversion gave {inverted:?}, not −μ");
        let shifted = dipoles(&net, &transformed(&mols, |p| [p[0] + 5.0, p[1] - 2.0, p[2] + 0.5])).concat();
        assert!(close(&shifted, &mu.concat(), 1e-10), "{features}: translation changed μ");
        let (norm, y, positions) = predict(&net, &mols);
        let lengths: Vec<f64> = mu.iter().map(|m| m.iter().map(|v| v * v).sum::<f64>().sqrt()).collect();
        assert!(close(&norm, &lengths, 1e-10) && lengths.iter().all(|&l| l > 1e-3), "{norm:?} vs |μ| {lengths:?}");
        let gradient =
            y.sum_all().unwrap().backward().unwrap().get(positions.as_tensor()).unwrap().to_vec2::<f64>().unwrap();
        let h = 1e-5;
        let at = |delta: f64| {
            let mut moved = mols.clone();
            moved[1].positions[2][0] += delta;
            predict(&net, &moved).0.iter().sum::<f64>()
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h);
        let atom = mols[0].len() + 2;
        assert!(
            (numeric - gradient[atom][0]).abs() < 1e-6 * numeric.abs().max(1.0),
            "{numeric} vs {}",
            gradient[atom][0]
        );
    }
    let scalar = network(&config("12x0e", 0));
    let batch = GraphBatch::from_structures(&molecules(), &RadiusOptions::new(4.0)).unwrap();
    let g = GraphTensors::new(&batch, DType::F64, &Device::Cpu).unwrap();
    let err = scalar.dipole(&g, &g.positions).unwrap_err().to_string();
    assert!(err.contains("head = \"dipole\""), "{err}");
}

#[test]
fn l1net_forces_are_minus_the_finite_difference_gradient() {
    let net = network(&config("6x0e+3x1o", 1));
    let mols = molecules();
    let (_, y, positions) = predict(&net, &mols);
    let gradient =
        y.sum_all().unwrap().backward().unwrap().get(positions.as_tensor()).unwrap().to_vec2::<f64>().unwrap();
    let h = 1e-5;
    for (atom, k) in [(0, 0), (3, 1), (7, 2)] {
        let energy = |delta: f64| {
            let mut moved = mols.clone();
            moved[0].positions[atom][k] += delta;
            predict(&net, &moved).0.iter().sum::<f64>()
        };
        let numeric = (energy(h) - energy(-h)) / (2.0 * h);
        assert!(
            (numeric - gradient[atom][k]).abs() < 1e-6 * numeric.abs().max(1.0),
            "{numeric} vs {}",
            gradient[atom][k]
        );
    }
}

#[test]
fn bad_configurations_and_unknown_elements_are_errors() {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
    let err = LNet::new(&config("6x0e+3x1e", 1), vb).unwrap_err().to_string();
    assert!(err.contains("unreachable"), "{err}");
    let net = network(&config("6x0e+3x1o", 1));
    let silane = Structure::molecule(vec![14, 1], vec![[0.0; 3], [1.5, 0.0, 0.0]]).unwrap();
    let batch = GraphBatch::from_structures(&[silane], &RadiusOptions::new(4.0)).unwrap();
    let g = GraphTensors::new(&batch, DType::F64, &Device::Cpu).unwrap();
    let err = net.forward(&g, &g.positions).unwrap_err().to_string();
    assert!(err.contains("element 14"), "{err}");
}

#[test]
fn the_paper_presets_have_matched_parameter_counts() {
    use gnn_models::{expected_tensors, ModelConfig};
    let count = |c: ModelConfig| -> usize {
        expected_tensors(&c).unwrap().0.values().map(|s| s.iter().product::<usize>()).sum()
    };
    let l0 = count(ModelConfig::L0net(LNetConfig::l0net()));
    let l1 = count(ModelConfig::L1net(LNetConfig::l1net()));
    // 64x0e against 32x0e+10x1o at depth 4: the radial networks dominate and nearly balance.
    assert_eq!((l0, l1), (73_728, 73_730));
}
