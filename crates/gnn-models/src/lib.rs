//! # gnn-models
//!
//! The model families of chemgnn, built from `gnn-layers`, one model per file, configured by serde
//! structs and built from a Candle `VarBuilder` with the parameter names of the PyTorch
//! checkpoints they reproduce:
//!
//! - [`SchNet`] — PyG's `SchNet` and schnetpack 2's SchNet + Atomwise ([`SchNetFlavor`]);
//! - [`Mpnn`] — Gilmer et al.'s MPNN with its variants; PyG's QM9 example as a preset.
//!
//! [`import`] turns PyTorch `state_dict`s (safetensors) plus constructor arguments into native
//! [`Checkpoint`]s (`config.json` + `model.safetensors`); [`Model`] loads one and predicts values
//! and forces for structures.

pub mod checkpoint;
mod error;
pub mod featurize;
pub mod graphs;
pub mod import;
mod init;
mod model;
pub mod mpnn;
pub mod schnet;
pub mod state_dict;

pub use checkpoint::{Checkpoint, CheckpointConfig, ModelConfig, Target};
pub use error::{Error, Result};
pub use featurize::MpnnFeatures;
pub use graphs::{build_graph_list, build_graphs, PygBatch};
pub use init::initial_weights;
pub use model::{expected_tensors, Model, Network, Prediction};
pub use mpnn::{Mpnn, MpnnConfig};
pub use schnet::{Readout, SchNet, SchNetConfig, SchNetFlavor};
pub use state_dict::StateDict;

pub use gnn_layers;
