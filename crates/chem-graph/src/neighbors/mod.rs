//! Neighbour lists: radius graphs and k-nearest-neighbour graphs for molecules and periodic cells.
//!
//! # Convention
//! Edges follow the crate's PyTorch Geometric convention (see [`crate::graph`]): an edge j → i is
//! stored as `source = j`, `target = i`, with the integer image shift `S` of the source, the vector
//! `vector = r_j + S·L − r_i` (L: the cell, rows = cell vectors) and `distance = |vector|`.
//! Positions are used **as given**: atoms outside the cell are not wrapped in the output, the shift
//! absorbs whatever wrapping the search did internally, so the identity above holds for the original
//! positions. Along non-periodic axes every shift component is 0, and a structure without a cell
//! (or with `pbc == [false; 3]`) has only zero shifts.
//!
//! The vector is computed component-wise as `(r_j[k] + t[k]) − r_i[k]` with
//! `t[k] = S[0]·L[0][k] + S[1]·L[1][k] + S[2]·L[2][k]` (only periodic rows of L contribute), and the
//! distance as `sqrt((v0·v0 + v1·v1) + v2·v2)`; the cutoff test is `distance < cutoff` on that value.
//! Every search path (brute force, cell list, k-NN) uses this same expression, so results are
//! reproducible bit for bit.
//!
//! # Output order
//! Edges are grouped by target in increasing target order; within one target they are sorted by
//! `(source, shift)` (shift compared lexicographically). Two neighbour lists of the same structure
//! can therefore be compared element by element.
//!
//! # Algorithm
//! * Small molecules (no periodic axis, at most [`BRUTE_FORCE_MAX_ATOMS`] atoms) are searched by
//!   checking all pairs.
//! * Everything else uses a cell list, as vesin does: positions are converted to fractional
//!   coordinates of the cell and wrapped into `[0, 1)` along periodic axes (the integer part is
//!   remembered and folded into the reported shift). Along each axis the domain (the cell along a
//!   periodic axis, the atoms' extent along a non-periodic one) is cut into bins whose width,
//!   measured perpendicular to the lattice planes (plane spacing `d_a = V/|b×c|`, …), is at least
//!   `cutoff/2`. An atom's neighbours lie in the bins within `ceil(cutoff / bin_width)` of its own
//!   bin; along periodic axes the bin index wraps around and each wrap adds ±1 to the shift. Cutoffs
//!   larger than the cell simply mean that the search visits the same bin several times with
//!   different shifts, so every periodic image (including an atom's own images) is found exactly
//!   once. Triclinic cells need no special treatment because bins are parallelepipeds of the cell.
//! * Candidates are pre-filtered with the wrapped coordinates (with a tiny safety margin) and then
//!   accepted with the exact expression above, so rounding in the wrapping never changes the result.
//! * Large structures are processed in parallel over target atoms with rayon
//!   ([`PARALLEL_MIN_ATOMS`]); [`radius_graph_many`] parallelises over structures instead.
//! * k-NN graphs run the radius search with a growing cutoff until each target has at least k
//!   candidates, then keep the k nearest: exact, because every atom not found is farther than every
//!   atom found. Small molecules simply rank all pairs.
//!
//! Inputs that would need an absurd amount of work (e.g. a 0.01 Å cell with a 10 Å cutoff) are
//! rejected once the estimated number of candidate pairs exceeds [`MAX_CANDIDATE_PAIRS`].

mod cell_list;
mod verlet;

pub use verlet::VerletList;

use std::cmp::Ordering;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::graph::Edges;
use crate::structure::{Cell, Structure};
use crate::vec3::{cross, dot, norm, scale};

use cell_list::CellList;

/// Non-periodic structures with at most this many atoms are searched by checking all pairs,
/// larger ones with a cell list (the measured crossover is at about 100–200 atoms).
pub const BRUTE_FORCE_MAX_ATOMS: usize = 128;

/// Structures with at least this many atoms are searched in parallel over target atoms (below it
/// rayon's overhead outweighs the gain on a 2-core machine).
pub const PARALLEL_MIN_ATOMS: usize = 1024;

/// A search whose estimated number of candidate pairs exceeds this is refused with an error instead
/// of running for minutes and exhausting memory (about 5·10⁸ edges would come out of it).
pub const MAX_CANDIDATE_PAIRS: f64 = 2e9;

