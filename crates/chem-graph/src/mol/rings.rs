//! The smallest set of smallest rings (SSSR): a minimum cycle basis found by Horton's
//! candidate cycles and Gaussian elimination over GF(2).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::MolGraph;

/// A candidate ring: its atoms in cyclic order and its bonds as a bit set.
struct Cycle {
    atoms: Vec<usize>,
    bonds: Vec<u64>,
}

/// The smallest set of smallest rings of `graph`: as many rings as the graph has independent
/// cycles (bonds − atoms + connected components), each as its atoms in cyclic order, smallest
/// rings first.
pub fn smallest_rings(graph: &MolGraph) -> Vec<Vec<usize>> {
    let adj = graph.adjacency();
    let needed = (graph.bonds.len() + components(&adj)).saturating_sub(graph.len());
    if needed == 0 {
        return Vec::new();
    }
    let words = graph.bonds.len().div_ceil(64);
    let mut candidates = Vec::new();
    let mut seen = BTreeSet::new();
    for root in 0..graph.len() {
        for cycle in cycles_through(root, &adj, graph, words) {
            if seen.insert(cycle.bonds.clone()) {
                candidates.push(cycle);
            }
        }
    }
    candidates.sort_by_key(|c| c.atoms.len());
    // Rows of the reduced basis by their lowest set bit; xoring with the row of a row's lowest bit
    // clears that bit and touches only higher ones, so the reduction ends.
    let mut basis: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    let mut rings = Vec::new();
    for c in candidates {
        if rings.len() == needed {
            break;
        }
        let mut row = c.bonds;
        while let Some(low) = lowest_bit(&row) {
            match basis.get(&low) {
                Some(b) => row.iter_mut().zip(b).for_each(|(r, x)| *r ^= x),
                None => {
                    basis.insert(low, row);
                    rings.push(c.atoms);
                    break;
                }
            }
        }
    }
    rings
}

/// Horton's candidates for `root`: for every bond (x, y), the shortest paths root→x and root→y
/// closed by the bond, when the two paths meet only at the root.
fn cycles_through(root: usize, adj: &[Vec<(usize, usize)>], graph: &MolGraph, words: usize) -> Vec<Cycle> {
    let mut parent: Vec<Option<(usize, usize)>> = vec![None; adj.len()];
    let mut dist = vec![usize::MAX; adj.len()];
    dist[root] = 0;
    let mut queue = VecDeque::from([root]);
    while let Some(u) = queue.pop_front() {
        for &(v, k) in &adj[u] {
            if dist[v] == usize::MAX {
                dist[v] = dist[u] + 1;
                parent[v] = Some((u, k));
                queue.push_back(v);
            }
        }
    }
    // Path from `x` up to the root, as atoms (x first, root last) and bonds.
    let path = |mut x: usize| {
        let (mut atoms, mut bonds) = (vec![x], vec![]);
        while let Some((p, k)) = parent[x] {
            atoms.push(p);
            bonds.push(k);
            x = p;
        }
        (atoms, bonds)
    };
    let mut out = Vec::new();
    let mut on_x = vec![false; adj.len()];
    for (k, b) in graph.bonds.iter().enumerate() {
        let [x, y] = b.atoms;
        if dist[x] == usize::MAX || dist[y] == usize::MAX || parent[x].map(|p| p.1) == Some(k) {
            continue;
        }
        if parent[y].map(|p| p.1) == Some(k) {
            continue;
        }
        let (px, bx) = path(x);
        let (py, by) = path(y);
        // The paths must meet only at the root (marks, not a search per atom: long chains of rings
        // made this quadratic per bond — found by fuzzing SMILES).
        px.iter().for_each(|&a| on_x[a] = true);
        let shared = py.iter().filter(|&&a| on_x[a]).count();
        px.iter().for_each(|&a| on_x[a] = false);
        if shared != 1 {
            continue;
        }
        let mut bonds = vec![0u64; words];
        for &e in bx.iter().chain(&by).chain([&k]) {
            bonds[e / 64] |= 1 << (e % 64);
        }
        let mut atoms: Vec<usize> = px.into_iter().rev().collect();
        atoms.extend(py.into_iter().take_while(|&a| a != root));
        out.push(Cycle { atoms, bonds });
    }
    out
}

/// Number of connected components.
fn components(adj: &[Vec<(usize, usize)>]) -> usize {
    let mut seen = vec![false; adj.len()];
    let mut count = 0;
    for start in 0..adj.len() {
        if seen[start] {
            continue;
        }
        count += 1;
        seen[start] = true;
        let mut stack = vec![start];
        while let Some(u) = stack.pop() {
            for &(v, _) in &adj[u] {
                if !seen[v] {
                    seen[v] = true;
                    stack.push(v);
                }
            }
        }
    }
    count
}

/// Index of the lowest set bit, if any.
fn lowest_bit(row: &[u64]) -> Option<usize> {
    row.iter().position(|&w| w != 0).map(|i| i * 64 + row[i].trailing_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_sizes(n: usize, bonds: &[(usize, usize)]) -> Vec<usize> {
        let bonds: Vec<_> = bonds.iter().map(|&(i, j)| (i, j, 1)).collect();
        smallest_rings(&MolGraph::new(vec![6; n], &bonds).unwrap()).iter().map(Vec::len).collect()
    }

    #[test]
    fn fused_and_bridged_rings() {
        // Naphthalene skeleton: two 6-rings, not the 10-ring envelope.
        let naph = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (4, 6), (6, 7), (7, 8), (8, 9), (9, 5)];
        assert_eq!(ring_sizes(10, &naph), vec![6, 6]);
        // Bicyclo[1.1.0]butane: two 3-rings.
        assert_eq!(ring_sizes(4, &[(0, 1), (1, 2), (2, 0), (0, 3), (3, 1)]), vec![3, 3]);
        // Chain plus a separate 5-ring.
        assert_eq!(ring_sizes(7, &[(0, 1), (2, 3), (3, 4), (4, 5), (5, 6), (6, 2)]), vec![5]);
        assert!(ring_sizes(3, &[(0, 1), (1, 2)]).is_empty());
    }

    #[test]
    fn ring_atoms_are_in_cyclic_order() {
        let g = MolGraph::new(vec![6; 5], &[(0, 1, 1), (1, 2, 1), (2, 3, 1), (3, 4, 1), (4, 0, 1)]).unwrap();
        let ring = &smallest_rings(&g)[0];
        for w in 0..5 {
            assert!(g.bond_between(ring[w], ring[(w + 1) % 5]).is_some(), "{ring:?}");
        }
    }
}
