//! `cargo xtask ablation-l1`: the experiment of Miller, Geiger, Smidt and Noé (2020), "Relevance of
//! rotationally equivariant convolutions for predicting molecular properties", on QM9. For each
//! target and seed, `chemgnn train` trains three networks on the same split: L0Net (features
//! `64x0e`, distance-only filters) and L1Net (`32x0e+10x1o`, filters up to l = 1) at the same depth
//! and nearly the same parameter count, and L0Net one block deeper. The table (per target: MAE of
//! each net, the relative change from l = 1 features and from depth, their averages over targets)
//! goes to `docs/ablation_l1.{md,json}` and a bar chart to `docs/ablation_l1.png`.
//!
//! Resumable: each training lives in its own run directory under `target/ablation-l1/<budget>/`; a
//! finished one is read back, an interrupted one continues from its last epoch
//! (`chemgnn train --resume`, exact), so a killed ablation is restarted with the same command.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context};
use gnn_models::{expected_tensors, LNetConfig, ModelConfig};
use gnn_train::config::{ScheduleKind, SplitSize};
use gnn_train::{StopReason, Summary, TrainConfig};
use serde::{Deserialize, Serialize};

use crate::bench::report;
use crate::train_compare::build_chemgnn;

/// The generated table.
pub const MARKDOWN: &str = "docs/ablation_l1.md";
/// Every run's result, from which the table is made.
pub const JSON: &str = "docs/ablation_l1.json";
/// Relative changes per target as bars.
pub const CHART: &str = "docs/ablation_l1.png";

/// The targets of the default budget: the choice (μ, α, frontier orbitals, U0).
const TARGETS: [&str; 6] = ["mu", "alpha", "homo", "lumo", "gap", "U0"];
/// The paper's twelve QM9 targets.
const ALL_TARGETS: [&str; 12] = ["mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv"];

/// Options of `cargo xtask ablation-l1`; budget options left out take the default budget's value
/// (or the paper's with `--paper`).
#[derive(clap::Args)]
pub struct Args {
    /// `qm9` (after `chemgnn data fetch qm9`) or `qm9-sample` (the embedded 1,000 molecules).
    #[arg(long)]
    dataset: Option<String>,
    /// QM9 targets, comma-separated [default: mu,alpha,homo,lumo,gap,U0; --paper: all twelve].
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,
    /// Training molecules [default: 5000; --paper: 109000].
    #[arg(long)]
    train: Option<usize>,
    /// Validation molecules [default: 1000].
    #[arg(long)]
    val: Option<usize>,
    /// Test molecules [default: 1000; --paper: all others].
    #[arg(long)]
    test: Option<usize>,
    /// Epochs per training [default: 6; --paper: 55].
    #[arg(long)]
    epochs: Option<usize>,
    /// Seeds 0, 1, … per target and network (split, initial weights, shuffling) [default: 2; --paper: 1].
    #[arg(long)]
    seeds: Option<u64>,
    /// Blocks of L0Net and L1Net; the deeper L0Net has one more [default and --paper: 3, as the
    /// paper's "shallow" (L = 3) against L = 4].
    #[arg(long)]
    layers: Option<usize>,
    /// Molecules per batch [default: 32; --paper: 16].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Peak learning rate of Adam [default: 2e-2 with cosine decay (best of 1e-3 … 2e-2 for both
    /// networks on 2,000 molecules, gap, 3 epochs); --paper: 1e-4 with
    /// ReduceLROnPlateau, patience 5, early stopping after 50 epochs without improvement].
    #[arg(long)]
    lr: Option<f64>,
    /// The paper's budget: 109,000 training and 1,000 validation molecules, all twelve targets,
    /// 55 epochs, batch 16, lr 1e-4 on a plateau schedule.
    #[arg(long)]
    paper: bool,
    /// Print the runs and an estimate of their cost (from one short timed training per network),
    /// train nothing.
    #[arg(long)]
    plan: bool,
    /// Where the run directories go.
    #[arg(long, default_value = "target/ablation-l1")]
    work: PathBuf,
    /// Print results only; leave docs/ untouched.
    #[arg(long)]
    no_write: bool,
}