/// Options of [`radius_graph`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadiusOptions {
    /// Edges j → i are kept when `distance < cutoff` (strict), in Å. Must be finite and positive.
    pub cutoff: f64,
    /// When set, each target keeps at most this many in-edges: the nearest ones, ties broken by
    /// `(distance, source, shift)`. The result is then in general no longer symmetric.
    pub max_neighbors: Option<usize>,
    /// Whether to add the self-edge i → i with zero shift (vector 0, distance 0) for every atom.
    /// Edges from an atom to its own periodic images (non-zero shift) are ordinary edges and are
    /// always included when within the cutoff.
    pub self_loops: bool,
}

impl RadiusOptions {
    /// All pairs closer than `cutoff`, no cap, no self-loops.
    pub fn new(cutoff: f64) -> Self {
        RadiusOptions { cutoff, max_neighbors: None, self_loops: false }
    }

    /// Sets [`RadiusOptions::max_neighbors`].
    pub fn with_max_neighbors(mut self, max_neighbors: usize) -> Self {
        self.max_neighbors = Some(max_neighbors);
        self
    }

    /// Sets [`RadiusOptions::self_loops`].
    pub fn with_self_loops(mut self, self_loops: bool) -> Self {
        self.self_loops = self_loops;
        self
    }
}

/// All edges j → i with `distance < cutoff`, over all periodic images (see the module docs for the
/// convention, the order of the output and the algorithm). Both directions of every pair are
/// present (unless [`RadiusOptions::max_neighbors`] cuts one of them); the reverse of
/// `(j, i, S)` is `(i, j, −S)`.
///
/// Errors: a cutoff that is not finite and positive, a non-finite position, mismatched array
/// lengths, a periodic structure without a cell or with a singular cell (linearly dependent periodic
/// cell vectors), atoms absurdly far outside the cell, or a search estimated to need more than
/// [`MAX_CANDIDATE_PAIRS`] candidate pairs.
pub fn radius_graph(structure: &Structure, options: &RadiusOptions) -> Result<Edges> {
    check_cutoff(options.cutoff)?;
    let system = System::new(structure)?;
    let n = system.positions.len();
    if n == 0 {
        return Ok(Edges::default());
    }
    let limit = options.max_neighbors;
    if !system.is_periodic() && n <= BRUTE_FORCE_MAX_ATOMS {
        let search = BruteForce { system: &system, cutoff: options.cutoff, self_loops: options.self_loops };
        return Ok(gather(&search, n, limit));
    }
    let cells = CellList::new(&system, options.cutoff, options.self_loops)?;
    Ok(gather(&cells, n, limit))
}

/// [`radius_graph`] for each of `structures`, in parallel over structures (the right way to treat a
/// batch of small molecules, each of which is too small to be worth parallelising on its own).
/// On failure one of the errors is returned (not necessarily that of the lowest index), prefixed by
/// the index of the structure that caused it.
pub fn radius_graph_many(structures: &[Structure], options: &RadiusOptions) -> Result<Vec<Edges>> {
    check_cutoff(options.cutoff)?;
    let one = |(k, s): (usize, &Structure)| radius_graph(s, options).map_err(|e| in_structure(k, e));
    if structures.len() < 2 || rayon::current_num_threads() < 2 {
        return structures.iter().enumerate().map(one).collect();
    }
    structures.par_iter().enumerate().with_min_len(8).map(one).collect()
}

