//! The cell-list (binning) search behind [`super::radius_graph`] and [`super::knn_graph`].
//!
//! Atoms are binned in fractional coordinates of a non-singular basis (the cell, completed along
//! non-periodic axes). Along a periodic axis the bins tile `[0, 1)` and atoms are wrapped into it;
//! along a non-periodic axis they tile the atoms' extent. A pair within the cutoff is never more
//! than `reach = ceil(cutoff / bin_width)` bins apart along any axis (bin widths are measured
//! perpendicular to the lattice planes), so each target scans the `(2·reach + 1)³` bins around its
//! own, wrapping periodic bin indices and turning each wrap into a unit of shift.

use super::{edge_vector, frac, inverse, plane_spacings, Neighbor, Search, System, MAX_CANDIDATE_PAIRS};
use crate::error::{Error, Result};
use crate::vec3::norm;

/// Bins per cutoff length along each axis (bins are at least `cutoff / BINS_PER_CUTOFF` wide).
const BINS_PER_CUTOFF: f64 = 2.0;

/// At most this many bins per atom (keeps memory linear for sparse or spread-out inputs).
const MAX_BINS_PER_ATOM: usize = 2;

/// Largest accepted |shift component| from wrapping and from the search reach (keeps the shift
/// arithmetic far from `i32` overflow).
const MAX_SHIFT: f64 = (1u32 << 28) as f64;

/// An atom as stored in the cell list.
#[derive(Clone, Copy, Default)]
struct Atom {
    /// Original position.
    orig: [f64; 3],
    /// Integer wrap `n` (wrapped position = original − n·L).
    wrap: [i32; 3],
    /// Original index.
    index: u32,
}

pub(crate) struct CellList<'a> {
    system: &'a System<'a>,
    cutoff: f64,
    /// Squared pre-filter radius (cutoff plus a rounding margin).
    loose2: f64,
    self_loops: bool,
    n_bins: [i64; 3],
    reach: [i64; 3],
    /// Atoms of bin b are at `bin_start[b]..bin_start[b + 1]` of the sorted arrays.
    bin_start: Vec<u32>,
    /// Wrapped Cartesian positions, sorted by bin (read for every candidate).
    pos: Vec<[f64; 3]>,
    /// What is needed for an accepted candidate, sorted by bin.
    atoms: Vec<Atom>,
    /// Original atom indices in bin order.
    index: Vec<u32>,
    /// Bin coordinates of each atom, sorted by bin.
    bin_of: Vec<[u32; 3]>,
    /// Position of original atom i in the sorted arrays.
    slot: Vec<u32>,
}

