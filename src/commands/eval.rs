//! `chemgnn eval`: errors of a checkpoint (or a run's best checkpoint) on a dataset.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use gnn_models::Model;
use gnn_train::config::DataConfig;
use gnn_train::dataset::{open_dataset, Dataset};
use gnn_train::run_dir::{self, RunDir};
use gnn_train::Split;

use gnn_models::{DeviceSpec, Precision};

#[derive(Args)]
#[command(after_help = super::model_kinds_help())]
pub struct EvalArgs {
    /// Checkpoint directory, or a run directory (its `best/` checkpoint is used).
    #[arg(long)]
    model: PathBuf,
    /// `qm9-sample`, `qm9`, an extended-xyz file, a QM9 / graph-batch `.safetensors` file, or
    /// crystals (`crystal-sample`, `matminer:<set>[:<target>]`, a MatBench `.json.gz` table).
    dataset: String,
    /// Only this split of the run directory's `split.json` (`train`, `val`, `test`).
    #[arg(long, value_enum)]
    split: Option<SplitName>,
    /// Per-atom force array of an extended-xyz dataset to compare forces with.
    #[arg(long)]
    forces: Option<String>,
    /// Structures per batch.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Float precision.
    #[arg(long, default_value_t = Precision::F32)]
    precision: Precision,
    /// Device.
    #[arg(long, default_value_t = DeviceSpec::Cpu)]
    device: DeviceSpec,
    /// Predict crystals from their asymmetric units (symmetrised at --symprec), as trained with
    /// `--asu`.
    #[arg(long)]
    asu: bool,
    /// Distance tolerance in Å of the symmetry search behind --asu.
    #[arg(long, default_value_t = 1e-3)]
    symprec: f64,
    /// Print the metrics as JSON.
    #[arg(long)]
    json: bool,
}

/// A part of a run's `split.json`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SplitName {
    /// The training structures.
    Train,
    /// The validation structures.
    Val,
    /// The test structures.
    Test,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    // A run directory (its best checkpoint) or a checkpoint directory.
    let checkpoint = RunDir::open_read_only(&args.model)
        .ok()
        .and_then(|run| run.checkpoint_dir(run_dir::BEST))
        .unwrap_or_else(|| args.model.clone());
    let model = Model::load_on(&checkpoint, args.precision.dtype(), &args.device.device()?)?;
    let data = DataConfig {
        dataset: args.dataset.clone(),
        targets: model.config().targets.iter().map(|t| t.name.clone()).collect(),
        forces: args.forces.clone(),
        stress: None,
        units: model.config().targets.iter().map(|t| t.unit.clone()).collect(),
        lazy: false,
        asu: args.asu,
        symprec: args.symprec,
    };
    let dataset: Arc<dyn Dataset> = open_dataset(&data)?.into();
    let indices = match &args.split {
        None => (0..dataset.len()).collect(),
        Some(which) => {
            let path = args.model.join(run_dir::SPLIT);
            let split = Split::read(&path)?;
            split.check(dataset.len(), &path)?;
            match which {
                SplitName::Train => split.train,
                SplitName::Val => split.val,
                SplitName::Test => split.test,
            }
        }
    };
    let metrics = gnn_train::evaluate_model(&model, dataset, &indices, args.batch_size, &data.graph_options())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&metrics)?);
        return Ok(());
    }
    println!("{} structures of {} with {}:", metrics.structures, args.dataset, checkpoint.display());
    for line in metrics.report_lines() {
        println!("{line}");
    }
    Ok(())
}
