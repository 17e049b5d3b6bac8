//! From parsed SMILES to a Kekulé [`MolGraph`]: orders for aromatic bonds and implicit hydrogens.

use super::parser::Parsed;
use crate::mol::{solve_increments, valence_of, MolGraph};

/// Kekulises the aromatic bonds of `parsed` and adds implicit hydrogens (see the module docs of
/// [`crate::smiles`]); the error is a message for the whole SMILES.
pub(super) fn to_graph(parsed: &Parsed) -> Result<MolGraph, String> {
    let atoms = &parsed.atoms;
    let n = atoms.len();
    let mut fixed = vec![0u8; n];
    let mut aromatic_bonds = Vec::new();
    for (k, b) in parsed.bonds.iter().enumerate() {
        match b.order {
            Some(order) => b.atoms.iter().for_each(|&a| fixed[a] = fixed[a].saturating_add(order)),
            None => aromatic_bonds.push(k),
        }
    }
    let mut base = fixed.clone();
    for &k in &aromatic_bonds {
        parsed.bonds[k].atoms.iter().for_each(|&a| base[a] = base[a].saturating_add(1));
    }
    let valence = |a: usize| {
        valence_of(atoms[a].z, atoms[a].charge)
            .ok_or_else(|| format!("atom {} (Z = {}) cannot have charge {}", a + 1, atoms[a].z, atoms[a].charge))
    };
    // Aromatic atoms with a free valence need exactly one double bond among their aromatic bonds.
    let mut needs = vec![0u8; n];
    for &k in &aromatic_bonds {
        for a in parsed.bonds[k].atoms {
            let used = base[a].saturating_add(atoms[a].hydrogens.unwrap_or(0));
            needs[a] = u8::from(valence(a)? > used);
        }
    }
    let pairs: Vec<[usize; 2]> = aromatic_bonds.iter().map(|&k| parsed.bonds[k].atoms).collect();
    let mut increments = None;
    solve_increments(&needs, &pairs, &vec![1; pairs.len()], &mut |inc| {
        increments = Some(inc.to_vec());
        false
    });
    let increments = increments.ok_or("cannot kekulize the aromatic atoms (is an [nH] missing?)")?;
    let mut orders: Vec<u8> = parsed.bonds.iter().map(|b| b.order.unwrap_or(1)).collect();
    for (&k, inc) in aromatic_bonds.iter().zip(increments) {
        orders[k] += inc;
    }
    let bonds: Vec<(usize, usize, u8)> =
        parsed.bonds.iter().zip(&orders).map(|(b, &o)| (b.atoms[0], b.atoms[1], o)).collect();
    let mut graph = MolGraph::new(atoms.iter().map(|a| a.z).collect(), &bonds).map_err(|e| e.to_string())?;
    let total = graph.total_valences();
    for (a, atom) in atoms.iter().enumerate() {
        graph.charges[a] = atom.charge;
        graph.implicit_hydrogens[a] = match atom.hydrogens {
            Some(h) => h,
            None => {
                let allowed: &[u8] = if atom.z == 7 { &[3, 5] } else { &[valence(a)?] };
                let v = allowed.iter().find(|&&v| v >= total[a]).ok_or_else(|| {
                    format!("atom {} has {} bonds, above its valence {}", a + 1, total[a], allowed[allowed.len() - 1])
                })?;
                v - total[a]
            }
        };
    }
    separate_nitro_charges(&mut graph);
    Ok(graph)
}

/// Rewrites pentavalent N=O (as in `CN(=O)=O`) as `[N+][O-]`, RDKit's clean-up during
/// sanitisation, so that nitro groups have one representation.
fn separate_nitro_charges(graph: &mut MolGraph) {
    let total = graph.total_valences();
    for (n, &valence) in total.iter().enumerate() {
        if graph.numbers[n] != 7 || graph.charges[n] != 0 || valence != 5 {
            continue;
        }
        let oxo = graph.bonds.iter().position(|b| {
            b.order == 2 && b.atoms.contains(&n) && graph.numbers[b.other(n)] == 8 && graph.charges[b.other(n)] == 0
        });
        if let Some(k) = oxo {
            let o = graph.bonds[k].other(n);
            graph.bonds[k].order = 1;
            graph.charges[n] = 1;
            graph.charges[o] = -1;
        }
    }
}
