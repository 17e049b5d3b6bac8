//! # chem-crystal
//!
//! Crystals for chemgnn: lattices (fractional ↔ Cartesian, reduction), CIF and POSCAR files,
//! periodic graphs with radius, k-nearest-neighbour and Voronoi connectivity, space-group symmetry,
//! and graphs reduced to the asymmetric unit with multiplicity-weighted readouts.
//!
//! Crystals are `chem_graph::Structure`s with a cell and `pbc == [true; 3]`; errors are
//! `chem_graph::Error`s (a parse error names the file and line).

pub mod asu;
pub mod graphs;
pub mod io;
pub mod lattice;
pub mod symmetry;

pub use asu::AsymmetricUnitGraph;
pub use chem_graph::neighbors::{knn_graph, radius_graph, RadiusOptions};
pub use chem_graph::{Error, Location, Result, Structure};
pub use graphs::{
    knn_graph_with_ties, periodic_edges, periodic_graph, voronoi_cells, voronoi_edges, Connectivity, PeriodicEdges,
    VoronoiCell, VoronoiFace,
};
pub use io::{read_crystals, write_crystal, CifOptions, MatbenchDataset, PartialOccupancy, ReadOptions};
pub use lattice::Lattice;
pub use symmetry::{crystal_lattice, SymOp, Symmetry, SymmetryOptions};

/// The error types, shared with chem-graph.
pub(crate) mod error {
    pub use chem_graph::{Error, Result};
}
