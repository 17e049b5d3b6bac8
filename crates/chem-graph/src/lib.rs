//! # chem-graph
//!
//! Turns atoms into graphs, without any tensor library: the [`Structure`] data model and the
//! periodic table ([`element`]), readers and writers for XYZ / extended XYZ ([`xyz`]) and QM9
//! ([`qm9`]), neighbour lists for molecules and periodic cells ([`neighbors`]), and the
//! [`Graph`]/[`GraphBatch`] types that `gnn-layers` turns into tensors.
//!
//! Units: Å for lengths, eV for energies unless a name says otherwise. Edge direction follows
//! PyTorch Geometric (see [`graph`]).

pub mod element;
pub mod error;
pub mod graph;
pub mod io;
pub mod line_graph;
pub mod neighbors;
pub mod qm9;
pub mod structure;
pub mod xyz;

pub use error::{Error, Location, Result};
pub use graph::{Edges, Features, Graph, GraphBatch};
pub use line_graph::{line_graph, Triplets};
pub use neighbors::{knn_graph, radius_graph, radius_graph_many, RadiusOptions};
pub use structure::{AtomArray, Cell, Property, Structure};
