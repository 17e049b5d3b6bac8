//! `cargo xtask train-compare`: the equal-budget training comparison. For each seed, `chemgnn train`
//! trains a model on QM9, then `tests/reference/train_pyg.py` trains PyG's counterpart from the
//! same run directory (its resolved configuration, split and normalisation), so both sides see the
//! same molecules, hyperparameters, schedule, loss and epochs. Test errors and time per epoch go to
//! `docs/training.json` (one entry per model) and into the "Equal-budget training" section of
//! `docs/benchmarks.md`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context};
use chem_graph::qm9::{default_cache_path, Qm9Dataset};
use chem_graph::GraphBatch;
use gnn_layers::candle::{Device, Tensor};
use gnn_models::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::bench::report;

/// Where the comparisons are kept, one entry per model.
pub const JSON: &str = "docs/training.json";
const SCRIPT: &str = "tests/reference/train_pyg.py";
const WORK: &str = "target/train-compare";

/// The model to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelKind {
    /// chemgnn's default SchNet (TrainConfig's) against PyG's `SchNet`.
    Schnet,
    /// The MPNN of PyG's QM9 example against PyG's `NNConv` network.
    Mpnn,
}

impl ModelKind {
    fn name(self) -> &'static str {
        match self {
            ModelKind::Schnet => "schnet",
            ModelKind::Mpnn => "mpnn",
        }
    }
}

/// Options of `cargo xtask train-compare`.
#[derive(clap::Args)]
pub struct Args {
    /// The model.
    #[arg(long, value_enum, default_value = "schnet")]
    model: ModelKind,
    /// The dataset.
    #[arg(long, default_value = "qm9", value_parser = ["qm9", "qm9-sample"])]
    dataset: String,
    /// Training molecules.
    #[arg(long, default_value_t = 10_000)]
    train: usize,
    /// Validation molecules.
    #[arg(long, default_value_t = 1000)]
    val: usize,
    /// Test molecules.
    #[arg(long, default_value_t = 1000)]
    test: usize,
    /// Epochs per run.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Number of seeds (0, 1, …): each seed is one split, initialisation and shuffling per side.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Threads of each side (rayon/Candle pool; torch intra-op threads).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Python with torch, torch_geometric and safetensors [default: $CHEMGNN_PYTHON,
    /// $CHEMGNN_REF_PYTHON, ~/.cache/chemgnn-ref/bin/python].
    #[arg(long)]
    python: Option<PathBuf>,
    /// Print results only; leave docs/ untouched.
    #[arg(long)]
    no_write: bool,
}

impl Args {
    /// The command line that reproduces this comparison.
    fn command(&self) -> String {
        format!(
            "cargo xtask train-compare --model {} --dataset {} --train {} --val {} --test {} --epochs {} --seeds {} \
             --threads {}",
            self.model.name(),
            self.dataset,
            self.train,
            self.val,
            self.test,
            self.epochs,
            self.seeds,
            self.threads
        )
    }
}

/// A test error in the target's unit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TestError {
    /// Mean absolute error.
    pub mae: f64,
    /// Root-mean-square error.
    pub rmse: f64,
    /// Unit of the target (e.g. `eV`).
    pub unit: String,
}

/// One side's result for one seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SideRun {
    /// Test errors per target, with the weights of the best validation loss.
    pub test: BTreeMap<String, TestError>,
    /// Mean wall time of a training pass over the training split, in seconds.
    pub seconds_per_epoch: f64,
    /// Epochs run.
    pub epochs: usize,
}

/// Both sides' results for one seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedRun {
    /// The run's seed (split, initial weights, shuffling).
    pub seed: u64,
    /// chemgnn's run.
    pub chemgnn: SideRun,
    /// PyG's run.
    pub pyg: SideRun,
}

