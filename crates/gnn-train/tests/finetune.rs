//! Fine-tuning (seconds): a tiny SchNet pretrained on one labelled set, fine-tuned with energy,
//! force and stress losses onto a shifted and perturbed set; the force- and stress-loss parameter
//! gradients of SchNet, SevenNet and CHGNet against finite differences; SevenNet-0 fine-tuned on
//! CHGNet's labels and CHGNet on SevenNet-0's; the least-squares refit of energy shifts; frozen parameters;
//! bit-exact resumption; missing labels.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use chem_graph::{AtomArray, GraphBatch, Property, Structure};
use gnn_layers::autograd::enable_higher_order_gradients;
use gnn_layers::GraphTensors;
use gnn_models::checkpoint::{CheckpointConfig, Provenance, FORMAT_VERSION};
use gnn_models::inputs::pipeline::graph_list;
use gnn_models::potential::stress::derivatives;
use gnn_models::{
    initial_weights, Checkpoint, ChgnetConfig, GraphOptions, Model, ModelConfig, Network, SchNetConfig, SevenNetConfig,
    StateDict, Target,
};
use gnn_train::config::{DataConfig, FinetuneConfig, SplitSize};
use gnn_train::dataset::{open_dataset, Sample};
use gnn_train::finetune::refit_species_shifts;
use gnn_train::{evaluate_model, RunOptions, Split, TrainConfig, Verbosity};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// The elements of the test structures (SchNet's table has rows 0–9).
const ELEMENTS: [u8; 3] = [1, 6, 8];

fn tiny_schnet() -> ModelConfig {
    ModelConfig::Schnet(SchNetConfig {
        hidden_channels: 8,
        num_filters: 8,
        num_interactions: 2,
        num_gaussians: 8,
        cutoff: 3.0,
        atomref: true,
        num_elements: 10,
        ..SchNetConfig::default()
    })
}

/// `count` small periodic cells (3–6 atoms of H, C, O on a jittered 2 × 2 × 2 grid, strained
/// cubic cells of about 4 Å), different for each `seed`.
fn structures(count: usize, seed: u64) -> Vec<Structure> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut uniform = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..count)
        .map(|_| {
            let side = 3.8 + 0.6 * uniform();
            let cell = [
                [side * (1.0 + 0.04 * (uniform() - 0.5)), 0.1 * (uniform() - 0.5), 0.0],
                [0.1 * (uniform() - 0.5), side * (1.0 + 0.04 * (uniform() - 0.5)), 0.0],
                [0.0, 0.1 * (uniform() - 0.5), side * (1.0 + 0.04 * (uniform() - 0.5))],
            ];
            let n = 3 + (uniform() * 4.0) as usize;
            let mut sites: Vec<usize> = (0..8).collect();
            let (mut numbers, mut positions) = (vec![], vec![]);
            for _ in 0..n {
                let site = sites.remove((uniform() * sites.len() as f64) as usize % sites.len());
                let frac = [(site & 1) as f64, ((site >> 1) & 1) as f64, (site >> 2) as f64]
                    .map(|f| 0.25 + 0.5 * f + 0.12 * (uniform() - 0.5));
                positions.push([0, 1, 2].map(|k| (0..3).map(|i| frac[i] * cell[i][k]).sum::<f64>()));
                numbers.push(ELEMENTS[(uniform() * 3.0) as usize % 3]);
            }
            Structure::periodic(numbers, positions, cell, [true; 3]).unwrap()
        })
        .collect()
}

/// A checkpoint of `config` with `weights`, predicting `energy` in eV.
fn checkpoint(config: &ModelConfig, weights: StateDict) -> Checkpoint {
    Checkpoint {
        config: CheckpointConfig {
            format_version: FORMAT_VERSION,
            model: config.clone(),
            targets: vec![Target { name: "energy".into(), unit: "eV".into() }],
            provenance: Provenance::default(),
            symmetrized: None,
        },
        weights,
    }
}

/// The teacher: a randomly initialised tiny SchNet with reference energies per element, its
/// interaction weights scaled by `perturb`.
fn teacher(perturb: f64) -> Checkpoint {
    let config = tiny_schnet();
    let mut weights = initial_weights(&config, 11).unwrap();
    let mut atomref = vec![0f32; 10];
    (atomref[1], atomref[6], atomref[8]) = (-1.5, -4.0, -6.5);
    weights.tensors.insert("atomref.weight".into(), Tensor::from_vec(atomref, (10, 1), &Device::Cpu).unwrap());
    for (name, t) in weights.tensors.iter_mut() {
        if name.starts_with("interactions.") {
            *t = t.affine(perturb, 0.0).unwrap();
        }
    }
    checkpoint(&config, weights)
}

