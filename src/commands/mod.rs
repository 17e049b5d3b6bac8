//! One module per top-level subcommand of the `chemgnn` tool.

pub mod crystal;
pub mod data;
pub mod eval;
pub mod import;
pub mod predict;
pub mod serve;
pub mod train;
