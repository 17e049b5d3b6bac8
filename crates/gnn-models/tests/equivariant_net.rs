//! L0Net / L1Net (`gnn_models::EquivariantNet`) on QM9 molecules of the embedded sample, in f64:
//! the predicted scalar is invariant under proper and improper rotations, translations and atom
//! permutations; forces equal finite differences; unknown elements are errors.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use chem_graph::neighbors::RadiusOptions;
use chem_graph::qm9::Qm9Dataset;
use chem_graph::{GraphBatch, Structure};
use gnn_layers::GraphTensors;
use gnn_models::schnet::Readout;
use gnn_models::{EquivariantNet, EquivariantNetConfig};

fn config(features: &str, lmax_filter: u32) -> EquivariantNetConfig {
    EquivariantNetConfig {
        elements: vec![1, 6, 7, 8, 9],
        embedding: 8,
        features: features.parse().unwrap(),
        layers: 2,
        lmax_filter,
        cutoff: 4.0,
        radial_basis: 6,
        radial_neurons: 12,
        radial_layers: 1,
        residual: true,
        num_neighbors: 10.0,
        readout: Readout::Add,
        mean: 0.3,
        std: 2.0,
        atomref: Some(vec![-0.5, -38.0, -54.6, -75.1, -99.7]),
    }
}

fn network(config: &EquivariantNetConfig) -> EquivariantNet {
    let varmap = VarMap::new();
    EquivariantNet::new(config, VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap()
}

fn molecules() -> Vec<Structure> {
    let d = Qm9Dataset::embedded_sample().unwrap();
    vec![d.structure(11), d.structure(1234)]
}

/// Outputs `[graphs]` and the positions variable.
fn predict(net: &EquivariantNet, molecules: &[Structure]) -> (Vec<f64>, Tensor, Var) {
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
    for (features, lmax) in [("12x0e", 0), ("6x0e+3x1o", 1), ("6x0e+3x1o+2x2e", 2)] {
        let net = network(&config(features, lmax));
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
    let err = EquivariantNet::new(&config("6x0e+3x1e", 1), vb).unwrap_err().to_string();
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
    let l0 = count(ModelConfig::L0net(EquivariantNetConfig::l0net()));
    let l1 = count(ModelConfig::L1net(EquivariantNetConfig::l1net()));
    // 64x0e against 32x0e+10x1o at depth 4: the radial networks dominate and nearly balance.
    assert_eq!((l0, l1), (73_728, 73_730));
}
