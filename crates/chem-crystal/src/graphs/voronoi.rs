//! Voronoi cells of the atoms of a crystal and the graph of their shared faces.
//!
//! # What is computed
//! The Voronoi cell of atom i is the set of points closer to i than to any other atom or periodic
//! image. Each face (ridge) of the cell is shared with one image j + S (possibly an image of i
//! itself); it lies in the bisector plane of the vector `r_j + S·L − r_i`. A face gives the edge
//! j → i with shift S (chem-graph's convention) and its area as edge feature. This is what kgcnn's
//! `add_voronoi_bonds` builds with scipy's Qhull on a 3×3×3 block of images, computed here cell by
//! cell without the 3×3×3 limit (so very skewed cells, whose neighbours lie farther than one cell
//! away, are also right).
//!
//! # Algorithm
//! For each atom, a cube around it large enough to hold its cell (half-width: Babai's bound on the
//! covering radius of the lattice, `½·√Σ|b_k*|²` with Gram–Schmidt vectors b_k*, the smallest over
//! the six orders of a, b, c) is clipped by the bisector half-spaces of its neighbours in order of
//! distance. Neighbours come from a periodic radius search; the cell is
//! complete once the next neighbour is at least twice as far as the cell's farthest vertex (its
//! bisector cannot reach the cell), or when the search radius is at least twice that distance.
//! Atoms whose cells are not complete are redone with a search radius of twice their cell's
//! farthest vertex (at most doubling per round), which always completes since the clipped cube
//! contains the true cell. Cells are computed in parallel with rayon for larger structures.
//!
//! # Degenerate faces
//! A bisector that only touches a cell at a vertex or along an edge, as the corner neighbours of a
//! simple cubic lattice or the second neighbours of fcc do, makes no face (a plane cuts only when a
//! vertex lies more than [`PLANE_TOLERANCE`]`·R` beyond it), and faces with area at most
//! [`DEGENERATE_AREA`]`·R²` (R: distance of the cell's farthest vertex from its atom) are dropped.
//! scipy's Qhull (default options, as kgcnn calls it) merges such cospherical configurations too, so
//! for ideal high-symmetry crystals both list the same ridges. With atoms displaced by ~10⁻¹² of the
//! cell, Qhull instead reports ridges of area ~10⁻²⁰ Å², which kgcnn keeps at its default
//! `min_ridge_area = 0`; here they are dropped.
//!
//! # Symmetry
//! The face between i and j + S is computed twice, once in each cell. [`voronoi_edges`] uses the
//! mean of the two areas for both edges j → i (S) and i → j (−S), so the graph is exactly
//! symmetric: the reverse of every edge is present with the identical area.

use std::collections::BTreeMap;

use chem_graph::neighbors::{radius_graph, RadiusOptions};
use chem_graph::{Cell, Edges, Structure};
use nalgebra::Vector3;
use rayon::prelude::*;

use super::polyhedron::Polyhedron;
pub use super::polyhedron::PLANE_TOLERANCE;
use crate::error::{Error, Result};
use crate::symmetry::crystal_lattice;

/// Faces with area at most `DEGENERATE_AREA · R²` (R: the cell's circumradius about its atom) are
/// treated as degenerate (touching, not sharing a face) and dropped.
pub const DEGENERATE_AREA: f64 = 1e-9;

/// Two atoms (or images) closer than this (Å) coincide, and their Voronoi cells are undefined.
pub const COINCIDENT_DISTANCE: f64 = 1e-8;

/// Structures with at least this many atoms get their cells computed in parallel.
const PARALLEL_MIN_ATOMS: usize = 64;

/// Radius search rounds before giving up (each round at least doubles the radius or completes).
const MAX_ROUNDS: usize = 64;

/// One face of a Voronoi cell: the ridge shared with the image `source + shift`.
#[derive(Debug, Clone, PartialEq)]
pub struct VoronoiFace {
    /// Atom j on the other side of the face.
    pub source: u32,
    /// Cell shift S of that atom's image.
    pub shift: [i32; 3],
    /// `r_j + S·L − r_i` in Å (the face lies in the bisector plane of this vector).
    pub vector: [f64; 3],
    /// Length of `vector` in Å (the face is at half this distance from the atom).
    pub distance: f64,
    /// Area of the face in Å².
    pub area: f64,
    /// The face's vertices in order around it, in Å, relative to the cell's atom.
    pub vertices: Vec<[f64; 3]>,
}

