//! Shared test helpers: import → predict against the PyTorch fixtures of tests/reference/models.py
//! on any device, and the schnetpack stress fixture.
#![allow(dead_code)] // Each test binary uses its own part.

use candle_core::{DType, Device, Tensor};
use chem_graph::Structure;
use gnn_models::checkpoint::import::{import, Source};
use gnn_models::{BatchInput, Checkpoint, CheckpointConfig, LNetConfig, Model, ModelConfig, StateDict, Target};
use std::path::PathBuf;

/// The fixture directory of `case`.
pub fn case_dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models").join(case)
}

/// Largest |a − b| divided by the largest |b|.
pub fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
    a.iter().zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// All elements as f64, on the host.
pub fn flat(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_device(&Device::Cpu).unwrap().to_vec1().unwrap()
}

/// Imports the case through a checkpoint directory, predicts its batch on `device` and compares
/// outputs (and forces, when the fixture has them) with PyTorch's.
pub fn check_on(device: &Device, case: &str, source: Source, model: &str, dtype: DType, out_tol: f64, force_tol: f64) {
    gnn_models::gnn_layers::runtime::init();
    let dir = case_dir(case);
    let saved = tempfile::tempdir().unwrap();
    checkpoint(case, source, model, "y").save(saved.path()).unwrap();
    let model = Model::load_on(saved.path(), dtype, device).unwrap();

    let BatchInput::Graphs { batch, .. } = model.read_batch(dir.join("batch.safetensors")).unwrap() else {
        panic!("{case}: batch.safetensors is not a PyG batch");
    };
    let expected = candle_core::safetensors::load(dir.join("expected.safetensors"), &Device::Cpu).unwrap();
    let want_forces = expected.contains_key("forces");
    let predictions = model.predict_batch(&batch, want_forces).unwrap();
    let out: Vec<f64> = predictions.iter().flat_map(|p| p.values.clone()).collect();
    let err = relative_error(&out, &flat(&expected["out"]));
    assert!(err <= out_tol, "{case} on {device:?}: outputs differ by {err:e} (relative), tolerance {out_tol:e}");
    if want_forces {
        let forces: Vec<f64> = predictions.iter().flat_map(|p| p.forces.clone().unwrap()).flatten().collect();
        let err = relative_error(&forces, &flat(&expected["forces"]));
        assert!(err <= force_tol, "{case} on {device:?}: forces differ by {err:e} (relative), tolerance {force_tol:e}");
    }
}

/// The case's weights imported as a checkpoint predicting `target` in eV.
pub fn checkpoint(case: &str, source: Source, model: &str, target: &str) -> Checkpoint {
    let dir = case_dir(case);
    let args: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("args.json")).unwrap()).unwrap();
    let weights = StateDict::read(dir.join("state_dict.safetensors")).unwrap();
    let target = vec![Target { name: target.into(), unit: "eV".into() }];
    import(source, model, &args, "args.json", weights, target).unwrap()
}

/// The case's weights imported as an f64 model on the CPU.
pub fn imported(case: &str, source: Source, model: &str) -> Model {
    gnn_models::gnn_layers::runtime::init();
    Model::from_checkpoint(&checkpoint(case, source, model, "energy"), DType::F64, &Device::Cpu).unwrap()
}

/// The schnetpack SchNet of the stress fixture (tests/reference/schnetpack_stress.py), in f64.
pub fn schnetpack_stress_model() -> Model {
    imported("schnetpack_stress_f64", Source::Schnetpack, "schnet")
}

