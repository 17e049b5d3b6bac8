//! # gnn-layers
//!
//! Graph operations and neural-network layers on Candle for molecular and crystal GNNs: tensors
//! from `chem_graph::GraphBatch`, gather/scatter aggregations with correct (and twice
//! differentiable) gradients, and the building blocks of SchNet, MPNN, crystal and equivariant
//! networks with PyTorch's parameter names. Filled in by the gnn-layers issue; the Candle types it
//! builds on are re-exported here.

pub use candle_core as candle;
pub use candle_nn;
