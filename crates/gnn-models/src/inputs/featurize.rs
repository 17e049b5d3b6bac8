//! Featurised molecular graphs for MPNN, from chem-graph's bond perception (`chem_graph::mol`)
//! and featurisers (`chem_graph::features`).

use crate::error::{Error, Result};
use chem_graph::features::{
    gilmer_graph, pyg_qm9_graph, EdgeSet, GilmerOptions, Hydrogens, PygFlavor, PygQm9Options, GILMER_EDGE_FEATURES,
    GILMER_NODE_FEATURES, PYG_QM9_EDGE_FEATURES, PYG_QM9_NODE_FEATURES,
};
use chem_graph::mol::{perceive, PerceiveOptions};
use chem_graph::{Graph, Structure};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How an MPNN's input graph is built from a structure (bonds perceived from the geometry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MpnnFeatures {
    /// PyG's QM9 dataset + the example's `Complete()` and `Distance(norm=False)`: 11 atom features,
    /// 4 bond one-hots + distance on all pairs.
    PygQm9 {
        /// RDKit-sanitised aromaticity and hybridisation instead of the zeros PyG's QM9 stores.
        #[serde(default)]
        sanitized: bool,
    },
    /// Gilmer et al.'s features: 13 atom features; bond type one-hots with "no bond", optionally
    /// the distance.
    Gilmer {
        /// Hydrogens as H-count features instead of nodes.
        implicit_hydrogens: bool,
        /// All pairs with "no bond" edges (virtual edges) instead of bonds only.
        complete: bool,
        /// The distance as the last edge feature (spatial information).
        distance: bool,
    },
}

impl Default for MpnnFeatures {
    fn default() -> Self {
        MpnnFeatures::PygQm9 { sanitized: false }
    }
}

impl MpnnFeatures {
    /// Widths of the atom and edge features this featurisation produces.
    pub fn widths(&self) -> (usize, usize) {
        match *self {
            MpnnFeatures::PygQm9 { .. } => (PYG_QM9_NODE_FEATURES, PYG_QM9_EDGE_FEATURES + 1),
            MpnnFeatures::Gilmer { distance, .. } => (GILMER_NODE_FEATURES, GILMER_EDGE_FEATURES + distance as usize),
        }
    }

    fn graph(&self, structure: &Structure) -> Result<Graph> {
        let named = |e: chem_graph::Error| Error::Input(format!("{}: {e}", structure.label()));
        let mol = perceive(structure, &PerceiveOptions::default()).map_err(named)?;
        match *self {
            MpnnFeatures::PygQm9 { sanitized } => {
                let flavor = if sanitized { PygFlavor::Sanitized } else { PygFlavor::AsPyg };
                let options = PygQm9Options { flavor, edges: EdgeSet::Complete, distance: true };
                pyg_qm9_graph(structure, &mol, &options).map_err(named)
            }
            MpnnFeatures::Gilmer { implicit_hydrogens, complete, distance } => {
                let options = GilmerOptions {
                    hydrogens: if implicit_hydrogens { Hydrogens::Implicit } else { Hydrogens::Explicit },
                    edges: if complete { EdgeSet::Complete } else { EdgeSet::Bonds },
                    distance,
                };
                gilmer_graph(structure, &mol, &options).map_err(named)
            }
        }
    }
}

/// The MPNN graph of each structure, featurised in parallel.
pub fn mpnn_graph_list(features: &MpnnFeatures, structures: &[Structure]) -> Result<Vec<Graph>> {
    structures.par_iter().map(|s| features.graph(s)).collect()
}
