//! # gnn-layers
//!
//! Graph operations and neural-network layers on Candle for molecular and crystal GNNs:
//!
//! - [`GraphTensors`]: a `chem_graph::GraphBatch` as tensors on a device;
//! - [`ops`]: the functional API: gather, segment sum/mean/max/min, segment softmax, fused message
//!   passing, `x·Wᵀ + b`, fused bias + activation, per-row matrix products; each checks its
//!   arguments and calls a custom op, with gradients that can be differentiated again;
//! - [`autograd`]: forces (−∂E/∂r) that stay differentiable for force training;
//! - [`nn`]: building blocks with PyTorch's parameter names and layouts (Linear, Sequential MLPs,
//!   Embedding, GRU, LSTM, Set2Set, NNConv, CFConv, radial bases, cutoffs, norms, activations), so
//!   that safetensors written from a PyTorch `state_dict` load without renaming;
//! - [`o3`]: irreps of O(3), spherical harmonics, tensor products and equivariant layers (point
//!   convolutions included) with e3nn 0.6's conventions;
//! - [`runtime`]: the process-wide CPU policy a program applies once at start ([`runtime::init`]).
//!
//! **Rooms.** Layers live in `nn` and `o3`; the functions they compose live in `ops`. Every Candle
//! custom op (`CustomOp1/2/3`, `InplaceOp3`) with its CPU loops and CUDA launches lives in the
//! private `kernels` module (`src/kernels/`, one file per kernel family: segment reductions,
//! messages, per-row products, row ops, dense, bias + activation, summed MLP messages, Gaussian
//! basis, spherical harmonics, tensor products, optimiser), reached only through `ops`, `nn` and
//! `o3`.
//!
//! The Candle crates it builds on are re-exported as [`candle`] and [`candle_nn`].

pub mod autograd;
mod edge_pairs;
mod graph;
mod kernels;
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
