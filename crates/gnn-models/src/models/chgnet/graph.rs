//! CHGNet's bond graph (`chgnet/graph/graph.py`, `line_graph_adjacency_list`): the angles between
//! bonds shorter than the bond-graph cutoff that share an atom.

use candle_core::{Device, Result};
use gnn_layers::ops::SegmentIndex;
use gnn_layers::EdgePairs;

/// The angles of a graph: at every atom, every ordered pair of distinct edges into it shorter
/// than the cutoff (the edge and its own reverse count as distinct — an atom and its periodic
/// image at 180°). Bonds are [`EdgePairs`] groups.
#[derive(Clone, Debug)]
pub struct BondGraph {
    /// The atom at the angle's vertex; segments are atoms.
    pub center: SegmentIndex,
    /// The first edge (into `center`); segments are edges.
    pub first_edge: SegmentIndex,
    /// The second edge; segments are edges.
    pub second_edge: SegmentIndex,
    /// The bond of the first edge (where BondConv sums); segments are bonds.
    pub first_bond: SegmentIndex,
    /// The bond of the second edge; segments are bonds.
    pub second_bond: SegmentIndex,
}

impl BondGraph {
    /// The angles of the edges with targets `targets` (among `atoms` atoms), lengths `lengths` (Å)
    /// and bonds `pairs`, among the edges shorter than `cutoff`.
    pub fn new(
        targets: &[u32],
        atoms: usize,
        lengths: &[f64],
        cutoff: f64,
        pairs: &EdgePairs,
        device: &Device,
    ) -> Result<Self> {
        let mut short: Vec<Vec<u32>> = vec![Vec::new(); atoms];
        for (e, (&t, &d)) in targets.iter().zip(lengths).enumerate() {
            if d < cutoff {
                short[t as usize].push(e as u32);
            }
        }
        let bond = pairs.pair_of_edge.values();
        let (mut center, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
        for (atom, edges) in short.iter().enumerate() {
            for &a in edges {
                for &b in edges {
                    if a != b {
                        center.push(atom as u32);
                        first.push(a);
                        second.push(b);
                    }
                }
            }
        }
        let bonds = pairs.pair_of_edge.num_segments();
        let of = |edges: &[u32]| edges.iter().map(|&e| bond[e as usize]).collect::<Vec<u32>>();
        Ok(Self {
            first_bond: SegmentIndex::new(of(&first), bonds, device)?,
            second_bond: SegmentIndex::new(of(&second), bonds, device)?,
            center: SegmentIndex::new(center, atoms, device)?,
            first_edge: SegmentIndex::new(first, targets.len(), device)?,
            second_edge: SegmentIndex::new(second, targets.len(), device)?,
        })
    }

    /// Number of angles.
    pub fn len(&self) -> usize {
        self.center.len()
    }

    /// Whether there are no angles.
    pub fn is_empty(&self) -> bool {
        self.center.is_empty()
    }
}
