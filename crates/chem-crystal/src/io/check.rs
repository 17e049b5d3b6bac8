//! The checks every crystal reader applies: a fully periodic, right-handed, non-singular cell,
//! valid atoms, and no two atoms closer than the minimum distance over periodic images.

use std::collections::BTreeMap;

use chem_graph::{radius_graph, RadiusOptions, Structure};

use crate::lattice::Lattice;

/// The densest structure accepted, in atoms per Å³ (real solids have about 0.1; the limit keeps
/// the overlap search cheap on absurd input).
pub(crate) const MAX_DENSITY: f64 = 10.0;

/// The longest cell vector accepted, in Å (far beyond any real cell; keeps arithmetic finite).
pub(crate) const MAX_CELL_LENGTH: f64 = 1e6;

/// Two atoms closer than the minimum distance: `i ≤ j` (`i == j`: an atom and its own image).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Close {
    /// First atom.
    pub i: usize,
    /// Second atom.
    pub j: usize,
    /// Shortest distance between them over periodic images, in Å.
    pub distance: f64,
}

/// [`Lattice::of_crystal`], also requiring a right-handed cell (what every crystal file expects).
pub(crate) fn crystal_lattice(s: &Structure) -> Result<Lattice, String> {
    let lattice = Lattice::of_crystal(s)?;
    if !lattice.is_right_handed() {
        return Err(format!(
            "the cell {:?} is left-handed (a · (b × c) = {:.6} Å³ < 0); swap two cell vectors",
            lattice.rows(),
            lattice.volume()
        ));
    }
    Ok(lattice)
}

/// Validates a crystal (see [`crystal_lattice`]) and checks that no two atoms are closer than
/// `min_distance`; `atom` names atom `i` in the message.
pub(crate) fn check_crystal(s: &Structure, min_distance: f64, atom: impl Fn(usize) -> String) -> Result<(), String> {
    let lattice = crystal_lattice(s)?;
    match close_pairs(&lattice, &s.positions, min_distance, true)?.first() {
        Some(c) => Err(overlap_message(c, &atom(c.i), &atom(c.j), min_distance)),
        None => Ok(()),
    }
}

/// `"A and B are 0.123 Å apart …"`, or the own-image message when `i == j`.
pub(crate) fn overlap_message(c: &Close, a: &str, b: &str, min_distance: f64) -> String {
    if c.i == c.j {
        format!(
            "{a} overlaps its own periodic image: {:.4} Å apart (closer than {min_distance} Å); the cell is too small",
            c.distance
        )
    } else {
        format!("{a} and {b} overlap: {:.4} Å apart (closer than {min_distance} Å)", c.distance)
    }
}

/// Every pair of atoms (Cartesian `positions` in `lattice`) closer than `r` over periodic images,
/// sorted by `(i, j)`, with the shortest distance of each pair; only the first one when
/// `first_only`. `r == 0` finds nothing. Errors for absurd input: cell vectors longer than
/// [`MAX_CELL_LENGTH`] or more than [`MAX_DENSITY`] atoms per Å³.
pub(crate) fn close_pairs(
    lattice: &Lattice,
    positions: &[[f64; 3]],
    r: f64,
    first_only: bool,
) -> Result<Vec<Close>, String> {
    let lengths = lattice.lengths();
    let volume = lattice.volume().abs();
    if lengths.iter().any(|&l| l > MAX_CELL_LENGTH) || !volume.is_finite() {
        return Err(format!("cell vectors of lengths {lengths:?} Å: longer than {MAX_CELL_LENGTH:e} Å"));
    }
    let n = positions.len();
    if r <= 0.0 || n == 0 {
        return Ok(Vec::new());
    }
    if n as f64 > MAX_DENSITY * volume {
        return Err(format!(
            "{n} atoms in a cell of {volume:.4} Å³ (more than {MAX_DENSITY} per Å³): the atoms must overlap"
        ));
    }
    // Distances do not depend on the basis: search in a reduced one, so a skewed cell (vectors
    // much longer than the lattice's shortest ones) does not need thousands of images.
    let reduced = reduced_lattice(lattice)?;
    let lattice = &reduced;
    let shortest = lattice.lengths().into_iter().fold(f64::INFINITY, f64::min);
    if shortest < r {
        // Every atom is that close to its own image; report the first.
        return Ok(vec![Close { i: 0, j: 0, distance: shortest }]);
    }
    let reach = lattice.plane_spacings().map(|s| (r / s + 0.5).ceil());
    if reach.iter().any(|&k| k > MAX_REACH) {
        return Err(format!(
            "degenerate cell: even in a reduced basis its lattice planes are only {:.3e} Å apart",
            lattice.plane_spacings().into_iter().fold(f64::INFINITY, f64::min)
        ));
    }
    with_cell_list(lattice, positions, r, first_only)
}

