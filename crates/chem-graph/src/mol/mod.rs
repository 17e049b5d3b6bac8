//! Chemical graphs of organic molecules: bonds with orders, formal charges, hydrogens,
//! aromaticity, hybridisation and hydrogen-bond donor/acceptor flags.
//!
//! A [`MolGraph`] comes from 3D geometry ([`perceive`], bond perception from covalent radii and
//! valences) or from a SMILES string ([`crate::smiles::parse`]); [`compare`] says whether two graphs
//! describe the same molecule. Supported elements are H, B, C, N, O and F (QM9's plus boron).
//!
//! Bond orders are always stored in Kekulé form ([`Bond::order`] is 1, 2 or 3); aromaticity is a
//! separate flag on atoms and bonds, set by [`MolGraph::perceive_aromaticity`] with one model for
//! every source (see [`aromaticity`]), so graphs from geometry and from SMILES are compared on
//! equal terms.

pub mod aromaticity;
mod compare;
mod perceive;
mod properties;
mod rings;
mod solve;
mod valence;

pub use compare::{compare, Comparison};
pub use perceive::{perceive, PerceiveOptions};
pub use properties::Hybridization;
pub use rings::smallest_rings;
pub(crate) use solve::distribute as solve_increments;
pub(crate) use valence::valence as valence_of;

use crate::error::{Error, Result};

/// The type of a bond as the featurisers see it (aromatic is its own type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BondType {
    /// Single bond.
    Single,
    /// Double bond.
    Double,
    /// Triple bond.
    Triple,
    /// Bond in an aromatic ring.
    Aromatic,
}

/// A bond between atoms `atoms[0]` and `atoms[1]` (`atoms[0] < atoms[1]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bond {
    /// The two atoms, smaller index first.
    pub atoms: [usize; 2],
    /// Kekulé bond order: 1, 2 or 3.
    pub order: u8,
    /// True when the bond belongs to an aromatic ring.
    pub aromatic: bool,
}

impl Bond {
    /// The featuriser's type: [`BondType::Aromatic`] for aromatic bonds, else by order.
    pub fn bond_type(&self) -> BondType {
        match (self.aromatic, self.order) {
            (true, _) => BondType::Aromatic,
            (false, 1) => BondType::Single,
            (false, 2) => BondType::Double,
            _ => BondType::Triple,
        }
    }

    /// The atom at the other end from `atom`.
    pub fn other(&self, atom: usize) -> usize {
        if self.atoms[0] == atom {
            self.atoms[1]
        } else {
            self.atoms[0]
        }
    }
}

/// A molecule as a labelled graph. Hydrogens may be atoms of the graph (explicit, as after
/// [`perceive`]) or counted on their heavy atom (`implicit_hydrogens`, as after SMILES parsing or
/// [`MolGraph::without_hydrogens`]); [`MolGraph::hydrogen_count`] adds both. The fields are public
/// plain data; [`MolGraph::validate`] checks their consistency.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MolGraph {
    /// Atomic numbers.
    pub numbers: Vec<u8>,
    /// Formal charge of each atom.
    pub charges: Vec<i8>,
    /// Hydrogens attached to each atom that are not atoms of the graph.
    pub implicit_hydrogens: Vec<u8>,
    /// Aromatic flag of each atom.
    pub aromatic: Vec<bool>,
    /// Bonds, each listed once.
    pub bonds: Vec<Bond>,
}

impl MolGraph {
    /// A graph of neutral, non-aromatic atoms without implicit hydrogens, bonded by
    /// `(i, j, order)` triples. Fails on an out-of-range index, a self-bond, a repeated bond or an
    /// order outside 1..=3.
    pub fn new(numbers: Vec<u8>, bonds: &[(usize, usize, u8)]) -> Result<Self> {
        let n = numbers.len();
        let mut g = MolGraph {
            charges: vec![0; n],
            implicit_hydrogens: vec![0; n],
            aromatic: vec![false; n],
            numbers,
            bonds: Vec::with_capacity(bonds.len()),
        };
        for &(i, j, order) in bonds {
            g.add_bond(i, j, order)?;
        }
        Ok(g)
    }

    /// Adds a non-aromatic bond of Kekulé order `order` (checked as in [`MolGraph::new`]).
    pub fn add_bond(&mut self, i: usize, j: usize, order: u8) -> Result<()> {
        let n = self.len();
        if i >= n || j >= n || i == j {
            return Err(Error::invalid(format!("bond {i}-{j}: atom indices must differ and be below {n}")));
        }
        if !(1..=3).contains(&order) {
            return Err(Error::invalid(format!("bond {i}-{j}: order {order} is not 1, 2 or 3")));
        }
        let atoms = [i.min(j), i.max(j)];
        if self.bonds.iter().any(|b| b.atoms == atoms) {
            return Err(Error::invalid(format!("bond {i}-{j} is given twice")));
        }
        self.bonds.push(Bond { atoms, order, aromatic: false });
        Ok(())
    }