/// What is trained: every field enters the run directories' name, so runs of another budget are
/// never mixed in (targets and seeds can be added later; finished runs are kept).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// `qm9` or `qm9-sample`.
    pub dataset: String,
    /// QM9 target names.
    pub targets: Vec<String>,
    /// Training, validation molecules.
    pub train: usize,
    /// Validation molecules.
    pub val: usize,
    /// Test molecules (`None`: all others).
    pub test: Option<usize>,
    /// Epochs per training.
    pub epochs: usize,
    /// Seeds per target and network.
    pub seeds: u64,
    /// Blocks of L0Net and L1Net.
    pub layers: usize,
    /// Molecules per batch.
    pub batch_size: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// The paper's schedule (plateau, early stopping) instead of cosine decay.
    pub paper_schedule: bool,
}

impl Budget {
    fn default_budget() -> Self {
        Self {
            dataset: "qm9".into(),
            targets: TARGETS.map(String::from).to_vec(),
            train: 5000,
            val: 1000,
            test: Some(1000),
            epochs: 6,
            seeds: 2,
            layers: 3,
            batch_size: 32,
            lr: 2e-2,
            paper_schedule: false,
        }
    }

    fn paper() -> Self {
        Self {
            targets: ALL_TARGETS.map(String::from).to_vec(),
            train: 109_000,
            test: None,
            epochs: 55,
            seeds: 1,
            batch_size: 16,
            lr: 1e-4,
            paper_schedule: true,
            ..Self::default_budget()
        }
    }

    /// The command line that reproduces this budget.
    fn command(&self) -> String {
        let mut cmd = String::from("cargo xtask ablation-l1");
        if self.paper_schedule {
            cmd += " --paper";
        }
        let _ = write!(
            cmd,
            " --dataset {} --targets {} --train {} --val {}",
            self.dataset,
            self.targets.join(","),
            self.train,
            self.val
        );
        if let Some(test) = self.test {
            let _ = write!(cmd, " --test {test}");
        }
        let _ = write!(
            cmd,
            " --epochs {} --seeds {} --layers {} --batch-size {} --lr {}",
            self.epochs, self.seeds, self.layers, self.batch_size, self.lr
        );
        cmd
    }

    /// The run directories' parent: one name per budget (targets and seeds aside).
    fn tag(&self) -> String {
        let test = self.test.map_or("rest".into(), |t| t.to_string());
        format!(
            "{}-n{}-v{}-t{test}-e{}-L{}-b{}-lr{}{}",
            self.dataset,
            self.train,
            self.val,
            self.epochs,
            self.layers,
            self.batch_size,
            self.lr,
            if self.paper_schedule { "-paper" } else { "" }
        )
    }

    /// The training configuration of one run.
    fn train_config(&self, net: Net, target: &str, seed: u64) -> TrainConfig {
        let mut c = TrainConfig { seed, epochs: self.epochs, batch_size: self.batch_size, ..TrainConfig::default() };
        c.data.dataset = self.dataset.clone();
        c.data.targets = vec![target.to_string()];
        c.split.train = SplitSize::Count(self.train);
        c.split.val = SplitSize::Count(self.val);
        c.split.test = self.test.map(SplitSize::Count);
        c.model = net.model(self.layers);
        c.optimizer.lr = self.lr;
        if self.paper_schedule {
            c.schedule.kind = ScheduleKind::Plateau;
            c.schedule.warmup_epochs = 0.0;
            c.schedule.patience = 5;
            c.early_stopping_patience = Some(50);
        }
        c
    }
}