/// Images searched either side along one axis at most; a Niggli-reduced cell without own-image
/// overlaps needs about 3 (the cap only guards against a failed reduction of absurd input).
const MAX_REACH: f64 = 64.0;

/// The lattice in a reduced basis: pairwise reduction ([`reduce_basis`]) then moyo's Niggli
/// reduction (kept only when it succeeds). The reduced basis has vectors as short and as
/// orthogonal as the lattice allows, so a search within `r` needs few images per axis.
fn reduced_lattice(lattice: &Lattice) -> Result<Lattice, String> {
    let pairwise = Lattice::new(reduce_basis(*lattice.rows())).map_err(|e| e.to_string())?;
    Ok(pairwise.niggli_reduced().map_or(pairwise, |(niggli, _)| niggli))
}

/// A basis of the same lattice with pairwise-reduced vectors: each vector is shortened by
/// integer multiples of the others (`b_i -= round(b_i·b_j / b_j·b_j) b_j`, a unimodular change that
/// keeps the volume and handedness) until no step shortens it (or 1000 sweeps).
pub(crate) fn reduce_basis(rows: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let dot = |a: &[f64; 3], b: &[f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let mut b = rows;
    for _ in 0..1000 {
        let mut changed = false;
        for i in 0..3 {
            for j in 0..3 {
                let bj = b[j];
                let norm = dot(&bj, &bj);
                if i == j || norm == 0.0 {
                    continue;
                }
                let k = (dot(&b[i], &bj) / norm).round();
                if k == 0.0 || !k.is_finite() {
                    continue;
                }
                let candidate: [f64; 3] = std::array::from_fn(|c| b[i][c] - k * bj[c]);
                if dot(&candidate, &candidate) < dot(&b[i], &b[i]) {
                    b[i] = candidate;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    b
}

/// The close pairs through chem-graph's cell-list radius graph (an edge is an overlap).
fn with_cell_list(lattice: &Lattice, positions: &[[f64; 3]], r: f64, first_only: bool) -> Result<Vec<Close>, String> {
    let probe = Structure {
        numbers: vec![1; positions.len()],
        positions: positions.to_vec(),
        cell: Some(*lattice.rows()),
        pbc: [true; 3],
        ..Default::default()
    };
    let edges = radius_graph(&probe, &RadiusOptions::new(r)).map_err(|e| e.to_string())?;
    let mut pairs: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for k in 0..edges.len() {
        let (s, t) = (edges.source[k] as usize, edges.target[k] as usize);
        let key = (s.min(t), s.max(t));
        let d = pairs.entry(key).or_insert(f64::INFINITY);
        *d = d.min(edges.distance[k]);
    }
    let mut out: Vec<Close> = pairs.into_iter().map(|((i, j), distance)| Close { i, j, distance }).collect();
    if first_only {
        out.truncate(1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: all pairs and all images within reach, `reach[k]` images either side along
    /// axis k of the wrapped difference (enough because a difference component in [−½, ½] plus
    /// `n_k` must stay within `r / spacing_k`).
    fn brute_force(lattice: &Lattice, positions: &[[f64; 3]], r: f64, reach: [i32; 3]) -> Vec<Close> {
        let fractional: Vec<[f64; 3]> = positions.iter().map(|p| lattice.to_fractional(p)).collect();
        let mut out = Vec::new();
        for i in 0..fractional.len() {
            for j in i..fractional.len() {
                let d: [f64; 3] = std::array::from_fn(|k| {
                    let x = fractional[j][k] - fractional[i][k];
                    x - x.round()
                });
                let mut best = f64::INFINITY;
                for a in -reach[0]..=reach[0] {
                    for b in -reach[1]..=reach[1] {
                        for c in -reach[2]..=reach[2] {
                            if i == j && (a, b, c) == (0, 0, 0) {
                                continue;
                            }
                            let f = [d[0] + a as f64, d[1] + b as f64, d[2] + c as f64];
                            let v = lattice.to_cartesian(&f);
                            best = best.min((v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt());
                        }
                    }
                }
                if best < r {
                    out.push(Close { i, j, distance: best });
                }
            }
        }
        out
    }

    #[test]
    fn brute_force_and_cell_list_agree() {
        let lattice = Lattice::from_parameters([3.0, 3.5, 4.0], [70.0, 100.0, 115.0]).unwrap();
        // A pseudo-random cloud: some pairs closer than 1.2 Å, some across the cell boundary.
        let mut x = 0.123_f64;
        let mut next = || {
            x = (x * 9301.0 + 0.49297).fract();
            x
        };
        let positions: Vec<[f64; 3]> =
            (0..24).map(|_| lattice.to_cartesian(&[next() * 1.4 - 0.2, next(), next() - 0.5])).collect();
        let reach = lattice.plane_spacings().map(|s| (1.2 / s + 0.5).ceil() as i32);
        let brute = brute_force(&lattice, &positions, 1.2, reach);
        let cells = with_cell_list(&lattice, &positions, 1.2, false).unwrap();
        assert!(!brute.is_empty());
        assert_eq!(brute.len(), cells.len());
        for (a, b) in brute.iter().zip(&cells) {
            assert_eq!((a.i, a.j), (b.i, b.j));
            assert!((a.distance - b.distance).abs() < 1e-12);
        }
    }

    #[test]
    fn skewed_cells_are_searched_in_a_reduced_basis() {
        // Fuzzing regression: a valid but absurdly skewed cell (planes 2·10⁻⁴ Å apart along a)
        // made the cell-list search visit thousands of images per atom and take seconds.
        let skewed = Lattice::new([[2.64, 0.0, 0.5], [7050.0, 0.64, 0.0], [0.0, 0.0, 5.64]]).unwrap();
        let reduced = Lattice::new(reduce_basis(*skewed.rows())).unwrap();
        assert!((reduced.volume() - skewed.volume()).abs() < 1e-6 * skewed.volume());
        assert!(reduced.lengths().iter().all(|&l| l < 10.0), "{:?}", reduced.lengths());
        let positions: Vec<[f64; 3]> =
            (0..9).map(|k| skewed.to_cartesian(&[0.1 * k as f64, 0.37 * k as f64, 0.05])).collect();
        let start = std::time::Instant::now();
        close_pairs(&skewed, &positions, 0.5, false).unwrap();
        assert!(start.elapsed().as_secs_f64() < 1.0);

        // A cubic lattice in a skewed basis: the same overlaps as in the cubic basis.
        let cubic = Lattice::from_parameters([3.0; 3], [90.0; 3]).unwrap();
        let skew = cubic.transformed(&[[1, 40, 7], [0, 1, -30], [0, 0, 1]]).unwrap();
        let back = Lattice::new(reduce_basis(*skew.rows())).unwrap();
        assert!(back.lengths().iter().all(|&l| (l - 3.0).abs() < 1e-6), "{back:?}");
        let positions = [[0.1, 0.2, 0.3], [2.9, 0.2, 0.3], [1.5, 1.5, 1.5], [1.5, 1.9, 1.5], [0.0, 0.0, 2.95]];
        let want = close_pairs(&cubic, &positions, 0.5, false).unwrap();
        let got = close_pairs(&skew, &positions, 0.5, false).unwrap();
        assert_eq!(want.len(), 4);
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            assert_eq!((a.i, a.j), (b.i, b.j));
            assert!((a.distance - b.distance).abs() < 1e-9);
        }
    }

    #[test]
    fn own_images_and_density() {
        let thin = Lattice::new([[0.4, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]]).unwrap();
        let c = close_pairs(&thin, &[[0.0; 3]], 0.5, true).unwrap();
        assert_eq!((c[0].i, c[0].j), (0, 0));
        assert!((c[0].distance - 0.4).abs() < 1e-12);
        assert!(overlap_message(&c[0], "atom 1", "atom 1", 0.5).contains("own periodic image"));
        let tiny = Lattice::new([[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]]).unwrap();
        assert!(close_pairs(&tiny, &[[0.0; 3]; 2], 0.5, true).unwrap_err().contains("must overlap"));
        let cubic = Lattice::from_parameters([4.0; 3], [90.0; 3]).unwrap();
        assert!(close_pairs(&cubic, &[[0.0; 3], [2.0, 2.0, 2.0]], 0.5, false).unwrap().is_empty());
        // Across the boundary: 0.1 and 3.95 along x are 0.15 Å apart.
        let c = close_pairs(&cubic, &[[0.1, 0.0, 0.0], [3.95, 0.0, 0.0]], 0.5, false).unwrap();
        assert_eq!(c.len(), 1);
        assert!((c[0].distance - 0.15).abs() < 1e-12);
    }
}
