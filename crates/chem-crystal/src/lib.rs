//! # chem-crystal
//!
//! Crystals for chemgnn: lattices (fractional ↔ Cartesian, reduction), CIF and POSCAR files,
//! periodic graphs with radius, k-nearest-neighbour and Voronoi connectivity, space-group symmetry,
//! and graphs reduced to the asymmetric unit with multiplicity-weighted readouts.
//!
//! Built on `chem_graph::Structure`; filled in by the crystal issue. Until then it re-exports the
//! periodic neighbour search that chem-graph already provides.

pub use chem_graph::neighbors::{knn_graph, radius_graph, RadiusOptions};
