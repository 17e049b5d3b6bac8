//! Neighbour lists and the line graph checked against brute-force references.

use std::collections::BTreeMap;

use chem_graph::line_graph::{line_graph, reverse_edges};
use chem_graph::neighbors::{knn_graph, radius_graph, radius_graph_many, RadiusOptions, BRUTE_FORCE_MAX_ATOMS};
use chem_graph::{Cell, Edges, Structure};
use proptest::prelude::*;

type Key = (u32, u32, [i32; 3]);

/// `r_j + S·L − r_i` and its length, evaluated exactly as the library documents it (only periodic
/// cell rows contribute).
fn edge_vector(s: &Structure, j: usize, i: usize, shift: [i32; 3]) -> ([f64; 3], f64) {
    let cell = s.cell.unwrap_or([[0.0; 3]; 3]);
    let mut lat = [[0.0; 3]; 3];
    for k in 0..3 {
        if s.pbc[k] {
            lat[k] = cell[k];
        }
    }
    let (rj, ri) = (s.positions[j], s.positions[i]);
    let sf = shift.map(f64::from);
    let mut v = [0.0; 3];
    for k in 0..3 {
        let t = sf[0] * lat[0][k] + sf[1] * lat[1][k] + sf[2] * lat[2][k];
        v[k] = (rj[k] + t) - ri[k];
    }
    (v, (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt())
}

fn det(m: &Cell) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn norm(a: [f64; 3]) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

/// Lattice plane spacings V/|b×c|, V/|c×a|, V/|a×b|.
fn spacings(c: &Cell) -> [f64; 3] {
    let v = det(c).abs();
    [v / norm(cross(c[1], c[2])), v / norm(cross(c[2], c[0])), v / norm(cross(c[0], c[1]))]
}

/// Fractional coordinates of `r` in `cell`, by Cramer's rule.
fn fractional(cell: &Cell, r: [f64; 3]) -> [f64; 3] {
    let d = det(cell);
    std::array::from_fn(|k| {
        let mut m = *cell;
        m[k] = r;
        // r = f·L, i.e. r^T = L^T f: replace column k of L^T, which is row k of L.
        det(&m) / d
    })
}

/// Every candidate (j, i, S, distance) with |S_k| ≤ `extra` + what the cutoff needs for this pair.
fn all_images(s: &Structure, radius: f64, extra: i32) -> Vec<(u32, u32, [i32; 3], f64)> {
    let n = s.positions.len();
    let cell = s.cell.unwrap_or([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    let periodic = s.pbc.iter().any(|&p| p);
    let d = if periodic { spacings(&cell) } else { [1.0; 3] };
    let mut out = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let mut range = [(0i32, 0i32); 3];
            if periodic {
                let (fi, fj) = (fractional(&cell, s.positions[i]), fractional(&cell, s.positions[j]));
                for k in 0..3 {
                    if s.pbc[k] {
                        let df = fj[k] - fi[k];
                        let reach = radius / d[k];
                        range[k] = ((-df - reach).floor() as i32 - extra, (-df + reach).ceil() as i32 + extra);
                    }
                }
            }
            for a in range[0].0..=range[0].1 {
                for b in range[1].0..=range[1].1 {
                    for c in range[2].0..=range[2].1 {
                        let shift = [a, b, c];
                        let (_, dist) = edge_vector(s, j, i, shift);
                        out.push((j as u32, i as u32, shift, dist));
                    }
                }
            }
        }
    }
    out
}

/// Brute-force radius graph as a map (source, target, shift) → distance.
fn brute_radius(s: &Structure, cutoff: f64, self_loops: bool) -> BTreeMap<Key, f64> {
    all_images(s, cutoff, 1)
        .into_iter()
        .filter(|&(j, i, shift, d)| d < cutoff && (self_loops || j != i || shift != [0; 3]))
        .map(|(j, i, shift, d)| ((j, i, shift), d))
        .collect()
}

fn edge_map(e: &Edges) -> BTreeMap<Key, f64> {
    (0..e.len()).map(|k| ((e.source[k], e.target[k], e.shift[k]), e.distance[k])).collect()
}

/// Checks the documented order (target, then source, then shift; strictly increasing) and the
/// internal consistency of every edge.
fn check_edges(s: &Structure, e: &Edges) {
    let n = e.len();
    assert!(e.target.len() == n && e.shift.len() == n && e.vector.len() == n && e.distance.len() == n);
    for k in 0..n {
        let (v, d) = edge_vector(s, e.source[k] as usize, e.target[k] as usize, e.shift[k]);
        for (c, &vc) in v.iter().enumerate() {
            assert!((vc - e.vector[k][c]).abs() <= 1e-12 * (1.0 + vc.abs()), "vector of edge {k}");
        }
        assert!((d - e.distance[k]).abs() <= 1e-12 * (1.0 + d), "distance of edge {k}");
        if k > 0 {
            let prev = (e.target[k - 1], e.source[k - 1], e.shift[k - 1]);
            assert!(prev < (e.target[k], e.source[k], e.shift[k]), "edges {} and {k} out of order", k - 1);
        }
        for (c, &p) in s.pbc.iter().enumerate() {
            if !p || s.cell.is_none() {
                assert_eq!(e.shift[k][c], 0, "non-zero shift along non-periodic axis {c}");
            }
        }
    }
}

fn assert_same(got: &BTreeMap<Key, f64>, want: &BTreeMap<Key, f64>) {
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(k)).take(5).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(k)).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?} ({} vs {})",
        got.len(),
        want.len()
    );
    for (k, d) in want {
        assert!((got[k] - d).abs() <= 1e-12, "distance of {k:?}: {} vs {d}", got[k]);
    }
}