/// The k nearest neighbours (sources) of every target atom, over all periodic images, as edges in
/// the same convention and order as [`radius_graph`] (grouped by target, then sorted by
/// `(source, shift)`). Ties are broken by `(distance, source, shift)`. A molecule with fewer than
/// `k` other atoms yields all of them; periodic structures always have enough images.
///
/// With `self_loops` the zero-shift self-edge (distance 0) is added and counts as the first of the
/// k neighbours (PyG's `knn_graph(..., loop=True)`).
///
/// The result is exact: small molecules rank all pairs; otherwise a cell-list radius search is
/// repeated with a growing cutoff (×1.5 per round, only for the targets still short of candidates)
/// until every target has at least `k` candidates, and the k nearest of them are kept. Errors as
/// for [`radius_graph`], and when `atoms × k` exceeds [`MAX_CANDIDATE_PAIRS`].
pub fn knn_graph(structure: &Structure, k: usize, self_loops: bool) -> Result<Edges> {
    let system = System::new(structure)?;
    let n = system.positions.len();
    if n == 0 || k == 0 {
        return Ok(Edges::default());
    }
    // How many neighbours a target can possibly have: unbounded with periodicity.
    let available = if system.is_periodic() { usize::MAX } else { n - 1 + self_loops as usize };
    let want = k.min(available);
    if n as f64 * want as f64 > MAX_CANDIDATE_PAIRS {
        return Err(Error::invalid(format!(
            "k-NN graph: {n} atoms × k = {k} exceeds the limit of {MAX_CANDIDATE_PAIRS:.0e} candidate pairs"
        )));
    }
    if !system.is_periodic() && n <= BRUTE_FORCE_MAX_ATOMS {
        // Small molecule: rank all pairs once.
        let search = BruteForce { system: &system, cutoff: f64::INFINITY, self_loops };
        return Ok(gather(&search, n, Some(want)));
    }
    let mut cutoff = system.knn_cutoff_guess(k);
    let mut done: Vec<Vec<Neighbor>> = vec![Vec::new(); n];
    let mut pending: Vec<u32> = (0..n as u32).collect();
    while !pending.is_empty() {
        let cells = CellList::new(&system, cutoff, self_loops)?;
        let found = knn_pass(&cells, &mut pending, want);
        pending.clear();
        for (i, list) in found {
            match list {
                Some(list) => done[i as usize] = list,
                None => pending.push(i),
            }
        }
        cutoff *= 1.5;
    }
    let mut edges = Edges::default();
    reserve(&mut edges, done.iter().map(Vec::len).sum());
    for (i, list) in done.iter().enumerate() {
        push_all(&mut edges, i as u32, list);
    }
    Ok(edges)
}

// ---------------------------------------------------------------------------------------------
// Internals

/// One neighbour of a target: everything of an edge but the target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Neighbor {
    pub(crate) source: u32,
    pub(crate) shift: [i32; 3],
    pub(crate) vector: [f64; 3],
    pub(crate) distance: f64,
}

/// Something that lists the neighbours of one target atom (unsorted unless `SORTED`).
pub(crate) trait Search: Sync {
    /// Whether `neighbors` already yields neighbours sorted by `(source, shift)`.
    const SORTED: bool;
    /// Appends all neighbours of `target` (within the cutoff, self-loop rule applied) to `out`.
    fn neighbors(&self, target: usize, out: &mut Vec<Neighbor>);
    /// The geometry searched (used to recompute edge vectors when assembling the output).
    fn system(&self) -> &System<'_>;
    /// The order in which targets are best processed (for memory locality); `None`: `0..n`.
    fn order(&self) -> Option<&[u32]> {
        None
    }
    /// Position of `target` in [`Search::order`].
    fn rank(&self, target: usize) -> usize {
        target
    }
}

/// The validated geometry of a structure, as the searches need it.
pub(crate) struct System<'a> {
    /// Original positions.
    pub(crate) positions: &'a [[f64; 3]],
    /// Periodicity per axis (all false without a cell).
    pub(crate) pbc: [bool; 3],
    /// Cell rows used to turn shifts into vectors: the periodic rows of the cell, zeros elsewhere.
    pub(crate) lattice: Cell,
    /// A non-singular basis for binning: the periodic cell rows, completed with unit vectors
    /// orthogonal to them along non-periodic axes (the identity for a molecule).
    pub(crate) basis: Cell,
}

impl<'a> System<'a> {
    fn new(structure: &'a Structure) -> Result<Self> {
        structure.validate()?;
        let positions = structure.positions.as_slice();
        if u32::try_from(positions.len()).is_err() {
            return Err(Error::invalid(format!("{}: more than u32::MAX atoms", structure.label())));
        }
        let pbc = structure.pbc;
        match structure.cell.as_ref().filter(|_| structure.is_periodic()).and_then(|c| periodic_basis(c, pbc)) {
            Some((lattice, basis)) => Ok(System { positions, pbc, lattice, basis }),
            // `validate` guarantees a usable cell whenever the structure is periodic.
            None => Ok(System { positions, pbc: [false; 3], lattice: [[0.0; 3]; 3], basis: IDENTITY }),
        }
    }