impl<'a> CellList<'a> {
    pub(crate) fn new(system: &'a System<'a>, cutoff: f64, self_loops: bool) -> Result<Self> {
        let positions = system.positions;
        let n = positions.len();
        let pbc = system.pbc;
        let lattice = &system.lattice;
        let inv = inverse(&system.basis);
        let spacing = plane_spacings(&system.basis);

        // Fractional coordinates, wrapped along periodic axes.
        let mut fracs = Vec::with_capacity(n);
        let mut wraps = Vec::with_capacity(n);
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        let mut max_wrap = 0.0f64;
        for r in positions {
            let mut f = [0.0; 3];
            let mut w = [0i32; 3];
            for k in 0..3 {
                f[k] = frac(r, &inv, k);
                if pbc[k] {
                    let fl = f[k].floor();
                    if fl.abs() >= MAX_SHIFT {
                        return Err(Error::invalid(format!(
                            "neighbour search: an atom at {r:?} lies {fl} cells outside the cell along axis {k}"
                        )));
                    }
                    max_wrap = max_wrap.max(fl.abs());
                    w[k] = fl as i32;
                    f[k] -= fl;
                } else {
                    lo[k] = lo[k].min(f[k]);
                    hi[k] = hi[k].max(f[k]);
                }
            }
            fracs.push(f);
            wraps.push(w);
        }

        // Domain per axis in fractional units and its thickness in Å.
        let mut origin = [0.0; 3];
        let mut span = [1.0; 3];
        for k in (0..3).filter(|&k| !pbc[k]) {
            origin[k] = lo[k];
            span[k] = hi[k] - lo[k];
        }
        let thickness: [f64; 3] = std::array::from_fn(|k| span[k] * spacing[k]);

        // Rounding margin for the pre-filter, relative to the magnitudes involved.
        let max_r = positions.iter().map(norm).fold(0.0, f64::max);
        let cell_size: f64 = (0..3).map(|k| norm(&lattice[k])).sum();
        let tol = 1e-12 * (cutoff + max_r + (max_wrap + 2.0) * cell_size);
        let loose = cutoff + tol;

        // Bins per axis: at least cutoff/BINS_PER_CUTOFF wide (a hair wider, so that the reach
        // below does not jump when the thickness is an exact multiple of the cutoff).
        let max_bins = (MAX_BINS_PER_ATOM * n).max(1) as i64;
        let mut n_bins = [1i64; 3];
        for k in 0..3 {
            let nb = (BINS_PER_CUTOFF * thickness[k] / (loose * (1.0 + 1e-6))).floor();
            n_bins[k] = if nb >= 1.0 { nb.min(max_bins as f64) as i64 } else { 1 };
        }
        while n_bins.iter().map(|&b| b as u128).product::<u128>() > max_bins as u128 {
            let k = (0..3).max_by_key(|&k| n_bins[k]).unwrap_or(0);
            n_bins[k] = (n_bins[k] + 1) / 2;
        }

        // Reach in bins, and the work estimate.
        let mut reach = [0i64; 3];
        let mut offsets = 1.0;
        for k in 0..3 {
            let mut r = if thickness[k] > 0.0 { (loose * n_bins[k] as f64 / thickness[k] + 1e-7).ceil() } else { 0.0 };
            if pbc[k] {
                if r >= MAX_SHIFT || r.is_nan() {
                    return Err(too_much(cutoff, f64::INFINITY));
                }
                offsets *= 2.0 * r + 1.0;
            } else {
                // Along a non-periodic axis nothing lies beyond the last bin (also guards against a
                // huge reach when the atoms' extent is a rounding error).
                r = r.min(n_bins[k] as f64 - 1.0);
                offsets *= 2.0 * r + 1.0;
            }
            reach[k] = r as i64;
        }
        let total_bins = n_bins.iter().product::<i64>() as usize;
        let estimate = n as f64 * offsets * (n as f64 / total_bins as f64);
        if estimate > MAX_CANDIDATE_PAIRS {
            return Err(too_much(cutoff, estimate));
        }

        // Bin every atom and counting-sort by bin.
        let mut bins = Vec::with_capacity(n);
        let mut count = vec![0u32; total_bins + 1];
        for f in &fracs {
            let mut b = [0u32; 3];
            for k in 0..3 {
                let x = if span[k] > 0.0 { (f[k] - origin[k]) / span[k] * n_bins[k] as f64 } else { 0.0 };
                b[k] = (x.floor().max(0.0) as i64).min(n_bins[k] - 1) as u32;
            }
            let id = (b[0] as usize * n_bins[1] as usize + b[1] as usize) * n_bins[2] as usize + b[2] as usize;
            count[id + 1] += 1;
            bins.push((b, id));
        }
        for b in 0..total_bins {
            count[b + 1] += count[b];
        }
        let bin_start = count.clone();
        let mut fill = count;
        let mut pos = vec![[0.0; 3]; n];
        let mut atoms = vec![Atom::default(); n];
        let mut index = vec![0u32; n];
        let mut bin_of = vec![[0u32; 3]; n];
        let mut slot = vec![0u32; n];
        for (i, (b, id)) in bins.into_iter().enumerate() {
            let p = fill[id] as usize;
            fill[id] += 1;
            let w = wraps[i];
            let r = positions[i];
            let mut wrapped = r;
            for k in (0..3).filter(|&k| w[k] != 0) {
                for c in 0..3 {
                    wrapped[c] -= w[k] as f64 * lattice[k][c];
                }
            }
            pos[p] = wrapped;
            atoms[p] = Atom { orig: r, wrap: w, index: i as u32 };
            index[p] = i as u32;
            bin_of[p] = b;
            slot[i] = p as u32;
        }

        Ok(CellList {
            system,
            cutoff,
            loose2: loose * loose,
            self_loops,
            n_bins,
            reach,
            bin_start,
            pos,
            atoms,
            index,
            bin_of,
            slot,
        })
    }

