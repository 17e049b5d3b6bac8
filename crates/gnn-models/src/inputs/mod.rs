//! Everything between a user's files and a model: the input pipeline ([`pipeline`]), the one
//! reader of batch files ([`batch_file`]), and the formats of the reference frameworks' batches
//! (PyG, e3nn, kgcnn) and the MPNN's featurisation.

pub mod batch_file;
pub mod e3nn_batch;
pub mod featurize;
pub mod kgcnn_graphs;
pub mod pipeline;
pub mod pyg_batch;