    pub(crate) fn is_periodic(&self) -> bool {
        self.pbc.iter().any(|&p| p)
    }

    /// A cutoff that should give each atom about `k` neighbours if the atoms were spread evenly
    /// over the search domain (only a starting point for the growing k-NN search).
    fn knn_cutoff_guess(&self, k: usize) -> f64 {
        let extent = self.domain_extent();
        let biggest = extent.iter().fold(0.0f64, |a, &b| a.max(b));
        if biggest == 0.0 {
            return 1.0;
        }
        let volume: f64 = extent.iter().map(|&e| e.max(biggest * 1e-2)).product();
        let density = self.positions.len() as f64 / volume;
        let guess = (3.0 * (k as f64 + 1.0) / (4.0 * std::f64::consts::PI * density)).cbrt() * 1.2;
        let guess = guess.max(biggest * 1e-6);
        // Without periodicity nothing lies farther than the domain's diagonal.
        if self.is_periodic() {
            guess
        } else {
            guess.min(biggest * 2.0)
        }
    }

    /// Thickness of the search domain along each axis (perpendicular to the lattice planes):
    /// the plane spacing along periodic axes, the atoms' extent along the others.
    pub(crate) fn domain_extent(&self) -> [f64; 3] {
        let spacing = plane_spacings(&self.basis);
        let inv = inverse(&self.basis);
        let mut out = [0.0; 3];
        for k in 0..3 {
            out[k] = if self.pbc[k] {
                spacing[k]
            } else {
                let (lo, hi) = self
                    .positions
                    .iter()
                    .map(|r| frac(r, &inv, k))
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), f| (lo.min(f), hi.max(f)));
                if hi >= lo {
                    (hi - lo) * spacing[k]
                } else {
                    0.0
                }
            };
        }
        out
    }

    /// The edge j → i with shift `s`, computed exactly as documented in the module docs.
    #[inline(always)]
    pub(crate) fn edge(&self, j: usize, i: usize, s: [i32; 3]) -> ([f64; 3], f64) {
        edge_vector(&self.positions[j], &self.positions[i], s, &self.lattice)
    }
}

const IDENTITY: Cell = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// `r_j + S·L − r_i` and its length, in the documented evaluation order.
#[inline(always)]
fn edge_vector(rj: &[f64; 3], ri: &[f64; 3], s: [i32; 3], lattice: &Cell) -> ([f64; 3], f64) {
    let sf = [s[0] as f64, s[1] as f64, s[2] as f64];
    let mut v = [0.0; 3];
    for k in 0..3 {
        let t = sf[0] * lattice[0][k] + sf[1] * lattice[1][k] + sf[2] * lattice[2][k];
        v[k] = (rj[k] + t) - ri[k];
    }
    let d = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    (v, d)
}

/// Fractional coordinate `k` of `r` given the inverse of the basis (`f = r·B⁻¹`).
#[inline(always)]
pub(crate) fn frac(r: &[f64; 3], inv: &Cell, k: usize) -> f64 {
    r[0] * inv[0][k] + r[1] * inv[1][k] + r[2] * inv[2][k]
}

/// Distances between neighbouring lattice planes: `d_a = V/|b×c|`, `d_b = V/|c×a|`, `d_c = V/|a×b|`.
pub(crate) fn plane_spacings(basis: &Cell) -> [f64; 3] {
    let volume = dot(&basis[0], &cross(&basis[1], &basis[2])).abs();
    let mut d = [0.0; 3];
    for k in 0..3 {
        d[k] = volume / norm(&cross(&basis[(k + 1) % 3], &basis[(k + 2) % 3]));
    }
    d
}

/// Inverse of a non-singular 3×3 matrix (adjugate over determinant).
pub(crate) fn inverse(m: &Cell) -> Cell {
    let det = dot(&m[0], &cross(&m[1], &m[2]));
    let c0 = cross(&m[1], &m[2]);
    let c1 = cross(&m[2], &m[0]);
    let c2 = cross(&m[0], &m[1]);
    // For rows a, b, c: inverse columns are (b×c, c×a, a×b) / det.
    let mut inv = [[0.0; 3]; 3];
    for r in 0..3 {
        inv[r] = [c0[r] / det, c1[r] / det, c2[r] / det];
    }
    inv
}