    /// Checks what the public fields cannot enforce: one charge, hydrogen count and aromatic flag
    /// per atom, and bonds between two distinct existing atoms with order 1..=3. The methods of
    /// this type assume a valid graph; the functions that take one ([`compare`], the featurisers)
    /// call this first.
    pub fn validate(&self) -> Result<()> {
        let n = self.len();
        if [self.charges.len(), self.implicit_hydrogens.len(), self.aromatic.len()].iter().any(|&l| l != n) {
            return Err(Error::invalid(format!("chemical graph: per-atom arrays do not all have {n} entries")));
        }
        match self.bonds.iter().position(|b| b.atoms[0] >= b.atoms[1] || b.atoms[1] >= n || !(1..=3).contains(&b.order))
        {
            Some(k) => Err(Error::invalid(format!("chemical graph: bond {k} ({:?}) is invalid", self.bonds[k]))),
            None => Ok(()),
        }
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// True for a graph without atoms.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// For each atom, its `(neighbour, bond index)` pairs in bond order.
    pub fn adjacency(&self) -> Vec<Vec<(usize, usize)>> {
        let mut adj = vec![Vec::new(); self.len()];
        for (k, b) in self.bonds.iter().enumerate() {
            adj[b.atoms[0]].push((b.atoms[1], k));
            adj[b.atoms[1]].push((b.atoms[0], k));
        }
        adj
    }

    /// The bond between `i` and `j`, if any.
    pub fn bond_between(&self, i: usize, j: usize) -> Option<&Bond> {
        let atoms = [i.min(j), i.max(j)];
        self.bonds.iter().find(|b| b.atoms == atoms)
    }

    /// Total number of hydrogens on each atom: implicit ones plus bonded hydrogen atoms.
    pub fn hydrogen_count(&self) -> Vec<u8> {
        let mut h = self.implicit_hydrogens.clone();
        for b in &self.bonds {
            for (a, o) in [(b.atoms[0], b.atoms[1]), (b.atoms[1], b.atoms[0])] {
                if self.numbers[o] == 1 {
                    h[a] = h[a].saturating_add(1);
                }
            }
        }
        h
    }

    /// The graph with every hydrogen atom that is bonded to exactly one heavy atom folded into
    /// that atom's implicit-hydrogen count, and the index in `self` of each remaining atom.
    pub fn without_hydrogens(&self) -> (MolGraph, Vec<usize>) {
        let adj = self.adjacency();
        let folded = |a: usize| {
            self.numbers[a] == 1 && self.charges[a] == 0 && matches!(adj[a][..], [(o, _)] if self.numbers[o] != 1)
        };
        let keep: Vec<usize> = (0..self.len()).filter(|&a| !folded(a)).collect();
        let mut new_index = vec![usize::MAX; self.len()];
        for (k, &a) in keep.iter().enumerate() {
            new_index[a] = k;
        }
        let mut g = MolGraph {
            numbers: keep.iter().map(|&a| self.numbers[a]).collect(),
            charges: keep.iter().map(|&a| self.charges[a]).collect(),
            implicit_hydrogens: keep.iter().map(|&a| self.implicit_hydrogens[a]).collect(),
            aromatic: keep.iter().map(|&a| self.aromatic[a]).collect(),
            bonds: Vec::new(),
        };
        for b in &self.bonds {
            let [i, j] = b.atoms.map(|a| new_index[a]);
            match (i, j) {
                (usize::MAX, _) => g.implicit_hydrogens[j] = g.implicit_hydrogens[j].saturating_add(1),
                (_, usize::MAX) => g.implicit_hydrogens[i] = g.implicit_hydrogens[i].saturating_add(1),
                _ => g.bonds.push(Bond { atoms: [i.min(j), i.max(j)], ..*b }),
            }
        }
        (g, keep)
    }

    /// Checks that every atom is a supported element (H, B, C, N, O, F); `who` names the
    /// molecule in the error.
    pub(crate) fn check_elements(numbers: &[u8], who: &str) -> Result<()> {
        match numbers.iter().position(|&z| valence::valences(z, 0).is_empty()) {
            Some(a) => Err(Error::invalid(format!(
                "{who}: atom {a} has atomic number {}; chemical graphs support H, B, C, N, O and F only",
                numbers[a]
            ))),
            None => Ok(()),
        }
    }
}
