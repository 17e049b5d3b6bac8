//! `chemgnn train`: train any registered model kind from its preset or a configuration file; with
//! no arguments, the README's main job (SchNet on the embedded QM9 sample predicting U0).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context;
use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::Args;
use gnn_models::models::KINDS;
use gnn_models::{DeviceSpec, ModelConfig};
use gnn_train::{RunOptions, TrainConfig, Verbosity};

/// The one-line help of `chemgnn train`, naming every trainable kind.
pub fn about() -> String {
    let kinds: Vec<&str> = KINDS.iter().filter(|k| ModelConfig::preset(k.name).is_some()).map(|k| k.name).collect();
    format!("Train a model ({}); no arguments: SchNet on the built-in QM9 sample, target U0", kinds.join(", "))
}

/// `--model` values: every registered kind with a preset to train from.
fn trainable_kinds() -> PossibleValuesParser {
    PossibleValuesParser::new(
        KINDS.iter().filter(|k| ModelConfig::preset(k.name).is_some()).map(|k| PossibleValue::new(k.name).help(k.help)),
    )
}

#[derive(Args)]
pub struct TrainArgs {
    /// Configuration file (TOML or JSON, see docs/training.md); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Architecture, at its preset (replaces the configuration's model unless it is already of this
    /// kind).
    #[arg(long, value_parser = trainable_kinds())]
    model: Option<String>,
    /// Fine-tune: start from this checkpoint directory (an imported potential, a run's `best/`, or
    /// a run directory: its best checkpoint); the model and its weights come from it, with its own
    /// target scaling.
    #[arg(long, value_name = "DIR", conflicts_with = "model")]
    init: Option<PathBuf>,
    /// Refit the per-element energy shifts by least squares on the training split first (default:
    /// on with --init for an energy target and a model with shifts).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    refit_shifts: Option<bool>,
    /// Freeze parameters (no updates): a name prefix (`interactions.0.`) or a glob (`*.bias`);
    /// repeatable.
    #[arg(long, value_name = "PATTERN")]
    freeze: Vec<String>,
    /// `qm9-sample` (built in), `qm9` (after `chemgnn data fetch qm9`), an extended-xyz file, a
    /// QM9 / graph-batch `.safetensors` file, or crystals: `crystal-sample` (built in),
    /// `matminer:<set>[:<target>]` (after `chemgnn data fetch matminer`), a MatBench `.json.gz`.
    #[arg(long)]
    dataset: Option<String>,
    /// Train on asymmetric units of the crystals (symmetrised; multiplicity-weighted readout).
    #[arg(long)]
    asu: bool,
    /// Train on fold K (0–4) of MatBench v0.1's official cross-validation of a MatBench task table
    /// (test on the fold's test entries; validation drawn from its training entries). Needs
    /// `chemgnn data fetch matbench-splits`.
    #[arg(long, value_name = "K")]
    matbench_fold: Option<usize>,
    /// Target(s) to predict: QM9 names (`U0`, `gap`, …), extended-xyz properties, or a crystal
    /// table's column (default: the table's; `log10(K_VRH)` for MatBench's log moduli); repeat or
    /// separate by commas.
    #[arg(long, value_delimiter = ',')]
    target: Vec<String>,
    /// Per-atom force array of an extended-xyz dataset to train on (e.g. `forces`).
    #[arg(long)]
    forces: Option<String>,
    /// Per-structure stress of an extended-xyz dataset to train on (e.g. `stress`; 3 × 3 or Voigt,
    /// eV/Å³, ASE's sign).
    #[arg(long)]
    stress: Option<String>,
    /// Weight of the energy (target) loss term.
    #[arg(long)]
    energy_weight: Option<f64>,
    /// Weight of the force loss term (forces are read from `forces` unless --forces names them).
    #[arg(long)]
    force_weight: Option<f64>,
    /// Weight of the stress loss term (stress is read from `stress` unless --stress names it).
    #[arg(long)]
    stress_weight: Option<f64>,
    /// Number of epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Structures per batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Seed of split, initial weights and shuffling.
    #[arg(long)]
    seed: Option<u64>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long)]
    device: Option<DeviceSpec>,
    /// Run directory (default: a new `runs/<model>-<dataset>-<target>-<n>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory exactly where it stopped (other options are ignored).
    #[arg(long, conflicts_with_all = ["config", "model", "init", "dataset", "target", "epochs", "out"])]
    resume: Option<PathBuf>,
    /// One line per epoch instead of progress bars (for logs).
    #[arg(long, short)]
    quiet: bool,
    /// Stop as if interrupted after this many optimiser steps (for testing resumption).
    #[arg(long, hide = true)]
    stop_after_steps: Option<u64>,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let options = RunOptions {
        verbosity: if args.quiet { Verbosity::Lines } else { Verbosity::Bars },
        stop_after_steps: args.stop_after_steps,
        ..Default::default()
    };
    let stop = options.stop.clone();
    // First Ctrl-C: save and stop after the current batch; a second one exits at once.
    ctrlc::set_handler(move || {
        if stop.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupt: saving the state after this batch (Ctrl-C again to abort without saving)");
    })
    .context("installing the Ctrl-C handler")?;
    let summary = match &args.resume {
        Some(dir) => {
            eprintln!("resuming {}", dir.display());
            gnn_train::resume(dir, &options)?
        }
        None => {
            let config = resolve(&args)?;
            let out = args.out.clone().unwrap_or_else(|| default_out(&config));
            eprintln!(
                "training {}{} on {} ({}) → {}",
                config.model.kind(),
                config.finetune.init.as_ref().map_or(String::new(), |d| format!(" from {d}")),
                config.data.dataset,
                config.data.targets.join(", "),
                out.display()
            );
            gnn_train::train(config, &out, &options)?
        }
    };
    println!("{}", summary.report());
    Ok(())
}