impl Args {
    fn budget(&self) -> Budget {
        let base = if self.paper { Budget::paper() } else { Budget::default_budget() };
        Budget {
            dataset: self.dataset.clone().unwrap_or(base.dataset),
            targets: if self.targets.is_empty() { base.targets } else { self.targets.clone() },
            train: self.train.unwrap_or(base.train),
            val: self.val.unwrap_or(base.val),
            test: self.test.or(base.test),
            epochs: self.epochs.unwrap_or(base.epochs),
            seeds: self.seeds.unwrap_or(base.seeds),
            layers: self.layers.unwrap_or(base.layers),
            batch_size: self.batch_size.unwrap_or(base.batch_size),
            lr: self.lr.unwrap_or(base.lr),
            paper_schedule: base.paper_schedule,
        }
    }
}

/// The three networks of the ablation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Net {
    /// L0Net at the budget's depth.
    L0,
    /// L1Net at the budget's depth.
    L1,
    /// L0Net one block deeper.
    L0Deeper,
}

const NETS: [Net; 3] = [Net::L0, Net::L1, Net::L0Deeper];

impl Net {
    fn name(self) -> &'static str {
        match self {
            Net::L0 => "l0",
            Net::L1 => "l1",
            Net::L0Deeper => "l0-deeper",
        }
    }

    fn layers(self, layers: usize) -> usize {
        if self == Net::L0Deeper {
            layers + 1
        } else {
            layers
        }
    }

    fn title(self, layers: usize) -> String {
        let kind = if self == Net::L1 { "L1Net" } else { "L0Net" };
        format!("{kind} (L = {})", self.layers(layers))
    }

    /// The paper's preset at this net's depth.
    fn config(self, layers: usize) -> LNetConfig {
        let preset = if self == Net::L1 { LNetConfig::l1net() } else { LNetConfig::l0net() };
        LNetConfig { layers: self.layers(layers), ..preset }
    }

    fn model(self, layers: usize) -> ModelConfig {
        let config = self.config(layers);
        if self == Net::L1 {
            ModelConfig::L1net(config)
        } else {
            ModelConfig::L0net(config)
        }
    }

    fn parameters(self, layers: usize) -> anyhow::Result<usize> {
        let (shapes, _) = expected_tensors(&self.model(layers))?;
        Ok(shapes.values().map(|s| s.iter().product::<usize>()).sum())
    }
}

/// One training's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    /// QM9 target.
    pub target: String,
    /// `l0`, `l1` or `l0-deeper`.
    pub net: String,
    /// Seed.
    pub seed: u64,
    /// Test MAE of the weights with the best validation loss.
    pub mae: f64,
    /// Unit of the MAE.
    pub unit: String,
    /// Epochs run.
    pub epochs: usize,
    /// Mean seconds of a training pass over the training split.
    pub seconds_per_epoch: f64,
}

/// The ablation as kept in `docs/ablation_l1.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ablation {
    /// The command that produced it.
    pub command: String,
    /// CPU and threads.
    pub machine: String,
    /// UTC date of the last run.
    pub date: String,
    /// `chemgnn x.y.z`.
    pub chemgnn: String,
    /// The budget.
    pub budget: Budget,
    /// Parameters per network name.
    pub parameters: BTreeMap<String, usize>,
    /// Every run.
    pub runs: Vec<RunResult>,
}