fn molecule(positions: Vec<[f64; 3]>) -> Structure {
    Structure::molecule(vec![6; positions.len()], positions).unwrap()
}

// ------------------------------------------------------------------------------------------
// Strategies

fn point() -> impl Strategy<Value = [f64; 3]> {
    [-1.0..1.0f64, -1.0..1.0f64, -1.0..1.0f64]
}

/// A random molecule: `n` points in a box of side `size`.
fn cloud(n: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Structure> {
    (prop::collection::vec(point(), n), 1.0..20.0f64)
        .prop_map(|(p, size)| molecule(p.into_iter().map(|r| r.map(|x| x * size)).collect()))
}

/// A random triclinic cell with bounded skew (condition number checked), random pbc flags and
/// `n` atoms at fractional coordinates in [−0.5, 1.5) (partly outside the cell).
fn crystal(n: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Structure> {
    let diag = [1.5..5.0f64, 1.5..5.0f64, 1.5..5.0f64];
    let skew = prop::collection::vec(-1.0..1.0f64, 6);
    let atoms = prop::collection::vec([-0.5..1.5f64, -0.5..1.5f64, -0.5..1.5f64], n);
    let flips = prop::collection::vec(any::<bool>(), 3);
    (diag, skew, atoms, flips, any::<bool>())
        .prop_map(|(diag, skew, atoms, flips, rotate)| {
            let mut cell = [[diag[0], skew[0], skew[1]], [skew[2], diag[1], skew[3]], [skew[4], skew[5], diag[2]]];
            if rotate {
                // Make the cell genuinely general: no vector along an axis.
                let (c, s) = (0.6f64, 0.8f64);
                for row in &mut cell {
                    *row = [c * row[0] - s * row[1], s * row[0] + c * row[1], row[2]];
                }
            }
            let positions = atoms
                .iter()
                .map(|f| std::array::from_fn(|k| f[0] * cell[0][k] + f[1] * cell[1][k] + f[2] * cell[2][k]))
                .collect();
            let pbc = [flips[0], flips[1], flips[2]];
            Structure::periodic(vec![14; atoms.len()], positions, cell, pbc).unwrap()
        })
        .prop_filter("well-conditioned cell", |s| {
            let cell = s.cell.unwrap();
            let longest = cell.iter().map(|&r| norm(r)).fold(0.0, f64::max);
            spacings(&cell).iter().all(|&d| d > 0.3 * longest)
        })
}

fn cell_size(s: &Structure) -> f64 {
    s.cell.map_or(1.0, |c| c.iter().map(|&r| norm(r)).fold(0.0, f64::max))
}

// ------------------------------------------------------------------------------------------
// Radius graph

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn small_molecules_match_brute_force(s in cloud(0..=40), cutoff in 0.1..30.0f64, self_loops: bool) {
        let opts = RadiusOptions::new(cutoff).with_self_loops(self_loops);
        let e = radius_graph(&s, &opts).unwrap();
        check_edges(&s, &e);
        assert_same(&edge_map(&e), &brute_radius(&s, cutoff, self_loops));
    }

    #[test]
    fn crystals_match_brute_force(s in crystal(0..=10), rel_cutoff in 0.05..1.5f64, self_loops: bool) {
        let cutoff = rel_cutoff * cell_size(&s);
        let e = radius_graph(&s, &RadiusOptions::new(cutoff).with_self_loops(self_loops)).unwrap();
        check_edges(&s, &e);
        assert_same(&edge_map(&e), &brute_radius(&s, cutoff, self_loops));
    }

    #[test]
    fn edges_come_in_reverse_pairs(s in crystal(1..=8), rel_cutoff in 0.1..1.2f64) {
        let e = radius_graph(&s, &RadiusOptions::new(rel_cutoff * cell_size(&s))).unwrap();
        let map = edge_map(&e);
        for (&(j, i, sh), &d) in &map {
            let rev = map.get(&(i, j, [-sh[0], -sh[1], -sh[2]]));
            prop_assert!(rev.is_some_and(|&r| (r - d).abs() <= 1e-12), "edge {j}->{i} {sh:?} has no reverse");
        }
        let rev = reverse_edges(&e).unwrap();
        for (k, &r) in rev.iter().enumerate() {
            let r = r as usize;
            prop_assert_eq!((e.source[r], e.target[r]), (e.target[k], e.source[k]));
            prop_assert_eq!(e.shift[r], e.shift[k].map(|x| -x));
        }
    }

    #[test]
    fn permuting_atoms_permutes_edges(
        (s, order) in crystal(1..=9).prop_flat_map(|s| {
            let n = s.len();
            (Just(s), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        }),
        rel_cutoff in 0.1..1.2f64,
    ) {
        let opts = RadiusOptions::new(rel_cutoff * cell_size(&s));
        let e = radius_graph(&s, &opts).unwrap();
        let p = s.permuted(&order);
        let ep = radius_graph(&p, &opts).unwrap();
        // Atom k of `p` is atom order[k] of `s`.
        let mapped: BTreeMap<Key, f64> = edge_map(&ep)
            .into_iter()
            .map(|((j, i, sh), d)| ((order[j as usize] as u32, order[i as usize] as u32, sh), d))
            .collect();
        let orig = edge_map(&e);
        prop_assert_eq!(mapped.len(), orig.len());
        for (k, d) in &orig {
            prop_assert!(mapped.get(k).is_some_and(|m| (m - d).abs() <= 1e-12), "{k:?}");
        }
    }

    #[test]
    fn max_neighbors_keeps_the_nearest(s in crystal(1..=8), rel_cutoff in 0.2..1.2f64, cap in 0usize..12) {
        let cutoff = rel_cutoff * cell_size(&s);
        let full = radius_graph(&s, &RadiusOptions::new(cutoff)).unwrap();
        let capped = radius_graph(&s, &RadiusOptions::new(cutoff).with_max_neighbors(cap)).unwrap();
        check_edges(&s, &capped);
        prop_assert_eq!(edge_map(&capped).into_keys().collect::<Vec<_>>(), nearest_per_target(&full, cap));
    }

    #[test]
    fn knn_matches_brute_force_in_crystals(s in crystal(1..=6), k in 0usize..20, self_loops: bool) {
        let e = knn_graph(&s, k, self_loops).unwrap();
        check_edges(&s, &e);
        prop_assert_eq!(edge_map(&e).into_keys().collect::<Vec<_>>(), brute_knn(&s, k, self_loops));
    }

    #[test]
    fn knn_matches_brute_force_in_molecules(s in cloud(0..=30), k in 0usize..35, self_loops: bool) {
        let e = knn_graph(&s, k, self_loops).unwrap();
        check_edges(&s, &e);
        prop_assert_eq!(edge_map(&e).into_keys().collect::<Vec<_>>(), brute_knn(&s, k, self_loops));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Large enough for the cell-list path (and for the parallel path in the last case).
    #[test]
    fn large_molecules_match_brute_force(s in cloud(150..=400), cutoff in 0.5..8.0f64) {
        assert!(s.len() > BRUTE_FORCE_MAX_ATOMS);
        let e = radius_graph(&s, &RadiusOptions::new(cutoff)).unwrap();
        check_edges(&s, &e);
        assert_same(&edge_map(&e), &brute_radius(&s, cutoff, false));
    }

    #[test]
    fn larger_crystals_match_brute_force(s in crystal(40..=80), rel_cutoff in 0.3..1.3f64) {
        let cutoff = rel_cutoff * cell_size(&s);
        let e = radius_graph(&s, &RadiusOptions::new(cutoff)).unwrap();
        check_edges(&s, &e);
        assert_same(&edge_map(&e), &brute_radius(&s, cutoff, false));
    }

    #[test]
    fn large_knn_matches_brute_force(s in cloud(150..=250), k in 1usize..12) {
        let e = knn_graph(&s, k, false).unwrap();
        prop_assert_eq!(edge_map(&e).into_keys().collect::<Vec<_>>(), brute_knn(&s, k, false));
    }
}

/// Atoms on a grid of fractional coordinates (multiples of 1/4, including exactly 0, 1 and
/// negative values) in simple cells, with cutoffs equal to lattice distances: exact ties, atoms on
/// bin boundaries and distances exactly at the cutoff.
fn grid_crystal() -> impl Strategy<Value = (Structure, f64)> {
    let cells = prop_oneof![
        Just([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]]),
        Just([[3.0, 0.0, 0.0], [1.5, 3.0f64.sqrt() * 1.5, 0.0], [0.0, 0.0, 5.0]]),
        Just([[0.0, 2.0, 2.0], [2.0, 0.0, 2.0], [2.0, 2.0, 0.0]]),
    ];
    let atoms = prop::collection::vec([-4i32..=8, -4i32..=8, -4i32..=8], 1..=6);
    let cutoffs = prop_oneof![Just(1.0), Just(2.0), Just(8.0f64.sqrt()), Just(3.0), Just(4.0), Just(4.5), Just(6.0)];
    (cells, atoms, cutoffs, prop::collection::vec(any::<bool>(), 3)).prop_map(|(cell, atoms, cutoff, flips)| {
        let positions = atoms
            .iter()
            .map(|q| {
                let f = q.map(|x| f64::from(x) / 4.0);
                std::array::from_fn(|k| f[0] * cell[0][k] + f[1] * cell[1][k] + f[2] * cell[2][k])
            })
            .collect();
        let s = Structure::periodic(vec![1; atoms.len()], positions, cell, [flips[0], flips[1], flips[2]]).unwrap();
        (s, cutoff)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn grid_crystals_with_exact_ties(sc in grid_crystal(), k in 1usize..14) {
        let (s, cutoff) = sc;
        let e = radius_graph(&s, &RadiusOptions::new(cutoff)).unwrap();
        check_edges(&s, &e);
        assert_same(&edge_map(&e), &brute_radius(&s, cutoff, false));
        let e = knn_graph(&s, k, false).unwrap();
        prop_assert_eq!(edge_map(&e).into_keys().collect::<Vec<_>>(), brute_knn(&s, k, false));
    }
}

/// For every target, the `cap` nearest in-edges of `full` by (distance, source, shift).
fn nearest_per_target(full: &Edges, cap: usize) -> Vec<Key> {
    let mut by_target: BTreeMap<u32, Vec<(f64, u32, [i32; 3])>> = BTreeMap::new();
    for k in 0..full.len() {
        by_target.entry(full.target[k]).or_default().push((full.distance[k], full.source[k], full.shift[k]));
    }
    let mut out = Vec::new();
    for (i, mut list) in by_target {
        list.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        out.extend(list.into_iter().take(cap).map(|(_, j, sh)| (j, i, sh)));
    }
    out.sort();
    out
}

/// Brute-force k nearest neighbours (ties by distance, source, shift). Periodic images are
/// enumerated in growing shells until every target has k candidates inside the enumerated radius,
/// which makes the enumeration complete for them.
fn brute_knn(s: &Structure, k: usize, self_loops: bool) -> Vec<Key> {
    let n = s.len();
    let periodic = s.is_periodic();
    let mut radius = if periodic { 1.0 } else { f64::INFINITY };
    loop {
        // all_images covers, for each pair, every image within `radius` (all of them for molecules).
        let mut by_target: Vec<Vec<(f64, u32, [i32; 3])>> = vec![Vec::new(); n];
        for (j, i, sh, d) in all_images(s, if periodic { radius } else { 0.0 }, 0) {
            if d < radius && (self_loops || j != i || sh != [0; 3]) {
                by_target[i as usize].push((d, j, sh));
            }
        }
        if periodic && by_target.iter().any(|l| l.len() < k) {
            radius *= 1.5;
            continue;
        }
        let mut out = Vec::new();
        for (i, mut list) in by_target.into_iter().enumerate() {
            list.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
            out.extend(list.into_iter().take(k).map(|(_, j, sh)| (j, i as u32, sh)));
        }
        out.sort();
        return out;
    }
}

// ------------------------------------------------------------------------------------------
// Hand-made cases

#[test]
fn hand_checked_periodic_cases() {
    // One atom in a 2 Å cubic cell with a 2.5 Å cutoff: 6 face neighbours (2 Å) and 12 edge
    // neighbours (2.83 Å > 2.5, excluded) → 6 edges, all to its own images.
    let s = Structure::periodic(
        vec![1],
        vec![[0.5, 0.25, 0.125]],
        [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]],
        [true; 3],
    )
    .unwrap();
    let e = radius_graph(&s, &RadiusOptions::new(2.5)).unwrap();
    assert_eq!(e.len(), 6);
    assert!(e.source.iter().chain(&e.target).all(|&i| i == 0));
    assert_eq!(e.shift, vec![[-1, 0, 0], [0, -1, 0], [0, 0, -1], [0, 0, 1], [0, 1, 0], [1, 0, 0]]);
    // Exactly at the cutoff is excluded (strict).
    assert_eq!(radius_graph(&s, &RadiusOptions::new(2.0)).unwrap().len(), 0);
    // Periodic along a and b only: 4 in-plane images.
    let slab = Structure { pbc: [true, true, false], ..s.clone() };
    assert_eq!(radius_graph(&slab, &RadiusOptions::new(2.5)).unwrap().len(), 4);
    // Self-loops add the zero-shift edge only.
    let e = radius_graph(&s, &RadiusOptions::new(2.5).with_self_loops(true)).unwrap();
    assert_eq!(e.len(), 7);
    assert_eq!((e.shift[3], e.distance[3]), ([0, 0, 0], 0.0));
}

#[test]
fn atoms_outside_the_cell_keep_their_positions() {
    let cell = [[3.0, 0.0, 0.0], [1.0, 3.0, 0.0], [0.5, 0.5, 3.0]];
    let s = Structure::periodic(vec![1, 1], vec![[0.1, 0.1, 0.1], [-7.9, 13.2, 30.05]], cell, [true; 3]).unwrap();
    let e = radius_graph(&s, &RadiusOptions::new(2.0)).unwrap();
    check_edges(&s, &e);
    assert_same(&edge_map(&e), &brute_radius(&s, 2.0, false));
    assert!(e.shift.iter().any(|sh| sh.iter().any(|&x| x.abs() > 5)), "{:?}", e.shift);
}

#[test]
fn atoms_coplanar_up_to_rounding_along_a_non_periodic_axis() {
    // Periodic along a = (0, 2, 2) only: both atoms lie in one plane perpendicular to the completed
    // basis vector, up to a rounding error (once made the search reach ~1e16 bins).
    let cell = [[0.0, 2.0, 2.0], [2.0, 0.0, 2.0], [2.0, 2.0, 0.0]];
    let s =
        Structure::periodic(vec![1, 1], vec![[4.0, 2.5, 1.5], [4.0, 5.5, 4.5]], cell, [true, false, false]).unwrap();
    let e = radius_graph(&s, &RadiusOptions::new(4.0)).unwrap();
    check_edges(&s, &e);
    assert_same(&edge_map(&e), &brute_radius(&s, 4.0, false));
    assert_eq!(e.len(), 8);
}

#[test]
fn large_flat_and_linear_molecules() {
    // A rotated planar flake and a rotated chain: extents that are zero up to rounding.
    let (c, s) = (0.6f64, 0.8f64);
    let rotate = |p: [f64; 3]| [c * p[0] - s * p[2], p[1], s * p[0] + c * p[2]];
    let flake: Vec<[f64; 3]> = (0..300).map(|k| rotate([(k % 20) as f64 * 1.3, (k / 20) as f64 * 1.1, 0.7])).collect();
    let chain: Vec<[f64; 3]> = (0..300).map(|k| rotate([k as f64 * 0.77, 0.3, 0.7])).collect();
    for positions in [flake, chain] {
        let m = molecule(positions);
        assert!(m.len() > BRUTE_FORCE_MAX_ATOMS);
        for cutoff in [1.0, 2.5, 6.0] {
            let e = radius_graph(&m, &RadiusOptions::new(cutoff)).unwrap();
            check_edges(&m, &e);
            assert_same(&edge_map(&e), &brute_radius(&m, cutoff, false));
        }
    }
}

#[test]
fn far_apart_clusters() {
    // Two clusters 1e9 Å apart: the bin grid must stay small (and must not overflow).
    let mut positions: Vec<[f64; 3]> =
        (0..150).map(|k| [(k % 5) as f64, ((k / 5) % 5) as f64, (k / 25) as f64]).collect();
    positions.extend((0..150).map(|k| [1e9 + (k % 5) as f64, 1e9, -1e9 + (k / 5) as f64]));
    let m = molecule(positions);
    let e = radius_graph(&m, &RadiusOptions::new(1.5)).unwrap();
    check_edges(&m, &e);
    assert_same(&edge_map(&e), &brute_radius(&m, 1.5, false));
}

#[test]
fn many_matches_one_by_one() {
    let structures: Vec<Structure> = (0..20)
        .map(|m| molecule((0..(m % 7) * 3).map(|a| [a as f64 * 0.9, (a * m) as f64 % 1.7, (m as f64).sin()]).collect()))
        .collect();
    let opts = RadiusOptions::new(2.5);
    let many = radius_graph_many(&structures, &opts).unwrap();
    for (s, e) in structures.iter().zip(&many) {
        assert_eq!(&radius_graph(s, &opts).unwrap(), e);
    }
    let mut bad = structures.clone();
    bad[13].positions.push([f64::NAN, 0.0, 0.0]);
    bad[13].numbers.push(1);
    let err = radius_graph_many(&bad, &opts).unwrap_err().to_string();
    assert!(err.contains("structure 13"), "{err}");
}

#[test]
fn bad_input_is_an_error() {
    let s = molecule(vec![[0.0; 3], [1.0, 0.0, 0.0]]);
    for cutoff in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(radius_graph(&s, &RadiusOptions::new(cutoff)).is_err(), "cutoff {cutoff}");
    }
    let nan = Structure { positions: vec![[0.0; 3], [f64::NAN, 0.0, 0.0]], ..s.clone() };
    let err = radius_graph(&nan, &RadiusOptions::new(2.0)).unwrap_err().to_string();
    assert!(err.contains("non-finite"), "{err}");
    assert!(knn_graph(&nan, 1, false).is_err());
    let singular =
        Structure { cell: Some([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), pbc: [true; 3], ..s.clone() };
    let err = radius_graph(&singular, &RadiusOptions::new(2.0)).unwrap_err().to_string();
    assert!(err.contains("singular"), "{err}");
    let no_cell = Structure { pbc: [true, false, false], ..s.clone() };
    assert!(radius_graph(&no_cell, &RadiusOptions::new(2.0)).is_err());
    // A 1e-3 Å cell with a 100 Å cutoff would need ~1e20 images: refused, quickly.
    let tiny =
        Structure { cell: Some([[1e-3, 0.0, 0.0], [0.0, 1e-3, 0.0], [0.0, 0.0, 1e-3]]), pbc: [true; 3], ..s.clone() };
    let err = radius_graph(&tiny, &RadiusOptions::new(100.0)).unwrap_err().to_string();
    assert!(err.contains("candidate pairs"), "{err}");
    assert!(knn_graph(&tiny, 1_000_000_000_000, false).is_err());
}

#[test]
fn a_singular_cell_along_a_non_periodic_axis_is_fine() {
    // A slab with c = 0 (ASE allows this for non-periodic directions).
    let cell = [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]];
    let s = Structure {
        numbers: vec![1, 1],
        positions: vec![[0.0; 3], [0.0, 0.0, 1.5]],
        cell: Some(cell),
        pbc: [true, true, false],
        ..Default::default()
    };
    let e = radius_graph(&s, &RadiusOptions::new(2.1)).unwrap();
    check_edges(&s, &e);
    // The non-periodic vector does not matter; the reference needs a non-singular one.
    let regular = Structure { cell: Some([cell[0], cell[1], [0.0, 0.0, 1.0]]), ..s.clone() };
    assert_same(&edge_map(&e), &brute_radius(&regular, 2.1, false));
    assert_eq!(e.in_degrees(2), vec![5, 5]);
}

#[test]
fn knn_in_a_molecule_with_few_atoms_returns_all() {
    let s = molecule(vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 3.0, 0.0]]);
    let e = knn_graph(&s, 5, false).unwrap();
    assert_eq!(e.len(), 6);
    let e = knn_graph(&s, 1, true).unwrap();
    assert_eq!((e.source.clone(), e.target.clone()), (vec![0, 1, 2], vec![0, 1, 2]));
    let e = knn_graph(&s, 1, false).unwrap();
    assert_eq!((e.source.clone(), e.target.clone()), (vec![1, 0, 0], vec![0, 1, 2]));
}

