//! The `chemgnn` command-line tool.

mod commands;

use clap::{Parser, Subcommand};

/// Graph neural networks for molecules and crystals: data, training, evaluation and prediction.
#[derive(Parser)]
#[command(
    name = "chemgnn",
    version,
    after_help = "Examples:\n  chemgnn data info qm9-sample                  # the QM9 sample built into chemgnn\n  \
                  chemgnn data fetch qm9                        # full QM9, converted once\n  \
                  chemgnn data info crystals.extxyz --cutoff 6 --json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect structure files and fetch datasets.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Data(c) => commands::data::run(c),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
