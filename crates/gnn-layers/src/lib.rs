//! # gnn-layers
//!
//! Graph operations and neural-network layers on Candle for molecular and crystal GNNs:
//!
//! - [`GraphTensors`]: a `chem_graph::GraphBatch` as tensors on a device;
//! - [`ops`]: gather, segment sum/mean/max/min, segment softmax, fused message passing, with
//!   parallel CPU kernels and gradients that can be differentiated again;
//! - [`autograd`]: forces (−∂E/∂r) that stay differentiable for force training;
//! - [`nn`]: building blocks with PyTorch's parameter names and layouts (Linear, Sequential MLPs,
//!   Embedding, GRU, LSTM, Set2Set, NNConv, CFConv, radial bases, cutoffs, norms, activations), so
//!   that safetensors written from a PyTorch `state_dict` load without renaming;
//! - [`o3`]: irreps of O(3) and spherical harmonics with e3nn 0.6's conventions.
//!
//! The Candle crates it builds on are re-exported as [`candle`] and [`candle_nn`].

pub mod autograd;
mod edge_pairs;
mod graph;
pub mod nn;
pub mod o3;
pub mod ops;
pub mod runtime;
#[cfg(test)]
mod test_support;

pub use edge_pairs::EdgePairs;
pub use graph::{GraphTensors, LineGraphTensors};

pub use candle_core as candle;
pub use candle_nn;
