//! # gnn-train
//!
//! Training for chemgnn models: datasets and splits, batching, losses, optimisers and schedules,
//! metrics in physical units, checkpoints and resumable runs. Filled in by the training issue.

pub use gnn_models;
