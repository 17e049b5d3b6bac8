//! Featurised molecular graphs for MPNN.

use crate::error::{Error, Result};
use chem_graph::{GraphBatch, Structure};
use serde::{Deserialize, Serialize};

/// How an MPNN's input graph is built from a structure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MpnnFeatures {
    /// PyG's QM9 example.
    #[default]
    PygQm9,
}

/// The MPNN graphs of `structures`.
pub fn mpnn_graphs(features: &MpnnFeatures, structures: &[Structure]) -> Result<GraphBatch> {
    let _ = (features, structures);
    Err(Error::Input(
        "MPNN graphs from structures need bond perception; give a graph batch with x, edge_index and edge_attr".into(),
    ))
}
