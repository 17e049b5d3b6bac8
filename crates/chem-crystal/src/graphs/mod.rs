//! Periodic graphs of crystals with radius, k-nearest-neighbour (ties kept) or Voronoi connectivity,
//! the three connectivities of kgcnn's crystal preprocessors.
//!
//! # Conventions
//! Edges follow chem-graph's convention (see `chem_graph::neighbors`): an edge j → i is stored as
//! `source = j`, `target = i`, with the integer image shift S of the source, `vector = r_j + S·L −
//! r_i` (L: the cell, rows = cell vectors) and `distance = |vector|`. An atom's neighbourhood is its
//! set of in-edges (kgcnn's convention too: its `cell_translation` is S). Positions are used as
//! given (not wrapped into the cell); shifts refer to them. Edges are grouped by target in
//! increasing order and sorted by `(source, shift)` within a target, so results can be compared
//! element by element. No connectivity adds self-loops, but edges to an atom's own periodic images
//! are ordinary edges.
//!
//! * [`Connectivity::Radius`]: `chem_graph::radius_graph` (`distance < cutoff`).
//! * [`Connectivity::Knn`]: [`knn_graph_with_ties`], the k nearest plus ties within a tolerance.
//! * [`Connectivity::Voronoi`]: [`voronoi_edges`], one edge per face of each atom's Voronoi cell,
//!   with the face area (Å²) as edge feature; only for crystals periodic along all three axes. See
//!   [`voronoi`] for the algorithm, the handling of degenerate (corner-touching) faces compared with
//!   scipy's Qhull, and the symmetrised areas.
//!
//! Radius and kNN graphs also work for molecules and partly periodic structures.

pub mod connectivity;
mod knn;
mod polyhedron;
pub mod voronoi;

use chem_graph::neighbors::{radius_graph, RadiusOptions};
use chem_graph::{Edges, Features, Graph, Structure};

use crate::error::Result;

pub use connectivity::{Connectivity, DEFAULT_KNN_TOLERANCE};
pub use knn::knn_graph_with_ties;
pub use voronoi::{
    voronoi_cells, voronoi_edges, VoronoiCell, VoronoiFace, COINCIDENT_DISTANCE, DEGENERATE_AREA, PLANE_TOLERANCE,
};

/// The edges of a periodic graph and, for Voronoi connectivity, the area of the Voronoi face behind
/// each edge.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeriodicEdges {
    /// The edges (see the module docs for the convention and order).
    pub edges: Edges,
    /// Face area in Å² per edge for [`Connectivity::Voronoi`], `None` otherwise.
    pub ridge_area: Option<Vec<f64>>,
}

/// The edges of `structure` under `connectivity` (see the module docs).
///
/// Errors: invalid connectivity parameters (see [`Connectivity::validate`]), Voronoi connectivity
/// on a structure that is not periodic along all three axes, and the errors of the searches.
pub fn periodic_edges(structure: &Structure, connectivity: &Connectivity) -> Result<PeriodicEdges> {
    connectivity.validate()?;
    Ok(match *connectivity {
        Connectivity::Radius { cutoff } => {
            PeriodicEdges { edges: radius_graph(structure, &RadiusOptions::new(cutoff))?, ridge_area: None }
        }
        Connectivity::Knn { k, tolerance } => {
            PeriodicEdges { edges: knn_graph_with_ties(structure, k, tolerance)?, ridge_area: None }
        }
        Connectivity::Voronoi { min_area } => {
            let (edges, areas) = voronoi_edges(structure, min_area)?;
            PeriodicEdges { edges, ridge_area: Some(areas) }
        }
    })
}

/// The graph of `structure` under `connectivity`: [`periodic_edges`] with, for Voronoi
/// connectivity, the face area as a width-1 edge feature (`edge_features`); no features otherwise.
pub fn periodic_graph(structure: &Structure, connectivity: &Connectivity) -> Result<Graph> {
    let PeriodicEdges { edges, ridge_area } = periodic_edges(structure, connectivity)?;
    let mut graph = Graph::new(structure, edges)?;
    graph.edge_features = ridge_area.map(|data| Features { width: 1, data });
    graph.validate()?;
    Ok(graph)
}