/// The periodic rows of `cell` (zeros elsewhere: what shifts multiply) and a well-conditioned basis
/// completing them (for binning); `None` when the periodic rows are (numerically) linearly
/// dependent or not finite. The single rule for "usable cell", shared with [`Structure::validate`].
pub(crate) fn periodic_basis(cell: &Cell, pbc: [bool; 3]) -> Option<(Cell, Cell)> {
    let mut lattice = [[0.0; 3]; 3];
    for k in (0..3).filter(|&k| pbc[k]) {
        if cell[k].iter().any(|x| !x.is_finite()) {
            return None;
        }
        lattice[k] = cell[k];
    }
    complete_basis(&lattice, pbc).map(|basis| (lattice, basis))
}

/// Completes the periodic rows of `lattice` to a well-conditioned basis, or `None` when the
/// periodic rows are (numerically) linearly dependent.
fn complete_basis(lattice: &Cell, pbc: [bool; 3]) -> Option<Cell> {
    let periodic: Vec<usize> = (0..3).filter(|&k| pbc[k]).collect();
    let lengths: Vec<f64> = periodic.iter().map(|&k| norm(&lattice[k])).collect();
    if lengths.iter().any(|&l| l <= 0.0 || !l.is_finite()) {
        return None;
    }
    let unit = |v: &[f64; 3]| scale(v, 1.0 / norm(v));
    let mut basis = *lattice;
    match periodic.len() {
        3 => {}
        2 => {
            let (a, b) = (periodic[0], periodic[1]);
            let c = 3 - a - b;
            let n = cross(&lattice[a], &lattice[b]);
            if norm(&n) <= 1e-10 * lengths[0] * lengths[1] || norm(&n).is_nan() {
                return None;
            }
            basis[c] = unit(&n);
        }
        1 => {
            let a = periodic[0];
            let u = unit(&lattice[a]);
            // Any axis not parallel to u gives a perpendicular direction.
            let axis = if u[0].abs() <= u[1].abs() && u[0].abs() <= u[2].abs() {
                [1.0, 0.0, 0.0]
            } else if u[1].abs() <= u[2].abs() {
                [0.0, 1.0, 0.0]
            } else {
                [0.0, 0.0, 1.0]
            };
            let p = unit(&cross(&u, &axis));
            let q = cross(&u, &p);
            basis[(a + 1) % 3] = p;
            basis[(a + 2) % 3] = q;
        }
        _ => return Some(IDENTITY),
    }
    // Normalised volume: 1 for an orthogonal cell, 0 for a flat one.
    let volume = dot(&basis[0], &cross(&basis[1], &basis[2])).abs();
    let product: f64 = (0..3).map(|k| norm(&basis[k])).product();
    (volume > 1e-10 * product && volume.is_finite()).then_some(basis)
}

fn check_cutoff(cutoff: f64) -> Result<()> {
    if cutoff.is_finite() && cutoff > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(format!("neighbour search: the cutoff must be finite and positive, got {cutoff}")))
    }
}

fn in_structure(k: usize, e: Error) -> Error {
    match e {
        Error::Invalid(m) => Error::invalid(format!("structure {k}: {m}")),
        other => other,
    }
}

/// All pairs, for small molecules (zero shifts only). Yields neighbours sorted by source.
struct BruteForce<'a> {
    system: &'a System<'a>,
    cutoff: f64,
    self_loops: bool,
}

impl Search for BruteForce<'_> {
    const SORTED: bool = true;

    fn system(&self) -> &System<'_> {
        self.system
    }

    fn neighbors(&self, i: usize, out: &mut Vec<Neighbor>) {
        for j in 0..self.system.positions.len() {
            if j == i && !self.self_loops {
                continue;
            }
            let (vector, distance) = self.system.edge(j, i, [0; 3]);
            if distance < self.cutoff {
                out.push(Neighbor { source: j as u32, shift: [0; 3], vector, distance });
            }
        }
    }
}

fn by_source_shift(a: &Neighbor, b: &Neighbor) -> Ordering {
    (a.source, a.shift).cmp(&(b.source, b.shift))
}

fn by_distance(a: &Neighbor, b: &Neighbor) -> Ordering {
    a.distance.total_cmp(&b.distance).then_with(|| by_source_shift(a, b))
}