/// A model's latest comparison, as kept in `docs/training.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    /// The command that produced it.
    pub command: String,
    /// CPU and thread count of the machine.
    pub machine: String,
    /// UTC date of the run.
    pub date: String,
    /// Dataset name.
    pub dataset: String,
    /// Training, validation and test sizes.
    pub split: [usize; 3],
    /// Epochs per run.
    pub epochs: usize,
    /// Threads of each side.
    pub threads: usize,
    /// chemgnn's label (`chemgnn 0.1.0`).
    pub chemgnn: String,
    /// PyG's label (`PyG x / torch y`).
    pub pyg: String,
    /// Per-seed results.
    pub seeds: Vec<SeedRun>,
}

/// Runs the comparison and, unless `--no-write`, records it.
pub fn run(args: Args) -> anyhow::Result<()> {
    ensure!(args.seeds > 0 && args.epochs > 0 && args.threads > 0, "--seeds, --epochs and --threads must be positive");
    let python = find_python(args.python.as_deref())?;
    eprintln!("reference Python: {}", python.display());
    let chemgnn = build_chemgnn()?;
    let mut seeds = Vec::new();
    let mut pyg_label = String::new();
    for seed in 0..args.seeds {
        let dir = PathBuf::from(WORK).join(format!("{}-seed{seed}", args.model.name()));
        eprintln!("== {} seed {seed}: {}", args.model.name(), dir.display());
        let run_dir = dir.join("chemgnn");
        if run_dir.exists() {
            std::fs::remove_dir_all(&run_dir).with_context(|| format!("removing {}", run_dir.display()))?;
        }
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("run.toml");
        std::fs::write(&config, run_toml(&args, seed))?;
        let status = Command::new(&chemgnn)
            .arg("train")
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(&run_dir)
            .arg("--quiet")
            .env("RAYON_NUM_THREADS", args.threads.to_string())
            .status()
            .with_context(|| format!("running {}", chemgnn.display()))?;
        ensure!(status.success(), "chemgnn train failed for seed {seed} ({status})");
        let ours = read_summary(&run_dir.join("summary.json"))?;

        let out = dir.join("pyg.json");
        let mut cmd = Command::new(&python);
        cmd.arg(SCRIPT).arg(&run_dir).arg(&out).args(["--threads", &args.threads.to_string()]);
        if args.model == ModelKind::Mpnn {
            let graphs = dir.join("mpnn_graphs.safetensors");
            write_mpnn_graphs(&run_dir, &graphs)?;
            cmd.arg("--graphs").arg(graphs);
        }
        let threads = args.threads.to_string();
        let status = cmd.env("OMP_NUM_THREADS", &threads).env("MKL_NUM_THREADS", &threads).status()?;
        ensure!(status.success(), "{SCRIPT} failed for seed {seed} ({status})");
        let (label, theirs) = read_pyg(&out)?;
        pyg_label = label;
        seeds.push(SeedRun { seed, chemgnn: ours, pyg: theirs });
    }
    let comparison = Comparison {
        command: args.command(),
        machine: report::machine(),
        date: report::shell(&["date", "-u", "+%Y-%m-%d"]),
        dataset: args.dataset.clone(),
        split: [args.train, args.val, args.test],
        epochs: args.epochs,
        threads: args.threads,
        chemgnn: format!("chemgnn {}", env!("CARGO_PKG_VERSION")),
        pyg: pyg_label,
        seeds,
    };
    eprint!("{}", summary_table(&comparison));
    if !args.no_write {
        let mut all = read_all()?.unwrap_or_default();
        all.insert(args.model.name().to_string(), comparison);
        std::fs::create_dir_all("docs")?;
        std::fs::write(JSON, serde_json::to_string_pretty(&all)? + "\n")?;
        report::render()?;
        eprintln!("wrote {JSON} and docs/benchmarks.md");
    }
    Ok(())
}

