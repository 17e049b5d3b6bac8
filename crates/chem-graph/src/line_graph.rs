//! Pairs of edges that meet at a node, with the angle between them (the triplets of angular
//! message passing: DimeNet, GemNet, ALIGNN's line graph, …).
//!
//! For every node i and every ordered pair `(a, b)`, `a != b`, of **in-edges** of i (edges whose
//! target is i), [`line_graph`] outputs `(edge_a = a, edge_b = b, angle)`. In the crate's convention
//! (see [`crate::graph`]) `vector[e] = r_source + S·L − r_target` points from the target i to the
//! (image of the) source, so the angle is the one at node i between its two neighbours.
//!
//! Two in-edges with the same source atom but different shifts are different periodic images and
//! therefore a genuine pair; they are kept. Only `a == b` is excluded.
//!
//! # DimeNet-style triplets
//! DimeNet updates the message on edge j → i from the messages on edges k → j, k ≠ i, using the
//! angle ∠kji at j. Take the pairs at node j: `a` = the edge k → j and `b` = an edge i → j; then
//! the angle between `vector[a] = r_k − r_j` and `vector[b] = r_i − r_j` is ∠kji, and the edge j → i
//! that receives the message is the reverse of `b`, `reverse_edges(edges)?[b]`. The exclusion
//! `a != b` is exactly DimeNet's "k ≠ i" (with periodic images: not the same atom *and* image).

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::graph::Edges;
use crate::vec3::{cross, dot, norm};

/// Pairs of edges sharing a target node, in structure-of-arrays form (all vectors equally long).
///
/// Order: grouped by the shared node in increasing order; for one node, pairs `(a, b)` run over
/// its in-edges `a` in increasing edge index, and for each `a` over `b` in increasing edge index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Triplets {
    /// First edge `a` of each pair (an index into the [`Edges`]).
    pub edge_a: Vec<u32>,
    /// Second edge `b` of each pair; `target[a] == target[b]` and `a != b`.
    pub edge_b: Vec<u32>,
    /// Angle between `vector[a]` and `vector[b]` in radians, in `[0, π]`, computed as
    /// `atan2(|a×b|, a·b)` (accurate near 0 and π). 0 when either vector is zero (self-loops).
    pub angle: Vec<f64>,
    /// `a·b / (|a||b|)` clamped to `[−1, 1]`; 1 when either vector is zero.
    pub cos_angle: Vec<f64>,
}

impl Triplets {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.edge_a.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.edge_a.is_empty()
    }

    fn with_capacity(n: usize) -> Self {
        Triplets {
            edge_a: Vec::with_capacity(n),
            edge_b: Vec::with_capacity(n),
            angle: Vec::with_capacity(n),
            cos_angle: Vec::with_capacity(n),
        }
    }

    fn append(&mut self, mut other: Triplets) {
        self.edge_a.append(&mut other.edge_a);
        self.edge_b.append(&mut other.edge_b);
        self.angle.append(&mut other.angle);
        self.cos_angle.append(&mut other.cos_angle);
    }
}

