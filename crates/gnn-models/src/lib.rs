//! # gnn-models
//!
//! The model families of chemgnn — SchNet, MPNN (Gilmer et al.), crystal graph networks with
//! asymmetric-unit reduction, and e3nn-style equivariant networks — built from `gnn-layers`, one
//! model per file, configured by serde structs, with weight import from PyTorch/Keras
//! checkpoints. Filled in by the model issues.

pub use gnn_layers;