/// Labels `structures` with `teacher`'s energies (plus `offset` per atom of each element), forces
/// and stress (3 × 3, as ASE writes it), and writes them to `path`.
fn write_labelled(path: &Path, teacher: &Checkpoint, mut structures: Vec<Structure>, offset: [f64; 3]) {
    let model = Model::from_checkpoint(teacher, DType::F64, &Device::Cpu).unwrap();
    let predictions = model.predict_with_stress(&structures, 16).unwrap();
    for (s, p) in structures.iter_mut().zip(predictions) {
        let shift: f64 = s.numbers.iter().map(|z| offset[ELEMENTS.iter().position(|e| e == z).unwrap()]).sum();
        s.properties.insert("energy".into(), Property::Float(p.values[0] + shift));
        let forces = p.forces.unwrap().concat();
        s.atom_arrays.insert("forces".into(), AtomArray::Real { width: 3, data: forces });
        let [xx, yy, zz, yz, xz, xy] = p.stress.unwrap();
        s.properties.insert("stress".into(), Property::FloatArray(vec![xx, xy, xz, xy, yy, yz, xz, yz, zz]));
    }
    chem_graph::xyz::write_extxyz_file(path, &structures).unwrap();
}

fn config(dataset: &Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        data: DataConfig {
            dataset: dataset.display().to_string(),
            targets: vec!["energy".into()],
            forces: Some("forces".into()),
            ..Default::default()
        },
        model: tiny_schnet(),
        epochs,
        batch_size: 4,
        eval_batch_size: 8,
        split: gnn_train::config::SplitConfig {
            train: SplitSize::Count(20),
            val: SplitSize::Count(6),
            test: Some(SplitSize::Count(6)),
            ..Default::default()
        },
        optimizer: gnn_train::config::OptimizerConfig { lr: 1e-2, ..Default::default() },
        ..Default::default()
    }
}

fn silent() -> RunOptions {
    RunOptions { verbosity: Verbosity::Silent, ..Default::default() }
}

fn tensors(dir: &Path) -> BTreeMap<String, Vec<u32>> {
    let weights = Checkpoint::read(dir).unwrap().weights;
    weights
        .tensors
        .iter()
        .map(|(n, t)| {
            (n.clone(), t.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().map(|x| x.to_bits()).collect())
        })
        .collect()
}