/// The Voronoi cell of one atom.
#[derive(Debug, Clone, PartialEq)]
pub struct VoronoiCell {
    /// Volume in Å³ (the pyramids from the atom over the faces, from the vertices).
    pub volume: f64,
    /// Non-degenerate faces, sorted by `(source, shift)`.
    pub faces: Vec<VoronoiFace>,
}

impl VoronoiCell {
    /// Total area of the faces in Å².
    pub fn surface_area(&self) -> f64 {
        self.faces.iter().map(|f| f.area).sum()
    }
}

/// The Voronoi cell of every atom of a crystal, in atom order (see the module docs).
///
/// Errors: a structure that is not periodic along all three axes, atoms that coincide (closer than
/// [`COINCIDENT_DISTANCE`], also modulo the lattice), and the errors of the radius search (e.g. an
/// absurdly thin cell).
pub fn voronoi_cells(structure: &Structure) -> Result<Vec<VoronoiCell>> {
    let cell = *crystal_lattice(structure)?.rows();
    let n = structure.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let half_width = cube_half_width(&cell);
    let volume = determinant(&cell).abs();
    let spread = (3.0 * volume / (4.0 * std::f64::consts::PI * n as f64)).cbrt();
    // Enough for close-packed and simple cubic arrangements; never more than can be needed.
    let mut cutoff = (3.2 * spread).min(2.0 * 3f64.sqrt() * half_width * (1.0 + 1e-9));
    let mut cells: Vec<Option<VoronoiCell>> = vec![None; n];
    let mut pending: Vec<usize> = (0..n).collect();
    for _ in 0..MAX_ROUNDS {
        let edges = radius_graph(structure, &RadiusOptions::new(cutoff))?;
        let starts = target_starts(&edges, n);
        let one = |&i: &usize| -> Result<(usize, Outcome)> {
            let mut candidates: Vec<Candidate> = (starts[i]..starts[i + 1]).map(|e| Candidate::of(&edges, e)).collect();
            Ok((i, build_cell(i, &mut candidates, half_width, cutoff)?))
        };
        let outcomes: Vec<(usize, Outcome)> = if pending.len() >= PARALLEL_MIN_ATOMS {
            pending.par_iter().map(one).collect::<Result<_>>()?
        } else {
            pending.iter().map(one).collect::<Result<_>>()?
        };
        pending.clear();
        let mut needed: f64 = 0.0;
        for (i, outcome) in outcomes {
            match outcome {
                Outcome::Complete(c) => cells[i] = Some(c),
                Outcome::Open { radius } => {
                    pending.push(i);
                    needed = needed.max(2.0 * radius * (1.0 + 1e-9));
                }
            }
        }
        if pending.is_empty() {
            return Ok(cells.into_iter().flatten().collect());
        }
        cutoff = needed.min(2.0 * cutoff);
    }
    Err(Error::invalid(format!(
        "{}: the Voronoi cells of {} atoms did not close within a search radius of {cutoff} Å",
        structure.label(),
        pending.len()
    )))
}

/// The Voronoi graph: one edge j → i (shift S) per face of atom i's cell shared with image j + S,
/// with the face area (Å², the mean of the two cells' values, see the module docs), keeping faces
/// with `area > min_area`. Edges follow chem-graph's convention and order (grouped by target, then
/// sorted by `(source, shift)`); the reverse of every edge is present with the same area. Returns
/// the edges and the areas (one per edge).
///
/// Errors: a negative or non-finite `min_area`, and those of [`voronoi_cells`].
pub fn voronoi_edges(structure: &Structure, min_area: f64) -> Result<(Edges, Vec<f64>)> {
    if !(min_area.is_finite() && min_area >= 0.0) {
        return Err(Error::invalid(format!(
            "Voronoi graph: the minimum area must be finite and non-negative, got {min_area}"
        )));
    }
    let cell = *crystal_lattice(structure)?.rows();
    let cells = voronoi_cells(structure)?;
    let mut areas: BTreeMap<(u32, u32, [i32; 3]), f64> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        for f in &c.faces {
            *areas.entry((i as u32, f.source, f.shift)).or_insert(0.0) += 0.5 * f.area;
            *areas.entry((f.source, i as u32, f.shift.map(|s| -s))).or_insert(0.0) += 0.5 * f.area;
        }
    }
    let mut edges = Edges::default();
    let mut kept = Vec::new();
    for ((target, source, shift), area) in areas {
        if area > min_area {
            let (v, d) = edge_vector(structure, &cell, source, target, shift);
            edges.push(source, target, shift, v, d);
            kept.push(area);
        }
    }
    Ok((edges, kept))
}

