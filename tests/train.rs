//! `chemgnn train` / `eval` / `predict` end to end on tiny runs (seconds): learning, a complete run
//! directory, bit-exact resumption, force training, and clear errors for corrupted state.

mod common;
use common::{chemgnn, failure, ok, TINY_SCHNET};

use std::path::Path;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn history(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn train_learns_writes_a_complete_run_and_resumes_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, TINY_SCHNET).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let (config, a_str, b_str) = (config.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap());

    let report = ok(chemgnn(&["train", "--config", config, "--out", a_str, "--quiet"]));
    assert!(report.contains("U0: MAE") && report.contains("chemical-accuracy ratio"));
    for file in ["config.json", "split.json", "normalization.json", "metrics.jsonl", "summary.json"] {
        assert!(a.join(file).is_file(), "{file} missing");
    }
    for png in ["learning_curve.png", "test_parity.png"] {
        assert_eq!(&std::fs::read(a.join(png)).unwrap()[..4], b"\x89PNG", "{png}");
    }
    for file in ["best/config.json", "best/model.safetensors", "last/optimizer.safetensors", "last/trainer.json"] {
        assert!(a.join(file).is_file(), "{file} missing");
    }
    let epochs = history(&a);
    assert_eq!(epochs.len(), 8);
    let loss = |e: &serde_json::Value| e["train_loss"].as_f64().unwrap();
    assert!(loss(&epochs[7]) < 0.5 * loss(&epochs[0]), "training loss did not decrease: {epochs:?}");
    let split = json(&a.join("split.json"));
    assert_eq!(split["train"].as_array().unwrap().len(), 64);
    let summary = json(&a.join("summary.json"));
    assert_eq!(summary["stopped"], "completed");

    // Interrupted after 6 steps (mid-epoch 2), then resumed: identical weights, optimiser state and metrics.
    let out = ok(chemgnn(&["train", "--config", config, "--out", b_str, "--quiet", "--stop-after-steps", "6"]));
    assert!(out.contains("Interrupted"), "{out}");
    assert_eq!(json(&b.join("last/trainer.json"))["batch"], 2);
    ok(chemgnn(&["train", "--resume", b_str, "--quiet"]));
    for file in ["last/model.safetensors", "last/optimizer.safetensors", "best/model.safetensors"] {
        assert!(std::fs::read(a.join(file)).unwrap() == std::fs::read(b.join(file)).unwrap(), "{file} differs");
    }
    let strip = |h: Vec<serde_json::Value>| -> Vec<(f64, f64, f64)> {
        h.iter().map(|e| (loss(e), e["val"]["loss"].as_f64().unwrap(), e["lr"].as_f64().unwrap())).collect()
    };
    assert_eq!(strip(history(&a)), strip(history(&b)));
    assert_eq!(json(&a.join("summary.json"))["test"], json(&b.join("summary.json"))["test"]);

    // `eval` on the test split reproduces the summary; `predict` accepts the checkpoint.
    let eval = ok(chemgnn(&["eval", "--model", a_str, "qm9-sample", "--split", "test", "--json"]));
    let eval: serde_json::Value = serde_json::from_str(&eval).unwrap();
    let (e, s) =
        (eval["targets"]["U0"]["mae"].as_f64().unwrap(), summary["test"]["targets"]["U0"]["mae"].as_f64().unwrap());
    assert!((e - s).abs() <= 1e-9 * s.abs().max(1.0), "eval {e} vs summary {s}");
    let best = a.join("best");
    let predicted = ok(chemgnn(&["predict", "--model", best.to_str().unwrap(), "qm9-sample"]));
    let predicted: serde_json::Value = serde_json::from_str(&predicted).unwrap();
    assert_eq!(predicted.as_array().unwrap().len(), 3000);
    assert_eq!(predicted[0]["unit"], "eV");

    // An existing run directory is not overwritten.
    let err = failure(chemgnn(&["train", "--config", config, "--out", a_str, "--quiet"]));
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn corrupted_state_and_bad_configs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, TINY_SCHNET.replace("epochs = 8", "epochs = 1")).unwrap();
    let run = dir.path().join("run");
    let run_str = run.to_str().unwrap();
    ok(chemgnn(&["train", "--config", config.to_str().unwrap(), "--out", run_str, "--quiet"]));

    let optimizer = run.join("last/optimizer.safetensors");
    std::fs::write(&optimizer, b"not a safetensors file").unwrap();
    let err = failure(chemgnn(&["train", "--resume", run_str]));
    assert!(err.contains("optimizer.safetensors") && err.contains("corrupted"), "{err}");

    std::fs::write(run.join("last/trainer.json"), "{\"epoch\": ").unwrap();
    let weights = run.join("best/model.safetensors");
    std::fs::write(&weights, b"\x10\x00\x00\x00\x00\x00\x00\x00{}").unwrap();
    let err = failure(chemgnn(&["eval", "--model", run_str, "qm9-sample"]));
    assert!(err.contains("model.safetensors"), "{err}");

    std::fs::write(run.join("config.json"), "{ \"epochs\": 2, ").unwrap();
    let err = failure(chemgnn(&["train", "--resume", run_str]));
    assert!(err.contains("config.json"), "{err}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "epochs = 2\n[optimizer]\nlearning_rate = 0.1\n").unwrap();
    let err = failure(chemgnn(&["train", "--config", bad.to_str().unwrap()]));
    assert!(err.contains("bad.toml") && err.contains("learning_rate"), "{err}");
}