/// Fills `keep` with the indices into `list` of the neighbours to output, in output order: the `k`
/// nearest (by distance, source, shift), sorted by `(source, shift)`.
///
/// Sorting is done on `source << 32 | index` integer keys (much faster than comparing the 48-byte
/// neighbours); runs with equal source (several images of one atom) are then sorted by shift.
fn select(list: &[Neighbor], k: usize, sorted: bool, keep: &mut Vec<u32>, keys: &mut Vec<u64>) {
    keep.clear();
    keep.extend(0..list.len() as u32);
    if list.len() > k {
        if k > 0 {
            keep.select_nth_unstable_by(k - 1, |&a, &b| by_distance(&list[a as usize], &list[b as usize]));
        }
        keep.truncate(k);
    } else if sorted {
        return;
    }
    keys.clear();
    keys.extend(keep.iter().map(|&p| (u64::from(list[p as usize].source) << 32) | u64::from(p)));
    keys.sort_unstable();
    keep.clear();
    keep.extend(keys.iter().map(|&key| key as u32));
    let mut start = 0;
    while start < keep.len() {
        let source = list[keep[start] as usize].source;
        let mut end = start + 1;
        while end < keep.len() && list[keep[end] as usize].source == source {
            end += 1;
        }
        if end - start > 1 {
            keep[start..end].sort_unstable_by_key(|&p| list[p as usize].shift);
        }
        start = end;
    }
}

fn push_all<'a>(edges: &mut Edges, target: u32, list: impl IntoIterator<Item = &'a Neighbor>) {
    for nb in list {
        edges.push(nb.source, target, nb.shift, nb.vector, nb.distance);
    }
}

/// Runs `search` for all `n` targets and assembles the edges in target order.
///
/// Targets are processed in the search's preferred order (bin order for a cell list, so that
/// consecutive targets share their neighbour bins in cache), in parallel chunks when `n` is large;
/// the per-target lists are then copied, in parallel, into exactly sized output arrays in target
/// order.
fn gather<S: Search>(search: &S, n: usize, limit: Option<usize>) -> Edges {
    let limit = limit.unwrap_or(usize::MAX);
    let order = search.order();
    let parallel = n >= PARALLEL_MIN_ATOMS;
    let target_at = |k: usize| order.map_or(k, |o| o[k] as usize);
    let system = search.system();

    // Search: each part covers a range of positions in processing order.
    let run = |range: std::ops::Range<usize>| {
        let mut list: Vec<SourceShift> = Vec::new();
        let mut counts = Vec::with_capacity(range.len());
        let (mut scratch, mut keep, mut keys) = (Vec::new(), Vec::new(), Vec::new());
        for (done, k) in range.clone().enumerate() {
            scratch.clear();
            search.neighbors(target_at(k), &mut scratch);
            select(&scratch, limit, S::SORTED, &mut keep, &mut keys);
            list.extend(keep.iter().map(|&p| (scratch[p as usize].source, scratch[p as usize].shift)));
            counts.push(keep.len() as u32);
            if done == 63 {
                // Extrapolate from the first targets to avoid repeated regrowth.
                let expected = (list.len() / 64 + 1) * range.len() * 9 / 8;
                list.reserve(expected.saturating_sub(list.len()));
            }
        }
        (list, counts)
    };
    // Only (source, shift) is kept between the two passes — a third of a `Neighbor` — because the
    // fresh memory touched, not the arithmetic, dominates at 10⁴–10⁵ atoms; the vector is
    // recomputed with the same expression, so the output is bit-identical.
    let chunk = if parallel { (n / (rayon::current_num_threads() * 8)).clamp(256, 8192) } else { n.max(1) };
    let ranges: Vec<_> = (0..n.div_ceil(chunk)).map(|c| c * chunk..((c + 1) * chunk).min(n)).collect();
    let parts: Vec<(Vec<SourceShift>, Vec<u32>)> = if parallel {
        ranges.clone().into_par_iter().map(run).collect()
    } else {
        ranges.iter().cloned().map(run).collect()
    };

    // Where each target's list lives: (part, start within the part, length).
    let mut location = vec![(0u32, 0usize, 0u32); n];
    for (p, (range, (_, counts))) in ranges.iter().zip(&parts).enumerate() {
        let mut start = 0;
        for (k, &c) in range.clone().zip(counts) {
            location[target_at(k)] = (p as u32, start, c);
            start += c as usize;
        }
    }
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0usize);
    for &(_, _, c) in &location {
        offsets.push(offsets[offsets.len() - 1] + c as usize);
    }
    let total = offsets[n];

    // Copy into the output in target order.
    let mut edges = Edges {
        source: vec![0; total],
        target: vec![0; total],
        shift: vec![[0; 3]; total],
        vector: vec![[0.0; 3]; total],
        distance: vec![0.0; total],
    };
    let fill = |targets: std::ops::Range<usize>, out: OutSlices<'_>| {
        let (source, target, shift, vector, distance) = out;
        let mut e = 0;
        for i in targets {
            let (p, start, c) = location[i];
            for &(j, s) in &parts[p as usize].0[start..start + c as usize] {
                let (v, d) = system.edge(j as usize, i, s);
                source[e] = j;
                target[e] = i as u32;
                shift[e] = s;
                vector[e] = v;
                distance[e] = d;
                e += 1;
            }
        }
    };
    if parallel {
        let bounds: Vec<usize> = (0..=n.div_ceil(chunk)).map(|c| (c * chunk).min(n)).collect();
        let outs = split_edges(&mut edges, bounds.windows(2).map(|w| offsets[w[1]] - offsets[w[0]]));
        bounds.windows(2).zip(outs).collect::<Vec<_>>().into_par_iter().for_each(|(w, out)| fill(w[0]..w[1], out));
    } else {
        let outs = split_edges(&mut edges, std::iter::once(total));
        for out in outs {
            fill(0..n, out);
        }
    }
    edges
}