// ------------------------------------------------------------------------------------------
// Line graph

fn water() -> Structure {
    // O at the origin, H–O–H 104.5°, O–H 0.9572 Å.
    let half = 104.5f64.to_radians() / 2.0;
    let (x, y) = (0.9572 * half.sin(), 0.9572 * half.cos());
    Structure::molecule(vec![8, 1, 1], vec![[0.0; 3], [x, y, 0.0], [-x, y, 0.0]]).unwrap()
}

#[test]
fn water_angles() {
    let s = water();
    let e = radius_graph(&s, &RadiusOptions::new(1.2)).unwrap();
    assert_eq!((e.source.clone(), e.target.clone()), (vec![1, 2, 0, 0], vec![0, 0, 1, 2]));
    let t = line_graph(&e).unwrap();
    // Only O has two in-edges: the ordered pairs (0, 1) and (1, 0).
    assert_eq!((t.edge_a.clone(), t.edge_b.clone()), (vec![0, 1], vec![1, 0]));
    for (&a, &c) in t.angle.iter().zip(&t.cos_angle) {
        assert!((a.to_degrees() - 104.5).abs() < 1e-9, "{}", a.to_degrees());
        assert!((c - 104.5f64.to_radians().cos()).abs() < 1e-12);
    }
    // With a longer cutoff the H–H edge appears; the angles at the H atoms are (180 − 104.5)/2.
    let e = radius_graph(&s, &RadiusOptions::new(2.0)).unwrap();
    let t = line_graph(&e).unwrap();
    assert_eq!(t.len(), 6);
    for k in 0..t.len() {
        let node = e.target[t.edge_a[k] as usize];
        assert_eq!(node, e.target[t.edge_b[k] as usize]);
        let want = if node == 0 { 104.5 } else { (180.0 - 104.5) / 2.0 };
        assert!((t.angle[k].to_degrees() - want).abs() < 1e-9);
    }
}