#[test]
fn fine_tuning_lowers_held_out_errors_keeps_frozen_weights_and_resumes_bit_for_bit() {
    enable_higher_order_gradients();
    let dir = tempfile::tempdir().unwrap();
    let (set_a, set_b) = (dir.path().join("a.extxyz"), dir.path().join("b.extxyz"));
    write_labelled(&set_a, &teacher(1.0), structures(32, 1), [0.0; 3]);
    // The new data: another potential (interactions ×1.1) with other reference energies.
    write_labelled(&set_b, &teacher(1.1), structures(32, 2), [0.3, -0.2, 0.5]);

    let pretrained = dir.path().join("pre");
    gnn_train::train(config(&set_a, 10), &pretrained, &silent()).unwrap();
    let init = pretrained.join("best");

    let mut tune = config(&set_b, 16);
    tune.data.stress = Some("stress".into());
    tune.loss.stress_weight = 0.5;
    tune.ema_decay = Some(0.8);
    tune.finetune = FinetuneConfig {
        init: Some(init.display().to_string()),
        refit_shifts: None,
        freeze: vec!["interactions.0.".into(), "*.bias".into()],
    };
    let run = dir.path().join("tuned");
    let summary = gnn_train::train(tune.clone(), &run, &silent()).unwrap();

    // Held-out errors of the pretrained model on the new set's test split, and after fine-tuning.
    let split = Split::read(&run.join("split.json")).unwrap();
    let dataset: Arc<dyn gnn_train::dataset::Dataset> = open_dataset(&tune.data).unwrap().into();
    let before =
        evaluate_model(&Model::load(&init).unwrap(), dataset, &split.test, 8, &GraphOptions::default()).unwrap();
    let (e0, e1) = (before.targets["energy"].mae, summary.test.targets["energy"].mae);
    let (f0, f1) = (before.forces.as_ref().unwrap().mae, summary.test.forces.as_ref().unwrap().mae);
    eprintln!("held-out energy MAE {e0:.4} → {e1:.4} eV, forces {f0:.4} → {f1:.4} eV/Å");
    assert!(e1 < 0.5 * e0, "energy MAE {e0} → {e1}");
    assert!(f1 < 0.8 * f0, "force MAE {f0} → {f1}");
    assert!(summary.test.stress.as_ref().unwrap().mae > 0.0);
    assert_eq!(&std::fs::read(run.join("learning_curve.png")).unwrap()[..4], b"\x89PNG");

    // The model kept its own scaling; frozen parameters are unchanged bit for bit, others moved.
    let config_json = |d: &Path| Checkpoint::read(d).unwrap().config.model;
    assert_eq!(config_json(&init), config_json(&run.join("best")));
    let (start, best, last) = (tensors(&init), tensors(&run.join("best")), tensors(&run.join("last")));
    let mut frozen = 0;
    for (name, values) in &start {
        if name.starts_with("interactions.0.") || name.ends_with(".bias") {
            assert_eq!(values, &best[name], "{name} changed in best/");
            assert_eq!(values, &last[name], "{name} changed in last/");
            frozen += 1;
        } else {
            assert_ne!(values, &last[name], "{name} did not train");
        }
    }
    assert!(frozen > 4);

    // Interrupted mid-epoch 2, then resumed: identical weights, optimiser and EMA state, metrics.
    let resumed = dir.path().join("resumed");
    let stop = RunOptions { stop_after_steps: Some(37), ..silent() };
    let interrupted = gnn_train::train(tune, &resumed, &stop).unwrap();
    assert_eq!(interrupted.stopped, gnn_train::StopReason::Interrupted);
    gnn_train::resume(&resumed, &silent()).unwrap();
    for file in ["last/model.safetensors", "last/optimizer.safetensors", "best/model.safetensors"] {
        assert!(std::fs::read(run.join(file)).unwrap() == std::fs::read(resumed.join(file)).unwrap(), "{file} differs");
    }
    let summary_json = |d: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(d.join("summary.json")).unwrap()).unwrap()
    };
    assert_eq!(summary_json(&run)["test"], summary_json(&resumed)["test"]);
}

#[test]
fn refit_recovers_known_per_element_offsets() {
    let teacher = teacher(1.0);
    let model = Model::from_checkpoint(&teacher, DType::F64, &Device::Cpu).unwrap();
    let structures = structures(24, 3);
    let predicted = model.predict(&structures).unwrap();
    let offset = [0.37, -1.25, 2.5];
    let samples: Vec<Sample> = structures
        .into_iter()
        .zip(predicted)
        .map(|(s, p)| {
            let shift: f64 = s.numbers.iter().map(|z| offset[ELEMENTS.iter().position(|e| e == z).unwrap()]).sum();
            Sample { targets: vec![p.values[0] + shift], structure: s, forces: None, stress: None }
        })
        .collect();
    let f64_weights = |w: &StateDict| {
        StateDict::new("teacher", w.tensors.iter().map(|(n, t)| (n.clone(), t.to_dtype(DType::F64).unwrap())).collect())
    };
    let mut weights = f64_weights(&teacher.weights);
    let config = teacher.config.model.clone();
    let options = GraphOptions::default();
    let fitted = refit_species_shifts(&config, &mut weights, &samples, &options, DType::F64, &Device::Cpu).unwrap();
    let table = |w: &StateDict| w.tensors["atomref.weight"].flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let (old, new) = (table(&f64_weights(&teacher.weights)), table(&weights));
    let mut worst = 0f64;
    for (k, &z) in ELEMENTS.iter().enumerate() {
        let (_, delta) = fitted.iter().find(|(e, _)| *e == z).unwrap();
        worst = worst.max((delta - offset[k]).abs()).max((new[z as usize] - old[z as usize] - offset[k]).abs());
    }
    eprintln!("largest error of the refitted offsets: {worst:.2e}");
    assert!(worst <= 1e-10, "{fitted:?}");
    assert_eq!(fitted.len(), 3);

    // A model without a shift table refuses an explicit refit.
    let ModelConfig::Schnet(mut plain) = config else { unreachable!() };
    plain.atomref = false;
    let plain = ModelConfig::Schnet(plain);
    let mut w = initial_weights(&plain, 0).unwrap();
    let err = refit_species_shifts(&plain, &mut w, &samples, &options, DType::F64, &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("no per-element energy shifts"), "{err}");
}