/// The crystals of the stress fixture.
pub fn schnetpack_stress_crystals() -> Vec<Structure> {
    let dir = case_dir("schnetpack_stress_f64");
    let crystals = candle_core::safetensors::load(dir.join("crystals.safetensors"), &Device::Cpu).unwrap();
    let numbers: Vec<i64> = crystals["numbers"].to_vec1().unwrap();
    let positions: Vec<Vec<f64>> = crystals["positions"].to_vec2().unwrap();
    let cells: Vec<Vec<Vec<f64>>> = crystals["cells"].to_vec3().unwrap();
    let offsets: Vec<i64> = crystals["atom_offsets"].to_vec1().unwrap();
    cells
        .iter()
        .enumerate()
        .map(|(k, cell)| {
            let atoms = offsets[k] as usize..offsets[k + 1] as usize;
            Structure::periodic(
                numbers[atoms.clone()].iter().map(|&z| z as u8).collect(),
                positions[atoms].iter().map(|p| [p[0], p[1], p[2]]).collect(),
                [0, 1, 2].map(|r| [cell[r][0], cell[r][1], cell[r][2]]),
                [true; 3],
            )
            .unwrap()
        })
        .collect()
}

/// An L1Net (scalar and vector features) for Na, Cl and O.
pub fn l1net_model() -> Model {
    let config = LNetConfig {
        elements: vec![8, 11, 17],
        embedding: 8,
        features: "6x0e+3x1o".parse().unwrap(),
        layers: 2,
        lmax_filter: 1,
        cutoff: 4.0,
        radial_basis: 6,
        radial_neurons: 12,
        radial_layers: 1,
        num_neighbors: 10.0,
        atomref: Some(vec![-75.1, -4.2, -12.3]),
        ..LNetConfig::l1net()
    };
    model_of(ModelConfig::L1net(config))
}

/// `model` with seed-0 weights, in f64.
pub fn model_of(model: ModelConfig) -> Model {
    gnn_models::gnn_layers::runtime::init();
    let weights = gnn_models::initial_weights(&model, 0).unwrap();
    let config = CheckpointConfig {
        format_version: 1,
        model,
        targets: vec![Target { name: "energy".into(), unit: "eV".into() }],
        provenance: Default::default(),
        symmetrized: None,
    };
    Model::from_checkpoint(&Checkpoint { config, weights }, DType::F64, &Device::Cpu).unwrap()
}

/// The checkpoint of the pretrained model `name` (`sevennet-0`, `chgnet-0.3.0`, …): in
/// `$CHEMGNN_PRETRAINED_DIR`, else the workspace's `data/cache/pretrained`, fetched there with
/// `pip download` of its pinned wheel when missing (as `chemgnn import` does).
pub fn pretrained(name: &str) -> PathBuf {
    let cache = std::env::var_os("CHEMGNN_PRETRAINED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/cache/pretrained"));
    let entry = gnn_models::checkpoint::import::pretrained::find(name).unwrap();
    entry.ensure_in(&cache, &mut |m| eprintln!("{m}")).unwrap()
}

/// The species-shift hook's contract (`Architecture::species_shifts`): 0.25 added to the table row
/// of `structure`'s first element moves its energy by (atoms of that element) · 0.25.
pub fn assert_shift_table_moves_energy(mut checkpoint: Checkpoint, structure: &Structure) {
    let shifts = checkpoint.config.model.species_shifts().expect("the model declares a shift table");
    let z = structure.numbers[0];
    let count = structure.numbers.iter().filter(|&&n| n == z).count() as f64;
    let energy = |c: &Checkpoint| {
        let model = Model::from_checkpoint(c, DType::F64, &Device::Cpu).unwrap();
        model.predict_structures(std::slice::from_ref(structure), false, 1).unwrap()[0].values[0]
    };
    let before = energy(&checkpoint);
    let table = checkpoint.weights.tensors.get_mut(&shifts.tensor).unwrap();
    let row = shifts.elements.iter().position(|&e| e == z).unwrap();
    let mut values: Vec<f32> = table.flatten_all().unwrap().to_vec1().unwrap();
    values[row] += 0.25;
    *table = Tensor::from_vec(values, table.shape(), &Device::Cpu).unwrap();
    let after = energy(&checkpoint);
    assert!((after - before - 0.25 * count).abs() < 1e-9, "{before} → {after}, expected + {}", 0.25 * count);
}
