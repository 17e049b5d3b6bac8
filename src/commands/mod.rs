//! One module per top-level subcommand of the `chemgnn` tool.

pub mod crystal;
pub mod data;
pub mod eval;
pub mod import;
pub mod predict;
pub mod serve;
pub mod train;

/// The model kinds a checkpoint can hold, for the help of the commands that load one.
pub fn model_kinds_help() -> String {
    let rows: Vec<String> = gnn_models::models::KINDS.iter().map(|k| format!("  {:<17} {}", k.name, k.help)).collect();
    format!("Model kinds (config.json's `kind`):\n{}", rows.join("\n"))
}
