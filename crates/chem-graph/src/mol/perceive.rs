//! Bond perception from 3D geometry: connectivity from covalent radii, then bond orders and
//! formal charges that give every atom its standard valence, then aromaticity.

use super::{solve, valence, Bond, MolGraph};
use crate::element;
use crate::error::{Error, Result};
use crate::structure::Structure;
use crate::vec3::{norm, sub};

/// Options of [`perceive`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PerceiveOptions {
    /// Two atoms are bonded when closer than the sum of their covalent radii (Cordero 2008) plus
    /// this tolerance, in Å.
    pub tolerance: f64,
    /// Most atoms that may carry a formal charge; charges come in pairs that sum to zero.
    pub max_charged_atoms: usize,
}

impl Default for PerceiveOptions {
    /// A tolerance of 0.45 Å and up to 4 charged atoms.
    fn default() -> Self {
        PerceiveOptions { tolerance: 0.45, max_charged_atoms: 4 }
    }
}

/// Solutions examined per charge assignment before the best one so far is kept.
const MAX_SOLUTIONS: usize = 10_000;

/// The chemical graph of a neutral molecule from its geometry, with every atom (hydrogens
/// included) in the order of `structure`.
///
/// 1. **Connectivity**: pairs closer than `r_i + r_j + tolerance` are candidate bonds; they are
///    accepted shortest first (relative to `r_i + r_j`) while both atoms have room (H and F: 1
///    bond, O: 3, B, C and N: 4).
/// 2. **Bond orders**: integer orders such that every atom reaches its valence (H 1, B 3, C 4,
///    N 3, O 2, F 1), found by exhaustive search. When no neutral assignment exists, formal
///    charges summing to zero are tried, fewest charged atoms first (N⁺ 4, O⁻ 1, C⁻ 3, N⁻ 2,
///    O⁺ 3: ammonium carboxylates, isocyanides, azides). Among several assignments the one
///    whose bond lengths best fit `r_i + r_j − 0.71·log₁₀(order)` (Pauling) is chosen.
/// 3. **Aromaticity** with [`MolGraph::perceive_aromaticity`].
///
/// Fails for periodic structures, unsupported elements, and geometries for which no valence
/// assignment exists (e.g. broken or too long bonds).
pub fn perceive(structure: &Structure, options: &PerceiveOptions) -> Result<MolGraph> {
    let who = structure.label();
    if structure.is_periodic() {
        return Err(Error::invalid(format!("{who}: bond perception needs a molecule, not a periodic structure")));
    }
    if structure.positions.len() != structure.numbers.len() {
        return Err(Error::invalid(format!("{who}: atomic numbers and positions differ in length")));
    }
    MolGraph::check_elements(&structure.numbers, &who)?;
    let bonds = connectivity(structure, options.tolerance);
    let mut graph =
        MolGraph::new(structure.numbers.clone(), &bonds.iter().map(|&(i, j)| (i, j, 1)).collect::<Vec<_>>())?;
    let (charges, increments) = assign_orders(structure, &graph, options.max_charged_atoms).ok_or_else(|| {
        Error::invalid(format!(
            "{who}: no bond orders and formal charges give every atom its valence for the {} bonds found",
            bonds.len()
        ))
    })?;
    graph.charges = charges;
    for (bond, inc) in graph.bonds.iter_mut().zip(increments) {
        bond.order += inc;
    }
    graph.perceive_aromaticity();
    Ok(graph)
}

/// Most bonds an atom may have.
fn max_degree(z: u8) -> usize {
    match z {
        1 | 9 => 1,
        8 => 3,
        _ => 4,
    }
}

fn radius(z: u8) -> f64 {
    element::by_number(z).map_or(0.0, |e| e.covalent_radius)
}

/// Bonded pairs `(i, j)`, `i < j`, accepted shortest first while both atoms have room.
fn connectivity(s: &Structure, tolerance: f64) -> Vec<(usize, usize)> {
    let n = s.len();
    let mut candidates = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            let reference = radius(s.numbers[i]) + radius(s.numbers[j]);
            let d = norm(&sub(&s.positions[j], &s.positions[i]));
            if d < reference + tolerance {
                candidates.push((d / reference, i, j));
            }
        }
    }
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut degree = vec![0; n];
    let mut bonds = Vec::new();
    for (_, i, j) in candidates {
        if degree[i] < max_degree(s.numbers[i]) && degree[j] < max_degree(s.numbers[j]) {
            degree[i] += 1;
            degree[j] += 1;
            bonds.push((i, j));
        }
    }
    bonds.sort_unstable();
    bonds
}