/// `Σ (σ − 0.01)² + Σ (F − 0.1)²` over the Voigt stress and the forces of `batch`, and its
/// gradient in the parameter `name` (by the higher-order backward pass).
fn force_stress_loss(
    config: &ModelConfig,
    weights: &BTreeMap<String, Tensor>,
    batch: &GraphBatch,
    name: &str,
) -> (f64, Option<Vec<f64>>) {
    let device = Device::Cpu;
    let var = Var::from_tensor(&weights[name]).unwrap();
    let mut tensors: HashMap<String, Tensor> = weights.clone().into_iter().collect();
    tensors.insert(name.into(), var.as_tensor().clone());
    let network = Network::new(config, VarBuilder::from_tensors(tensors, DType::F64, &device)).unwrap();
    let g = GraphTensors::new(batch, DType::F64, &device).unwrap();
    let d = derivatives(&network, batch, &g, true, true, true).unwrap();
    let squares = |t: Tensor, c: f64| t.affine(1.0, -c).unwrap().sqr().unwrap().sum_all().unwrap();
    let loss = (squares(d.stress.unwrap(), 0.01) + squares(d.forces.unwrap(), 0.1)).unwrap();
    let grad = loss.backward().unwrap().get(var.as_tensor()).map(|g| g.flatten_all().unwrap().to_vec1().unwrap());
    (loss.to_scalar::<f64>().unwrap(), grad)
}

