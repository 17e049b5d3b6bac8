//! `chemgnn train`: train SchNet or an MPNN; with no arguments, the README's main job (SchNet on
//! the embedded QM9 sample predicting U0).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::Context;
use clap::{Args, ValueEnum};
use gnn_models::{CoGnConfig, EquivariantNetConfig, ModelConfig, MpnnConfig, SchNetConfig};
use gnn_train::{RunOptions, TrainConfig, Verbosity};

/// Architectures `--model` chooses between.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// SchNet (PyG's implementation and parameter names).
    Schnet,
    /// The MPNN of PyG's QM9 example (NNConv + GRU + Set2Set).
    Mpnn,
    /// coGN (kgcnn's `model_default`: kNN-24 crystal graphs, width 128, 5 blocks).
    Cogn,
    /// coNGN (kgcnn's `model_default_nested`: Voronoi graphs and line graph, width 160).
    Congn,
    /// L0Net (Miller et al. 2020: equivariant convolutions, scalar features only, `64x0e`).
    L0net,
    /// L1Net (Miller et al. 2020: scalar and l = 1 features, `32x0e+10x1o`).
    L1net,
}

impl ModelKind {
    /// The kind's default configuration.
    fn default_config(self) -> ModelConfig {
        match self {
            ModelKind::Schnet => ModelConfig::Schnet(SchNetConfig::default()),
            ModelKind::Mpnn => ModelConfig::Mpnn(MpnnConfig::pyg_qm9()),
            ModelKind::Cogn => ModelConfig::Cogn(CoGnConfig::cogn(128)),
            ModelKind::Congn => ModelConfig::Congn(CoGnConfig::congn(160)),
            ModelKind::L0net => ModelConfig::L0net(EquivariantNetConfig::l0net()),
            ModelKind::L1net => ModelConfig::L1net(EquivariantNetConfig::l1net()),
        }
    }

    fn name(self) -> &'static str {
        match self {
            ModelKind::Schnet => "schnet",
            ModelKind::Mpnn => "mpnn",
            ModelKind::Cogn => "cogn",
            ModelKind::Congn => "congn",
            ModelKind::L0net => "l0net",
            ModelKind::L1net => "l1net",
        }
    }
}

#[derive(Args)]
pub struct TrainArgs {
    /// Configuration file (TOML or JSON, see docs/training.md); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Architecture (replaces the configuration's model unless it is already of this kind).
    #[arg(long, value_enum)]
    model: Option<ModelKind>,
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
    device: Option<String>,
    /// Run directory (default: a new `runs/<model>-<dataset>-<target>-<n>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this directory exactly where it stopped (other options are ignored).
    #[arg(long, conflicts_with_all = ["config", "model", "dataset", "target", "epochs", "out"])]
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
                "training {} on {} ({}) → {}",
                config.model.kind(),
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
    if let Some(kind) = args.model.filter(|k| k.name() != c.model.kind()) {
        c.model = kind.default_config();
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
    if args.forces.is_some() {
        c.data.forces = args.forces.clone();
    }
    c.epochs = args.epochs.unwrap_or(c.epochs);
    c.batch_size = args.batch_size.unwrap_or(c.batch_size);
    c.optimizer.lr = args.lr.unwrap_or(c.optimizer.lr);
    c.seed = args.seed.unwrap_or(c.seed);
    if let Some(d) = &args.device {
        c.device = d.clone();
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
