//! Whether two chemical graphs describe the same molecule: labelled graph isomorphism over
//! heavy atoms, checked from the coarsest labels to the finest to name the first difference.

use super::{BondType, MolGraph};
use crate::error::Result;

/// The coarsest difference between two chemical graphs, or [`Comparison::Identical`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Comparison {
    /// Isomorphic with elements, hydrogen counts, formal charges and bond types as labels.
    Identical,
    /// The heavy atoms differ (count or elements).
    DifferentAtoms,
    /// Same heavy atoms, different skeleton (which heavy atoms are bonded).
    DifferentConnectivity,
    /// Same skeleton, hydrogens on different atoms (e.g. tautomers).
    DifferentHydrogens,
    /// Same skeleton and hydrogens, formal charges (and so bond orders) placed differently:
    /// another resonance structure of the same molecule, e.g. a zwitterion and its neutral form.
    DifferentCharges,
    /// Everything agrees except bond types (orders or aromaticity).
    DifferentBonds,
}

/// Compares `a` and `b` over heavy atoms (hydrogen atoms are folded into hydrogen counts with
/// [`MolGraph::without_hydrogens`]). Aromaticity is compared as flagged: graphs from
/// [`super::perceive`] and [`crate::smiles::parse`] both carry [`MolGraph::perceive_aromaticity`]'s
/// flags, so a Kekulé SMILES and an aromatic one of the same molecule compare identical.
/// Fails when either graph is inconsistent ([`MolGraph::validate`]).
pub fn compare(a: &MolGraph, b: &MolGraph) -> Result<Comparison> {
    a.validate()?;
    b.validate()?;
    let (a, _) = a.without_hydrogens();
    let (b, _) = b.without_hydrogens();
    let mut za = a.numbers.clone();
    let mut zb = b.numbers.clone();
    za.sort_unstable();
    zb.sort_unstable();
    if za != zb {
        return Ok(Comparison::DifferentAtoms);
    }
    let (ha, hb) = (a.hydrogen_count(), b.hydrogen_count());
    let levels: [(Comparison, &Labeller, bool); 4] = [
        (Comparison::DifferentConnectivity, &|g, _, i| (g.numbers[i], 0, 0), false),
        (Comparison::DifferentHydrogens, &|g, h, i| (g.numbers[i], h[i], 0), false),
        (Comparison::DifferentCharges, &|g, h, i| (g.numbers[i], h[i], g.charges[i]), false),
        (Comparison::DifferentBonds, &|g, h, i| (g.numbers[i], h[i], g.charges[i]), true),
    ];
    for (failure, label, typed) in levels {
        let la: Vec<_> = (0..a.len()).map(|i| label(&a, &ha, i)).collect();
        let lb: Vec<_> = (0..b.len()).map(|i| label(&b, &hb, i)).collect();
        if !isomorphic(&a, &la, &b, &lb, typed) {
            return Ok(failure);
        }
    }
    Ok(Comparison::Identical)
}

/// Atom label: element, hydrogens, charge (zeros where a level ignores them).
type Labeller = dyn Fn(&MolGraph, &[u8], usize) -> (u8, u8, i8);

/// Whether a's atom may map to b's candidate, given the mapping of the atoms visited before.
type Fits<'a> = dyn Fn(usize, usize, &[usize], usize) -> bool + 'a;

/// Bond labels as a dense matrix: `None` for no bond; the type when `typed`, else `Single`.
fn matrix(g: &MolGraph, typed: bool) -> Vec<Vec<Option<BondType>>> {
    let mut m = vec![vec![None; g.len()]; g.len()];
    for b in &g.bonds {
        let t = if typed { b.bond_type() } else { BondType::Single };
        m[b.atoms[0]][b.atoms[1]] = Some(t);
        m[b.atoms[1]][b.atoms[0]] = Some(t);
    }
    m
}