/// Checks the gradient of [`force_stress_loss`] on `structures` in each parameter of `names`
/// (the first parameter whose name starts with each) against central finite differences of step `h`
/// (about 12 entries each), in f64: the largest difference relative to the largest gradient entry
/// must stay below `tolerance`.
fn check_force_stress_gradients(
    teacher: &Checkpoint,
    structures: &[Structure],
    names: &[&str],
    h: f64,
    tolerance: f64,
) {
    enable_higher_order_gradients();
    let config = teacher.config.model.clone();
    let weights: BTreeMap<String, Tensor> =
        teacher.weights.tensors.iter().map(|(n, t)| (n.clone(), t.to_dtype(DType::F64).unwrap())).collect();
    let batch = graph_list(&config, structures, &GraphOptions::default()).unwrap().batch().unwrap();
    let mut checked = 0;
    for name in names {
        let name =
            weights.keys().find(|k| k.starts_with(name)).unwrap_or_else(|| panic!("no {name}: {:?}", weights.keys()));
        let (_, grad) = force_stress_loss(&config, &weights, &batch, name);
        let grad = grad.unwrap();
        let scale = grad.iter().fold(0f64, |m, g| m.max(g.abs()));
        assert!(scale > 0.0, "{name}: zero gradient");
        let base = weights[name].flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let mut worst = 0f64;
        for k in (0..base.len()).step_by(base.len().div_ceil(12)) {
            let at = |dx: f64| {
                let mut v = base.clone();
                v[k] += dx;
                let mut w = weights.clone();
                w.insert(name.clone(), Tensor::from_vec(v, weights[name].shape(), &Device::Cpu).unwrap());
                force_stress_loss(&config, &w, &batch, name).0
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            worst = worst.max((fd - grad[k]).abs() / scale);
            checked += 1;
        }
        eprintln!("{name}: largest |FD − autograd| / max|grad| = {worst:.2e}");
        assert!(worst < tolerance, "{name}: {worst}");
    }
    assert!(checked >= 2 * names.len());
}

#[test]
fn force_and_stress_loss_gradients_match_finite_differences() {
    let names = ["interactions.0.mlp.0.weight", "interactions.1.conv.lin2.weight", "embedding.weight", "lin1.weight"];
    check_force_stress_gradients(&teacher(1.0), &structures(3, 4), &names, 1e-5, 1e-6);
}

/// A SevenNet of SevenNet-0's design, tiny: 2 blocks, `8x0e+4x1e+2x2e`, random weights.
fn tiny_sevennet() -> Checkpoint {
    let config: SevenNetConfig = serde_json::from_value(serde_json::json!({
        "chemical_species": ["C", "H", "O"],
        "cutoff": 3.0,
        "irreps_manual": ["8x0e", "8x0e+4x1e+2x2e", "8x0e"],
        "lmax": 2,
        "is_parity": false,
        "_normalize_sph": true,
        "num_convolution_layer": 2,
        "radial_basis": {"radial_basis_name": "bessel", "bessel_basis_num": 8},
        "cutoff_function": {"cutoff_function_name": "XPLOR", "cutoff_on": 2.5},
        "weight_nn_hidden_neurons": [8, 8],
        "act_radial": "silu",
        "act_scalar": {"e": "silu", "o": "tanh"},
        "act_gate": {"e": "silu", "o": "tanh"},
        "conv_denominator": [4.0, 4.0]
    }))
    .unwrap();
    let config = ModelConfig::Sevennet(config);
    let weights = initial_weights(&config, 5).unwrap();
    checkpoint(&config, weights)
}

/// Second derivatives through SevenNet's layers (embedding, radial weight network, convolution
/// output and self-interaction linears, gates, readout, learned Bessel frequencies).
#[test]
fn sevennet_force_and_stress_loss_gradients_match_finite_differences() {
    let names = [
        "onehot_to_feature_x.linear.weight",
        "edge_embedding.basis_function.coeffs",
        "0_convolution.weight_nn.layer0.weight",
        "0_convolution.weight_nn.layer2.weight",
        "0_self_interaction_1.linear.weight",
        "0_self_interaction_2.linear.weight",
        "0_self_connection_intro.linear.weight",
        "1_convolution.weight_nn.layer1.weight",
        "reduce_input_to_hidden.linear.weight",
        "reduce_hidden_to_energy.linear.weight",
    ];
    check_force_stress_gradients(&tiny_sevennet(), &structures(2, 9), &names, 1e-5, 1e-6);
}

#[test]
fn missing_forces_or_stress_name_the_file_and_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("set.extxyz");
    let lattice = "Lattice=\"4 0 0 0 4 0 0 0 4\" pbc=\"T T T\"";
    let with = format!("2\n{lattice} Properties=species:S:1:pos:R:3:forces:R:3 energy=-1.0 stress=\"1 0 0 0 1 0 0 0 1\"\nH 0 0 0 0.1 0 0\nH 0.8 0 0 -0.1 0 0\n");
    let without = format!("2\n{lattice} Properties=species:S:1:pos:R:3 energy=-0.9\nH 0 0 0\nH 0.9 0 0\n");
    std::fs::write(&path, with.repeat(2) + &without).unwrap();
    for (forces, stress, expected) in
        [(Some("forces"), None, "no per-atom real array `forces`"), (None, Some("stress"), "no stress `stress`")]
    {
        for lazy in [false, true] {
            let data = DataConfig {
                dataset: path.display().to_string(),
                targets: vec!["energy".into()],
                forces: forces.map(Into::into),
                stress: stress.map(Into::into),
                lazy,
                ..Default::default()
            };
            let mut config = config(&path, 1);
            config.data = data;
            config.split.train = SplitSize::Count(1);
            (config.split.val, config.split.test) = (SplitSize::Count(1), Some(SplitSize::Count(1)));
            let out = dir.path().join(format!("run-{lazy}-{}", forces.is_some()));
            let err = gnn_train::train(config, &out, &silent()).unwrap_err().to_string();
            assert!(err.contains("set.extxyz frame 3") && err.contains(expected), "{err}");
        }
    }
    // A dataset that cannot carry forces at all.
    let mut qm9 = config(&path, 1);
    qm9.data = DataConfig { forces: Some("forces".into()), ..Default::default() };
    let err = gnn_train::train(qm9, &dir.path().join("qm9"), &silent()).unwrap_err().to_string();
    assert!(err.contains("qm9-sample: the dataset has no forces"), "{err}");
}

