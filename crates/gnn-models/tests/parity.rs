//! Import → predict reproduces PyTorch (fixtures from tests/reference/models.py): PyG SchNet
//! (default, non-default with mean/std/atomref, dipole), schnetpack 2 SchNet, and PyG's QM9 MPNN.

mod common;

use candle_core::{DType, Device};
use common::{case_dir, flat, relative_error};
use gnn_models::checkpoint::import::{import, Source};
use gnn_models::{Model, PygBatch, StateDict, Target};

fn check(case: &str, source: Source, model: &str, dtype: DType, out_tol: f64, force_tol: f64) {
    common::check_on(&Device::Cpu, case, source, model, dtype, out_tol, force_tol);
}

#[test]
fn pyg_schnet_with_default_arguments() {
    check("pyg_schnet_default", Source::Pyg, "schnet", DType::F32, 1e-5, 1e-4);
}

#[test]
fn pyg_schnet_with_custom_arguments_mean_std_and_atomref_in_f64() {
    check("pyg_schnet_custom_f64", Source::Pyg, "schnet", DType::F64, 1e-10, 1e-10);
}

#[test]
fn pyg_schnet_dipole() {
    check("pyg_schnet_dipole", Source::Pyg, "schnet", DType::F32, 1e-5, 0.0);
}

#[test]
fn schnetpack_schnet() {
    check("schnetpack_schnet", Source::Schnetpack, "schnet", DType::F32, 1e-5, 1e-4);
}

#[test]
fn schnetpack_schnet_in_f64() {
    check("schnetpack_schnet_f64", Source::Schnetpack, "schnet", DType::F64, 1e-10, 1e-10);
}

#[test]
fn pyg_qm9_mpnn() {
    check("pyg_qm9_mpnn", Source::Pyg, "mpnn", DType::F32, 1e-5, 0.0);
}

#[test]
fn pyg_qm9_mpnn_from_structures_featurised_by_bond_perception() {
    // The fixture's features come from RDKit's DetermineBonds + sanitisation; ours from
    // chem-graph's perception with RDKit-like aromaticity (`sanitized`).
    let dir = case_dir("pyg_qm9_mpnn");
    let weights = StateDict::read(dir.join("state_dict.safetensors")).unwrap();
    let target = vec![Target { name: "mu".into(), unit: "D".into() }];
    let mut checkpoint = import(Source::Pyg, "mpnn", &serde_json::json!({}), "{}", weights, target).unwrap();
    match &mut checkpoint.config.model {
        gnn_models::ModelConfig::Mpnn(c) => c.features = gnn_models::MpnnFeatures::PygQm9 { sanitized: true },
        other => panic!("{other:?}"),
    }
    let model = Model::from_checkpoint(&checkpoint, DType::F32, &Device::Cpu).unwrap();
    let batch = PygBatch::read(dir.join("batch.safetensors")).unwrap();
    let expected = candle_core::safetensors::load(dir.join("expected.safetensors"), &Device::Cpu).unwrap();
    let out: Vec<f64> = model.predict(&batch.structures).unwrap().iter().map(|p| p.values[0]).collect();
    let err = relative_error(&out, &flat(&expected["out"]));
    assert!(err <= 1e-5, "outputs differ by {err:e}");
}
