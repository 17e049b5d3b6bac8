//! The `chemgnn` command-line tool.

mod commands;
mod exit_code;

use clap::{Parser, Subcommand};

/// Graph neural networks for molecules and crystals: data, training, evaluation and prediction.
#[derive(Parser)]
#[command(
    name = "chemgnn",
    version,
    after_help = "Examples:\n  chemgnn train                                 # SchNet on the built-in QM9 sample (U0)\n  \
                  chemgnn train --model mpnn --dataset qm9 --target mu --epochs 100\n  \
                  chemgnn eval --model runs/schnet-qm9-sample-U0-1 qm9-sample --split test\n  \
                  chemgnn data info qm9-sample                  # the QM9 sample built into chemgnn\n  \
                  chemgnn data fetch qm9                        # full QM9, converted once\n  \
                  chemgnn data info crystals.extxyz --cutoff 6 --json\n  \
                  chemgnn crystal info rutile.cif --graph voronoi:1e-6   # space group, orbits, ASU graph\n  \
                  chemgnn import --from pyg --model schnet --config args.json schnet.safetensors --out schnet/\n  \
                  chemgnn predict --model schnet/ molecules.xyz --forces --output predictions.csv"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect crystal files: lattice, space group, orbits, asymmetric-unit graphs.
    #[command(subcommand)]
    Crystal(commands::crystal::CrystalCommand),
    /// Inspect structure files and fetch datasets.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    #[command(about = commands::import::about())]
    Import(commands::import::ImportArgs),
    /// Predict properties (and forces) of structures with a checkpoint.
    Predict(commands::predict::PredictArgs),
    /// Drive a model from an i-PI server (i-PI, ASE's SocketIOCalculator): MD and optimisation.
    Serve(commands::serve::ServeArgs),
    #[command(about = commands::train::about())]
    Train(Box<commands::train::TrainArgs>),
    /// Errors of a checkpoint or run on a dataset (MAE, RMSE, chemical-accuracy ratio).
    Eval(commands::eval::EvalArgs),
}

/// Huge pages for huge tensors (see `gnn_layers::runtime`).
#[global_allocator]
static ALLOCATOR: gnn_layers::runtime::HugePageAllocator = gnn_layers::runtime::HugePageAllocator;

fn main() -> std::process::ExitCode {
    gnn_layers::runtime::init();
    let result = match Cli::parse().command {
        Command::Crystal(c) => commands::crystal::run(c),
        Command::Data(c) => commands::data::run(c),
        Command::Import(c) => commands::import::run(c),
        Command::Predict(c) => commands::predict::run(c),
        Command::Serve(c) => commands::serve::run(c),
        Command::Train(c) => commands::train::run(*c),
        Command::Eval(c) => commands::eval::run(c),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(exit_code::exit_code(&e))
        }
    }
}
