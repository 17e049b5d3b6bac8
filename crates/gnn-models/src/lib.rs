//! # gnn-models
//!
//! The model families of chemgnn, built from `gnn-layers`, one model per file, configured by serde
//! structs and built from a Candle `VarBuilder` with the parameter names of the PyTorch
//! checkpoints they reproduce:
//!
//! - [`SchNet`] — PyG's `SchNet` and schnetpack 2's SchNet + Atomwise ([`SchNetFlavor`]);
//! - [`Mpnn`] — Gilmer et al.'s MPNN with its variants; PyG's QM9 example as a preset;
//! - [`CoGn`] — coGN and coNGN (Ruff et al. 2023), kgcnn 3.1.0's crystal graph networks;
//! - [`GatePoints`] — e3nn's `gate_points_2101.Network`, an E(3)-equivariant point convolution
//!   network, importable from e3nn (not trainable yet).
//!
//! [`import`] turns PyTorch `state_dict`s (safetensors) plus constructor arguments into native
//! [`Checkpoint`]s (`config.json` + `model.safetensors`); [`Model`] loads one and predicts values
//! and forces for structures.

pub mod checkpoint;
pub mod cogn;
pub mod crystal_input;
pub mod e3nn_batch;
pub mod element_features;
pub mod equivariant_net;
mod error;
pub mod featurize;
pub mod gate_points;
pub mod graphs;
pub mod import;
mod init;
pub mod kgcnn_graphs;
mod model;
pub mod mpnn;
pub mod pair_potential;
pub mod schnet;
pub mod state_dict;
mod stress;

pub use checkpoint::{Checkpoint, CheckpointConfig, ModelConfig, Target};
pub use cogn::{CoGn, CoGnConfig};
pub use e3nn_batch::E3nnBatch;
pub use equivariant_net::{EquivariantNet, EquivariantNetConfig, Head};
pub use error::{Error, Result};
pub use featurize::MpnnFeatures;
pub use gate_points::{GatePoints, GatePointsConfig, GatePointsModel, GatePointsModelConfig};
pub use graphs::{
    build_asu_graph_list, build_graph_list, build_graph_verlet, build_graphs, radius_options, AsuGraphs, PygBatch,
};
pub use init::initial_weights;
pub use kgcnn_graphs::KgcnnGraphs;
pub use model::{expected_tensors, Model, Network, Prediction};
pub use mpnn::{Mpnn, MpnnConfig};
pub use pair_potential::{PairInput, PairOutput, PairPotential};
pub use schnet::{Readout, SchNet, SchNetConfig, SchNetFlavor};
pub use state_dict::StateDict;

pub use gnn_layers;