/// A neighbour of the cell's atom, from the radius search.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    source: u32,
    shift: [i32; 3],
    vector: [f64; 3],
    distance: f64,
}

impl Candidate {
    fn of(edges: &Edges, e: usize) -> Self {
        Candidate {
            source: edges.source[e],
            shift: edges.shift[e],
            vector: edges.vector[e],
            distance: edges.distance[e],
        }
    }
}

enum Outcome {
    Complete(VoronoiCell),
    /// The search radius did not reach twice the distance of the (partial) cell's farthest vertex.
    Open {
        radius: f64,
    },
}

/// Clips the cube around atom `i` by its neighbours within `cutoff` (`candidates`, reordered).
fn build_cell(i: usize, candidates: &mut [Candidate], half_width: f64, cutoff: f64) -> Result<Outcome> {
    candidates.sort_unstable_by(|a, b| {
        a.distance.total_cmp(&b.distance).then_with(|| (a.source, a.shift).cmp(&(b.source, b.shift)))
    });
    if let Some(c) = candidates.first().filter(|c| c.distance < COINCIDENT_DISTANCE) {
        return Err(Error::invalid(format!(
            "atoms {i} and {} (shift {:?}) coincide ({:.1e} Å apart): their Voronoi cells are undefined",
            c.source, c.shift, c.distance
        )));
    }
    let mut poly = Polyhedron::cube(half_width);
    let mut complete = false;
    for (label, c) in candidates.iter().enumerate() {
        if c.distance >= 2.0 * poly.radius() {
            complete = true;
            break;
        }
        let normal = Vector3::from(c.vector) / c.distance;
        poly.clip(&normal, 0.5 * c.distance, label as u32);
    }
    if !complete && cutoff < 2.0 * poly.radius() {
        return Ok(Outcome::Open { radius: poly.radius() });
    }
    let tiny = DEGENERATE_AREA * poly.radius() * poly.radius();
    let mut faces = Vec::with_capacity(poly.faces().len());
    for face in poly.faces() {
        let area = face.area();
        if area <= tiny {
            continue;
        }
        let Some(label) = face.label else {
            return Err(Error::invalid(format!(
                "the Voronoi cell of atom {i} reaches its bounding cube (half-width {half_width} Å): internal error"
            )));
        };
        let c = &candidates[label as usize];
        let vertices = face.vertices.iter().map(|v| [v.x, v.y, v.z]).collect();
        faces.push(VoronoiFace {
            source: c.source,
            shift: c.shift,
            vector: c.vector,
            distance: c.distance,
            area,
            vertices,
        });
    }
    faces.sort_by_key(|f| (f.source, f.shift));
    Ok(Outcome::Complete(VoronoiCell { volume: poly.volume(), faces }))
}

/// `starts[i]..starts[i + 1]`: the edges of target i (edges are grouped by target).
fn target_starts(edges: &Edges, n: usize) -> Vec<usize> {
    let mut starts = vec![0; n + 1];
    for &t in &edges.target {
        starts[t as usize + 1] += 1;
    }
    for i in 0..n {
        starts[i + 1] += starts[i];
    }
    starts
}