#[test]
fn a_diverging_run_stops_with_a_clear_message_and_keeps_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, format!("clip_grad_norm = 1e30\n{}", TINY_SCHNET.replace("lr = 0.01", "lr = 1e30")))
        .unwrap();
    let run = dir.path().join("run");
    let err = failure(chemgnn(&["train", "--config", config.to_str().unwrap(), "--out", run.to_str().unwrap(), "-q"]));
    assert!(err.contains("the loss became") && err.contains("last"), "{err}");
    assert!(run.join("last/trainer.json").is_file());
}

/// A pair potential E = Σ_{i<j} exp(−r_ij) with exact forces, written as extended xyz.
fn synthetic_forces_dataset(path: &Path) {
    let mut text = String::new();
    for m in 0..24 {
        let n = 3 + m % 3;
        let pos: Vec<[f64; 3]> = (0..n)
            .map(|i| {
                let t = (m * 7 + i * 3) as f64;
                [1.1 * i as f64 + 0.1 * (t * 0.7).sin(), 0.3 * (t * 1.3).cos(), 0.2 * (t * 0.4).sin()]
            })
            .collect();
        let mut energy = 0.0;
        let mut forces = vec![[0.0; 3]; n];
        for i in 0..n {
            for j in i + 1..n {
                let d: Vec<f64> = (0..3).map(|k| pos[i][k] - pos[j][k]).collect();
                let r = d.iter().map(|x| x * x).sum::<f64>().sqrt();
                energy += (-r).exp();
                for k in 0..3 {
                    // F_i = −∂E/∂r_i = exp(−r)·d/r
                    forces[i][k] += (-r).exp() * d[k] / r;
                    forces[j][k] -= (-r).exp() * d[k] / r;
                }
            }
        }
        text += &format!("{n}\nProperties=species:S:1:pos:R:3:forces:R:3 energy={energy}\n");
        for i in 0..n {
            let [x, y, z] = pos[i];
            let [fx, fy, fz] = forces[i];
            text += &format!("C {x} {y} {z} {fx} {fy} {fz}\n");
        }
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn trains_on_energies_and_forces_from_extended_xyz() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pairs.extxyz");
    synthetic_forces_dataset(&data);
    let config = dir.path().join("run.toml");
    let text = TINY_SCHNET
        .replace("train = 64\nval = 16\ntest = 16", "train = 16\nval = 4\ntest = 4")
        .replace("batch_size = 16", "batch_size = 4")
        .replace("epochs = 8", "epochs = 4");
    let data_table =
        format!("[data]\ndataset = \"{}\"\ntargets = [\"energy\"]\nforces = \"forces\"\nlazy = true\n", data.display());
    std::fs::write(&config, text + &data_table).unwrap();
    let run = dir.path().join("run");
    let report = ok(chemgnn(&["train", "--config", config.to_str().unwrap(), "--out", run.to_str().unwrap(), "-q"]));
    assert!(report.contains("forces: MAE"), "{report}");
    let epochs = history(&run);
    let loss = |e: &serde_json::Value| e["train_loss"].as_f64().unwrap();
    assert!(loss(&epochs[3]) < loss(&epochs[0]), "{epochs:?}");
    assert!(epochs[3]["val"]["forces"]["mae"].as_f64().unwrap() > 0.0);
}

#[test]
fn fine_tunes_from_a_checkpoint_and_rejects_data_without_forces() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, TINY_SCHNET.replace("epochs = 8", "epochs = 1")).unwrap();
    let (pre, tuned) = (dir.path().join("pre"), dir.path().join("tuned"));
    ok(chemgnn(&["train", "--config", config.to_str().unwrap(), "--out", pre.to_str().unwrap(), "-q"]));
    let init = pre.join("best");
    let init = init.to_str().unwrap();
    let out = chemgnn(&[
        "train",
        "--init",
        init,
        "--dataset",
        "qm9-sample",
        "--target",
        "U0",
        "--epochs",
        "1",
        "--freeze",
        "interactions.0.",
        "--freeze",
        "*.bias",
        "--out",
        tuned.to_str().unwrap(),
        "-q",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(out);
    assert!(stderr.contains("trainable") && stderr.contains("frozen"), "{stderr}");
    assert!(stderr.contains("energy shifts refitted"), "{stderr}");
    assert!(tuned.join("best/model.safetensors").is_file());

    // --init takes the model from the checkpoint: --model conflicts.
    let conflict = chemgnn(&["train", "--init", init, "--model", "schnet"]);
    assert_eq!(conflict.status.code(), Some(2));

    // A force weight on data without forces (from a run directory: its best checkpoint): exit 2,
    // naming the file and the frame.
    let data = dir.path().join("energies.extxyz");
    std::fs::write(&data, "2\nProperties=species:S:1:pos:R:3 energy=-1.0\nH 0 0 0\nH 0.74 0 0\n".repeat(4)).unwrap();
    let run = dir.path().join("no-forces");
    let out = chemgnn(&[
        "train",
        "--init",
        pre.to_str().unwrap(),
        "--dataset",
        data.to_str().unwrap(),
        "--target",
        "energy",
        "--force-weight",
        "1",
        "--out",
        run.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = failure(out);
    assert!(err.contains("energies.extxyz frame 1") && err.contains("`forces`"), "{err}");
}