/// Backtracking isomorphism test with node labels `la`/`lb` and (optionally typed) bonds.
fn isomorphic<L: PartialEq>(a: &MolGraph, la: &[L], b: &MolGraph, lb: &[L], typed: bool) -> bool {
    if a.len() != b.len() || a.bonds.len() != b.bonds.len() {
        return false;
    }
    let (ma, mb) = (matrix(a, typed), matrix(b, typed));
    let degree = |m: &[Vec<Option<BondType>>], i: usize| m[i].iter().filter(|x| x.is_some()).count();
    // Visit a's atoms so that each one (after the first of its component) has a mapped neighbour.
    let mut order = Vec::with_capacity(a.len());
    let mut placed = vec![false; a.len()];
    for start in 0..a.len() {
        if placed[start] {
            continue;
        }
        placed[start] = true;
        order.push(start);
        let mut k = order.len() - 1;
        while k < order.len() {
            let u = order[k];
            for v in 0..a.len() {
                if ma[u][v].is_some() && !placed[v] {
                    placed[v] = true;
                    order.push(v);
                }
            }
            k += 1;
        }
    }
    let mut map = vec![usize::MAX; a.len()];
    let mut used = vec![false; b.len()];
    let fits = |i: usize, c: usize, map: &[usize], depth: usize| {
        la[i] == lb[c] && degree(&ma, i) == degree(&mb, c) && order[..depth].iter().all(|&p| ma[i][p] == mb[c][map[p]])
    };
    fn extend(depth: usize, order: &[usize], map: &mut [usize], used: &mut [bool], fits: &Fits) -> bool {
        let Some(&i) = order.get(depth) else { return true };
        for c in 0..used.len() {
            if !used[c] && fits(i, c, map, depth) {
                map[i] = c;
                used[c] = true;
                if extend(depth + 1, order, map, used, fits) {
                    return true;
                }
                used[c] = false;
            }
        }
        false
    }
    extend(0, &order, &mut map, &mut used, &fits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smiles::parse;

    fn cmp(x: &str, y: &str) -> Comparison {
        compare(&parse(x).unwrap(), &parse(y).unwrap()).unwrap()
    }

    #[test]
    fn names_the_coarsest_difference() {
        assert_eq!(cmp("OCC", "CCO"), Comparison::Identical);
        assert_eq!(cmp("c1ccccc1O", "OC1=CC=CC=C1"), Comparison::Identical);
        assert_eq!(cmp("CCO", "COC"), Comparison::DifferentConnectivity);
        assert_eq!(cmp("CCO", "CCN"), Comparison::DifferentAtoms);
        assert_eq!(cmp("O=C1NC=CC=C1", "OC1=NC=CC=C1"), Comparison::DifferentHydrogens);
        assert_eq!(cmp("C=CC=O", "C=CC=O"), Comparison::Identical);
        assert_eq!(cmp("[NH3+]CC([O-])=O", "NCC(O)=O"), Comparison::DifferentHydrogens);
        assert_eq!(cmp("C[N+]#[C-]", "CN=C"), Comparison::DifferentHydrogens);
        assert_eq!(cmp("C[N+](=O)[O-]", "C[N+]([O-])=O"), Comparison::Identical);
        assert_eq!(cmp("C=C1CC1", "CC1=CC1"), Comparison::DifferentHydrogens);
        assert_eq!(cmp("C1=CC=C1", "C1=CC=C1"), Comparison::Identical);
    }

    #[test]
    fn bond_orders_alone_can_differ() {
        let a = MolGraph::new(vec![6, 6, 6], &[(0, 1, 2), (1, 2, 1)]).unwrap();
        let b = MolGraph::new(vec![6, 6, 6], &[(0, 1, 1), (1, 2, 1)]).unwrap();
        assert_eq!(compare(&a, &b).unwrap(), Comparison::DifferentBonds);
        assert_eq!(compare(&a, &a).unwrap(), Comparison::Identical);
        let mut broken = a.clone();
        broken.charges.pop();
        assert!(compare(&a, &broken).is_err());
    }
}
