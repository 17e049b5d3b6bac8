//! `chemgnn import --from e3nn --model gate-points-2101` → `chemgnn predict` on molecules, against
//! e3nn 0.6.0's outputs for the same weights and atoms (tests/reference/e3nn_gate_points.py).

mod common;
use common::chemgnn;

use std::path::Path;

use chemgnn::chem_graph::xyz::write_xyz_file;
use chemgnn::chem_graph::Structure;
use chemgnn::gnn_models::gnn_layers::candle::{safetensors, Device};

fn fixture(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e3nn").join(file).display().to_string()
}

/// `chemgnn import --from e3nn --model gate-points-2101` of the fixture network `config` with the
/// weights of fixture `weights`, into `out`, with `--elements` when given.
fn import(config: &str, weights: &str, out: &Path, elements: Option<&str>) -> std::process::Output {
    let config = fixture(&format!("gate_points_{config}.json"));
    let weights = fixture(&format!("gate_points_{weights}.safetensors"));
    let mut args = vec!["import", "--from", "e3nn", "--model", "gate-points-2101", "--config", &config, &weights];
    args.extend(["--out", out.to_str().unwrap()]);
    if let Some(e) = elements {
        args.extend(["--elements", e]);
    }
    chemgnn(&args)
}

#[test]
fn an_imported_gate_points_network_predicts_what_e3nn_computed() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("ckpt");
    let out = import("full", "full", &checkpoint, Some("H,C,N,O,F"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The fixture's molecules: one-hot species over (H, C, N, O, F), batched 5 + 4 + 6 atoms.
    let io = safetensors::load(fixture("gate_points_full_io.safetensors"), &Device::Cpu).unwrap();
    let pos = io["pos"].to_vec2::<f64>().unwrap();
    let onehot = io["onehot"].to_vec2::<f64>().unwrap();
    let batch = io["batch"].to_vec1::<i64>().unwrap();
    let elements = [1u8, 6, 7, 8, 9];
    let molecules: Vec<Structure> = (0..3)
        .map(|m| {
            let atoms: Vec<usize> = (0..pos.len()).filter(|&a| batch[a] == m).collect();
            let numbers = atoms.iter().map(|&a| elements[onehot[a].iter().position(|&v| v == 1.0).unwrap()]).collect();
            let positions = atoms.iter().map(|&a| [pos[a][0], pos[a][1], pos[a][2]]).collect();
            Structure::molecule(numbers, positions).unwrap()
        })
        .collect();
    let xyz = dir.path().join("molecules.xyz");
    write_xyz_file(&xyz, &molecules).unwrap();
    let out =
        chemgnn(&["predict", "--model", checkpoint.to_str().unwrap(), xyz.to_str().unwrap(), "--precision", "f64"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = io["y"].to_vec2::<f64>().unwrap();
    let scale = expected.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    for (record, want) in records.as_array().unwrap().iter().zip(&expected) {
        let found: Vec<f64> = record["prediction"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(found.len(), want.len());
        for (a, b) in found.iter().zip(want) {
            assert!((a - b).abs() <= 1e-10 * scale, "{a} vs {b}");
        }
    }
    // Elements outside the list, a missing --elements and a mis-shaped tensor are clear errors.
    let silane = dir.path().join("si.xyz");
    write_xyz_file(&silane, &[Structure::molecule(vec![14, 1], vec![[0.0; 3], [1.5, 0.0, 0.0]]).unwrap()]).unwrap();
    let out = chemgnn(&["predict", "--model", checkpoint.to_str().unwrap(), silane.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("atomic number 14"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Without --elements the network predicts from e3nn data dicts only.
    let bare = dir.path().join("x");
    assert!(import("full", "full", &bare, None).status.success());
    let out = chemgnn(&["predict", "--model", bare.to_str().unwrap(), xyz.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("imported without --elements"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = import("minimal", "full", &dir.path().join("y"), Some("H,C,N,O,F"));
    assert!(!out.status.success());
}

/// Writes e3nn's data dict (`pos`, `x`, `z`, `batch`) of the fixture's molecules, with `x` cut to
/// `x_width` columns.
fn data_dict(path: &Path, x_width: usize) {
    let io = safetensors::load(fixture("gate_points_full_io.safetensors"), &Device::Cpu).unwrap();
    let onehot = &io["onehot"];
    let tensors = std::collections::HashMap::from([
        ("pos".to_string(), io["pos"].clone()),
        ("x".to_string(), onehot.narrow(1, 0, x_width).unwrap()),
        ("z".to_string(), onehot.clone()),
        ("batch".to_string(), io["batch"].clone()),
    ]);
    safetensors::save(&tensors, path).unwrap();
}

#[test]
fn an_e3nn_data_dict_is_predicted_in_both_precisions_with_its_irreps() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("ckpt");
    assert!(import("full", "full", &checkpoint, None).status.success());
    let batch = dir.path().join("data.safetensors");
    data_dict(&batch, 5);
    let io = safetensors::load(fixture("gate_points_full_io.safetensors"), &Device::Cpu).unwrap();
    for (precision, key, tolerance) in [("f64", "y", 1e-10), ("f32", "y32", 1e-5)] {
        let out = chemgnn(&[
            "predict",
            "--model",
            checkpoint.to_str().unwrap(),
            batch.to_str().unwrap(),
            "--precision",
            precision,
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected =
            io[key].to_dtype(chemgnn::gnn_models::gnn_layers::candle::DType::F64).unwrap().to_vec2::<f64>().unwrap();
        let scale = expected.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
        let records = records.as_array().unwrap();
        assert_eq!(records.len(), 3);
        for (record, want) in records.iter().zip(&expected) {
            assert_eq!(record["irreps"], "2x0e+1x1o");
            let found: Vec<f64> =
                record["prediction"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            for (a, b) in found.iter().zip(want) {
                assert!((a - b).abs() <= tolerance * scale, "{precision}: {a} vs {b}");
            }
        }
    }
    // An `x` whose width does not fit irreps_in is an error naming the tensor and the irreps.
    data_dict(&batch, 4);
    let out = chemgnn(&["predict", "--model", checkpoint.to_str().unwrap(), batch.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("`x` is [15, 4]") && err.contains("`5x0e`"), "{err}");
}
