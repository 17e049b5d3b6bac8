//! The `cli` suite: what a user sees. The `chemgnn` binary as whole processes — `chemgnn predict`
//! (with and without `--forces`) on the 3,000 molecules of the embedded QM9 sample and a one-epoch
//! `chemgnn train` of SchNet with PyG's default sizes on its 2,400 training molecules — against PyG
//! on the same molecules, timed in-process (after imports) by `benches/reference/cli_pyg.py`.
//! `--quick` uses 200 molecules.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::ensure;
use chem_graph::qm9::Qm9Dataset;
use chem_graph::xyz::write_extxyz_file;
use serde_json::json;

use super::{time_median, Measurement};

/// SchNet with PyG's defaults, one epoch (batches of 32) on the 80 % training split of `dataset`.
const RUN_TOML: &str = r#"seed = 0
epochs = 1
batch_size = 32
eval_batch_size = 128

[data]
dataset = "DATASET"
targets = ["U0"]
units = ["eV"]

[model]
kind = "schnet"
hidden_channels = 128
num_filters = 128
num_interactions = 6
num_gaussians = 50
cutoff = 10.0
max_num_neighbors = 32
"#;

/// Builds `chemgnn`, times its commands (median of a few runs; `budget` seconds per case) and
/// writes the manifest entry for the reference script.
pub fn run(work: &Path, quick: bool, budget: f64) -> anyhow::Result<(Vec<Measurement>, serde_json::Value)> {
    let binary = crate::train_compare::build_chemgnn()?;
    let dir = work.join("cli");
    std::fs::create_dir_all(&dir)?;
    let sample = Qm9Dataset::embedded_sample()?;
    let molecules = sample.structures();
    let molecules = if quick { molecules[..200].to_vec() } else { molecules };
    let xyz = dir.join("molecules.extxyz");
    write_extxyz_file(&xyz, &molecules)?;
    let config = dir.join("run.toml");
    // The whole sample trains through its built-in split; quick runs train on the written file.
    let dataset = if quick { xyz.display().to_string() } else { "qm9-sample".into() };
    std::fs::write(&config, RUN_TOML.replace("DATASET", &dataset))?;
    let train = molecules.len() * 4 / 5;
    let n = molecules.len() as f64;
    let mut out = Vec::new();
    // Training runs once (tens of seconds; its directory is removed first), predictions by the
    // usual median rule.
    let mut time = |case: &str, work: f64, unit: &str, args: Vec<String>, fresh: Option<&Path>| -> anyhow::Result<()> {
        let mut run = || {
            if let Some(dir) = fresh {
                let _ = std::fs::remove_dir_all(dir);
            }
            let output = Command::new(&binary).args(&args).output().expect("chemgnn runs");
            assert!(output.status.success(), "chemgnn {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        let seconds = if quick || fresh.is_some() { timed_once(&mut run) } else { time_median(budget, &mut run) };
        out.push(Measurement {
            suite: "cli".into(),
            case: case.into(),
            implementation: format!("chemgnn ({} threads, whole process)", rayon::current_num_threads()),
            seconds,
            work,
            unit: unit.into(),
            identical: None,
        });
        Ok(())
    };
    let run_dir = dir.join("run");
    let train_case = format!(
        "SchNet (PyG defaults), one training epoch on {train} QM9 molecules (batches of 32; chemgnn: the whole \
         `chemgnn train` process, with validation, test and checkpoints)"
    );
    let s = |v: &str| v.to_string();
    let path = |p: &Path| p.display().to_string();
    time(
        &train_case,
        train as f64,
        "molecules",
        vec![s("train"), s("--config"), path(&config), s("--out"), path(&run_dir), s("--quiet")],
        Some(&run_dir),
    )?;
    let model = run_dir.join("best");
    ensure!(model.exists(), "the training run left no model at {}", model.display());
    for forces in [false, true] {
        let case = format!(
            "SchNet (PyG defaults) prediction{} on {} QM9 molecules (batches of 64)",
            if forces { " with forces" } else { "" },
            molecules.len()
        );
        let mut args =
            vec![s("predict"), s("--model"), path(&model), path(&xyz), s("--output"), path(&dir.join("out.json"))];
        if forces {
            args.push(s("--forces"));
        }
        time(&case, n, "molecules", args, None)?;
    }
    let entry = json!({"file": xyz, "train": train, "molecules": molecules.len(), "train_case": train_case});
    Ok((out, entry))
}

fn timed_once(run: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    run();
    t.elapsed().as_secs_f64()
}