#[test]
fn an_l1net_fine_tunes_with_frozen_layers_and_unknown_patterns_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a.extxyz");
    write_labelled(&data, &teacher(1.0), structures(32, 5), [0.0; 3]);
    let mut pre = config(&data, 1);
    (pre.model, pre.data.forces) = (ModelConfig::preset("l1net").unwrap(), None);
    let pretrained = dir.path().join("pre");
    gnn_train::train(pre.clone(), &pretrained, &silent()).unwrap();

    let mut tune = pre;
    tune.epochs = 2;
    tune.finetune.init = Some(pretrained.join("best").display().to_string());
    tune.finetune.freeze = vec!["embedding.".into(), "layers.0.*".into()];
    let run = dir.path().join("tuned");
    gnn_train::train(tune.clone(), &run, &silent()).unwrap();
    let (start, last) = (tensors(&pretrained.join("best")), tensors(&run.join("last")));
    for (name, values) in &start {
        let frozen = name.starts_with("embedding.") || name.starts_with("layers.0.");
        assert_eq!(frozen, values == &last[name], "{name}");
    }

    tune.finetune.freeze = vec!["layers.0.".into(), "interactions.".into()];
    let err = gnn_train::train(tune, &dir.path().join("bad"), &silent()).unwrap_err().to_string();
    assert!(err.contains("`interactions.` matches no parameter"), "{err}");
}

/// Second derivatives through a tiny CHGNet (atom, bond and angle updates, composed LayerNorm,
/// the angle's acos, learned basis frequencies, readout).
#[test]
fn chgnet_force_and_stress_loss_gradients_match_finite_differences() {
    let config = ModelConfig::Chgnet(ChgnetConfig {
        atom_fea_dim: 8,
        bond_fea_dim: 8,
        angle_fea_dim: 8,
        num_radial: 5,
        num_angular: 5,
        n_conv: 3,
        atom_conv_hidden_dim: vec![8],
        bond_conv_hidden_dim: vec![8],
        angle_layer_hidden_dim: vec![],
        mlp_hidden_dims: vec![8],
        atom_graph_cutoff: 3.5,
        bond_graph_cutoff: 2.5,
        ..ChgnetConfig::v0_3_0()
    });
    let weights = initial_weights(&config, 3).unwrap();
    let names = [
        "atom_embedding.",
        "bond_basis_expansion.",
        "angle_basis_expansion.",
        "bond_embedding.",
        "angle_embedding.",
        "atom_conv_layers.0.",
        "bond_conv_layers.0.",
        "angle_layers.0.",
        "bond_conv_layers.1.",
        "atom_conv_layers.2.",
        "readout_norm.",
        "mlp.",
    ];
    // The angles carry more rounding (acos of nearly collinear bonds): at h = 1e-6 and 1e-5 the
    // differences grew as 1/h (2.6e-5, 1.4e-6 for the Fourier frequencies), hence h = 1e-4.
    check_force_stress_gradients(&checkpoint(&config, weights), &structures(2, 9), &names, 1e-4, 1e-5);
}

/// The checkpoint file of a pretrained name: in `$CHEMGNN_PRETRAINED_DIR`, else the workspace's
/// `data/cache/pretrained`, fetched there from its pinned wheel when missing.
fn pretrained(name: &str) -> std::path::PathBuf {
    let cache = std::env::var_os("CHEMGNN_PRETRAINED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/cache/pretrained"));
    let entry = gnn_models::checkpoint::import::pretrained::find(name).unwrap();
    entry.ensure_in(&cache, &mut |m| eprintln!("{m}")).unwrap()
}

fn potentials_fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/potentials").join(name)
}

/// The fine-tuning run of the pretrained tests: `init` on the labelled frames of `train`
/// (energy, forces, stress at weight 0.1; 12 / 2 / 2 frames; 3 epochs of batches of 2 at peak
/// learning rate `lr`) with the parameters under `freeze` frozen and the shifts refitted.
fn pretrained_tuning(init: &Path, train: &Path, freeze: &[&str], lr: f64) -> TrainConfig {
    TrainConfig {
        data: DataConfig {
            dataset: train.display().to_string(),
            targets: vec!["energy".into()],
            forces: Some("forces".into()),
            stress: Some("stress".into()),
            ..Default::default()
        },
        epochs: 3,
        batch_size: 2,
        eval_batch_size: 8,
        split: gnn_train::config::SplitConfig {
            train: SplitSize::Count(12),
            val: SplitSize::Count(2),
            test: Some(SplitSize::Count(2)),
            ..Default::default()
        },
        optimizer: gnn_train::config::OptimizerConfig { lr, ..Default::default() },
        loss: gnn_train::config::LossConfig { stress_weight: 0.1, ..Default::default() },
        finetune: FinetuneConfig {
            init: Some(init.display().to_string()),
            refit_shifts: Some(true),
            freeze: freeze.iter().map(|p| p.to_string()).collect(),
        },
        ..Default::default()
    }
}