    /// Bin coordinate `c` along axis `k` folded into the grid: `(bin, shift)`, or `None` when it
    /// falls outside a non-periodic axis.
    #[inline(always)]
    fn fold(&self, k: usize, c: i64) -> Option<(i64, i64)> {
        let n = self.n_bins[k];
        if self.system.pbc[k] {
            Some((c.rem_euclid(n), c.div_euclid(n)))
        } else {
            (0..n).contains(&c).then_some((c, 0))
        }
    }
}

impl Search for CellList<'_> {
    const SORTED: bool = false;

    fn system(&self) -> &System<'_> {
        self.system
    }

    fn order(&self) -> Option<&[u32]> {
        Some(&self.index)
    }

    fn rank(&self, target: usize) -> usize {
        self.slot[target] as usize
    }

    fn neighbors(&self, i: usize, out: &mut Vec<Neighbor>) {
        let sys = self.system;
        let lattice = &sys.lattice;
        let slot = self.slot[i] as usize;
        let ri = self.pos[slot];
        let ri_orig = self.atoms[slot].orig;
        let wi = self.atoms[slot].wrap;
        let b = self.bin_of[slot].map(i64::from);
        let [_, ny, nz] = self.n_bins;
        let [rx, ry, rz] = self.reach;
        let (z_lo, z_hi) =
            if sys.pbc[2] { (b[2] - rz, b[2] + rz) } else { ((b[2] - rz).max(0), (b[2] + rz).min(nz - 1)) };
        for dx in -rx..=rx {
            let Some((x, sx)) = self.fold(0, b[0] + dx) else { continue };
            for dy in -ry..=ry {
                let Some((y, sy)) = self.fold(1, b[1] + dy) else { continue };
                let row = ((x * ny + y) * nz) as usize;
                // Along z, consecutive bins with the same shift are contiguous in memory.
                let mut z = z_lo;
                while z <= z_hi {
                    let sz = z.div_euclid(nz);
                    let end = z_hi.min((sz + 1) * nz - 1);
                    let first = self.bin_start[row + (z - sz * nz) as usize] as usize;
                    let last = self.bin_start[row + (end - sz * nz) as usize + 1] as usize;
                    z = end + 1;
                    if first == last {
                        continue;
                    }
                    let image = [sx as i32, sy as i32, sz as i32];
                    let (fx, fy, fz) = (sx as f64, sy as f64, sz as f64);
                    let mut base = [0.0; 3];
                    for c in 0..3 {
                        base[c] = fx * lattice[0][c] + fy * lattice[1][c] + fz * lattice[2][c] - ri[c];
                    }
                    for (rj, atom) in self.pos[first..last].iter().zip(&self.atoms[first..last]) {
                        let v = [rj[0] + base[0], rj[1] + base[1], rj[2] + base[2]];
                        if v[0] * v[0] + v[1] * v[1] + v[2] * v[2] > self.loose2 {
                            continue;
                        }
                        let (j, wj) = (atom.index, atom.wrap);
                        let shift = [image[0] + wi[0] - wj[0], image[1] + wi[1] - wj[1], image[2] + wi[2] - wj[2]];
                        if j as usize == i && shift == [0; 3] && !self.self_loops {
                            continue;
                        }
                        let (vector, distance) = edge_vector(&atom.orig, &ri_orig, shift, lattice);
                        if distance < self.cutoff {
                            out.push(Neighbor { source: j, shift, vector, distance });
                        }
                    }
                }
            }
        }
    }
}

fn too_much(cutoff: f64, estimate: f64) -> Error {
    Error::invalid(format!(
        "neighbour search: cutoff {cutoff} Å needs about {estimate:.3e} candidate pairs (limit {MAX_CANDIDATE_PAIRS:.0e}); \
         the cell is tiny or extremely thin compared with the cutoff"
    ))
}
