//! Node and edge features for message-passing networks on molecules, computed from a
//! [`MolGraph`] and the geometry it was perceived from.
//!
//! - [`pyg_qm9_graph`]: the 11 node and 4 (+ distance) edge features of PyTorch Geometric's
//!   `QM9` dataset and its `examples/qm9_nn_conv.py` transforms `Complete()` and
//!   `Distance(norm=False)`.
//! - [`gilmer_graph`]: the atom and bond features of Gilmer et al. 2017 (Table 1), with explicit
//!   or implicit hydrogens, bonds only or all pairs ("virtual edges").
//!
//! Edges follow the crate's convention (see [`crate::graph`]): edge `e` goes from
//! `source[e]` (PyG's `edge_index[0]`) to `target[e]`, and pairs are listed row-major over
//! `(source, target)`, self-pairs excluded, as `Complete()` lists them.

mod gilmer;
mod pyg;

pub use gilmer::{gilmer_graph, GilmerOptions, Hydrogens, GILMER_EDGE_FEATURES, GILMER_NODE_FEATURES};
pub use pyg::{pyg_qm9_graph, PygFlavor, PygQm9Options, PYG_QM9_EDGE_FEATURES, PYG_QM9_NODE_FEATURES};

use crate::error::{Error, Result};
use crate::graph::{Edges, Features, Graph};
use crate::mol::{BondType, MolGraph};
use crate::structure::Structure;
use crate::vec3::{norm, sub};

/// Which ordered pairs of atoms become edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EdgeSet {
    /// Both directions of every bond.
    Bonds,
    /// Every ordered pair of distinct atoms; pairs without a bond get the "no bond" features.
    #[default]
    Complete,
}

/// Position of an element in the one-hot block H, C, N, O, F.
fn type_index(z: u8) -> Option<usize> {
    [1, 6, 7, 8, 9].iter().position(|&t| t == z)
}

/// Position of a bond type in the one-hot block single, double, triple, aromatic.
fn bond_index(t: BondType) -> usize {
    match t {
        BondType::Single => 0,
        BondType::Double => 1,
        BondType::Triple => 2,
        BondType::Aromatic => 3,
    }
}

/// Checks that `mol` is valid, has the atoms of `structure` (in order) and only H, C, N, O and F.
fn check_atoms(structure: &Structure, mol: &MolGraph) -> Result<()> {
    let who = structure.label();
    mol.validate().map_err(|e| Error::invalid(format!("{who}: {e}")))?;
    if mol.numbers != structure.numbers || structure.positions.len() != structure.numbers.len() {
        return Err(Error::invalid(format!("{who}: the chemical graph has other atoms than the structure")));
    }
    match mol.numbers.iter().position(|&z| type_index(z).is_none()) {
        Some(a) => Err(Error::invalid(format!("{who}: atom {a} is not H, C, N, O or F"))),
        None => Ok(()),
    }
}

/// Ordered pairs `(source, target)` of the atoms `0..n` of `mol`, row-major, with the type of
/// the bond between them, if any.
fn pairs(mol: &MolGraph, edges: EdgeSet) -> Vec<(usize, usize, Option<BondType>)> {
    let n = mol.len();
    let mut types = vec![None; n * n];
    for b in &mol.bonds {
        let [i, j] = b.atoms;
        types[i * n + j] = Some(b.bond_type());
        types[j * n + i] = Some(b.bond_type());
    }
    (0..n * n)
        .map(|k| (k / n, k % n, types[k]))
        .filter(|&(i, j, t)| i != j && (edges == EdgeSet::Complete || t.is_some()))
        .collect()
}

/// A molecular graph of `numbers` at `positions` with the given node features and edges; each
/// edge row gets `edge_row(bond type)` and, when `distance`, the length in Å last.
fn assemble(
    numbers: Vec<u8>,
    positions: Vec<[f64; 3]>,
    nodes: Features,
    pairs: &[(usize, usize, Option<BondType>)],
    edge_width: usize,
    edge_row: &dyn Fn(Option<BondType>) -> Vec<f64>,
    distance: bool,
) -> Result<Graph> {
    let mut edges = Edges::default();
    let mut data = Vec::with_capacity(pairs.len() * (edge_width + usize::from(distance)));
    for &(i, j, t) in pairs {
        let vector = sub(&positions[i], &positions[j]);
        let d = norm(&vector);
        let to_u32 = |a: usize| u32::try_from(a).map_err(|_| Error::invalid("more than u32::MAX atoms"));
        edges.push(to_u32(i)?, to_u32(j)?, [0; 3], vector, d);
        data.extend(edge_row(t));
        if distance {
            data.push(d);
        }
    }
    let width = edge_width + usize::from(distance);
    let graph = Graph {
        numbers,
        positions,
        cell: None,
        edges,
        node_features: Some(nodes),
        edge_features: Some(Features { width, data }),
        node_weights: None,
    };
    graph.validate()?;
    Ok(graph)
}
