//! # chem-crystal
//!
//! Crystals for chemgnn: lattices (fractional ↔ Cartesian, reduction), CIF and POSCAR files,
//! periodic graphs with radius, k-nearest-neighbour and Voronoi connectivity, space-group symmetry,
//! and graphs reduced to the asymmetric unit with multiplicity-weighted readouts.
//!
//! Crystals are `chem_graph::Structure`s with a cell and `pbc == [true; 3]`; errors are
//! `chem_graph::Error`s (a parse error names the file and line). The guide is `docs/crystals.md`.
//!
//! ```
//! use chem_crystal::io::parse_cif;
//! use chem_crystal::{CifOptions, CrystalGraphs, Positions, SymmetryOptions};
//!
//! # fn main() -> chem_crystal::Result<()> {
//! let cif = "data_rutile
//! _cell_length_a 4.5937
//! _cell_length_b 4.5937
//! _cell_length_c 2.9587
//! _cell_angle_alpha 90
//! _cell_angle_beta 90
//! _cell_angle_gamma 90
//! loop_
//! _symmetry_equiv_pos_as_xyz
//! 'x, y, z'  '-x, -y, -z'  '-y+1/2, x+1/2, z+1/2'  'y+1/2, -x+1/2, -z+1/2'
//! '-x, -y, z'  'x, y, -z'  'y+1/2, -x+1/2, z+1/2'  '-y+1/2, x+1/2, -z+1/2'
//! 'x+1/2, -y+1/2, -z+1/2'  '-x+1/2, y+1/2, z+1/2'  '-y, -x, -z'  'y, x, z'
//! '-x+1/2, y+1/2, -z+1/2'  'x+1/2, -y+1/2, z+1/2'  'y, x, -z'  '-y, -x, z'
//! loop_
//! _atom_site_label
//! _atom_site_fract_x
//! _atom_site_fract_y
//! _atom_site_fract_z
//! Ti1 0 0 0
//! O1 0.19522 0.80478 0.5
//! ";
//! let rutile = &parse_cif(cif, "rutile.cif", &CifOptions::default())?[0];
//! assert_eq!(rutile.len(), 6); // 2 Ti + 4 O after applying the 16 operations
//! // Symmetry search, symmetrisation (snapping to exact symmetry), full-cell graph, reduction.
//! let voronoi = "voronoi:1e-6".parse()?;
//! let CrystalGraphs { crystal, full, asu } =
//!     CrystalGraphs::new(rutile, &voronoi, &SymmetryOptions::default(), Positions::Symmetrized)?;
//! assert_eq!((crystal.symmetry.number, crystal.symmetry.operations.len()), (136, 16));
//! assert!(crystal.max_displacement < 1e-5); // the CIF's positions were already symmetric
//! assert_eq!(asu.multiplicities(), &[2.0, 4.0]); // one Ti and one O node
//! // Each node keeps its whole neighbourhood: Σ multiplicity × in-degree = the full cell's edges.
//! let degrees = asu.graph.edges.in_degrees(2);
//! assert_eq!(2 * degrees[0] + 4 * degrees[1], full.num_edges());
//! # Ok(())
//! # }
//! ```

pub mod asu;
pub mod crystal_graphs;
pub mod graphs;
pub mod io;
pub mod lattice;
pub mod symmetrize;
pub mod symmetry;

pub use asu::AsymmetricUnitGraph;
pub use chem_graph::neighbors::{knn_graph, radius_graph, RadiusOptions};
pub use chem_graph::{Error, Location, Result, Structure};
pub use crystal_graphs::{CrystalGraphs, Positions, PreparedCrystal};
pub use graphs::{
    knn_graph_with_ties, periodic_edges, periodic_graph, voronoi_cells, voronoi_edges, Connectivity, PeriodicEdges,
    VoronoiCell, VoronoiFace,
};
pub use io::{read_crystals, write_crystal, CifOptions, MatbenchDataset, PartialOccupancy, ReadOptions};
pub use lattice::Lattice;
pub use symmetrize::Symmetrized;
pub use symmetry::{crystal_lattice, RefinedCell, SymOp, Symmetry, SymmetryOptions};

/// The error types, shared with chem-graph.
pub(crate) mod error {
    pub use chem_graph::{Error, Result};
}