/// Runs (or resumes) the ablation and, unless `--no-write`, records it.
pub fn run(args: Args) -> anyhow::Result<()> {
    let budget = args.budget();
    ensure!(
        budget.seeds > 0 && budget.epochs > 0 && budget.layers > 0 && !budget.targets.is_empty(),
        "--seeds, --epochs, --layers and --targets must not be zero or empty"
    );
    let chemgnn = build_chemgnn()?;
    let root = args.work.join(budget.tag());
    let mut parameters = BTreeMap::new();
    for net in NETS {
        let count = net.parameters(budget.layers)?;
        eprintln!("{}: {count} parameters", net.title(budget.layers));
        parameters.insert(net.name().to_string(), count);
    }
    let runs = budget.targets.len() * budget.seeds as usize * NETS.len();
    if args.plan {
        return plan(&chemgnn, &budget, &root, runs);
    }
    let mut results = Vec::with_capacity(runs);
    // Seed-major, so that stopping early leaves whole seeds (rerun with fewer --seeds to tabulate them).
    for seed in 0..budget.seeds {
        for target in &budget.targets {
            for net in NETS {
                let dir = root.join(target).join(format!("{}-seed{seed}", net.name()));
                let summary = train_or_resume(&chemgnn, &budget.train_config(net, target, seed), &dir)?;
                let stats = summary.test.targets.get(target).with_context(|| {
                    format!("{} has no test error for {target}", dir.join(gnn_train::run_dir::SUMMARY).display())
                })?;
                eprintln!(
                    "[{}/{runs}] {target} seed {seed} {}: MAE {:.5} {} ({} epochs, {:.1} s/epoch)",
                    results.len() + 1,
                    net.title(budget.layers),
                    stats.mae,
                    stats.unit,
                    summary.epochs_run,
                    summary.seconds_per_epoch
                );
                results.push(RunResult {
                    target: target.clone(),
                    net: net.name().into(),
                    seed,
                    mae: stats.mae,
                    unit: stats.unit.clone(),
                    epochs: summary.epochs_run,
                    seconds_per_epoch: summary.seconds_per_epoch,
                });
            }
        }
    }
    let ablation = Ablation {
        command: budget.command(),
        machine: report::machine(),
        date: report::shell(&["date", "-u", "+%Y-%m-%d"]),
        chemgnn: format!("chemgnn {}", env!("CARGO_PKG_VERSION")),
        budget,
        parameters,
        runs: results,
    };
    let table = Table::new(&ablation);
    let markdown = table.markdown(&ablation);
    eprint!("{markdown}");
    if !args.no_write {
        std::fs::create_dir_all("docs")?;
        std::fs::write(JSON, serde_json::to_string_pretty(&ablation)? + "\n")?;
        std::fs::write(MARKDOWN, markdown)?;
        table.chart(Path::new(CHART))?;
        eprintln!("wrote {MARKDOWN}, {JSON} and {CHART}");
    }
    Ok(())
}

/// The run in `dir`: read back when finished, continued when interrupted, else trained from
/// `config` (a directory without a resumable state is started again).
fn train_or_resume(chemgnn: &Path, config: &TrainConfig, dir: &Path) -> anyhow::Result<Summary> {
    let summary_file = dir.join(gnn_train::run_dir::SUMMARY);
    let finished = |s: &Summary| s.stopped != StopReason::Interrupted;
    let mut cmd = Command::new(chemgnn);
    cmd.args(["train", "--quiet"]);
    match read_summary(&summary_file)? {
        Some(s) if finished(&s) => return Ok(s),
        _ if dir.join(gnn_train::run_dir::LAST).is_dir() => {
            cmd.arg("--resume").arg(dir);
        }
        _ => {
            if dir.exists() {
                std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
            }
            let parent = dir.parent().context("run directory without parent")?;
            std::fs::create_dir_all(parent)?;
            let file = dir.with_extension("json");
            std::fs::write(&file, serde_json::to_string_pretty(config)?)?;
            cmd.arg("--config").arg(&file).arg("--out").arg(dir);
        }
    }
    let status = cmd.status().with_context(|| format!("running {}", chemgnn.display()))?;
    ensure!(status.success(), "chemgnn train failed for {} ({status})", dir.display());
    match read_summary(&summary_file)? {
        Some(s) if finished(&s) => Ok(s),
        _ => anyhow::bail!("{} did not finish (interrupted?); run the same command again to resume", dir.display()),
    }
}

fn read_summary(path: &Path) -> anyhow::Result<Option<Summary>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            Ok(Some(serde_json::from_str(&text).with_context(|| format!("{} is not a run summary", path.display()))?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    }
}

