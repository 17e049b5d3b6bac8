//! The `chemgnn` command-line tool.

mod commands;

use clap::{Parser, Subcommand};

/// Graph neural networks for molecules and crystals: data, training, evaluation and prediction.
#[derive(Parser)]
#[command(name = "chemgnn", version, about, long_about = None)]
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