#[test]
fn line_graph_keeps_pairs_of_images_of_the_same_atom() {
    // One atom in a cubic cell: its 6 in-edges all have source 0; 6·5 pairs, angles 90° or 180°.
    let s =
        Structure::periodic(vec![1], vec![[0.0; 3]], [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]], [true; 3])
            .unwrap();
    let e = radius_graph(&s, &RadiusOptions::new(2.5)).unwrap();
    let t = line_graph(&e).unwrap();
    assert_eq!(t.len(), 30);
    let straight = t.angle.iter().filter(|a| (**a - std::f64::consts::PI).abs() < 1e-12).count();
    let right = t.angle.iter().filter(|a| (**a - std::f64::consts::FRAC_PI_2).abs() < 1e-12).count();
    assert_eq!((straight, right), (6, 24));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn line_graph_counts_and_angles(
        s in crystal(1..=8),
        rel_cutoff in 0.1..0.9f64,
        seed in any::<u64>(),
    ) {
        let mut e = radius_graph(&s, &RadiusOptions::new(rel_cutoff * cell_size(&s))).unwrap();
        // Shuffle the edges: the line graph must not depend on their order.
        let n_e = e.len();
        let mut perm: Vec<usize> = (0..n_e).collect();
        let mut state = seed | 1;
        for k in (1..n_e).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            perm.swap(k, (state % (k as u64 + 1)) as usize);
        }
        e = Edges {
            source: perm.iter().map(|&k| e.source[k]).collect(),
            target: perm.iter().map(|&k| e.target[k]).collect(),
            shift: perm.iter().map(|&k| e.shift[k]).collect(),
            vector: perm.iter().map(|&k| e.vector[k]).collect(),
            distance: perm.iter().map(|&k| e.distance[k]).collect(),
        };
        let t = line_graph(&e).unwrap();
        let deg = e.in_degrees(s.len());
        prop_assert_eq!(t.len(), deg.iter().map(|&d| d * d.saturating_sub(1)).sum::<usize>());
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..t.len() {
            let (a, b) = (t.edge_a[k] as usize, t.edge_b[k] as usize);
            prop_assert!(a != b && e.target[a] == e.target[b]);
            prop_assert!(seen.insert((a, b)));
            let (va, vb) = (e.vector[a], e.vector[b]);
            let cos = (va[0] * vb[0] + va[1] * vb[1] + va[2] * vb[2]) / (norm(va) * norm(vb));
            prop_assert!((t.cos_angle[k] - cos).abs() < 1e-12);
            prop_assert!((t.angle[k].cos() - cos).abs() < 1e-9);
            prop_assert!((0.0..=std::f64::consts::PI).contains(&t.angle[k]));
        }
    }
}

