//! Physics of the models, with random weights in f64: invariance of energies and equivariance of
//! forces under rotation, translation and permutation; forces equal finite differences of the
//! energy; periodic images; MPNN variants are permutation invariant.

mod common;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use chem_graph::{Features, Graph, GraphBatch, Structure};
use gnn_layers::nn::NnConvMode;
use gnn_layers::GraphTensors;
use gnn_models::{Model, ModelConfig, Mpnn, MpnnConfig, SchNetConfig, SchNetFlavor};

fn schnet_model(flavor: SchNetFlavor) -> Model {
    let config = SchNetConfig {
        flavor,
        hidden_channels: 16,
        num_filters: 12,
        num_interactions: 2,
        num_gaussians: 10,
        cutoff: 4.0,
        mean: Some(0.3),
        std: Some(1.7),
        ..Default::default()
    };
    common::model_of(ModelConfig::Schnet(config))
}

fn molecule() -> Structure {
    Structure::molecule(
        vec![8, 6, 1, 1, 7, 1, 9],
        vec![
            [0.0, 0.1, 0.0],
            [1.2, 0.0, 0.1],
            [1.8, 0.9, 0.0],
            [1.7, -0.9, 0.2],
            [-0.9, 1.1, 0.6],
            [-1.6, 0.6, 1.1],
            [0.4, -1.4, -0.7],
        ],
    )
    .unwrap()
}

fn rotation() -> [[f64; 3]; 3] {
    let (a, b) = (0.7f64, -1.1f64);
    let rz = [[a.cos(), -a.sin(), 0.0], [a.sin(), a.cos(), 0.0], [0.0, 0.0, 1.0]];
    let rx = [[1.0, 0.0, 0.0], [0.0, b.cos(), -b.sin()], [0.0, b.sin(), b.cos()]];
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] = (0..3).map(|k| rz[i][k] * rx[k][j]).sum();
        }
    }
    r
}

fn rotate(v: [f64; 3], r: &[[f64; 3]; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| (0..3).map(|k| r[i][k] * v[k]).sum())
}

