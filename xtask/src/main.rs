//! Developer tasks for chemgnn, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask data qm9`: fetch and convert the full QM9 (same as `chemgnn data fetch qm9`).
//! - `cargo xtask data qm9-sample`: make the embedded QM9 sample from the converted full set.
//! - `cargo xtask bench`: run the benchmark suites and write `docs/benchmarks.{md,json}`.
//! - `cargo xtask train-compare`: train chemgnn and PyG on the same QM9 budget and write
//!   `docs/training.json` and its section of `docs/benchmarks.md`.

mod ablation;
mod bench;
mod capi_header;
mod data;
mod train_compare;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "chemgnn developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Datasets: fetch QM9, make the embedded sample.
    #[command(subcommand)]
    Data(data::DataTask),
    /// Run the benchmark suites; results go to docs/benchmarks.md and docs/benchmarks.json.
    Bench(bench::BenchArgs),
    /// Train chemgnn and PyG with the same split, hyperparameters and epochs for several seeds;
    /// results go to docs/training.json and docs/benchmarks.md.
    TrainCompare(train_compare::Args),
    /// L0Net against L1Net and a deeper L0Net on QM9 targets (Miller et al. 2020), resumable;
    /// results go to docs/ablation_l1.{md,json,png}.
    AblationL1(ablation::Args),
    /// Regenerate the C header of chemgnn-capi (crates/chemgnn-capi/include/chemgnn.h).
    CapiHeader,
}

fn main() -> anyhow::Result<()> {
    gnn_layers::runtime::init();
    let cli = Cli::parse();
    // Paths (the sample, target/bench, docs/) are relative to the workspace root, wherever we are run from.
    std::env::set_current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))?;
    match cli.task {
        Task::Data(t) => data::run(t),
        Task::Bench(args) => bench::run(args),
        Task::TrainCompare(args) => train_compare::run(args),
        Task::AblationL1(args) => ablation::run(args),
        Task::CapiHeader => capi_header::run(),
    }
}
