//! Per-atom properties derived from a Kekulé graph: hybridisation and hydrogen-bond donor and
//! acceptor flags (the atom features of Gilmer et al. 2017, Table 1).

use super::{valence, BondType, MolGraph};

/// Orbital hybridisation of an atom, following RDKit's conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hybridization {
    /// Two σ-bonds or lone pairs (nitriles, CO₂'s carbon, isocyanides).
    Sp,
    /// Three (double bonds, aromatic atoms, lone-pair atoms in conjugation such as amide N).
    Sp2,
    /// Four.
    Sp3,
}

impl MolGraph {
    /// Sum of bond orders (Kekulé) plus implicit hydrogens of each atom.
    pub fn total_valences(&self) -> Vec<u8> {
        let mut v = self.implicit_hydrogens.clone();
        for b in &self.bonds {
            for a in b.atoms {
                v[a] = v[a].saturating_add(b.order);
            }
        }
        v
    }

    /// Hybridisation of each atom as RDKit assigns it: from the number of neighbours plus lone
    /// pairs (2 → sp, 3 → sp², 4 → sp³), where an N or O lone pair next to a double, triple or
    /// aromatic bond counts as conjugated (sp³ → sp²). Hydrogens get `None`, as in RDKit ≥ 2024.
    pub fn hybridizations(&self) -> Vec<Option<Hybridization>> {
        let adj = self.adjacency();
        let valences = self.total_valences();
        let unsaturated: Vec<bool> =
            (0..self.len()).map(|a| self.aromatic[a] || adj[a].iter().any(|&(_, k)| self.bonds[k].order > 1)).collect();
        (0..self.len())
            .map(|a| {
                let z = self.numbers[a];
                if z == 1 {
                    return None;
                }
                let lone = valence::lone_pairs(z, self.charges[a], valences[a]);
                let neighbours = adj[a].len() + usize::from(self.implicit_hydrogens[a]);
                let mut steric = neighbours + usize::from(lone);
                let conjugated =
                    unsaturated[a] || adj[a].iter().any(|&(o, k)| self.bonds[k].order == 1 && unsaturated[o]);
                if steric == 4 && lone > 0 && matches!(z, 7 | 8) && conjugated {
                    steric = 3;
                }
                match steric {
                    2 => Some(Hybridization::Sp),
                    3 => Some(Hybridization::Sp2),
                    4 => Some(Hybridization::Sp3),
                    _ => None,
                }
            })
            .collect()
    }

    /// Hydrogen-bond donors as RDKit's `BaseFeatures.fdef` defines them (family `Donor`),
    /// restricted to H, C, N and O: N–H (neutral trivalent or cationic tetravalent N), aromatic
    /// n–H, tertiary amines `N(-C)(-C)-C`, aromatic n next to an n–H or one atom further
    /// (imidazole, pyrazole), and neutral O with exactly one H (water is not a donor).
    pub fn donors(&self) -> Vec<bool> {
        let adj = self.adjacency();
        let h = self.hydrogen_count();
        let valences = self.total_valences();
        let aromatic_nh = |x: usize| self.numbers[x] == 7 && self.aromatic[x] && h[x] == 1 && self.charges[x] == 0;
        (0..self.len())
            .map(|a| {
                let (z, q, v) = (self.numbers[a], self.charges[a], valences[a]);
                match z {
                    7 if self.aromatic[a] => {
                        (h[a] == 1 && q == 0)
                            || adj[a].iter().any(|&(b, _)| {
                                aromatic_nh(b)
                                    || (self.numbers[b] == 6
                                        && self.aromatic[b]
                                        && adj[b].iter().any(|&(c, _)| c != a && aromatic_nh(c)))
                            })
                    }
                    7 => {
                        let tertiary_amine = v == 3
                            && adj[a].len() == 3
                            && adj[a].iter().all(|&(b, k)| {
                                self.numbers[b] == 6
                                    && !self.aromatic[b]
                                    && self.bonds[k].bond_type() == BondType::Single
                            });
                        (h[a] > 0 && ((q == 0 && v == 3) || (q == 1 && v == 4))) || tertiary_amine
                    }
                    8 => h[a] == 1 && q == 0,
                    _ => false,
                }
            })
            .collect()
    }

    /// Hydrogen-bond acceptors as RDKit's feature factory finds them with `BaseFeatures.fdef`
    /// (family `Acceptor`; checked against RDKit 2026.09), restricted to H, C, N, O and F:
    /// neutral aromatic n with other than three connections (pyridine-type); non-aromatic O of
    /// valence 2 with one H (hydroxyl) or none (ethers, carbonyls) unless doubly bonded to an N
    /// that has a single bond (nitroso, nitro); F on a carbon that bears no other F. In that
    /// RDKit version the file's further definitions (nitrile N, aryl amine N, O⁻, aromatic o)
    /// take no effect, so they are not acceptors here either.
    pub fn acceptors(&self) -> Vec<bool> {
        let adj = self.adjacency();
        let h = self.hydrogen_count();
        let valences = self.total_valences();
        let bond = |k: usize| self.bonds[k].bond_type();
        (0..self.len())
            .map(|a| match self.numbers[a] {
                7 => {
                    self.aromatic[a]
                        && self.charges[a] == 0
                        && adj[a].len() + usize::from(self.implicit_hydrogens[a]) != 3
                }
                8 if self.aromatic[a] || valences[a] != 2 || h[a] > 1 => false,
                8 => !adj[a].iter().any(|&(b, k)| {
                    bond(k) == BondType::Double
                        && self.numbers[b] == 7
                        && adj[b].iter().any(|&(o, l)| o != a && bond(l) == BondType::Single)
                }),
                9 => adj[a].iter().any(|&(c, _)| {
                    self.numbers[c] == 6 && !adj[c].iter().any(|&(f, _)| f != a && self.numbers[f] == 9)
                }),
                _ => false,
            })
            .collect()
    }

    /// For each bond, whether it lies in a ring of the [smallest set](super::smallest_rings).
    pub fn ring_bonds(&self) -> Vec<bool> {
        let mut in_ring = vec![false; self.bonds.len()];
        let adj = self.adjacency();
        for ring in super::smallest_rings(self) {
            for w in 0..ring.len() {
                let (a, b) = (ring[w], ring[(w + 1) % ring.len()]);
                if let Some(&(_, k)) = adj[a].iter().find(|&&(o, _)| o == b) {
                    in_ring[k] = true;
                }
            }
        }
        in_ring
    }
}
