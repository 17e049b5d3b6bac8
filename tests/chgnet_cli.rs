//! `chemgnn import --from chgnet` of the chgnet 0.4.2 wheel's CHGNet 0.3.0 file, then `chemgnn
//! predict --forces --magmoms` on the shared potential structures against chgnet's calculator
//! (fixture from tests/reference/chgnet_calculator.py); a SevenNet file is refused (exit 2).

use std::path::{Path, PathBuf};
use std::process::Command;

fn chemgnn(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chemgnn")).args(args).output().expect("chemgnn runs")
}

/// The checkpoint file of the pretrained model `name`, fetched into the workspace's cache if needed.
fn pretrained(name: &str) -> PathBuf {
    let cache = std::env::var_os("CHEMGNN_PRETRAINED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cache/pretrained"));
    gnn_models::checkpoint::import::pretrained::find(name)
        .unwrap()
        .ensure_in(&cache, &mut |m| eprintln!("{m}"))
        .unwrap()
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(items) => items.iter().flat_map(numbers).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

#[test]
fn import_then_predict_energies_forces_and_magmoms() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("chgnet");
    let file = pretrained("chgnet-0.3.0");
    let out = chemgnn(&["import", "--from", "chgnet", file.to_str().unwrap(), "--out", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let structures = root.join("tests/fixtures/potentials/structures.extxyz");
    let out = chemgnn(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--forces",
        "--magmoms",
        structures.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let text = std::fs::read_to_string(root.join("tests/fixtures/potentials/chgnet_0.3.0.json")).unwrap();
    let fixture: serde_json::Value = serde_json::from_str(&text).unwrap();
    let frames = fixture["frames"].as_array().unwrap();
    assert_eq!(records.len(), frames.len());
    for (r, f) in records.iter().zip(frames) {
        let (ours, theirs) = (r["prediction"].as_f64().unwrap(), f["energy"].as_f64().unwrap());
        assert!(((ours - theirs) / theirs).abs() <= 1e-5, "{}: energy {ours} vs {theirs}", f["name"]);
        for key in ["forces", "magmoms"] {
            let (a, b) = (numbers(&r[key]), numbers(&f[key]));
            let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            let err = a.iter().zip(&b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale;
            assert!(a.len() == b.len() && err <= 1e-4, "{}: {key} differ by {err:e}", f["name"]);
        }
    }
    let sevennet = pretrained("sevennet-0");
    let out = chemgnn(&[
        "import",
        "--from",
        "chgnet",
        sevennet.to_str().unwrap(),
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key `model`"));
}