/// Prints the runs and their estimated cost: one epoch of each network on a few hundred training
/// molecules is timed (evaluation counted as a third of a training pass per molecule).
fn plan(chemgnn: &Path, budget: &Budget, root: &Path, runs: usize) -> anyhow::Result<()> {
    const TIMED: usize = 320;
    let mut seconds = 0.0;
    for net in NETS {
        let timing = Budget { train: TIMED, val: 32, test: Some(32), epochs: 1, ..budget.clone() };
        let dir = root.join("timing").join(net.name());
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let s = train_or_resume(chemgnn, &timing.train_config(net, &budget.targets[0], 0), &dir)?;
        let per_molecule = s.seconds_per_epoch / TIMED as f64;
        let molecules = budget.train as f64 + budget.val as f64 / 3.0;
        let per_run = budget.epochs as f64 * molecules * per_molecule;
        let n = budget.targets.len() as f64 * budget.seeds as f64;
        eprintln!(
            "{}: {:.1} ms per training molecule → {:.2} h per run, {:.1} h for its {n} runs",
            net.title(budget.layers),
            per_molecule * 1e3,
            per_run / 3600.0,
            n * per_run / 3600.0
        );
        seconds += n * per_run;
    }
    println!(
        "{runs} trainings ({} targets × {} seeds × 3 networks, {} epochs of {} molecules): ≈ {:.1} h ({:.1} days) on \
         this CPU ({}), with test sets of {} molecules extra",
        budget.targets.len(),
        budget.seeds,
        budget.epochs,
        budget.train,
        seconds / 3600.0,
        seconds / 86_400.0,
        report::machine(),
        budget.test.map_or("all remaining".into(), |t| t.to_string())
    );
    println!("command: {}", budget.command());
    Ok(())
}

/// Mean and sample standard deviation of the MAEs of one target and network.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stat {
    mean: f64,
    sd: f64,
    n: usize,
}

impl Stat {
    fn of(values: &[f64]) -> Option<Self> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let sd =
            if n > 1 { (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
        Some(Self { mean, sd, n })
    }
}

/// Per target: the three networks' MAE and the two relative changes (in %).
struct Row {
    target: String,
    unit: String,
    mae: [Option<Stat>; 3],
    l1_vs_l0: Option<f64>,
    deeper_vs_l0: Option<f64>,
}

struct Table {
    rows: Vec<Row>,
}

fn relative(new: Option<Stat>, base: Option<Stat>) -> Option<f64> {
    Some(100.0 * (new?.mean - base?.mean) / base?.mean)
}

fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

impl Table {
    fn new(a: &Ablation) -> Self {
        let rows = a
            .budget
            .targets
            .iter()
            .map(|target| {
                let of = |net: Net| {
                    let maes: Vec<f64> =
                        a.runs.iter().filter(|r| &r.target == target && r.net == net.name()).map(|r| r.mae).collect();
                    Stat::of(&maes)
                };
                let mae = NETS.map(of);
                let unit = a.runs.iter().find(|r| &r.target == target).map(|r| r.unit.clone()).unwrap_or_default();
                Row {
                    target: target.clone(),
                    unit,
                    l1_vs_l0: relative(mae[1], mae[0]),
                    deeper_vs_l0: relative(mae[2], mae[0]),
                    mae,
                }
            })
            .collect();
        Self { rows }
    }

    fn averages(&self) -> (Option<f64>, Option<f64>) {
        (mean(self.rows.iter().map(|r| r.l1_vs_l0)), mean(self.rows.iter().map(|r| r.deeper_vs_l0)))
    }