/// The mean absolute errors of the checkpoint in `dir` on the labelled `frames`: energy (eV per
/// structure), forces (eV/Å per component), stress (eV/Å³ per Voigt component).
fn errors(dir: &Path, frames: &[Structure]) -> [f64; 3] {
    let predicted = Model::load(dir).unwrap().predict_with_stress(frames, 8).unwrap();
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
    let (mut e, mut f, mut s) = (vec![], vec![], vec![]);
    for (p, frame) in predicted.iter().zip(frames) {
        let Some(Property::Float(energy)) = frame.properties.get("energy") else { panic!("no energy") };
        e.push((p.values[0] - energy).abs());
        let Some(AtomArray::Real { data, .. }) = frame.atom_arrays.get("forces") else { panic!("no forces") };
        f.extend(p.forces.as_ref().unwrap().concat().iter().zip(data).map(|(a, b)| (a - b).abs()));
        let Some(Property::FloatArray(t)) = frame.properties.get("stress") else { panic!("no stress") };
        let voigt = [t[0], t[4], t[8], t[5], t[2], t[1]];
        s.extend(p.stress.unwrap().iter().zip(voigt).map(|(a, b)| (a - b).abs()));
    }
    [mean(e), mean(f), mean(s)]
}

/// Fine-tunes `init` on `train` ([`pretrained_tuning`]), checks that the errors on `held_out` fall (energy below half,
/// forces below `force_ratio` of the original's), that frozen tensors stay and most others move;
/// returns the
/// configuration and the run directory (`init` + `-tuned`).
fn fine_tune_and_check(
    init: &Path,
    train: &Path,
    held_out: &Path,
    freeze: &[&str],
    lr: f64,
    force_ratio: f64,
) -> (TrainConfig, std::path::PathBuf) {
    let tune = pretrained_tuning(init, train, freeze, lr);
    let run = init.with_file_name(format!("{}-tuned", init.file_name().unwrap().to_string_lossy()));
    let t0 = std::time::Instant::now();
    gnn_train::train(tune.clone(), &run, &silent()).unwrap();
    let frames = chem_graph::io::read_structures(held_out).unwrap();
    let ([e0, f0, s0], [e1, f1, s1]) = (errors(init, &frames), errors(&run.join("best"), &frames));
    eprintln!(
        "fine-tuned in {:.1} s; held-out MAE: energy {e0:.4} → {e1:.4} eV, forces {f0:.4} → {f1:.4} eV/Å, \
         stress {s0:.5} → {s1:.5} eV/Å³",
        t0.elapsed().as_secs_f64()
    );
    assert!(e1 < 0.5 * e0, "energy MAE {e0} → {e1}");
    assert!(f1 < force_ratio * f0, "force MAE {f0} → {f1}");
    // Frozen tensors stay bit for bit; most others move (not those outside the energy, such as
    // CHGNet's last angle update and magnetic-moment head).
    let (start, best) = (tensors(init), tensors(&run.join("best")));
    let (mut trainable, mut moved) = (0, 0);
    for (name, values) in &start {
        if freeze.iter().any(|p| name.starts_with(p)) {
            assert_eq!(values, &best[name], "{name} is frozen but changed");
        } else {
            trainable += 1;
            moved += usize::from(values != &best[name]);
        }
    }
    eprintln!("{moved} of {trainable} trainable tensors moved");
    assert!(moved >= trainable * 4 / 5, "{moved} of {trainable} trainable tensors moved");
    (tune, run)
}