/// The in-edges grouped by target: group `g` is `incoming[start[g]..start[g + 1]]`, groups in
/// increasing target order, edges in increasing index within a group. Dense node indices (the usual
/// case) are counted; sparse ones (more nodes than twice the edges) are sorted instead, so that a
/// stray huge index costs no per-node memory.
fn group_by_target(targets: &[u32]) -> (Vec<usize>, Vec<u32>) {
    let e = targets.len();
    let n = targets.iter().map(|&t| t as usize + 1).max().unwrap_or(0);
    if n > 2 * e + 1 {
        let mut incoming: Vec<u32> = (0..e as u32).collect();
        incoming.sort_by_key(|&k| targets[k as usize]);
        let mut start = vec![0];
        start.extend((1..e).filter(|&k| targets[incoming[k] as usize] != targets[incoming[k - 1] as usize]));
        start.push(e);
        return (start, incoming);
    }
    let mut start = vec![0usize; n + 1];
    for &t in targets {
        start[t as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut incoming = vec![0u32; e];
    for (k, &t) in targets.iter().enumerate() {
        incoming[fill[t as usize]] = k as u32;
        fill[t as usize] += 1;
    }
    (start, incoming)
}

/// Above this many pairs the work is split over threads.
const PARALLEL_MIN_PAIRS: usize = 1 << 16;

/// All ordered pairs of distinct in-edges of every node, with the angle between their vectors
/// (see the module docs). Edges may come in any order. The number of pairs is
/// `Σ_i deg_in(i)·(deg_in(i) − 1)`.
///
/// Errors: edge arrays of different lengths, more than `u32::MAX` edges.
pub fn line_graph(edges: &Edges) -> Result<Triplets> {
    edges.check_lengths().map_err(|e| Error::invalid(format!("line graph: {e}")))?;
    let e = edges.len();
    if u32::try_from(e).is_err() {
        return Err(Error::invalid("line graph: more than u32::MAX edges"));
    }
    let (start, incoming) = group_by_target(&edges.target);
    let n = start.len() - 1;
    let total: usize = start.windows(2).map(|w| (w[1] - w[0]) * (w[1] - w[0]).saturating_sub(1)).sum();

    let run = |nodes: std::ops::Range<usize>| {
        let count =
            nodes.clone().map(|i| (start[i + 1] - start[i]) * (start[i + 1] - start[i]).saturating_sub(1)).sum();
        let mut out = Triplets::with_capacity(count);
        for i in nodes {
            let inc = &incoming[start[i]..start[i + 1]];
            for &a in inc {
                let va = &edges.vector[a as usize];
                for &b in inc {
                    if a == b {
                        continue;
                    }
                    let (angle, cos) = angle_between(va, &edges.vector[b as usize]);
                    out.edge_a.push(a);
                    out.edge_b.push(b);
                    out.angle.push(angle);
                    out.cos_angle.push(cos);
                }
            }
        }
        out
    };
    if total < PARALLEL_MIN_PAIRS {
        return Ok(run(0..n));
    }
    // Split the nodes into chunks of roughly equal numbers of pairs.
    let per_chunk = (total / (rayon::current_num_threads() * 8)).max(PARALLEL_MIN_PAIRS / 4);
    let mut ranges = Vec::new();
    let (mut first, mut acc) = (0, 0);
    for i in 0..n {
        let d = start[i + 1] - start[i];
        acc += d * d.saturating_sub(1);
        if acc >= per_chunk {
            ranges.push(first..i + 1);
            (first, acc) = (i + 1, 0);
        }
    }
    ranges.push(first..n);
    let parts: Vec<Triplets> = ranges.into_par_iter().map(run).collect();
    let mut out = Triplets::with_capacity(total);
    for p in parts {
        out.append(p);
    }
    Ok(out)
}

/// The pairs `(edge_a[k], edge_b[k])` given by a caller (e.g. read from a file), with their angles
/// computed from `edges` as in [`line_graph`].
///
/// Errors: arrays of different lengths, an edge index out of range, an edge paired with itself.
pub fn line_graph_from_pairs(edges: &Edges, edge_a: Vec<u32>, edge_b: Vec<u32>) -> Result<Triplets> {
    edges.check_lengths().map_err(|e| Error::invalid(format!("line graph: {e}")))?;
    if edge_a.len() != edge_b.len() {
        return Err(Error::invalid(format!("line graph: {} first and {} second edges", edge_a.len(), edge_b.len())));
    }
    let e = edges.len();
    let mut out = Triplets::with_capacity(edge_a.len());
    for (k, (&a, &b)) in edge_a.iter().zip(&edge_b).enumerate() {
        if a as usize >= e || b as usize >= e {
            return Err(Error::invalid(format!("line graph: pair {k} ({a}, {b}) refers to an edge >= {e}")));
        }
        if a == b {
            return Err(Error::invalid(format!("line graph: pair {k} pairs edge {a} with itself")));
        }
        let (angle, cos) = angle_between(&edges.vector[a as usize], &edges.vector[b as usize]);
        out.edge_a.push(a);
        out.edge_b.push(b);
        out.angle.push(angle);
        out.cos_angle.push(cos);
    }
    Ok(out)
}

/// For each edge j → i with shift S, the index of its reverse i → j with shift −S (in a radius
/// graph without a neighbour cap every edge has one). Useful for DimeNet-style triplets (see the
/// module docs). Errors when some edge has no reverse or the arrays have different lengths.
/// If an edge occurs several times, any of the copies may be returned.
pub fn reverse_edges(edges: &Edges) -> Result<Vec<u32>> {
    edges.check_lengths().map_err(|e| Error::invalid(format!("reverse edges: {e}")))?;
    let e = edges.len();
    if u32::try_from(e).is_err() {
        return Err(Error::invalid("reverse edges: more than u32::MAX edges"));
    }
    let key = |k: usize| (edges.source[k], edges.target[k], edges.shift[k]);
    let mut order: Vec<u32> = (0..e as u32).collect();
    order.sort_unstable_by_key(|&k| key(k as usize));
    (0..e)
        .map(|k| {
            let s = edges.shift[k];
            let want = (edges.target[k], edges.source[k], [-s[0], -s[1], -s[2]]);
            order.binary_search_by(|&m| key(m as usize).cmp(&want)).map(|pos| order[pos]).map_err(|_| {
                Error::invalid(format!(
                    "reverse edges: edge {k} ({} -> {}, shift {s:?}) has no reverse",
                    edges.source[k], edges.target[k]
                ))
            })
        })
        .collect()
}

/// `(angle, cos)` between two vectors; `(0, 1)` when either is zero.
fn angle_between(a: &[f64; 3], b: &[f64; 3]) -> (f64, f64) {
    let d = dot(a, b);
    let cross = norm(&cross(a, b));
    let norms = norm(a) * norm(b);
    if norms == 0.0 {
        return (0.0, 1.0);
    }
    (cross.atan2(d), (d / norms).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_node_indices_group_like_dense_ones() {
        let mut edges = Edges::default();
        for (s, t) in [(0, u32::MAX - 1), (1, 5), (2, u32::MAX - 1), (3, 5), (4, 5)] {
            edges.push(s, t, [0; 3], [s as f64 + 1.0, 1.0, 0.0], 1.0);
        }
        let t = line_graph(&edges).unwrap();
        // Node 5 has 3 in-edges (6 pairs) and comes first; node u32::MAX - 1 has 2 (2 pairs).
        assert_eq!(t.edge_a, vec![1, 1, 3, 3, 4, 4, 0, 2]);
        assert_eq!(t.edge_b, vec![3, 4, 1, 4, 1, 3, 2, 0]);
    }
}