/// Formal charges and per-bond order increments, fewest charged atoms first, then best fit to
/// the bond lengths; `None` when no assignment exists.
fn assign_orders(s: &Structure, graph: &MolGraph, max_charged: usize) -> Option<(Vec<i8>, Vec<u8>)> {
    let n = graph.len();
    let degree: Vec<usize> = graph.adjacency().iter().map(Vec::len).collect();
    let chargeable: Vec<usize> = (0..n).filter(|&a| !valence::charge_options(graph.numbers[a]).is_empty()).collect();
    for k in 0..=max_charged.min(chargeable.len()) {
        let mut best: Option<(f64, Vec<i8>, Vec<u8>)> = None;
        for_each_charge_set(&chargeable, &graph.numbers, k, &mut |charges: &[i8]| {
            if let Some((score, inc)) = best_orders(s, graph, &degree, charges) {
                if best.as_ref().is_none_or(|b| score < b.0) {
                    best = Some((score, charges.to_vec(), inc));
                }
            }
        });
        if let Some((_, charges, inc)) = best {
            return Some((charges, inc));
        }
    }
    None
}

/// Calls `f` with every assignment of nonzero charges to exactly `k` of the `chargeable` atoms
/// whose charges sum to zero.
fn for_each_charge_set(chargeable: &[usize], numbers: &[u8], k: usize, f: &mut dyn FnMut(&[i8])) {
    fn rec(
        start: usize,
        left: usize,
        chargeable: &[usize],
        numbers: &[u8],
        charges: &mut [i8],
        f: &mut dyn FnMut(&[i8]),
    ) {
        if left == 0 {
            if charges.iter().map(|&q| i32::from(q)).sum::<i32>() == 0 {
                f(charges);
            }
            return;
        }
        for c in start..chargeable.len() {
            let a = chargeable[c];
            for &q in valence::charge_options(numbers[a]) {
                charges[a] = q;
                rec(c + 1, left - 1, chargeable, numbers, charges, f);
            }
            charges[a] = 0;
        }
    }
    rec(0, k, chargeable, numbers, &mut vec![0; numbers.len()], f);
}

/// The order increments for fixed `charges` that fit the bond lengths best, with their score.
fn best_orders(s: &Structure, graph: &MolGraph, degree: &[usize], charges: &[i8]) -> Option<(f64, Vec<u8>)> {
    let mut deficit = Vec::with_capacity(graph.len());
    for a in 0..graph.len() {
        let v = usize::from(valence::valence(graph.numbers[a], charges[a])?);
        deficit.push(u8::try_from(v.checked_sub(degree[a])?).ok()?);
    }
    if deficit.iter().map(|&d| u32::from(d)).sum::<u32>() % 2 == 1 {
        return None;
    }
    let variable: Vec<usize> =
        (0..graph.bonds.len()).filter(|&k| graph.bonds[k].atoms.iter().all(|&a| deficit[a] > 0)).collect();
    let pairs: Vec<[usize; 2]> = variable.iter().map(|&k| graph.bonds[k].atoms).collect();
    let mut best: Option<(f64, Vec<u8>)> = None;
    let mut seen = 0;
    solve::distribute(&deficit, &pairs, &vec![2; pairs.len()], &mut |inc| {
        let score: f64 = variable.iter().zip(inc).map(|(&k, &i)| misfit(s, &graph.bonds[k], 1 + i)).sum();
        if best.as_ref().is_none_or(|b| score < b.0) {
            let mut all = vec![0; graph.bonds.len()];
            variable.iter().zip(inc).for_each(|(&k, &i)| all[k] = i);
            best = Some((score, all));
        }
        seen += 1;
        seen < MAX_SOLUTIONS
    });
    best
}

/// Squared difference between a bond's length and Pauling's estimate for `order`.
fn misfit(s: &Structure, bond: &Bond, order: u8) -> f64 {
    let [i, j] = bond.atoms;
    let d = norm(&sub(&s.positions[j], &s.positions[i]));
    let ideal = radius(s.numbers[i]) + radius(s.numbers[j]) - 0.71 * f64::from(order).log10();
    (d - ideal).powi(2)
}
