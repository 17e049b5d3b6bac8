//! `chemgnn import` → `chemgnn predict` end to end on the PyTorch fixtures (tests/reference/models.py).

use std::path::{Path, PathBuf};
use std::process::Command;

use chemgnn::chem_graph::xyz::write_xyz_file;
use chemgnn::gnn_models::gnn_layers::candle::{safetensors, DType, Device, Tensor};
use chemgnn::gnn_models::PygBatch;

fn chemgnn(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chemgnn")).args(args).output().expect("chemgnn runs")
}

fn fixture(case: &str, file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models").join(case).join(file).display().to_string()
}

fn import(from: &str, model: &str, case: &str, out: &Path) -> std::process::Output {
    let args = fixture(case, "args.json");
    let weights = fixture(case, "state_dict.safetensors");
    chemgnn(&["import", "--from", from, "--model", model, "--config", &args, &weights, "--out", out.to_str().unwrap()])
}

fn expected(case: &str, name: &str) -> Vec<f64> {
    let t: &Tensor = &safetensors::load(fixture(case, "expected.safetensors"), &Device::Cpu).unwrap()[name].clone();
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1().unwrap()
}

fn assert_close(found: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(found.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let err = found.iter().zip(want).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / scale;
    assert!(err <= tol, "{what}: relative error {err:e} > {tol:e}");
}

#[test]
fn schnetpack_import_then_predict_a_batch_file_and_an_xyz_file_with_forces() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("model");
    let out = import("schnetpack", "schnet", "schnetpack_schnet", &checkpoint);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(checkpoint.join("config.json").exists() && checkpoint.join("model.safetensors").exists());

    let json: PathBuf = dir.path().join("out.json");
    let batch = fixture("schnetpack_schnet", "batch.safetensors");
    let args =
        ["predict", "--model", checkpoint.to_str().unwrap(), &batch, "--forces", "--output", json.to_str().unwrap()];
    let out = chemgnn(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 8);
    assert_eq!(records[0]["unit"], "eV");
    assert_eq!(records[0]["forces_unit"], "eV/Å");
    let energies: Vec<f64> = records.iter().map(|r| r["prediction"].as_f64().unwrap()).collect();
    let forces: Vec<f64> = records
        .iter()
        .flat_map(|r| {
            r["forces"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|f| f.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        })
        .collect();
    assert_close(&energies, &expected("schnetpack_schnet", "out"), 1e-5, "energies");
    assert_close(&forces, &expected("schnetpack_schnet", "forces"), 1e-4, "forces");

    // The same molecules as an XYZ file give the same energies; CSV has one row per atom with forces.
    let structures = PygBatch::read(&batch).unwrap().structures;
    let xyz = dir.path().join("molecules.xyz");
    write_xyz_file(&xyz, &structures).unwrap();
    let csv = dir.path().join("out.csv");
    let out = chemgnn(&[
        "predict",
        "--model",
        checkpoint.to_str().unwrap(),
        xyz.to_str().unwrap(),
        "--forces",
        "--output",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "name,energy [eV],atom,fx [eV/Å],fy [eV/Å],fz [eV/Å]");
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    assert_eq!(rows.len(), structures.iter().map(|s| s.len()).sum::<usize>());
    let mut energies = Vec::new();
    for row in rows.iter().filter(|r| r[2] == "0") {
        energies.push(row[1].parse::<f64>().unwrap());
    }
    assert_close(&energies, &expected("schnetpack_schnet", "out"), 1e-5, "energies from XYZ");
}

#[test]
fn pyg_mpnn_import_then_predict_the_batch_as_pytorch_fed_it() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("mpnn");
    let out = import("pyg", "mpnn", "pyg_qm9_mpnn", &checkpoint);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        chemgnn(&["predict", "--model", checkpoint.to_str().unwrap(), &fixture("pyg_qm9_mpnn", "batch.safetensors")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let values: Vec<f64> = records.as_array().unwrap().iter().map(|r| r["prediction"].as_f64().unwrap()).collect();
    assert_close(&values, &expected("pyg_qm9_mpnn", "out"), 1e-5, "MPNN outputs");
    assert_eq!(records[0]["unit"], "D", "the default MPNN target is PyG's target 0, mu");
}

#[test]
fn import_reports_every_bad_tensor_and_unknown_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let source = safetensors::load(fixture("pyg_schnet_dipole", "state_dict.safetensors"), &Device::Cpu).unwrap();
    let mut broken = source.clone();
    broken.insert("lin1.weight".into(), Tensor::zeros((16, 7), DType::F32, &Device::Cpu).unwrap());
    broken.remove("lin2.bias");
    broken.insert("extra.weight".into(), Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap());
    let weights = dir.path().join("broken.safetensors");
    safetensors::save(&broken, &weights).unwrap();
    let args = fixture("pyg_schnet_dipole", "args.json");
    let out_dir = dir.path().join("out");
    let run = |args: &str| {
        chemgnn(&[
            "import",
            "--from",
            "pyg",
            "--model",
            "schnet",
            "--config",
            args,
            weights.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
    };
    let out = run(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.safetensors"), "{err}");
    assert!(err.contains("`lin1.weight`: expected shape [16, 32], found [16, 7]"), "{err}");
    assert!(err.contains("missing `lin2.bias`"), "{err}");
    assert!(err.contains("unexpected `extra.weight`"), "{err}");
    assert!(!out_dir.exists(), "nothing is written on error");

    let bad_args = dir.path().join("args.json");
    std::fs::write(&bad_args, r#"{"hidden_channels": 32, "hiden_channels": 8, "dipole": "yes"}"#).unwrap();
    let err = String::from_utf8_lossy(&run(bad_args.to_str().unwrap()).stderr).to_string();
    assert!(err.contains("argument `dipole` must be true or false"), "{err}");
}

#[test]
fn predict_rejects_nan_coordinates_and_unknown_elements_with_the_structure_named() {
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("model");
    assert!(import("pyg", "schnet", "pyg_schnet_dipole", &checkpoint).status.success());
    let xyz = dir.path().join("bad.xyz");
    std::fs::write(&xyz, "2\nname=water\nO 0 0 0\nH nan 0 0\n").unwrap();
    let out = chemgnn(&["predict", "--model", checkpoint.to_str().unwrap(), xyz.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.xyz") || err.contains("water"), "{err}");
    assert!(err.to_lowercase().contains("nan") || err.contains("non-finite"), "{err}");

    let og = dir.path().join("og.xyz");
    std::fs::write(&og, "2\n\nOg 0 0 0\nH 1 0 0\n").unwrap();
    let out = chemgnn(&["predict", "--model", checkpoint.to_str().unwrap(), og.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("118") && err.contains("100"), "{err}");
}

/// `chemgnn import --from sevenn sevennet-0` fetches the pinned wheel's checkpoint by name (into
/// the workspace's cache) and reads it without --model or --config; `predict` then gives
/// SevenNetCalculator's energies (tests/reference/sevenn_calculator.py). Names of another importer
/// and checkpoints of another model are refused (exit 2).
#[test]
fn sevenn_checkpoint_imports_by_name_and_predicts_sevennet_calculator_energies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("data/cache");
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("sevennet-0");
    let import = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_chemgnn"))
            .args(args)
            .env("CHEMGNN_DATA_DIR", &data)
            .output()
            .expect("chemgnn runs")
    };
    let out = import(&["import", "--from", "sevenn", "sevennet-0", "--out", checkpoint.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let structures = root.join("tests/fixtures/potentials/structures.extxyz");
    let predictions = dir.path().join("predictions.json");
    let out = chemgnn(&[
        "predict",
        "--model",
        checkpoint.to_str().unwrap(),
        "--forces",
        structures.to_str().unwrap(),
        "--output",
        predictions.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = |p: &Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let found = read(&predictions);
    let expected = read(&root.join("tests/fixtures/potentials/sevennet_0.json"));
    let found: Vec<f64> = found.as_array().unwrap().iter().map(|p| p["prediction"].as_f64().unwrap()).collect();
    let want: Vec<f64> = expected["frames"].as_array().unwrap().iter().map(|f| f["energy"].as_f64().unwrap()).collect();
    assert_eq!(found.len(), want.len());
    for (a, b) in found.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-5 * b.abs(), "energy {a} vs SevenNetCalculator's {b}");
    }
    // Two atoms on top of each other: exit 2 naming them, not NaN forces.
    let overlapping = dir.path().join("overlapping.xyz");
    std::fs::write(&overlapping, "3\nwater with a doubled hydrogen\nO 0 0 0\nH 0.96 0 0\nH 0.96 0 0.00001\n").unwrap();
    let out = chemgnn(&["predict", "--model", checkpoint.to_str().unwrap(), "--forces", overlapping.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("atoms 2 and 1 overlap") || err.contains("atoms 1 and 2 overlap"), "{err}");
    let out_dir = dir.path().join("x");
    let refused = |args: &[&str], expected: &str| {
        let out = import(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "{err}");
    };
    // A name of the other importer, an unknown name, and a checkpoint of another model.
    refused(&["import", "--from", "sevenn", "chgnet-0.3.0", "--out", out_dir.to_str().unwrap()], "--from chgnet");
    refused(&["import", "--from", "sevenn", "mace-mp-0", "--out", out_dir.to_str().unwrap()], "sevennet-l3i5");
    let chgnet = gnn_models::checkpoint::import::pretrained::find("chgnet-0.3.0")
        .unwrap()
        .ensure_in(&data.join("pretrained"), &mut |m| eprintln!("{m}"))
        .unwrap();
    refused(
        &["import", "--from", "sevenn", chgnet.to_str().unwrap(), "--out", out_dir.to_str().unwrap()],
        "not a sevenn checkpoint",
    );
}