/// SevenNet-0 fine-tuned on CHGNet's labels of 16 rattled and strained oxides
/// (tests/reference/finetune_labels.py), energy + forces + stress, the embedding and the first
/// three blocks frozen, shifts refitted: the errors on 8 held-out frames fall, structures of
/// other elements keep their predictions, frozen tensors stay, an interrupted run resumes.
#[test]
fn sevennet_0_fine_tunes_on_another_potentials_labels() {
    enable_higher_order_gradients();
    let dir = tempfile::tempdir().unwrap();
    let init = dir.path().join("sevennet-0");
    gnn_models::checkpoint::import::import_sevenn(&pretrained("sevennet-0")).unwrap().save(&init).unwrap();
    let (train, held_out) =
        (potentials_fixture("finetune_train.extxyz"), potentials_fixture("finetune_held_out.extxyz"));
    let frozen = ["onehot_to_feature_x.", "0_", "1_", "2_"];
    let (tune, run) = fine_tune_and_check(&init, &train, &held_out, &frozen, 2e-3, 0.85);

    // Structures of other elements (the parity set without Li, Mg, Si, Ti, Mn, Fe, Co, Ni, O).
    let trained = [3, 8, 12, 14, 22, 25, 26, 27, 28];
    let rest: Vec<Structure> = chem_graph::io::read_structures(potentials_fixture("structures.extxyz"))
        .unwrap()
        .into_iter()
        .filter(|s| s.is_periodic() && s.numbers.iter().all(|z| !trained.contains(z)))
        .collect();
    assert!(rest.len() >= 3, "{} structures of other elements", rest.len());
    let predict = |d: &Path| Model::load(d).unwrap().predict_with_stress(&rest, 8).unwrap();
    let (original, tuned) = (predict(&init), predict(&run.join("best")));
    let (mut de, mut df) = (0f64, 0f64);
    for ((p, q), s) in original.iter().zip(&tuned).zip(&rest) {
        de = de.max((p.values[0] - q.values[0]).abs() / s.len() as f64);
        let (fp, fq) = (p.forces.as_ref().unwrap().concat(), q.forces.as_ref().unwrap().concat());
        df = df.max(fp.iter().zip(&fq).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max));
    }
    eprintln!("{} structures of other elements: |ΔE|/atom ≤ {de:.4} eV, |ΔF| ≤ {df:.4} eV/Å", rest.len());
    assert!(de < 0.05 && df < 0.1, "other elements moved: {de} eV/atom, {df} eV/Å");

    // Interrupted in epoch 2, then resumed: identical to the uninterrupted run.
    let resumed = dir.path().join("resumed");
    let stop = RunOptions { stop_after_steps: Some(9), ..silent() };
    assert_eq!(gnn_train::train(tune, &resumed, &stop).unwrap().stopped, gnn_train::StopReason::Interrupted);
    gnn_train::resume(&resumed, &silent()).unwrap();
    for file in ["last/model.safetensors", "best/model.safetensors"] {
        assert!(std::fs::read(run.join(file)).unwrap() == std::fs::read(resumed.join(file)).unwrap(), "{file} differs");
    }
}

/// CHGNet 0.3.0 fine-tuned on SevenNet-0's labels (chemgnn's SevenNet-0, which matches sevenn's
/// calculator) of the same frames: the held-out errors against SevenNet-0 fall.
#[test]
fn chgnet_fine_tunes_on_sevennet_labels() {
    enable_higher_order_gradients();
    let dir = tempfile::tempdir().unwrap();
    let teacher = dir.path().join("sevennet-0");
    gnn_models::checkpoint::import::import_sevenn(&pretrained("sevennet-0")).unwrap().save(&teacher).unwrap();
    let teacher = Model::load(&teacher).unwrap();
    let mut paths = vec![];
    for name in ["finetune_train.extxyz", "finetune_held_out.extxyz"] {
        let mut frames = chem_graph::io::read_structures(potentials_fixture(name)).unwrap();
        let labels = teacher.predict_with_stress(&frames, 8).unwrap();
        for (s, p) in frames.iter_mut().zip(labels) {
            s.properties.insert("energy".into(), Property::Float(p.values[0]));
            s.atom_arrays.insert("forces".into(), AtomArray::Real { width: 3, data: p.forces.unwrap().concat() });
            let [xx, yy, zz, yz, xz, xy] = p.stress.unwrap();
            s.properties.insert("stress".into(), Property::FloatArray(vec![xx, xy, xz, xy, yy, yz, xz, yz, zz]));
        }
        let path = dir.path().join(name);
        chem_graph::xyz::write_extxyz_file(&path, &frames).unwrap();
        paths.push(path);
    }
    let init = dir.path().join("chgnet");
    gnn_models::checkpoint::import::import_chgnet(&pretrained("chgnet-0.3.0")).unwrap().save(&init).unwrap();
    // Measured: forces 0.121 → 0.103 eV/Å (at 2e-3: 0.105, at 5e-3: 0.111).
    fine_tune_and_check(&init, &paths[0], &paths[1], &["atom_embedding.", "atom_conv_layers.0."], 1e-3, 0.9);
}