/// A structure big enough for the parallel path, checked on a sample of targets.
#[test]
fn large_periodic_system_in_parallel() {
    use chem_graph::neighbors::PARALLEL_MIN_ATOMS;
    let n = PARALLEL_MIN_ATOMS + 500;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let cell = [[30.0, 0.0, 0.0], [4.0, 28.0, 0.0], [-3.0, 2.0, 29.0]];
    let positions: Vec<[f64; 3]> = (0..n)
        .map(|_| {
            let f = [uniform() * 1.2 - 0.1, uniform(), uniform()];
            std::array::from_fn(|k| f[0] * cell[0][k] + f[1] * cell[1][k] + f[2] * cell[2][k])
        })
        .collect();
    let s = Structure::periodic(vec![8; n], positions, cell, [true, true, false]).unwrap();
    let cutoff = 4.0;
    let e = radius_graph(&s, &RadiusOptions::new(cutoff)).unwrap();
    check_edges(&s, &e);
    assert_eq!(reverse_edges(&e).unwrap().len(), e.len());
    let got = edge_map(&e);
    for i in (0..n).step_by(37) {
        let mut want = BTreeMap::new();
        for j in 0..n {
            for a in -2..=2 {
                for b in -2..=2 {
                    let (_, d) = edge_vector(&s, j, i, [a, b, 0]);
                    if d < cutoff && (j != i || [a, b] != [0, 0]) {
                        want.insert((j as u32, i as u32, [a, b, 0]), d);
                    }
                }
            }
        }
        let mine: BTreeMap<Key, f64> = got.iter().filter(|(k, _)| k.1 == i as u32).map(|(k, d)| (*k, *d)).collect();
        assert_same(&mine, &want);
    }
    let knn = knn_graph(&s, 12, false).unwrap();
    assert!(knn.in_degrees(n).iter().all(|&d| d == 12));

    // Enough pairs for the parallel line-graph path: check the count and the documented order,
    // which together pin the output down exactly.
    let t = line_graph(&e).unwrap();
    let deg = e.in_degrees(n);
    assert!(t.len() > 1 << 17);
    assert_eq!(t.len(), deg.iter().map(|&d| d * (d - 1)).sum::<usize>());
    let key = |k: usize| (e.target[t.edge_a[k] as usize], t.edge_a[k], t.edge_b[k]);
    for k in 0..t.len() {
        assert_eq!(e.target[t.edge_a[k] as usize], e.target[t.edge_b[k] as usize]);
        assert_ne!(t.edge_a[k], t.edge_b[k]);
        if k > 0 {
            assert!(key(k - 1) < key(k));
        }
    }
}
