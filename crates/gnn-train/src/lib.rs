//! # gnn-train
//!
//! Training for chemgnn models, from Rust or through `chemgnn train`:
//!
//! - [`dataset`]: QM9, extended-xyz (in memory or lazily read) and graph-batch datasets;
//!   [`crystal_dataset`]: MatBench tables, the matminer sets and the committed crystal sample;
//!   [`Split`]s by seed, sizes or file;
//! - [`Normalization`]: per-atom target statistics and atom reference energies fitted on the
//!   training split and built into the model, so checkpoints predict physical units;
//! - [`finetune`]: starting from a checkpoint, refitting energy shifts, freezing parameters;
//! - [`loss`] on targets, forces and stress, [`optim::Adam`] (Adam / AdamW), [`schedule`] (plateau, cosine, linear, warm-up),
//!   gradient clipping, [`ema`], early stopping;
//! - [`metrics`] in physical units with the chemical-accuracy ratio of QM9 targets;
//! - [`train`] / [`resume`]: reproducible runs that write a [`run_dir`] (config, split, metrics
//!   log, best and last checkpoints, plots, summary) and continue bit for bit after an
//!   interruption.

pub mod config;
pub mod crystal_dataset;
pub mod dataset;
pub mod ema;
mod error;
mod evaluate;
pub mod finetune;
pub mod loader;
pub mod loss;
pub mod memory;
pub mod metrics;
pub mod normalization;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod run_dir;
pub mod schedule;
pub mod split;
mod summary;
mod trainer;

pub use config::TrainConfig;
pub use error::{Error, Result};
pub use evaluate::evaluate_model;
pub use normalization::Normalization;
pub use progress::Verbosity;
pub use split::Split;
pub use summary::Summary;
pub use trainer::{resume, train, RunOptions, StopReason};

pub use gnn_models;
