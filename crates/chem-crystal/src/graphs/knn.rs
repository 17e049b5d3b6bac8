//! k-nearest-neighbour graphs that keep ties (kgcnn's `add_knn_bonds` with a tolerance).

use chem_graph::neighbors::{knn_graph, radius_graph, RadiusOptions};
use chem_graph::{Edges, Structure};

use crate::error::{Error, Result};

/// The k nearest images of every target atom plus every further image whose distance is at most
/// `d_k + tolerance`, where `d_k` is the target's k-th smallest neighbour distance: atoms in the
/// same shell as the k-th neighbour are all kept instead of being cut by an arbitrary tie-break.
/// No self-loops; an atom's own periodic images count as neighbours. A molecule with fewer than k
/// other atoms keeps all of them. (kgcnn's `tolerance=None`, exactly k neighbours with an arbitrary
/// tie-break, is `chem_graph::knn_graph`.) Unlike kgcnn, distinct atoms at distance 0 are not
/// dropped (chem-graph's rule: only the zero-shift self-edge is a self-loop).
///
/// Edges follow chem-graph's convention and order (grouped by target, then sorted by
/// `(source, shift)`). The result is exact: [`knn_graph`] gives `d_k` for each target, then one
/// radius search reaching the largest `d_k + tolerance` collects the candidates, and each target
/// keeps those within its own `d_k + tolerance`. Both searches compute distances with the same
/// expression, so the k nearest are always among the kept edges.
///
/// Errors: `k == 0`, a tolerance that is negative or not finite, and the errors of the searches.
pub fn knn_graph_with_ties(structure: &Structure, k: usize, tolerance: f64) -> Result<Edges> {
    if k == 0 || !(tolerance.is_finite() && tolerance >= 0.0) {
        return Err(Error::invalid(format!(
            "k-NN graph with ties: k must be at least 1 and the tolerance finite and non-negative, got k = {k}, \
             tolerance = {tolerance}"
        )));
    }
    let nearest = knn_graph(structure, k, false)?;
    let mut reach: Vec<Option<f64>> = vec![None; structure.len()];
    for (&t, &d) in nearest.target.iter().zip(&nearest.distance) {
        let r = &mut reach[t as usize];
        *r = Some(r.map_or(d, |x: f64| x.max(d)));
    }
    let reach: Vec<Option<f64>> = reach.into_iter().map(|r| r.map(|d| d + tolerance)).collect();
    let Some(largest) = reach.iter().flatten().copied().reduce(f64::max) else {
        return Ok(nearest);
    };
    // The radius search is strict (`distance < cutoff`); the next float up includes `largest`.
    let cutoff = next_up(largest.max(f64::MIN_POSITIVE));
    let all = radius_graph(structure, &RadiusOptions::new(cutoff))?;
    let mut edges = Edges::default();
    for e in 0..all.len() {
        if reach[all.target[e] as usize].is_some_and(|r| all.distance[e] <= r) {
            edges.push(all.source[e], all.target[e], all.shift[e], all.vector[e], all.distance[e]);
        }
    }
    Ok(edges)
}

/// The smallest float above the positive finite `x` (`f64::next_up` needs Rust 1.86).
fn next_up(x: f64) -> f64 {
    f64::from_bits(x.to_bits() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_cubic_shells_are_kept_whole() {
        let a = 3.0;
        let s = Structure::periodic(
            vec![84],
            vec![[0.1, 0.2, 0.3]],
            [[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]],
            [true; 3],
        )
        .unwrap();
        // Shells: 6 at a, 12 at a√2, 8 at a√3.
        for (k, want) in [(1, 6), (6, 6), (7, 18), (18, 18), (19, 26)] {
            let e = knn_graph_with_ties(&s, k, 1e-9).unwrap();
            assert_eq!(e.len(), want, "k = {k}");
        }
        let e = knn_graph_with_ties(&s, 7, 0.0).unwrap();
        assert_eq!(e.len(), 18, "exact ties are kept with a zero tolerance");
        assert!(knn_graph_with_ties(&s, 0, 1e-9).is_err());
        assert!(knn_graph_with_ties(&s, 3, -1.0).is_err());
        assert!(knn_graph_with_ties(&s, 3, f64::NAN).is_err());
    }

    #[test]
    fn molecules_and_empty_structures() {
        let m = Structure::molecule(vec![6, 1, 1], vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).unwrap();
        let e = knn_graph_with_ties(&m, 1, 1e-9).unwrap();
        // Atom 0 has two neighbours at 1 Å (a tie); atoms 1 and 2 have one each.
        assert_eq!(e.in_degrees(3), vec![2, 1, 1]);
        assert_eq!(knn_graph_with_ties(&m, 5, 0.0).unwrap().len(), 6);
        let single = Structure::molecule(vec![1], vec![[0.0; 3]]).unwrap();
        assert!(knn_graph_with_ties(&single, 3, 0.0).unwrap().is_empty());
        assert!(knn_graph_with_ties(&Structure::default(), 3, 0.0).unwrap().is_empty());
    }
}