/// Defaults, then the configuration file, then the flags.
fn resolve(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let mut c = match &args.config {
        Some(path) => TrainConfig::read(path)?,
        None => TrainConfig::default(),
    };
    if let Some(kind) = args.model.as_deref().filter(|&k| k != c.model.kind()) {
        c.model = ModelConfig::preset(kind).with_context(|| format!("no preset for model `{kind}`"))?;
    }
    if let Some(d) = &args.dataset {
        c.data.dataset = d.clone();
    }
    c.data.asu |= args.asu;
    if args.matbench_fold.is_some() {
        c.split.matbench_fold = args.matbench_fold;
    }
    if !args.target.is_empty() {
        c.data.targets = args.target.clone();
    } else if let Some(path) = gnn_train::crystal_dataset::crystal_dataset_path(&c.data.dataset)? {
        // The table's own column, unless the configuration file chose one (QM9's default `U0` is
        // never a crystal table's).
        if args.dataset.is_some() || c.data.targets == gnn_train::config::DataConfig::default().targets {
            let table = gnn_train::crystal_dataset::crystal_dataset(&path, &[])?;
            c.data.targets = vec![table.targets[0].name.clone()];
        }
    }
    if let Some(init) = &args.init {
        c.finetune.init = Some(init.display().to_string());
    }
    if let Some(dir) = &c.finetune.init {
        // The model is the checkpoint's (the trainer takes it from there too).
        c.model = gnn_train::finetune::read_init(Path::new(dir))?.config.model;
    }
    if args.refit_shifts.is_some() {
        c.finetune.refit_shifts = args.refit_shifts;
    }
    c.finetune.freeze.extend(args.freeze.iter().cloned());
    // A force (stress) weight asks for the force (stress) loss, on ASE's array names by default.
    if args.forces.is_some() {
        c.data.forces = args.forces.clone();
    } else if args.force_weight.is_some_and(|w| w > 0.0) && c.data.forces.is_none() {
        c.data.forces = Some("forces".into());
    }
    if args.stress.is_some() {
        c.data.stress = args.stress.clone();
    } else if args.stress_weight.is_some_and(|w| w > 0.0) && c.data.stress.is_none() {
        c.data.stress = Some("stress".into());
    }
    c.loss.energy_weight = args.energy_weight.unwrap_or(c.loss.energy_weight);
    c.loss.forces_weight = args.force_weight.unwrap_or(c.loss.forces_weight);
    c.loss.stress_weight = args.stress_weight.unwrap_or(c.loss.stress_weight);
    c.epochs = args.epochs.unwrap_or(c.epochs);
    c.batch_size = args.batch_size.unwrap_or(c.batch_size);
    c.optimizer.lr = args.lr.unwrap_or(c.optimizer.lr);
    c.seed = args.seed.unwrap_or(c.seed);
    if let Some(d) = args.device {
        c.device = d;
    }
    c.validate().map_err(|e| anyhow::anyhow!("invalid options: {e}"))?;
    Ok(c)
}

/// `runs/<model>-<dataset>-<targets>-<n>` with the first unused n.
fn default_out(c: &TrainConfig) -> PathBuf {
    let dataset = Path::new(&c.data.dataset).file_stem().map_or("data".into(), |s| s.to_string_lossy().into_owned());
    let stem = format!("{}-{}-{}", c.model.kind(), dataset, c.data.targets.join("+"));
    (1..).map(|n| Path::new("runs").join(format!("{stem}-{n}"))).find(|p| !p.exists()).expect("unbounded")
}
