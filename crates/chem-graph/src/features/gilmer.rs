//! The atom and bond features of Gilmer et al., *Neural Message Passing for Quantum
//! Chemistry*, ICML 2017, Table 1.

use super::{assemble, bond_index, check_atoms, pairs, type_index, EdgeSet};
use crate::error::Result;
use crate::graph::{Features, Graph};
use crate::mol::{BondType, Hybridization, MolGraph};
use crate::structure::Structure;

/// Node features: one-hot H, C, N, O, F, then Z, acceptor, donor, aromatic, sp, sp², sp³,
/// number of hydrogens.
pub const GILMER_NODE_FEATURES: usize = 13;
/// Edge features before the distance: one-hot single, double, triple, aromatic, no bond.
pub const GILMER_EDGE_FEATURES: usize = 5;

/// Whether hydrogens are nodes of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Hydrogens {
    /// Hydrogen atoms are nodes (Gilmer's choice).
    #[default]
    Explicit,
    /// Hydrogen atoms are removed; each heavy atom keeps its count as a feature.
    Implicit,
}

/// Options of [`gilmer_graph`]. The default is explicit hydrogens, all pairs, and distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GilmerOptions {
    /// Hydrogens as nodes or as counts.
    pub hydrogens: Hydrogens,
    /// Bonds only, or all pairs with "no bond" edges (Gilmer's virtual edges).
    pub edges: EdgeSet,
    /// Append the distance in Å as the last edge column (Gilmer's spatial information).
    pub distance: bool,
}

impl Default for GilmerOptions {
    fn default() -> Self {
        GilmerOptions { hydrogens: Hydrogens::Explicit, edges: EdgeSet::Complete, distance: true }
    }
}

/// The graph of `structure` with Gilmer's features, from its chemical graph `mol` (all atoms
/// explicit, in the structure's order, e.g. from [`crate::mol::perceive`]).
///
/// Node rows: `[H, C, N, O, F, Z, acceptor, donor, aromatic, sp, sp2, sp3, num_h]`
/// ([`GILMER_NODE_FEATURES`]); acceptors, donors and hybridisation as
/// [`MolGraph::acceptors`], [`MolGraph::donors`] and [`MolGraph::hybridizations`] define them.
/// Edge rows: `[single, double, triple, aromatic, no_bond]`, then the distance when asked.
/// With [`Hydrogens::Implicit`] the graph keeps the heavy atoms in their original order.
pub fn gilmer_graph(structure: &Structure, mol: &MolGraph, options: &GilmerOptions) -> Result<Graph> {
    check_atoms(structure, mol)?;
    let (acceptor, donor) = (mol.acceptors(), mol.donors());
    let (hybrid, hydrogens) = (mol.hybridizations(), mol.hydrogen_count());
    let (graph, keep) = match options.hydrogens {
        Hydrogens::Explicit => (mol.clone(), (0..mol.len()).collect()),
        Hydrogens::Implicit => mol.without_hydrogens(),
    };
    let flag = |b: bool| f64::from(u8::from(b));
    let mut data = Vec::with_capacity(keep.len() * GILMER_NODE_FEATURES);
    for &a in &keep {
        let mut row = [0.0; GILMER_NODE_FEATURES];
        row[type_index(mol.numbers[a]).unwrap_or(0)] = 1.0;
        row[5] = f64::from(mol.numbers[a]);
        row[6] = flag(acceptor[a]);
        row[7] = flag(donor[a]);
        row[8] = flag(mol.aromatic[a]);
        let column = match hybrid[a] {
            Some(Hybridization::Sp) => Some(9),
            Some(Hybridization::Sp2) => Some(10),
            Some(Hybridization::Sp3) => Some(11),
            None => None,
        };
        column.into_iter().for_each(|c| row[c] = 1.0);
        row[12] = f64::from(hydrogens[a]);
        data.extend(row);
    }
    let edge_row = |t: Option<BondType>| {
        let mut row = vec![0.0; GILMER_EDGE_FEATURES];
        row[t.map_or(4, bond_index)] = 1.0;
        row
    };
    assemble(
        keep.iter().map(|&a| structure.numbers[a]).collect(),
        keep.iter().map(|&a| structure.positions[a]).collect(),
        Features { width: GILMER_NODE_FEATURES, data },
        &pairs(&graph, options.edges),
        GILMER_EDGE_FEATURES,
        &edge_row,
        options.distance,
    )
}
