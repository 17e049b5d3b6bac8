//! Import → predict against the PyTorch fixtures of tests/reference/models.py, on any device.
#![allow(dead_code)] // Each test binary uses its own part.

use candle_core::{DType, Device, Tensor};
use gnn_models::import::{import, Source};
use gnn_models::{Model, PygBatch, StateDict, Target};
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
    let dir = case_dir(case);
    let args: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("args.json")).unwrap()).unwrap();
    let weights = StateDict::read(dir.join("state_dict.safetensors")).unwrap();
    let target = vec![Target { name: "y".into(), unit: "eV".into() }];
    let checkpoint = import(source, model, &args, "args.json", weights, target).unwrap();
    let saved = tempfile::tempdir().unwrap();
    checkpoint.save(saved.path()).unwrap();
    let model = Model::load_on(saved.path(), dtype, device).unwrap();

    let batch = PygBatch::read(dir.join("batch.safetensors")).unwrap();
    let expected = candle_core::safetensors::load(dir.join("expected.safetensors"), &Device::Cpu).unwrap();
    let want_forces = expected.contains_key("forces");
    let predictions = model.predict_batch(&model.pyg_batch_graphs(&batch).unwrap(), want_forces).unwrap();
    let out: Vec<f64> = predictions.iter().flat_map(|p| p.values.clone()).collect();
    let err = relative_error(&out, &flat(&expected["out"]));
    assert!(err <= out_tol, "{case} on {device:?}: outputs differ by {err:e} (relative), tolerance {out_tol:e}");
    if want_forces {
        let forces: Vec<f64> = predictions.iter().flat_map(|p| p.forces.clone().unwrap()).flatten().collect();
        let err = relative_error(&forces, &flat(&expected["forces"]));
        assert!(err <= force_tol, "{case} on {device:?}: forces differ by {err:e} (relative), tolerance {force_tol:e}");
    }
}
