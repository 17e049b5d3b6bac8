//! # chem-graph
//!
//! Turns atoms into graphs, without any tensor library: the [`Structure`] data model and the
//! periodic table ([`element`]), readers and writers for XYZ / extended XYZ ([`xyz`]) and QM9
//! ([`qm9`]), neighbour lists for molecules and periodic cells ([`neighbors`]), the
//! [`Graph`]/[`GraphBatch`] types that `gnn-layers` turns into tensors, and chemistry for MPNNs:
//! bond perception from geometry ([`mol`]), a SMILES reader ([`smiles`]) and PyG / Gilmer node and
//! edge features ([`features`]).
//!
//! Units: Å for lengths, eV for energies unless a name says otherwise. Edge direction follows
//! PyTorch Geometric (see [`graph`]).
//!
//! ```
//! use chem_graph::{line_graph, qm9::Qm9Dataset, GraphBatch, RadiusOptions};
//!
//! # fn main() -> chem_graph::Result<()> {
//! // Any file works the same way: `chem_graph::io::read_structures("molecules.extxyz")?`.
//! let structures = Qm9Dataset::embedded_sample()?.subset(&[0, 1, 2, 3]).structures();
//! let batch = GraphBatch::from_structures(&structures, &RadiusOptions::new(5.0))?;
//! let triplets = line_graph(&batch.edges)?; // pairs of edges meeting at a node, with angles
//! assert_eq!(batch.num_graphs(), 4);
//! assert_eq!(batch.node_graph.len(), batch.num_nodes());
//! assert!(triplets.angle.iter().all(|a| (0.0..=std::f64::consts::PI).contains(a)));
//! # Ok(())
//! # }
//! ```

pub mod element;
pub mod error;
pub mod features;
pub mod graph;
pub mod io;
pub mod line_graph;
pub mod mol;
pub mod neighbors;
pub mod qm9;
pub mod smiles;
pub mod structure;
mod vec3;
pub mod xyz;

pub use error::{Error, Location, Result};
pub use graph::{Edges, Features, Graph, GraphBatch};
pub use line_graph::{line_graph, line_graph_from_pairs, Triplets};
pub use mol::{BondType, MolGraph};
pub use neighbors::{knn_graph, radius_graph, radius_graph_many, RadiusOptions, VerletList};
pub use structure::{AtomArray, Cell, Property, Structure};
