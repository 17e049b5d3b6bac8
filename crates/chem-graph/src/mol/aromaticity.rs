//! Aromaticity perception on a Kekulé graph, after RDKit's default model restricted to
//! H, B, C, N, O and F.
//!
//! Each atom donates π electrons to its rings:
//! - an atom with more than three neighbours (hydrogens included), a triple bond or two double
//!   bonds cannot be aromatic;
//! - a double bond inside a ring gives 1 electron;
//! - an acyclic double bond to a more electronegative atom (C=O, C=N outside the ring) gives 0;
//!   to a less or equally electronegative one (an exocyclic C=C) the atom cannot be aromatic;
//! - otherwise an atom with a lone pair (N, O, C⁻) gives 2 and one without (B, C⁺) gives 0.
//!
//! A ring of the smallest set of smallest rings whose atoms can all be aromatic and donate
//! 4n + 2 electrons is aromatic; so is the envelope of two fused rings (sharing a bond) that
//! satisfies the same rule, which catches systems such as azulene whose single rings fail.
//! Aromatic rings mark their atoms and bonds; the Kekulé orders stay as they are.

use super::{valence, MolGraph};

impl MolGraph {
    /// Recomputes the aromatic flags of atoms and bonds with the model of this module (flags
    /// set before, e.g. from lowercase SMILES atoms, are discarded).
    pub fn perceive_aromaticity(&mut self) {
        self.aromatic.iter_mut().for_each(|a| *a = false);
        self.bonds.iter_mut().for_each(|b| b.aromatic = false);
        let rings = super::smallest_rings(self);
        if rings.is_empty() {
            return;
        }
        let adj = self.adjacency();
        let ring_bonds = self.ring_bonds();
        let electrons = self.pi_electrons(&adj, &ring_bonds);
        let bonds_of = |ring: &[usize]| -> Vec<usize> {
            (0..ring.len())
                .filter_map(|w| {
                    let (a, b) = (ring[w], ring[(w + 1) % ring.len()]);
                    adj[a].iter().find(|&&(o, _)| o == b).map(|&(_, k)| k)
                })
                .collect()
        };
        let ring_bond_sets: Vec<Vec<usize>> = rings.iter().map(|r| bonds_of(r)).collect();
        let huckel = |atoms: &mut dyn Iterator<Item = &usize>| {
            let mut total = 0u32;
            for &a in atoms {
                match electrons[a] {
                    Some(e) => total += u32::from(e),
                    None => return false,
                }
            }
            total % 4 == 2
        };
        let mut aromatic_rings = vec![false; rings.len()];
        for (r, ring) in rings.iter().enumerate() {
            aromatic_rings[r] = huckel(&mut ring.iter());
        }
        let mut envelopes = Vec::new();
        for r in 0..rings.len() {
            for s in r + 1..rings.len() {
                let fused = ring_bond_sets[r].iter().any(|k| ring_bond_sets[s].contains(k));
                if !fused || (aromatic_rings[r] && aromatic_rings[s]) {
                    continue;
                }
                let mut union: Vec<usize> = rings[r].iter().chain(&rings[s]).copied().collect();
                union.sort_unstable();
                union.dedup();
                if huckel(&mut union.iter()) {
                    envelopes.push((r, s));
                }
            }
        }
        let mut mark = |r: usize| {
            rings[r].iter().for_each(|&a| self.aromatic[a] = true);
            ring_bond_sets[r].iter().for_each(|&k| self.bonds[k].aromatic = true);
        };
        (0..rings.len()).filter(|&r| aromatic_rings[r]).for_each(&mut mark);
        for (r, s) in envelopes {
            mark(r);
            mark(s);
        }
    }

    /// π electrons each atom can donate to a ring, `None` for atoms that cannot be aromatic.
    fn pi_electrons(&self, adj: &[Vec<(usize, usize)>], ring_bonds: &[bool]) -> Vec<Option<u8>> {
        let valences = self.total_valences();
        (0..self.len())
            .map(|a| {
                let z = self.numbers[a];
                if adj[a].len() + usize::from(self.implicit_hydrogens[a]) > 3 || z == 1 {
                    return None;
                }
                let multiple: Vec<(usize, usize)> =
                    adj[a].iter().copied().filter(|&(_, k)| self.bonds[k].order > 1).collect();
                match multiple[..] {
                    [] if valence::lone_pairs(z, self.charges[a], valences[a]) > 0 => Some(2),
                    [] => Some(0),
                    [(_, k)] if self.bonds[k].order == 2 && ring_bonds[k] => Some(1),
                    [(o, k)] if self.bonds[k].order == 2 && self.numbers[o] > z => Some(0),
                    _ => None,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::smiles;

    fn aromatic_atoms(smiles: &str) -> Vec<bool> {
        let mut g = smiles::parse(smiles).unwrap();
        g.perceive_aromaticity();
        g.aromatic
    }

    #[test]
    fn huckel_rule_on_common_rings() {
        assert!(aromatic_atoms("C1=CC=CC=C1").iter().all(|&a| a));
        assert!(aromatic_atoms("c1cc[nH]c1").iter().all(|&a| a));
        assert!(aromatic_atoms("c1ccoc1").iter().all(|&a| a));
        assert_eq!(aromatic_atoms("O=c1cc[nH]cc1"), [false, true, true, true, true, true, true]); // 4-pyridone
        assert!(!aromatic_atoms("C1=CCC=C1").iter().any(|&a| a)); // cyclopentadiene
        assert!(!aromatic_atoms("C1=CC=CC=CC=C1").iter().any(|&a| a)); // cyclooctatetraene
        assert!(!aromatic_atoms("C=C1C=CNC=C1").iter().any(|&a| a)); // exocyclic C=C
        assert!(!aromatic_atoms("O=C1C=CC(=O)C=C1").iter().any(|&a| a)); // quinone
        assert_eq!(aromatic_atoms("Cc1ccccc1").iter().filter(|&&a| a).count(), 6);
        assert!(aromatic_atoms("c1ccc2cccc2cc1").iter().all(|&a| a)); // azulene
    }
}