/// The part of a neighbour kept between the search and the output pass.
type SourceShift = (u32, [i32; 3]);

/// Mutable views of the five edge arrays over one range of edges.
type OutSlices<'a> = (&'a mut [u32], &'a mut [u32], &'a mut [[i32; 3]], &'a mut [[f64; 3]], &'a mut [f64]);

/// Splits the edge arrays into consecutive pieces of the given lengths.
fn split_edges(edges: &mut Edges, lengths: impl Iterator<Item = usize>) -> Vec<OutSlices<'_>> {
    let mut rest: OutSlices<'_> =
        (&mut edges.source, &mut edges.target, &mut edges.shift, &mut edges.vector, &mut edges.distance);
    let mut out = Vec::new();
    for len in lengths {
        let (s0, s1) = std::mem::take(&mut rest.0).split_at_mut(len);
        let (t0, t1) = std::mem::take(&mut rest.1).split_at_mut(len);
        let (h0, h1) = std::mem::take(&mut rest.2).split_at_mut(len);
        let (v0, v1) = std::mem::take(&mut rest.3).split_at_mut(len);
        let (d0, d1) = std::mem::take(&mut rest.4).split_at_mut(len);
        out.push((s0, t0, h0, v0, d0));
        rest = (s1, t1, h1, v1, d1);
    }
    out
}

/// One k-NN round: for each pending target, its `want` nearest neighbours if it has at least that
/// many within the current cutoff, else `None` (to be retried with a larger cutoff).
fn knn_pass<S: Search>(search: &S, pending: &mut [u32], want: usize) -> Vec<(u32, Option<Vec<Neighbor>>)> {
    pending.sort_unstable_by_key(|&i| search.rank(i as usize));
    let one = |(list, keep, keys): &mut (Vec<Neighbor>, Vec<u32>, Vec<u64>), i: u32| {
        list.clear();
        search.neighbors(i as usize, list);
        if list.len() < want {
            return (i, None);
        }
        select(list, want, S::SORTED, keep, keys);
        (i, Some(keep.iter().map(|&p| list[p as usize]).collect()))
    };
    if pending.len() < PARALLEL_MIN_ATOMS {
        let mut scratch = (Vec::new(), Vec::new(), Vec::new());
        return pending.iter().map(|&i| one(&mut scratch, i)).collect();
    }
    pending.par_iter().map_init(|| (Vec::new(), Vec::new(), Vec::new()), |scratch, &i| one(scratch, i)).collect()
}

fn reserve(edges: &mut Edges, additional: usize) {
    edges.source.reserve(additional);
    edges.target.reserve(additional);
    edges.shift.reserve(additional);
    edges.vector.reserve(additional);
    edges.distance.reserve(additional);
}
