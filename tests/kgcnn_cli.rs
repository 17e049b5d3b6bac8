//! The kgcnn path of the CLI: `chemgnn import --from kgcnn` of the coGN/coNGN fixtures, then
//! `chemgnn predict` on crystal files (full cells and `--asu`) and on kgcnn graph files reproduces
//! kgcnn's predictions (tests/fixtures/kgcnn, written by tests/reference/kgcnn_cogn.py).

mod common;
use common::chemgnn;

use std::path::Path;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kgcnn").join(name).display().to_string()
}

fn reference(model: &str, key: &str) -> Vec<f64> {
    let path = fixture(&format!("{model}_predictions.safetensors"));
    let tensors =
        gnn_models::gnn_layers::candle::safetensors::load(path, &gnn_models::gnn_layers::candle::Device::Cpu).unwrap();
    tensors[key].flatten_all().unwrap().to_dtype(gnn_models::gnn_layers::candle::DType::F64).unwrap().to_vec1().unwrap()
}

fn predictions(args: &[&str]) -> Vec<f64> {
    let out = chemgnn(args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    records.as_array().unwrap().iter().map(|r| r["prediction"].as_f64().unwrap()).collect()
}

fn assert_close(ours: &[f64], theirs: &[f64], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    let scale = theirs.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    let worst = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale;
    assert!(worst <= 1e-5, "{what}: relative difference {worst:e}");
}

fn import(model: &str, dir: &Path) -> String {
    let out_dir = dir.join(model).display().to_string();
    let out = chemgnn(&[
        "import",
        "--from",
        "kgcnn",
        "--model",
        model,
        "--config",
        &fixture(&format!("{model}_args.json")),
        &fixture(&format!("{model}_weights.safetensors")),
        "--out",
        &out_dir,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("predicting e_form [eV/atom]"));
    out_dir
}

#[test]
fn imported_cogn_predicts_crystal_files_and_graph_files_as_kgcnn() {
    let dir = tempfile::tempdir().unwrap();
    let model = import("cogn", dir.path());
    let crystals = fixture("crystals.json");
    // kgcnn's `crystal_unit_graphs` reads the cells as written (KNNUnitCell).
    assert_close(
        &predictions(&["predict", "--model", &model, "--positions", "original", &crystals]),
        &reference("cogn", "unit_cell"),
        "cells",
    );
    assert_close(&predictions(&["predict", "--model", &model, "--asu", &crystals]), &reference("cogn", "asu"), "--asu");
    // The model reads multiplicities: kgcnn trained it on symmetrised crystals, so by default chemgnn
    // symmetrises too, and says so.
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&model).join("config.json")).unwrap()).unwrap();
    assert_eq!(config["symmetrized"], 1e-3);
    // Rock salt with atoms 2e-4 Å off their sites (within symprec).
    let jittered = dir.path().join("nacl.extxyz");
    let mut text =
        "8\nLattice=\"5.64 0 0 0 5.64 0 0 0 5.64\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n".to_string();
    for (k, [x, y, z]) in
        [[0.0, 0.0, 0.0], [0.0, 2.82, 2.82], [2.82, 0.0, 2.82], [2.82, 2.82, 0.0]].into_iter().enumerate()
    {
        let d = 2e-4 * (k as f64 - 1.5);
        text += &format!("Na {} {} {}\nCl {} {} {}\n", x + d, y, z - d, x + 2.82, y + d, z);
    }
    std::fs::write(&jittered, text).unwrap();
    let jittered = jittered.display().to_string();
    let out = chemgnn(&["predict", "--model", &model, &jittered]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("trained on symmetrised crystals"));
    let quiet = chemgnn(&["predict", "--model", &model, "--positions", "original", &jittered]);
    assert!(quiet.stderr.is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));
    assert_eq!(out.stdout, chemgnn(&["predict", "--model", &model, "--symmetrize", &jittered]).stdout);
    assert_ne!(out.stdout, quiet.stdout, "symmetrising changes no prediction: the test proves nothing");
    let graphs = fixture("cogn_asu_graphs.safetensors");
    assert_close(&predictions(&["predict", "--model", &model, &graphs]), &reference("cogn", "asu"), "graph file");
}

#[test]
fn imported_congn_predicts_as_kgcnn_and_refuses_forces() {
    let dir = tempfile::tempdir().unwrap();
    let model = import("congn", dir.path());
    let crystals = fixture("crystals.json");
    assert_close(
        &predictions(&["predict", "--model", &model, "--asu", &crystals]),
        &reference("congn", "asu"),
        "--asu",
    );
    let graphs = fixture("congn_asu_graphs.safetensors");
    assert_close(&predictions(&["predict", "--model", &model, &graphs]), &reference("congn", "asu"), "graph file");
    let out = chemgnn(&["predict", "--model", &model, "--forces", &crystals]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not differentiated for forces"));
}

#[test]
fn a_molecule_is_not_a_crystal_for_cogn() {
    let dir = tempfile::tempdir().unwrap();
    let model = import("cogn", dir.path());
    let xyz = dir.path().join("water.xyz");
    std::fs::write(&xyz, "3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n").unwrap();
    let out = chemgnn(&["predict", "--model", &model, &xyz.display().to_string()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a crystal"), "{}", String::from_utf8_lossy(&out.stderr));
}
