//! PyTorch Geometric's QM9 features (`torch_geometric/datasets/qm9.py`) and the transforms of
//! its `examples/qm9_nn_conv.py`.

use super::{assemble, bond_index, check_atoms, pairs, type_index, EdgeSet};
use crate::error::Result;
use crate::graph::{Features, Graph};
use crate::mol::{BondType, Hybridization, MolGraph};
use crate::structure::Structure;

/// Node features: one-hot H, C, N, O, F, then Z, aromatic, sp, sp², sp³, number of hydrogens.
pub const PYG_QM9_NODE_FEATURES: usize = 11;
/// Edge features before the distance: one-hot single, double, triple, aromatic.
pub const PYG_QM9_EDGE_FEATURES: usize = 4;

/// Where the aromatic and hybridisation columns come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PygFlavor {
    /// What `torch_geometric.datasets.QM9` produces: it reads `gdb9.sdf` with RDKit *without*
    /// sanitisation, so aromatic, sp, sp² and sp³ are always 0 and bonds keep their Kekulé types
    /// (pyg#2163). Models trained on PyG's QM9 expect this.
    #[default]
    AsPyg,
    /// What RDKit gives after sanitisation: aromatic atoms and bonds and hybridisation as
    /// computed by [`MolGraph::perceive_aromaticity`] and [`MolGraph::hybridizations`].
    Sanitized,
}

/// Options of [`pyg_qm9_graph`]. The default reproduces `qm9_nn_conv.py`: PyG's features,
/// `Complete()`, then `Distance(norm=False)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PygQm9Options {
    /// Source of the aromatic and hybridisation columns.
    pub flavor: PygFlavor,
    /// Bonds only (the dataset as stored) or all pairs (`Complete()`).
    pub edges: EdgeSet,
    /// Append the distance in Å as a fifth edge column (`Distance(norm=False)`).
    pub distance: bool,
}

impl Default for PygQm9Options {
    fn default() -> Self {
        PygQm9Options { flavor: PygFlavor::AsPyg, edges: EdgeSet::Complete, distance: true }
    }
}

/// The graph of `structure` with PyG's QM9 features, from its chemical graph `mol` (all atoms
/// explicit, in the structure's order, e.g. from [`crate::mol::perceive`]).
///
/// Node rows: `[H, C, N, O, F, Z, aromatic, sp, sp2, sp3, num_hs]` ([`PYG_QM9_NODE_FEATURES`]);
/// edge rows: `[single, double, triple, aromatic]`, zeros for pairs without a bond, then the
/// distance when asked. Fails when `mol` does not match `structure` or holds elements other than
/// H, C, N, O and F.
pub fn pyg_qm9_graph(structure: &Structure, mol: &MolGraph, options: &PygQm9Options) -> Result<Graph> {
    check_atoms(structure, mol)?;
    let sanitized = options.flavor == PygFlavor::Sanitized;
    let hybrid = mol.hybridizations();
    let hydrogens = mol.hydrogen_count();
    let mut data = Vec::with_capacity(mol.len() * PYG_QM9_NODE_FEATURES);
    for a in 0..mol.len() {
        let mut row = [0.0; PYG_QM9_NODE_FEATURES];
        row[type_index(mol.numbers[a]).unwrap_or(0)] = 1.0;
        row[5] = f64::from(mol.numbers[a]);
        if sanitized {
            row[6] = f64::from(u8::from(mol.aromatic[a]));
            let column = match hybrid[a] {
                Some(Hybridization::Sp) => Some(7),
                Some(Hybridization::Sp2) => Some(8),
                Some(Hybridization::Sp3) => Some(9),
                None => None,
            };
            column.into_iter().for_each(|c| row[c] = 1.0);
        }
        row[10] = f64::from(hydrogens[a]);
        data.extend(row);
    }
    let mut kekule = mol.clone();
    if !sanitized {
        kekule.bonds.iter_mut().for_each(|b| b.aromatic = false);
    }
    let edge_row = |t: Option<BondType>| {
        let mut row = vec![0.0; PYG_QM9_EDGE_FEATURES];
        t.into_iter().for_each(|t| row[bond_index(t)] = 1.0);
        row
    };
    assemble(
        structure.numbers.clone(),
        structure.positions.clone(),
        Features { width: PYG_QM9_NODE_FEATURES, data },
        &pairs(&kekule, options.edges),
        PYG_QM9_EDGE_FEATURES,
        &edge_row,
        options.distance,
    )
}