    fn markdown(&self, a: &Ablation) -> String {
        let b = &a.budget;
        let pct = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:+.1} %"));
        let mut md = format!(
            "# The L0Net / L1Net ablation on QM9\n\n\
             Generated by `cargo xtask ablation-l1` (every run in `{JSON}`, chart `{CHART}`); how it compares \
             with the paper (Miller, Geiger, Smidt, Noé 2020) is discussed in docs/models.md.\n\n\
             Command: `{}` — {} — {} — {}\n\n\
             Budget: {} ({} training, {} validation, {} test molecules per run, drawn by the seed), {} epochs, \
             batch {}, Adam with peak learning rate {} ({}), f32; test MAE of the weights with the best \
             validation loss, mean ± standard deviation over seeds 0–{}. Relative changes compare mean MAEs: \
             *l = 1 features* is L1Net against L0Net at the same depth, *depth* is the deeper L0Net against \
             L0Net.\n\n| network | features | filters | blocks | parameters |\n|---|---|---|---|---:|\n",
            b.command(),
            a.machine,
            a.date,
            a.chemgnn,
            b.dataset,
            b.train,
            b.val,
            b.test.map_or("all other".into(), |t| t.to_string()),
            b.epochs,
            b.batch_size,
            b.lr,
            if b.paper_schedule { "ReduceLROnPlateau, patience 5" } else { "1 warm-up epoch, cosine decay" },
            b.seeds - 1,
        );
        for net in NETS {
            let c = net.config(b.layers);
            let _ = writeln!(
                md,
                "| {} | `{}` | l ≤ {} | {} | {} |",
                net.title(b.layers),
                c.features,
                c.lmax_filter,
                c.layers,
                a.parameters.get(net.name()).copied().unwrap_or_default()
            );
        }
        let _ = write!(
            md,
            "\n| target | unit | {} | {} | {} | l = 1 features | depth |\n|---|---|---:|---:|---:|---:|---:|\n",
            Net::L0.title(b.layers),
            Net::L1.title(b.layers),
            Net::L0Deeper.title(b.layers)
        );
        for r in &self.rows {
            let cells = r.mae.map(|s| s.map_or("–".into(), |s| format!("{:.4} ± {:.4}", s.mean, s.sd)));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.target,
                r.unit,
                cells[0],
                cells[1],
                cells[2],
                pct(r.l1_vs_l0),
                pct(r.deeper_vs_l0)
            );
        }
        let (l1, deeper) = self.averages();
        let _ = writeln!(md, "| **average** | | | | | **{}** | **{}** |", pct(l1), pct(deeper));
        let best =
            self.rows.iter().filter_map(|r| Some((r.target.as_str(), r.l1_vs_l0?))).min_by(|a, b| a.1.total_cmp(&b.1));
        let _ = write!(
            md,
            "\nThe paper: l = 1 features lowered the test error by 23 % on average, one more block by 4 %, and the \
             dipole moment gained most. Here: l = 1 features {}, depth {}; the largest gain from l = 1 \
             features is on {}.\n",
            pct(l1),
            pct(deeper),
            best.map_or("–".into(), |(t, v)| format!("{t} ({v:+.1} %)"))
        );
        let seconds = |net: Net| {
            let s: Vec<f64> = a.runs.iter().filter(|r| r.net == net.name()).map(|r| r.seconds_per_epoch).collect();
            Stat::of(&s).map_or("–".into(), |s| format!("{:.1} s", s.mean))
        };
        let _ = writeln!(
            md,
            "\nMean time of a training epoch: {} {}, {} {}, {} {}.",
            Net::L0.title(b.layers),
            seconds(Net::L0),
            Net::L1.title(b.layers),
            seconds(Net::L1),
            Net::L0Deeper.title(b.layers),
            seconds(Net::L0Deeper)
        );
        md
    }

    fn chart(&self, path: &Path) -> anyhow::Result<()> {
        let (l1, deeper) = self.averages();
        let mut categories: Vec<String> = self.rows.iter().map(|r| r.target.clone()).collect();
        categories.push("average".into());
        let series = |values: Vec<Option<f64>>| values.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect::<Vec<_>>();
        let l1s = series(self.rows.iter().map(|r| r.l1_vs_l0).chain([l1]).collect());
        let deepers = series(self.rows.iter().map(|r| r.deeper_vs_l0).chain([deeper]).collect());
        gnn_train::plot::grouped_bars(
            path,
            "Test MAE relative to L0Net",
            "change of MAE (%)",
            &categories,
            &[("L1Net (l = 1 features)".into(), l1s), ("L0Net one block deeper".into(), deepers)],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(target: &str, net: Net, seed: u64, mae: f64) -> RunResult {
        RunResult {
            target: target.into(),
            net: net.name().into(),
            seed,
            mae,
            unit: "eV".into(),
            epochs: 1,
            seconds_per_epoch: 1.0,
        }
    }

    #[test]
    fn the_table_compares_mean_maes_and_averages_over_targets() {
        let budget = Budget { targets: vec!["mu".into(), "U0".into()], ..Budget::default_budget() };
        let runs = vec![
            run("mu", Net::L0, 0, 1.0),
            run("mu", Net::L0, 1, 3.0),
            run("mu", Net::L1, 0, 1.0),
            run("mu", Net::L1, 1, 1.0),
            run("mu", Net::L0Deeper, 0, 1.8),
            run("mu", Net::L0Deeper, 1, 2.0),
            run("U0", Net::L0, 0, 0.5),
            run("U0", Net::L1, 0, 0.4),
        ];
        let a = Ablation {
            command: String::new(),
            machine: String::new(),
            date: String::new(),
            chemgnn: String::new(),
            budget,
            parameters: BTreeMap::new(),
            runs,
        };
        let t = Table::new(&a);
        let mu = &t.rows[0];
        assert_eq!(mu.mae[0], Some(Stat { mean: 2.0, sd: 2f64.sqrt(), n: 2 }));
        assert!((mu.l1_vs_l0.unwrap() + 50.0).abs() < 1e-12);
        assert!((mu.deeper_vs_l0.unwrap() + 5.0).abs() < 1e-12);
        // U0 has no deeper run yet: its depth cell stays empty and the average is over μ only.
        assert_eq!(t.rows[1].deeper_vs_l0, None);
        let (l1, deeper) = t.averages();
        assert!((l1.unwrap() + 35.0).abs() < 1e-12 && (deeper.unwrap() + 5.0).abs() < 1e-12);
        let md = t.markdown(&a);
        assert!(md.contains("| **average** | | | | | **-35.0 %** | **-5.0 %** |"), "{md}");
        assert!(md.contains("largest gain from l = 1 features is on mu (-50.0 %)"), "{md}");
    }

    #[test]
    fn budgets_name_their_run_directories_and_reproduce_their_command() {
        let quick = Budget::default_budget();
        let paper = Budget::paper();
        assert_ne!(quick.tag(), paper.tag());
        assert_eq!(paper.tag(), "qm9-n109000-v1000-trest-e55-L3-b16-lr0.0001-paper");
        assert!(paper.command().starts_with("cargo xtask ablation-l1 --paper --dataset qm9 --targets mu,alpha"));
        let c = paper.train_config(Net::L0Deeper, "gap", 1);
        assert_eq!((c.seed, c.epochs, c.batch_size, c.split.test), (1, 55, 16, None));
        assert_eq!(c.schedule.kind, ScheduleKind::Plateau);
        let ModelConfig::L0net(m) = c.model else { panic!("not L0Net") };
        assert_eq!((m.layers, m.features.to_string()), (4, "64x0e".to_string()));
    }

    #[test]
    fn l0net_and_l1net_have_nearly_equal_parameter_counts_at_the_default_depth() {
        // The radial networks dominate: 1.1 % apart at depth 3 (0.003 % at the paper's depth 4).
        let counts = NETS.map(|net| net.parameters(3).unwrap());
        assert_eq!(counts, [58_240, 58_874, 73_728]);
    }
}
