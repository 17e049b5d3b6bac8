//! What the CLI tests share: running the `chemgnn` binary and reading its outcome.
#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with one rayon thread: fastest for tiny inputs, and the same arithmetic on every
/// machine.
pub fn chemgnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chemgnn")).args(args).env("RAYON_NUM_THREADS", "1").output().expect("chemgnn runs")
}

/// Standard output of a successful run (panics with both streams otherwise).
pub fn ok(out: Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "chemgnn failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// The training loss of every epoch of a run directory (`metrics.jsonl`).
pub fn train_losses(run: &std::path::Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["train_loss"].as_f64().unwrap())
        .collect()
}

/// Standard error of a failed run (panics if it succeeded).
pub fn failure(out: Output) -> String {
    assert!(!out.status.success(), "chemgnn should have failed:\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A small SchNet on 64 QM9-sample molecules: 4 batches per epoch, 8 epochs (seconds of training).
pub const TINY_SCHNET: &str = r#"
epochs = 8
batch_size = 16
eval_batch_size = 16
[split]
train = 64
val = 16
test = 16
[model]
kind = "schnet"
hidden_channels = 16
num_filters = 16
num_interactions = 2
num_gaussians = 10
cutoff = 4.0
[optimizer]
lr = 0.01
[schedule]
kind = "cosine"
warmup_epochs = 0.5
"#;

/// The schnetpack SchNet fixture `case` (tests/fixtures/models/CASE) imported as a chemgnn
/// checkpoint into `out`; returns `out` as a string.
pub fn import_schnetpack(case: &str, out: &Path) -> String {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models").join(case);
    let (args, weights, out) =
        (fixture.join("args.json"), fixture.join("state_dict.safetensors"), out.display().to_string());
    ok(chemgnn(&[
        "import",
        "--from",
        "schnetpack",
        "--model",
        "schnet",
        "--config",
        args.to_str().unwrap(),
        weights.to_str().unwrap(),
        "--out",
        &out,
    ]));
    out
}
