//! [`EdgePairs`]: the edges of a graph grouped into the two directions of each pair (`j → i` with
//! image shift `S` and `i → j` with `−S`), so that anything that depends only on the distance — SchNet's
//! filters — is computed once per pair and shared by both directions.

use crate::ops::SegmentIndex;
use candle_core::{Device, Result};
use chem_graph::GraphBatch;

/// Edges grouped by unordered pair. A radius graph of molecules or crystals (without a neighbour cap
/// cutting a shell) is symmetric and has two edges per group; an edge whose reverse is missing (a
/// cap, a k-NN graph, a directed graph) forms a group of its own, so every graph has an
/// `EdgePairs` and the result never depends on whether edges found their partners.
#[derive(Clone, Debug)]
pub struct EdgePairs {
    /// The group of each edge (`[edges]` rows into `[pairs]` segments).
    pub pair_of_edge: SegmentIndex,
    /// The first edge of each group (`[pairs]` rows into `[edges]` segments): gather per-edge values
    /// (distances) with it.
    pub representative: SegmentIndex,
}

impl EdgePairs {
    /// Groups the edges of `batch`: edge `e = (j → i, S)` is paired with the first unpaired edge
    /// `(i → j, −S)` whose vector is `−vector[e]` and whose distance is the same (both to 1e-9 Å·(1 + d)).
    /// `by_target` is the batch's edges grouped by target node (`GraphTensors::target`). Returns
    /// `None` for graphs reduced to an asymmetric unit (their edges have no reverse) and for graphs in
    /// which no edge has a partner.
    pub fn new(batch: &GraphBatch, by_target: &SegmentIndex, device: &Device) -> Result<Option<Self>> {
        let edges = &batch.edges;
        let count = edges.len();
        if by_target.len() != count {
            candle_core::bail!("EdgePairs: the target index has {} rows for {count} edges", by_target.len());
        }
        if batch.node_weights.is_some() || count == 0 {
            return Ok(None);
        }
        let mut pair_of_edge = vec![u32::MAX; count];
        let mut representative = Vec::with_capacity(count / 2 + 1);
        let mut paired = 0usize;
        for e in 0..count {
            if pair_of_edge[e] != u32::MAX {
                continue;
            }
            let group = representative.len() as u32;
            pair_of_edge[e] = group;
            representative.push(e as u32);
            let (j, shift, vector) = (edges.source[e], edges.shift[e], edges.vector[e]);
            let reverse = by_target.rows(j as usize).find(|&k| {
                k != e
                    && pair_of_edge[k] == u32::MAX
                    && edges.source[k] == edges.target[e]
                    && edges.shift[k] == shift.map(|s| -s)
                    && (edges.distance[k] - edges.distance[e]).abs() <= 1e-9 * (1.0 + edges.distance[e])
                    && (0..3).all(|c| (edges.vector[k][c] + vector[c]).abs() <= 1e-9 * (1.0 + edges.distance[e]))
            });
            if let Some(k) = reverse {
                pair_of_edge[k] = group;
                paired += 1;
            }
        }
        if paired == 0 {
            return Ok(None);
        }
        let pairs = representative.len();
        Ok(Some(Self {
            pair_of_edge: SegmentIndex::new(pair_of_edge, pairs, device)?,
            representative: SegmentIndex::new(representative, count, device)?,
        }))
    }

    /// The same pairs on `device`.
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        Ok(Self {
            pair_of_edge: self.pair_of_edge.to_device(device)?,
            representative: self.representative.to_device(device)?,
        })
    }

    /// Number of groups (filter rows).
    pub fn len(&self) -> usize {
        self.representative.len()
    }

    /// Whether there are no groups.
    pub fn is_empty(&self) -> bool {
        self.representative.is_empty()
    }
}