/// The run's configuration: TrainConfig's defaults but for the seed, dataset, split, epochs and,
/// for the MPNN, the model (PyG's QM9 example).
fn run_toml(args: &Args, seed: u64) -> String {
    let mut toml = format!(
        "# Written by `{}`.\nseed = {seed}\nepochs = {}\n\n[data]\ndataset = \"{}\"\n\n[split]\ntrain = {}\nval = {}\n\
         test = {}\n",
        args.command(),
        args.epochs,
        args.dataset,
        args.train,
        args.val,
        args.test
    );
    if args.model == ModelKind::Mpnn {
        toml += "\n[model]\nkind = \"mpnn\"\n";
    }
    toml
}

/// The first Python that imports torch_geometric and safetensors.
fn find_python(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/chemgnn-ref/bin/python"));
    let candidates: Vec<PathBuf> = explicit
        .map(Path::to_path_buf)
        .into_iter()
        .chain(std::env::var_os("CHEMGNN_PYTHON").map(PathBuf::from))
        .chain(std::env::var_os("CHEMGNN_REF_PYTHON").map(PathBuf::from))
        .chain(home)
        .collect();
    let works = |p: &PathBuf| {
        Command::new(p).args(["-c", "import torch_geometric, safetensors"]).output().is_ok_and(|o| o.status.success())
    };
    candidates.iter().find(|p| works(p)).cloned().with_context(|| {
        format!(
            "no Python with torch, torch_geometric and safetensors among {:?} (../shared/reference/setup.sh makes one; \
             or pass --python)",
            candidates
        )
    })
}

/// Builds the `chemgnn` binary in release mode and returns its path.
pub(crate) fn build_chemgnn() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building chemgnn (cargo build --release -p chemgnn)");
    let status = Command::new(cargo).args(["build", "--release", "-p", "chemgnn"]).status()?;
    ensure!(status.success(), "cargo build --release -p chemgnn failed ({status})");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let binary = target.join("release").join(format!("chemgnn{}", std::env::consts::EXE_SUFFIX));
    ensure!(binary.exists(), "{} is missing after the build", binary.display());
    Ok(binary)
}

