//! A SMILES reader for organic molecules: enough of OpenSMILES for QM9 and similar sets.
//!
//! Supported: the organic subset `B C N O F` and aromatic `b c n o`; bracket atoms with isotope
//! (ignored), element, chirality (ignored), hydrogen count, charge and atom class (ignored);
//! bonds `- = # : / \` (directions ignored); branches; ring closures `0`–`9` and `%nn`; `.`
//! between fragments. Elements other than H, B, C, N, O and F are rejected.
//!
//! Hydrogens follow the usual rules: bracket atoms have exactly the hydrogens written; organic
//! subset atoms get enough to reach their standard valence (B 3, C 4, N 3, O 2, F 1), and a
//! valence exceeded is an error. Aromatic input is kekulised as RDKit does: every aromatic atom
//! that still has a free valence gets exactly one double bond among its aromatic bonds. The
//! result keeps Kekulé orders and its aromatic flags come from
//! [`MolGraph::perceive_aromaticity`], not from the case of the input atoms.

mod kekulize;
mod parser;

use crate::error::{Error, Result};
use crate::mol::MolGraph;

/// Parses `smiles` into a chemical graph with implicit hydrogens (explicit `[H]` atoms stay
/// atoms). Errors name the SMILES and the 1-based column of the problem.
pub fn parse(smiles: &str) -> Result<MolGraph> {
    let parsed = parser::parse(smiles).map_err(|(column, message)| error(smiles, column, &message))?;
    let mut graph = kekulize::to_graph(&parsed).map_err(|message| error(smiles, 0, &message))?;
    graph.perceive_aromaticity();
    Ok(graph)
}

fn error(smiles: &str, column: usize, message: &str) -> Error {
    let at = if column == 0 { String::new() } else { format!("column {column}: ") };
    Error::parse(format!("SMILES '{smiles}'"), 0, format!("{at}{message}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mol::BondType;

    /// Atomic numbers, hydrogen counts, charges and typed bonds.
    type Summary = (Vec<u8>, Vec<u8>, Vec<i8>, Vec<(usize, usize, BondType)>);

    fn summary(s: &str) -> Summary {
        let g = parse(s).unwrap();
        let bonds = g.bonds.iter().map(|b| (b.atoms[0], b.atoms[1], b.bond_type())).collect();
        (g.numbers.clone(), g.hydrogen_count(), g.charges.clone(), bonds)
    }

    #[test]
    fn chains_branches_and_hydrogens() {
        let (z, h, _, bonds) = summary("CC(=O)O");
        assert_eq!(z, [6, 6, 8, 8]);
        assert_eq!(h, [3, 0, 0, 1]);
        assert_eq!(bonds, [(0, 1, BondType::Single), (1, 2, BondType::Double), (1, 3, BondType::Single)]);
        let (_, h, _, bonds) = summary("C#N");
        assert_eq!((h, bonds[0].2), (vec![1, 0], BondType::Triple));
        let (z, h, _, _) = summary("C(F)(F)F.O");
        assert_eq!((z, h), (vec![6, 9, 9, 9, 8], vec![1, 0, 0, 0, 2]));
    }

    #[test]
    fn rings_and_aromatic_atoms() {
        let (_, h, _, bonds) = summary("C1CC1");
        assert_eq!((h, bonds.len()), (vec![2, 2, 2], 3));
        let (_, h, _, bonds) = summary("c1cc[nH]c1");
        assert_eq!(h, [1, 1, 1, 1, 1]);
        assert!(bonds.iter().all(|b| b.2 == BondType::Aromatic));
        let g = parse("c1ccncc1").unwrap();
        assert_eq!(g.bonds.iter().map(|b| b.order).sum::<u8>(), 9); // kekulised: 3 double bonds
        assert_eq!(g.hydrogen_count(), [1, 1, 1, 0, 1, 1]);
        let (_, _, _, bonds) = summary("C%12CC=C%12");
        assert_eq!(bonds.len(), 4);
        let (_, h, _, _) = summary("C1=CC=CC=C1");
        assert_eq!(h, [1; 6]);
        assert!(parse("C1=CC=CC=C1").unwrap().aromatic.iter().all(|&a| a));
    }

    #[test]
    fn brackets_charges_and_stereo() {
        let (z, h, q, _) = summary("[NH3+]CC([O-])=O");
        assert_eq!((z, h, q), (vec![7, 6, 6, 8, 8], vec![3, 2, 0, 0, 0], vec![1, 0, 0, -1, 0]));
        let (_, h, q, _) = summary("C[C@@H](O)/C=C\\[13CH3]");
        assert_eq!((h, q), (vec![3, 1, 1, 1, 1, 3], vec![0; 6]));
        let (_, h, q, bonds) = summary("[C-]#[N+]C");
        assert_eq!((h, q, bonds[0].2), (vec![0, 0, 3], vec![-1, 1, 0], BondType::Triple));
        let (_, h, q, _) = summary("[O--].[NH4+:1].[H]");
        assert_eq!((h, q), (vec![0, 4, 0], vec![-2, 1, 0]));
    }

    #[test]
    fn bad_input_is_reported_with_its_column() {
        for (s, what) in [
            ("C(C", "unclosed branch"),
            ("CC)", "column 3"),
            ("C1CC", "unclosed ring 1"),
            ("CCl", "column 2"),
            ("[Na+]", "H, B, C, N, O and F"),
            ("C=", "column 2"),
            ("c1cccc1", "kekul"),
            ("C(C)(C)(C)(C)C", "valence"),
            ("[C", "column 1"),
            ("C==C", "column 3"),
            ("", "empty"),
            ("[CH999]", "hydrogen count"),
            ("[C+999]", "charge out of range"),
        ] {
            let err = parse(s).unwrap_err().to_string();
            assert!(err.contains(what) && err.contains(&format!("'{s}'")), "{s}: {err}");
        }
    }
}