fn energy_and_forces(model: &Model, s: &Structure) -> (f64, Vec<[f64; 3]>) {
    let p = model.predict_structures(std::slice::from_ref(s), true, 1).unwrap().remove(0);
    (p.values[0], p.forces.unwrap())
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[test]
fn schnet_energies_are_invariant_and_forces_equivariant() {
    for flavor in [SchNetFlavor::Pyg, SchNetFlavor::Schnetpack] {
        let model = schnet_model(flavor);
        let s = molecule();
        let (e, f) = energy_and_forces(&model, &s);
        assert!(e.abs() > 1e-3, "non-trivial energy");

        let r = rotation();
        let mut moved = s.clone();
        moved.positions = s
            .positions
            .iter()
            .map(|&p| {
                let q = rotate(p, &r);
                [q[0] + 3.0, q[1] - 1.5, q[2] + 0.25]
            })
            .collect();
        let (e2, f2) = energy_and_forces(&model, &moved);
        assert!(close(e2, e, 1e-10), "{flavor:?}: rotated+translated energy {e2} vs {e}");
        for (a, b) in f.iter().zip(&f2) {
            let want = rotate(*a, &r);
            assert!((0..3).all(|k| close(b[k], want[k], 1e-9)), "{flavor:?}: forces rotate: {b:?} vs {want:?}");
        }

        let order = [4, 2, 6, 0, 5, 1, 3];
        let (e3, f3) = energy_and_forces(&model, &s.permuted(&order));
        assert!(close(e3, e, 1e-10), "{flavor:?}: permuted energy");
        for (k, &o) in order.iter().enumerate() {
            assert!((0..3).all(|c| close(f3[k][c], f[o][c], 1e-10)), "{flavor:?}: forces permute");
        }
    }
}

#[test]
fn schnet_forces_are_minus_the_finite_difference_gradient() {
    let model = schnet_model(SchNetFlavor::Pyg);
    let s = molecule();
    let (_, forces) = energy_and_forces(&model, &s);
    let h = 1e-5;
    for atom in [0, 3, 6] {
        for (c, &force) in forces[atom].iter().enumerate() {
            let mut plus = s.clone();
            plus.positions[atom][c] += h;
            let mut minus = s.clone();
            minus.positions[atom][c] -= h;
            let fd = -(energy_and_forces(&model, &plus).0 - energy_and_forces(&model, &minus).0) / (2.0 * h);
            assert!((fd - force).abs() < 1e-7 * (1.0 + fd.abs()), "atom {atom} axis {c}: {fd} vs {force}");
        }
    }
}

#[test]
fn schnet_on_a_periodic_cell_equals_half_its_doubled_supercell() {
    let model = schnet_model(SchNetFlavor::Pyg);
    // Rock salt-like primitive cell (cutoff 4 Å exceeds the cell: atoms see their own images).
    let a = 2.9;
    let cell = [[0.0, a, a], [a, 0.0, a], [a, a, 0.0]];
    let cell_s = Structure::periodic(vec![11, 17], vec![[0.0; 3], [a, a, a]], cell, [true; 3]).unwrap();
    let mut numbers = vec![];
    let mut positions = vec![];
    for shift in [0.0, 1.0] {
        for (z, p) in cell_s.numbers.iter().zip(&cell_s.positions) {
            numbers.push(*z);
            positions.push([0, 1, 2].map(|k| p[k] + shift * cell[0][k]));
        }
    }
    let super_cell = [[0.0, 2.0 * a, 2.0 * a], cell[1], cell[2]];
    let doubled = Structure::periodic(numbers, positions, super_cell, [true; 3]).unwrap();
    let e1 = energy_and_forces(&model, &cell_s).0;
    let (e2, f2) = energy_and_forces(&model, &doubled);
    assert!(close(e2, 2.0 * e1, 1e-10), "supercell {e2} vs 2 × {e1}");
    // Shifting an atom by a lattice vector changes nothing.
    let mut wrapped = cell_s.clone();
    wrapped.positions[1] = [0, 1, 2].map(|k| wrapped.positions[1][k] - cell[2][k]);
    assert!(close(energy_and_forces(&model, &wrapped).0, e1, 1e-10));
    // In a symmetric crystal the forces vanish.
    assert!(f2.iter().flatten().all(|f| f.abs() < 1e-9), "{f2:?}");
}

fn mpnn_batch(order: &[usize]) -> GraphBatch {
    let s = molecule().permuted(order);
    let n = s.len();
    let mut edges = chem_graph::Edges::default();
    let mut edge_features = vec![];
    // Complete graph; edge features depend on the original atom pair, so they permute with the atoms.
    for j in 0..n {
        for i in 0..n {
            if i != j {
                let (oj, oi) = (order[j], order[i]);
                let d = s.positions[j].iter().zip(&s.positions[i]).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
                edges.push(j as u32, i as u32, [0; 3], [0.0; 3], d);
                edge_features.extend([((oj * 7 + oi) % 3) as f64, d, (oj + oi) as f64 * 0.1]);
            }
        }
    }
    let mut g = Graph::new(&s, edges).unwrap();
    g.node_features = Some(Features {
        width: 4,
        data: (0..n)
            .flat_map(|k| {
                let o = order[k] as f64;
                [o, o * o * 0.1, 1.0, s.numbers[k] as f64]
            })
            .collect(),
    });
    g.edge_features = Some(Features { width: 3, data: edge_features });
    GraphBatch::from_graphs(&[g.clone(), g]).unwrap()
}

#[test]
fn mpnn_variants_are_permutation_invariant_and_name_their_parameters() {
    let base = MpnnConfig {
        node_features: 4,
        edge_features: 3,
        dim: 12,
        edge_hidden: 8,
        readout_hidden: 6,
        ..MpnnConfig::pyg_qm9()
    };
    let variants = [
        (base.clone(), vec!["lin0.weight", "conv.nn.2.weight", "gru.weight_hh_l0", "set2set.lstm.weight_ih_l0"]),
        (
            MpnnConfig { towers: 3, tied_weights: false, aggregation: gnn_layers::ops::Reduce::Sum, ..base.clone() },
            vec!["towers.2.conv.1.nn.0.weight", "towers.0.gru.2.bias_hh_l0", "mix.2.weight"],
        ),
        (
            MpnnConfig { master_node: Some(5), input_projection: false, ..base.clone() },
            vec!["master.to_master.weight", "master.gru.weight_ih_l0"],
        ),
    ];
    for (config, names) in variants {
        let varmap = VarMap::new();
        let model = Mpnn::new(&config, VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap();
        let data = varmap.data().lock().unwrap();
        for name in names {
            assert!(data.contains_key(name), "{name} missing from {:?}", data.keys().collect::<Vec<_>>());
        }
        drop(data);
        let run = |order: &[usize]| -> Vec<f64> {
            let g = GraphTensors::new(&mpnn_batch(order), DType::F64, &Device::Cpu).unwrap();
            let y: Tensor = model.forward(&g).unwrap();
            y.flatten_all().unwrap().to_vec1().unwrap()
        };
        let a = run(&[0, 1, 2, 3, 4, 5, 6]);
        let b = run(&[3, 6, 0, 5, 1, 4, 2]);
        assert!(a.iter().zip(&b).all(|(x, y)| close(*x, *y, 1e-10)), "{config:?}: {a:?} vs {b:?}");
        assert!(a[0] != 0.0 && close(a[0], a[1], 1e-12));
        // The factorised and direct messages give the same predictions.
        let g = GraphTensors::new(&mpnn_batch(&[0, 1, 2, 3, 4, 5, 6]), DType::F64, &Device::Cpu).unwrap();
        let predict = |mode: NnConvMode| -> Vec<f64> {
            let mut model = model.clone();
            model.set_nnconv_mode(mode);
            model.forward(&g).unwrap().flatten_all().unwrap().to_vec1().unwrap()
        };
        let (direct, factorised) = (predict(NnConvMode::Direct), predict(NnConvMode::Factorised));
        assert!(direct.iter().zip(&factorised).all(|(x, y)| close(*x, *y, 1e-12)), "{direct:?} vs {factorised:?}");
    }
}

#[test]
fn schnet_force_loss_gradients_match_finite_differences() {
    use candle_core::Var;
    use chem_graph::RadiusOptions;
    use gnn_layers::autograd::{forces, gradients_with_graph};
    use gnn_models::Network;

    let config = SchNetConfig {
        hidden_channels: 8,
        num_filters: 6,
        num_interactions: 2,
        num_gaussians: 6,
        cutoff: 4.0,
        ..Default::default()
    };
    let varmap = VarMap::new();
    let net =
        Network::new(&ModelConfig::Schnet(config), VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap();
    let batch = GraphBatch::from_structures(&[molecule()], &RadiusOptions::new(4.0)).unwrap();
    let g = GraphTensors::new(&batch, DType::F64, &Device::Cpu).unwrap();
    // Training on forces: loss = Σ F², F = −∂E/∂r kept differentiable.
    let loss = || -> Tensor {
        let positions = Var::from_tensor(&g.positions).unwrap();
        let energy = net.forward(&g, positions.as_tensor()).unwrap();
        forces(&energy, &positions, true).unwrap().sqr().unwrap().sum_all().unwrap()
    };
    let value = |t: &Tensor| t.to_scalar::<f64>().unwrap();
    let l = loss();
    let grads = gradients_with_graph(&l).unwrap();
    for name in ["interactions.0.mlp.0.weight", "interactions.1.conv.lin1.weight", "embedding.weight"] {
        let var = varmap.data().lock().unwrap()[name].clone();
        let analytic: Vec<f64> = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let original = var.as_tensor().copy().unwrap();
        let flat: Vec<f64> = original.flatten_all().unwrap().to_vec1().unwrap();
        // An entry of row 6 (carbon) for the embedding, the first entry otherwise.
        let k = if name == "embedding.weight" { 6 * original.dim(1).unwrap() } else { 0 };
        let h = 1e-6;
        let shifted = |d: f64| {
            let mut v = flat.clone();
            v[k] += d;
            var.set(&Tensor::from_vec(v, original.dims(), &Device::Cpu).unwrap()).unwrap();
            value(&loss())
        };
        let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
        var.set(&original).unwrap();
        assert!(analytic[k].abs() > 1e-8, "{name}: gradient is zero");
        assert!((fd - analytic[k]).abs() < 1e-6 * (1.0 + fd.abs()), "{name}: {fd} vs {}", analytic[k]);
    }
}

/// `r(I + ε)` and `L(I + ε)` for a symmetric strain `ε`.
fn strained(s: &Structure, eps: &[[f64; 3]; 3]) -> Structure {
    let apply = |v: [f64; 3]| [0, 1, 2].map(|j| v[j] + (0..3).map(|k| v[k] * eps[k][j]).sum::<f64>());
    let cell = s.cell.expect("periodic").map(apply);
    Structure::periodic(s.numbers.clone(), s.positions.iter().map(|&p| apply(p)).collect(), cell, [true; 3]).unwrap()
}

#[test]
fn schnet_stress_is_the_strain_derivative_of_the_energy_per_volume() {
    stress_is_the_strain_derivative_of_the_energy_per_volume(&schnet_model(SchNetFlavor::Pyg));
}

#[test]
fn l1net_stress_is_the_strain_derivative_of_the_energy_per_volume() {
    stress_is_the_strain_derivative_of_the_energy_per_volume(&common::l1net_model());
}

fn stress_is_the_strain_derivative_of_the_energy_per_volume(model: &Model) {
    // A distorted three-atom triclinic cell (cutoff 4 Å > the cell: images interact).
    let cell = [[3.1, 0.2, -0.1], [0.4, 2.9, 0.3], [-0.2, 0.5, 3.3]];
    let crystal =
        Structure::periodic(vec![11, 17, 8], vec![[0.1, 0.2, 0.0], [1.6, 1.4, 1.7], [2.4, 0.3, 1.1]], cell, [true; 3])
            .unwrap();
    let p = model.predict_with_stress(std::slice::from_ref(&crystal), 1).unwrap().remove(0);
    let (stress, forces) = (p.stress.unwrap(), p.forces.unwrap());
    let (e0, f0) = energy_and_forces(model, &crystal);
    assert!(close(p.values[0], e0, 1e-12), "energy {} vs {e0}", p.values[0]);
    for (a, b) in forces.iter().flatten().zip(f0.iter().flatten()) {
        assert!(close(*a, *b, 1e-10), "forces differ: {a} vs {b}");
    }
    let volume = chem_graph::structure::determinant(&cell).abs();
    let h = 1e-5;
    for (voigt, (i, j)) in [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)].into_iter().enumerate() {
        let energy = |d: f64| {
            let mut eps = [[0.0; 3]; 3];
            eps[i][j] += d / 2.0;
            eps[j][i] += d / 2.0;
            energy_and_forces(model, &strained(&crystal, &eps)).0
        };
        let numeric = (energy(h) - energy(-h)) / (2.0 * h) / volume;
        assert!(
            (stress[voigt] - numeric).abs() <= 1e-6 * (1e-3 + numeric.abs()),
            "stress[{voigt}] = {} vs finite difference {numeric}",
            stress[voigt]
        );
    }
    // Not vacuous: a random SchNet on a distorted cell is under stress.
    assert!(stress.iter().any(|s| s.abs() > 1e-6), "no stress at all: {stress:?}");
}

#[test]
fn stress_of_a_molecule_is_an_error_naming_the_structure() {
    let model = schnet_model(SchNetFlavor::Pyg);
    let err = model.predict_with_stress(&[molecule()], 1).unwrap_err().to_string();
    assert!(err.contains("periodic cell") && err.contains("structure 0"), "{err}");
}