/// chemgnn's `summary.json`.
fn read_summary(path: &Path) -> anyhow::Result<SideRun> {
    #[derive(Deserialize)]
    struct Metrics {
        targets: BTreeMap<String, TestError>,
    }
    #[derive(Deserialize)]
    struct Summary {
        test: Metrics,
        seconds_per_epoch: f64,
        epochs_run: usize,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let s: Summary = serde_json::from_str(&text).with_context(|| format!("{} is not a run summary", path.display()))?;
    Ok(SideRun { test: s.test.targets, seconds_per_epoch: s.seconds_per_epoch, epochs: s.epochs_run })
}

/// The Python script's output: its implementation label and results.
fn read_pyg(path: &Path) -> anyhow::Result<(String, SideRun)> {
    #[derive(Deserialize)]
    struct Output {
        implementation: String,
        test: BTreeMap<String, TestError>,
        seconds_per_epoch: f64,
        epochs: usize,
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let o: Output =
        serde_json::from_str(&text).with_context(|| format!("{} is not {SCRIPT}'s output", path.display()))?;
    Ok((o.implementation, SideRun { test: o.test, seconds_per_epoch: o.seconds_per_epoch, epochs: o.epochs }))
}

/// Writes the MPNN input graphs chemgnn builds for the run's split molecules (its configuration's
/// featurisation), for the Python side to train on the same inputs: `molecules` (dataset
/// indices), `node_offsets`, `edge_offsets`, `x`, `edge_index` (`[2, E]`, row 0 the source,
/// indices into `x`) and `edge_attr`.
fn write_mpnn_graphs(run_dir: &Path, path: &Path) -> anyhow::Result<()> {
    #[derive(Deserialize)]
    struct Data {
        dataset: String,
    }
    #[derive(Deserialize)]
    struct Config {
        data: Data,
        model: ModelConfig,
    }
    #[derive(Deserialize)]
    struct Split {
        train: Vec<usize>,
        val: Vec<usize>,
        test: Vec<usize>,
    }
    let read = |name: &str| -> anyhow::Result<String> {
        let file = run_dir.join(name);
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))
    };
    let config: Config = serde_json::from_str(&read("config.json")?).context("config.json")?;
    let split: Split = serde_json::from_str(&read("split.json")?).context("split.json")?;
    let dataset = match config.data.dataset.as_str() {
        "qm9-sample" => Qm9Dataset::embedded_sample()?,
        "qm9" => Qm9Dataset::load(default_cache_path())?,
        other => Qm9Dataset::load(other)?,
    };
    let mut molecules: Vec<usize> = split.train.into_iter().chain(split.val).chain(split.test).collect();
    molecules.sort_unstable();
    molecules.dedup();
    if let Some(&m) = molecules.iter().find(|&&m| m >= dataset.len()) {
        bail!("split.json names molecule {m}, the dataset has {}", dataset.len());
    }
    let structures: Vec<_> = molecules.iter().map(|&m| dataset.structure(m)).collect();
    let batch = GraphBatch::from_graphs(&gnn_models::inputs::pipeline::model_graphs(&config.model, &structures)?)?;
    let (Some(x), Some(edge_attr)) = (&batch.node_features, &batch.edge_features) else {
        bail!("the MPNN graphs have no atom or edge features");
    };
    let cpu = &Device::Cpu;
    let ints = |v: &[usize]| Tensor::new(v.iter().map(|&i| i as i64).collect::<Vec<_>>(), cpu);
    let e = batch.num_edges();
    let edge_index: Vec<i64> = batch.edges.source.iter().chain(&batch.edges.target).map(|&v| i64::from(v)).collect();
    let tensors = HashMap::from([
        ("molecules".to_string(), ints(&molecules)?),
        ("node_offsets".into(), ints(&batch.node_offsets)?),
        ("edge_offsets".into(), ints(&batch.edge_offsets)?),
        ("x".into(), Tensor::from_vec(x.data.clone(), (x.rows(), x.width), cpu)?),
        ("edge_index".into(), Tensor::from_vec(edge_index, (2, e), cpu)?),
        ("edge_attr".into(), Tensor::from_vec(edge_attr.data.clone(), (edge_attr.rows(), edge_attr.width), cpu)?),
    ]);
    gnn_layers::candle::safetensors::save(&tensors, path)?;
    Ok(())
}