/// Half-width of a cube around an atom that surely holds its Voronoi cell: the cell lies in the
/// Wigner–Seitz cell of the atom's own lattice images, whose points are within Babai's bound
/// `½·√(|b₁*|² + |b₂*|² + |b₃*|²)` of the atom for the Gram–Schmidt vectors b_k* of any order of the
/// cell vectors. The smallest bound over the six orders, with a 1 % margin.
fn cube_half_width(cell: &Cell) -> f64 {
    let rows = cell.map(Vector3::from);
    let volume = determinant(cell).abs();
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    let bound = orders
        .iter()
        .map(|&[p, q, _]| {
            let (a, b) = (&rows[p], &rows[q]);
            let ab = a.cross(b).norm();
            let g = [a.norm(), ab / a.norm(), volume / ab];
            0.5 * (g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).sqrt()
        })
        .fold(f64::INFINITY, f64::min);
    1.01 * bound
}

fn determinant(m: &Cell) -> f64 {
    chem_graph::structure::determinant(m)
}

/// `r_j + S·L − r_i` and its length, with chem-graph's evaluation order (see its `neighbors`
/// module docs), so the values match its neighbour lists bit for bit.
fn edge_vector(structure: &Structure, lattice: &Cell, j: u32, i: u32, s: [i32; 3]) -> ([f64; 3], f64) {
    let (rj, ri) = (&structure.positions[j as usize], &structure.positions[i as usize]);
    let sf = s.map(f64::from);
    let mut v = [0.0; 3];
    for k in 0..3 {
        let t = sf[0] * lattice[0][k] + sf[1] * lattice[1][k] + sf[2] * lattice[2][k];
        v[k] = (rj[k] + t) - ri[k];
    }
    (v, (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crystal(cell: Cell, positions: Vec<[f64; 3]>) -> Structure {
        Structure::periodic(vec![29; positions.len()], positions, cell, [true; 3]).unwrap()
    }

    #[test]
    fn cubic_bcc_and_fcc_cells() {
        let a = 3.0;
        let sc = crystal([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]], vec![[0.3, -0.2, 0.1]]);
        let cells = voronoi_cells(&sc).unwrap();
        assert_eq!(cells[0].faces.len(), 6);
        assert!(cells[0].faces.iter().all(|f| (f.area - a * a).abs() < 1e-12 && f.vertices.len() == 4));
        assert!((cells[0].volume - a * a * a).abs() < 1e-12);
        let h = a / 2.0;
        let bcc = crystal([[-h, h, h], [h, -h, h], [h, h, -h]], vec![[0.0; 3]]);
        let faces = &voronoi_cells(&bcc).unwrap()[0].faces;
        let hexagons = faces.iter().filter(|f| f.vertices.len() == 6).count();
        let squares = faces.iter().filter(|f| f.vertices.len() == 4).count();
        assert_eq!((faces.len(), hexagons, squares), (14, 8, 6));
        let fcc = crystal([[0.0, h, h], [h, 0.0, h], [h, h, 0.0]], vec![[0.0; 3]]);
        let cell = &voronoi_cells(&fcc).unwrap()[0];
        assert_eq!(cell.faces.len(), 12);
        assert!(cell.faces.iter().all(|f| f.vertices.len() == 4));
        assert!((cell.volume - a * a * a / 4.0).abs() < 1e-12);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let cell = [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]];
        let molecule = Structure::molecule(vec![1, 1], vec![[0.0; 3], [0.7, 0.0, 0.0]]).unwrap();
        assert!(voronoi_cells(&molecule).is_err());
        let slab = Structure::periodic(vec![1], vec![[0.0; 3]], cell, [true, true, false]).unwrap();
        assert!(voronoi_cells(&slab).is_err());
        let twins = crystal(cell, vec![[0.0; 3], [3.0, 0.0, 0.0]]);
        let err = voronoi_cells(&twins).unwrap_err().to_string();
        assert!(err.contains("coincide"), "{err}");
        let one = crystal(cell, vec![[0.0; 3]]);
        assert!(voronoi_edges(&one, -1.0).is_err());
        assert!(voronoi_edges(&one, f64::NAN).is_err());
        let empty = Structure::periodic(vec![], vec![], cell, [true; 3]).unwrap();
        assert!(voronoi_edges(&empty, 0.0).unwrap().0.is_empty());
    }
}
