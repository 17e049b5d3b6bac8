//! # chemgnn
//!
//! Graph neural networks for molecules and crystals on Candle — the umbrella crate. It re-exports
//! the workspace crates so that one dependency gives the whole library, and hosts the `chemgnn`
//! command-line tool (`src/main.rs`).
//!
//! - [`chem_graph`] — structures, readers, neighbour lists, graphs and batches (no Candle).
//! - [`chem_crystal`] — lattices, crystal files, symmetry and asymmetric units.
//! - [`gnn_layers`] — graph operations and layers on Candle.
//! - [`gnn_models`] — architectures and weight import.
//! - [`gnn_train`] — training.

pub use chem_crystal;
pub use chem_graph;
pub use gnn_layers;
pub use gnn_models;
pub use gnn_train;
