//! # gnn-models
//!
//! The model families of chemgnn, built from `gnn-layers`, and everything between them and a
//! user's files. Four rooms:
//!
//! - [`models`] — the architectures, one file each, and the registry that enumerates them
//!   ([`ModelConfig`], [`Network`], [`models::KINDS`]; adding a model is its file plus one
//!   registry line): [`SchNet`] (PyG's and schnetpack 2's), [`Mpnn`] (Gilmer et al.; PyG's QM9
//!   example as a preset), [`CoGn`] (coGN and coNGN, kgcnn 3.1.0's crystal graph networks),
//!   [`GatePointsModel`] (e3nn's `gate_points_2101.Network`, imported) and [`LNet`] (L0Net and
//!   L1Net of Miller et al. 2020), each implementing [`Architecture`]; the one target-scaling layer
//!   ([`models::output_head`]).
//! - [`inputs`] — the input pipeline from structures to each model's graphs
//!   ([`inputs::pipeline`], [`GraphOptions`]: positions as given or symmetrised, asymmetric
//!   units) and the one reader of batch files ([`inputs::batch_file::read_batch`]: QM9, PyG,
//!   e3nn and kgcnn batches).
//! - [`checkpoint`] — native checkpoints ([`Checkpoint`]: `config.json` + `model.safetensors`),
//!   state dicts, reproducible initial weights, and [`checkpoint::import`] of PyTorch and Keras
//!   checkpoints (PyG, schnetpack, kgcnn, e3nn).
//! - [`potential`] — a model as an interatomic potential: per-atom energies and pair forces on an
//!   MD engine's neighbour lists ([`PairPotential`]), stress.
//!
//! [`Model`] loads a checkpoint and predicts values, forces and stress for structures;
//! [`Precision`] and [`DeviceSpec`] say how it computes.

pub mod checkpoint;
mod compute;
mod error;
pub mod inputs;
mod model;
pub mod models;
pub mod potential;

pub use checkpoint::init::initial_weights;
pub use checkpoint::state_dict::StateDict;
pub use checkpoint::{Checkpoint, CheckpointConfig, Target};
pub use compute::{DeviceSpec, Precision};
pub use error::{Error, Result};
pub use inputs::batch_file::BatchInput;
pub use inputs::e3nn_batch::E3nnBatch;
pub use inputs::featurize::MpnnFeatures;
pub use inputs::kgcnn_graphs::KgcnnGraphs;
pub use inputs::pipeline::{GraphOptions, ModelGraphs};
pub use inputs::pyg_batch::PygBatch;
pub use model::{expected_tensors, Model, Prediction};
pub use models::chgnet::{Chgnet, ChgnetConfig};
pub use models::cogn::{CoGn, CoGnConfig};
pub use models::gate_points::{GatePoints, GatePointsConfig, GatePointsModel, GatePointsModelConfig};
pub use models::lnet::{LNet, LNetConfig, LNetHead};
pub use models::mpnn::{Mpnn, MpnnConfig};
pub use models::schnet::{Readout, SchNet, SchNetConfig, SchNetFlavor};
pub use models::sevennet::{SevenNet, SevenNetConfig};
pub use models::{Architecture, Capabilities, GraphInputs, GraphModel, ModelConfig, Network, TargetScaling};
pub use potential::pair_potential::{PairInput, PairOutput, PairPotential};

pub use chem_crystal::Positions;
pub use gnn_layers;
