//! `cargo xtask bench`: runs benchmark suites against our code and, where a Python with the
//! reference packages is found, against them on the same inputs in the same run; writes
//! `docs/benchmarks.json` (all suites' latest results) and regenerates `docs/benchmarks.md`.

mod cli;
mod crystal_models;
mod crystals;
mod e3nn;
mod inputs;
mod models;
mod ops;
mod potentials;
mod python;
mod real_crystals;
pub mod report;
mod suites;

use std::path::PathBuf;
use std::time::Instant;

/// Options of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Suites to run, comma-separated [default: all]: qm9-parse, neighbors-qm9, neighbors-periodic, ops, models, crystals, crystal-models, real-crystals, e3nn, cli, potentials.
    #[arg(long, value_delimiter = ',')]
    suites: Vec<String>,
    /// Python with the reference packages (ase/vesin/matscipy, torch/torch_geometric/e3nn, pymatgen/spglib/scipy) [default: $CHEMGNN_REF_PYTHON, ~/.cache/chemgnn-ref/bin/python, python3].
    #[arg(long)]
    python: Option<PathBuf>,
    /// Smaller inputs and shorter timing, for a smoke test.
    #[arg(long)]
    quick: bool,
    /// A qm9pack wheel: adds the full-QM9 conversion to the qm9-parse suite.
    #[arg(long)]
    qm9pack: Option<PathBuf>,
    /// Only regenerate docs/benchmarks.md from docs/benchmarks.json.
    #[arg(long)]
    render: bool,
    /// Print results only; leave docs/ untouched.
    #[arg(long)]
    no_write: bool,
}

/// One timed measurement.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Measurement {
    /// Suite name, e.g. `neighbors-periodic`.
    pub suite: String,
    /// Input, e.g. `10000 atoms, cutoff 5 Å`.
    pub case: String,
    /// Implementation, e.g. `chemgnn (2 threads)` or `vesin`.
    pub implementation: String,
    /// Median wall time of one run in seconds.
    pub seconds: f64,
    /// Work per run (structures, atoms, …) and its unit, for throughput.
    pub work: f64,
    /// Unit of `work`.
    pub unit: String,
    /// For reference implementations: whether their output equals ours (None: not compared).
    pub identical: Option<bool>,
}

/// Median seconds of `f` over repeated runs: one warm-up, then at least 3 runs and until
/// `budget` seconds have passed (at most 100 runs).
pub fn time_median(budget: f64, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < 3 || (start.elapsed().as_secs_f64() < budget && times.len() < 100) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Times `f` in a one-thread rayon pool and in the default pool: `[(1, seconds), (threads, seconds)]`.
pub fn time_threads(budget: f64, f: &mut (dyn FnMut() + Send)) -> anyhow::Result<[(usize, f64); 2]> {
    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let one = single.install(|| time_median(budget, &mut *f));
    let many = time_median(budget, &mut *f);
    Ok([(1, one), (rayon::current_num_threads(), many)])
}

/// `name (1 thread)` or `name (N threads)`: how implementations are labelled.
pub fn thread_label(name: &str, threads: usize) -> String {
    format!("{name} ({threads} thread{})", if threads == 1 { "" } else { "s" })
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.render {
        return report::render();
    }
    let all = [
        "qm9-parse",
        "neighbors-qm9",
        "neighbors-periodic",
        "ops",
        "models",
        "crystals",
        "crystal-models",
        "real-crystals",
        "e3nn",
        "cli",
        "potentials",
    ];
    let suites: Vec<&str> =
        if args.suites.is_empty() { all.to_vec() } else { args.suites.iter().map(String::as_str).collect() };
    if let Some(bad) = suites.iter().find(|s| !all.contains(s)) {
        anyhow::bail!("unknown suite '{bad}'; known: {}", all.join(", "));
    }
    let work_dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&work_dir)?;
    let python = python::find(args.python.as_deref());
    match &python {
        Some(p) => eprintln!("reference Python: {}", p.display()),
        None => eprintln!("no Python with ase/vesin/matscipy found: timing chemgnn only"),
    }
    let budget = if args.quick { 0.2 } else { 1.0 };
    let mut results = Vec::new();
    let mut tables = std::collections::BTreeMap::new();
    for suite in &suites {
        eprintln!("== {suite}");
        let (mut cases, mut suite_tables) = suites::run(suite, &work_dir, args.quick, budget, args.qm9pack.as_deref())?;
        let reference = match *suite {
            "crystal-models" => python::kgcnn(),
            "potentials" => python::potentials(),
            _ => python.clone(),
        };
        match &reference {
            Some(py) => cases.extend(python::run(py, suite, &work_dir, budget)?),
            None if *suite == "crystal-models" => {
                eprintln!("no kgcnn 3.1.0 environment (../shared/reference/setup-kgcnn.sh): timing chemgnn only")
            }
            None if *suite == "potentials" => {
                eprintln!("no sevenn/chgnet environment (../shared/reference/setup-potentials.sh): timing chemgnn only")
            }
            None => {}
        }
        if *suite == "models" {
            suite_tables.extend(models::roofline_table(&cases));
        }
        if *suite == "potentials" {
            suite_tables.extend(potentials::memory_table(&work_dir)?);
        }
        for m in &cases {
            eprintln!(
                "  {:<34} {:<24} {:>12.3} ms {}",
                m.case,
                m.implementation,
                m.seconds * 1e3,
                match m.identical {
                    Some(true) => "(same output)",
                    Some(false) => "(OUTPUT DIFFERS)",
                    None => "",
                }
            );
        }
        for table in &suite_tables {
            eprintln!("\n{}", table.markdown());
        }
        tables.insert(suite.to_string(), suite_tables);
        results.extend(cases);
    }
    if !args.no_write {
        let mut options = String::new();
        if let Some(wheel) = &args.qm9pack {
            options += &format!(" --qm9pack {}", wheel.display());
        }
        if args.quick {
            options += " --quick";
        }
        report::write(&results, &tables, &suites, python.as_deref(), &options)?;
        eprintln!("wrote docs/benchmarks.md and docs/benchmarks.json");
    }
    Ok(())
}