/// `docs/training.json`, if it exists.
fn read_all() -> anyhow::Result<Option<BTreeMap<String, Comparison>>> {
    match std::fs::read_to_string(JSON) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{JSON} is not valid: {e}"))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The "Equal-budget training" section of `docs/benchmarks.md` from `docs/training.json`, or
/// `None` when that file does not exist.
pub fn markdown() -> anyhow::Result<Option<String>> {
    let Some(all) = read_all()? else { return Ok(None) };
    let mut md = String::from(
        "\n## Equal-budget training (chemgnn vs PyG)\n\n\
         Generated by `cargo xtask train-compare` from `docs/training.json`. For each seed, `chemgnn train` \
         trains on QM9 and `tests/reference/train_pyg.py` trains PyG's model from chemgnn's run directory: \
         the same split, target normalisation (per-atom mean and standard deviation, atom reference \
         energies), initial learning rate and schedule, optimiser, loss, batch size, gradient clipping and \
         epochs; only the initial weights and the shuffling order differ (each side draws its own from the \
         seed). Test errors are those of the weights with the best validation loss; *s/epoch* is the mean \
         wall time of a training pass (validation excluded) with the same thread count on both sides; \
         *time ratio* is PyG's time divided by chemgnn's (> 1: chemgnn is faster). Errors are mean ± sample \
         standard deviation over the seeds.\n",
    );
    for (model, c) in &all {
        let _ = write!(
            md,
            "\n### {}\n\nCommand: `{}` — {} — {} — {}, {} train / {} val / {} test molecules, {} epochs, {} \
             thread{}\n\n",
            title(model),
            c.command,
            c.date,
            c.machine,
            c.dataset,
            c.split[0],
            c.split[1],
            c.split[2],
            c.epochs,
            c.threads,
            if c.threads == 1 { "" } else { "s" }
        );
        md.push_str(&summary_table(c));
        md.push_str(
            "\n| seed | target | chemgnn MAE | PyG MAE | chemgnn RMSE | PyG RMSE | chemgnn s/epoch | PyG s/epoch |\n",
        );
        md.push_str("|---:|---|---:|---:|---:|---:|---:|---:|\n");
        for s in &c.seeds {
            for (target, ours) in &s.chemgnn.test {
                let theirs = s.pyg.test.get(target);
                let (scale, unit) = display_unit(&ours.unit);
                let cell = |v: Option<f64>| v.map_or("—".into(), |v| format!("{:.2} {unit}", v * scale));
                let _ = writeln!(
                    md,
                    "| {} | {target} | {} | {} | {} | {} | {:.2} | {:.2} |",
                    s.seed,
                    cell(Some(ours.mae)),
                    cell(theirs.map(|t| t.mae)),
                    cell(Some(ours.rmse)),
                    cell(theirs.map(|t| t.rmse)),
                    s.chemgnn.seconds_per_epoch,
                    s.pyg.seconds_per_epoch
                );
            }
        }
    }
    Ok(Some(md))
}

/// Section title of a model key.
fn title(model: &str) -> String {
    match model {
        "schnet" => "SchNet".into(),
        "mpnn" => "MPNN (PyG's QM9 example)".into(),
        other => other.into(),
    }
}

/// Mean ± sample standard deviation over seeds per side and target, and the time per epoch.
fn summary_table(c: &Comparison) -> String {
    let mut md = String::from(
        "| implementation | target | test MAE | test RMSE | s/epoch | time ratio |\n|---|---|---:|---:|---:|---:|\n",
    );
    let ours_time = mean(&c.seeds.iter().map(|s| s.chemgnn.seconds_per_epoch).collect::<Vec<_>>());
    let targets: Vec<&String> = c.seeds.first().map(|s| s.chemgnn.test.keys().collect()).unwrap_or_default();
    for (label, side) in [(&c.chemgnn, 0), (&c.pyg, 1)] {
        let pick = |s: &SeedRun| if side == 0 { s.chemgnn.clone() } else { s.pyg.clone() };
        let runs: Vec<SideRun> = c.seeds.iter().map(pick).collect();
        let time = mean(&runs.iter().map(|r| r.seconds_per_epoch).collect::<Vec<_>>());
        let ratio = if side == 0 { "—".to_string() } else { format!("{:.2}×", time / ours_time) };
        for target in &targets {
            let errors: Vec<&TestError> = runs.iter().filter_map(|r| r.test.get(*target)).collect();
            let Some(first) = errors.first() else { continue };
            let (scale, unit) = display_unit(&first.unit);
            let stat = |f: fn(&TestError) -> f64| {
                let v: Vec<f64> = errors.iter().map(|e| f(e) * scale).collect();
                let sd = sample_std(&v);
                if sd.is_nan() {
                    format!("{:.2} {unit}", mean(&v))
                } else {
                    format!("{:.2} ± {:.2} {unit}", mean(&v), sd)
                }
            };
            let _ = writeln!(
                md,
                "| {label} ({} thread{}) | {target} | {} | {} | {time:.2} | {ratio} |",
                c.threads,
                if c.threads == 1 { "" } else { "s" },
                stat(|e| e.mae),
                stat(|e| e.rmse)
            );
        }
    }
    md
}

/// Energies in meV, other units as they are.
fn display_unit(unit: &str) -> (f64, String) {
    if unit == "eV" {
        (1e3, "meV".into())
    } else {
        (1.0, unit.into())
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample standard deviation (NaN for fewer than two values).
fn sample_std(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)).sqrt()
}
