//! Space-group symmetry of a crystal, found with the [`moyo`] crate (spglib's successor by the same
//! author), as plain data.
//!
//! # Conventions
//! * Operations act on **fractional coordinates of the input cell** as column vectors:
//!   `x' = R·x + τ` ([`SymOp`]). When the input cell is not primitive (a conventional cell, a
//!   supercell) the list includes the pure translations, so `|operations|` = point-group order ×
//!   cells per primitive cell, as in spglib's `get_symmetry`.
//! * `orbits[i]` is the input index of the representative of atom i's orbit (the smallest index in
//!   the orbit; spglib's `crystallographic_orbits`). The **multiplicity** of an orbit is its number
//!   of atoms in the input cell; kgcnn counts in the conventional cell instead, which differs by a
//!   common factor per crystal and so leaves multiplicity-weighted means unchanged.
//! * Wyckoff letters and site-symmetry symbols refer to the standard setting of the space group
//!   (ITA), as in spglib's `wyckoffs`.
//! * When detection fails (moyo returns an error, e.g. for a tolerance that cannot be satisfied),
//!   the result is P1: the identity only, every atom its own orbit, Wyckoff letter `a`, and
//!   [`Symmetry::fallback`] says why. kgcnn's crystal preprocessors do the same.

use chem_graph::Structure;
use nalgebra::{Matrix3, Vector3};

use crate::error::{Error, Result};
use crate::lattice::Lattice;

/// A space-group operation `x' = R·x + τ` on fractional coordinates (column vectors).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymOp {
    /// The integer rotation part R (rows of the matrix).
    pub rotation: [[i32; 3]; 3],
    /// The translation τ in fractional coordinates.
    pub translation: [f64; 3],
}

impl SymOp {
    /// The identity operation.
    pub const IDENTITY: SymOp = SymOp { rotation: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], translation: [0.0; 3] };

    /// `R·x + τ`.
    pub fn apply(&self, x: &[f64; 3]) -> [f64; 3] {
        std::array::from_fn(|i| (0..3).map(|j| self.rotation[i][j] as f64 * x[j]).sum::<f64>() + self.translation[i])
    }

    /// True when both operations are the same modulo lattice translations (translations equal
    /// modulo 1 within 1e-6).
    pub fn same_modulo_lattice(&self, other: &SymOp) -> bool {
        self.rotation == other.rotation
            && self.translation.iter().zip(&other.translation).all(|(a, b)| {
                let d = a - b;
                (d - d.round()).abs() < 1e-6
            })
    }

    /// The operation as a 4×4 affine matrix (kgcnn's `symmop` form).
    pub fn affine(&self) -> [[f64; 4]; 4] {
        std::array::from_fn(|i| {
            std::array::from_fn(|j| match (i, j) {
                (3, 3) => 1.0,
                (3, _) => 0.0,
                (_, 3) => self.translation[i],
                _ => self.rotation[i][j] as f64,
            })
        })
    }

    /// The operation written as in CIF files, e.g. `-y+1/2, x, z+3/4`.
    pub fn to_xyz(&self) -> String {
        let part = |i: usize| {
            let mut s = String::new();
            for (j, axis) in ["x", "y", "z"].iter().enumerate() {
                match self.rotation[i][j] {
                    0 => {}
                    1 => s.push_str(&format!("{}{axis}", if s.is_empty() { "" } else { "+" })),
                    -1 => s.push_str(&format!("-{axis}")),
                    r => s.push_str(&format!("{}{r}*{axis}", if s.is_empty() || r < 0 { "" } else { "+" })),
                }
            }
            let t = self.translation[i] - self.translation[i].floor();
            if t > 1e-8 && t < 1.0 - 1e-8 {
                s.push('+');
                s.push_str(&fraction(t));
            }
            if s.is_empty() {
                s.push('0');
            }
            s
        };
        format!("{}, {}, {}", part(0), part(1), part(2))
    }
}

/// `t` as a fraction with denominator ≤ 12 when it is one (the translations of space groups), else
/// in decimal.
fn fraction(t: f64) -> String {
    for d in [2, 3, 4, 6, 8, 12] {
        let n = (t * d as f64).round();
        if (t * d as f64 - n).abs() < 1e-6 {
            let g = gcd(n as i64, d);
            return format!("{}/{}", n as i64 / g, d / g);
        }
    }
    format!("{t}")
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

/// Tolerances of the symmetry search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SymmetryOptions {
    /// Distance tolerance in Å (spglib's `symprec`). kgcnn (through pyxtal) uses 1e-3.
    pub symprec: f64,
    /// Angle tolerance in degrees; `None` is spglib's default (derived from `symprec`).
    pub angle_tolerance: Option<f64>,
}

impl Default for SymmetryOptions {
    fn default() -> Self {
        SymmetryOptions { symprec: 1e-3, angle_tolerance: None }
    }
}

/// The symmetry of one crystal (see the module docs for the conventions).
#[derive(Debug, Clone, PartialEq)]
pub struct Symmetry {
    /// International space-group number, 1–230.
    pub number: u8,
    /// Hermann–Mauguin symbol, e.g. `F m -3 m`.
    pub symbol: String,
    /// Hall number of the setting, 1–530 (spglib's numbering).
    pub hall_number: u16,
    /// Operations in the input cell's fractional basis.
    pub operations: Vec<SymOp>,
    /// Representative (input index) of each atom's orbit.
    pub orbits: Vec<usize>,
    /// Wyckoff letter of each atom.
    pub wyckoffs: Vec<char>,
    /// Site-symmetry symbol of each atom (e.g. `m-3m`).
    pub site_symmetry: Vec<String>,
    /// The tolerance moyo actually used (it may loosen or tighten the requested one).
    pub symprec: f64,
    /// Why the result is P1 when detection failed; `None` when detection succeeded.
    pub fallback: Option<String>,
    /// The input cell snapped to exact symmetry (see [`RefinedCell`]); the input itself for P1.
    pub refined: RefinedCell,
}

/// The input cell made exactly symmetric under the found space group, in the input's own basis,
/// origin, orientation and atom order: what [`Symmetry::symmetrize`] builds a structure from.
///
/// moyo refines its primitive standardised cell (spglib's refinement): every position is replaced
/// by the average of its images under the space group's exact operations from the Hall-symbol
/// database, each image pulled back onto the atom it maps to (so each orbit is regenerated exactly
/// from its representative), and the metric tensor `G = A·Aᵀ` is averaged over the point group,
/// `G' = Σ_R Rᵀ·G·R / |P|`. moyo applies the new metric as a pure stretch (no rotation) when it is
/// asked not to rotate the basis, as here. The refined cell is then transformed back with moyo's
/// `prim_std_linear` and `prim_std_origin_shift`, and each atom takes the lattice image of its refined
/// position nearest to its input position, so positions are not wrapped.
#[derive(Debug, Clone, PartialEq)]
pub struct RefinedCell {
    /// Cell vectors in Å (rows).
    pub lattice: [[f64; 3]; 3],
    /// Fractional coordinates of every input atom in `lattice`, in input order.
    pub positions: Vec<[f64; 3]>,
}

impl Symmetry {
    /// Finds the symmetry of `structure` (which must be periodic along all three axes). Detection
    /// failures fall back to P1 (see [`Symmetry::fallback`]); errors are only for inputs that are not
    /// crystals (no cell, not periodic, bad tolerance, invalid structure).
    pub fn find(structure: &Structure, options: &SymmetryOptions) -> Result<Symmetry> {
        let lattice = crystal_lattice(structure)?;
        if !(options.symprec.is_finite() && options.symprec > 0.0) {
            return Err(Error::invalid(format!("symprec {} must be finite and positive", options.symprec)));
        }
        if let Some(angle) = options.angle_tolerance {
            if !(angle.is_finite() && angle > 0.0) {
                return Err(Error::invalid(format!("angle tolerance {angle} must be finite and positive")));
            }
        }
        let frac = lattice.fractional_positions(structure);
        let cell = moyo::base::Cell::new(
            moyo::base::Lattice::new(lattice.matrix()),
            frac.iter().map(|f| Vector3::from(*f)).collect(),
            structure.numbers.iter().map(|&z| z as i32).collect(),
        );
        let angle = match options.angle_tolerance {
            Some(degrees) => moyo::base::AngleTolerance::Radian(degrees.to_radians()),
            None => moyo::base::AngleTolerance::Default,
        };
        // moyo is not documented to be panic-free on every input; a panic becomes a P1 fallback.
        let found = std::panic::catch_unwind(|| {
            moyo::MoyoDataset::new(&cell, options.symprec, angle, moyo::data::Setting::Spglib, false)
        });
        let refined = match &found {
            Ok(Ok(ds)) => refined_cell(ds, &frac),
            _ => None,
        };
        Ok(match (found, refined) {
            (Ok(Ok(ds)), Some(refined)) => Symmetry {
                number: ds.number as u8,
                symbol: ds.hm_symbol.clone(),
                hall_number: ds.hall_number as u16,
                operations: ds.operations.iter().map(|op| to_symop(&op.rotation, &op.translation)).collect(),
                orbits: ds.orbits.clone(),
                wyckoffs: ds.wyckoffs.clone(),
                site_symmetry: ds.site_symmetry_symbols.clone(),
                symprec: ds.symprec,
                fallback: None,
                refined,
            },
            (Ok(Ok(_)), None) => Symmetry::p1(structure, options.symprec, "moyo's refined cell is singular".into())?,
            (Ok(Err(e)), _) => Symmetry::p1(structure, options.symprec, format!("moyo: {e}"))?,
            (Err(_), _) => Symmetry::p1(structure, options.symprec, "moyo panicked".into())?,
        })
    }

    /// The trivial symmetry of a crystal: P1, identity only, every atom its own orbit, the input as
    /// its own refined cell, and `reason` as [`Symmetry::fallback`]. Errors: not a crystal.
    pub fn p1(structure: &Structure, symprec: f64, reason: String) -> Result<Symmetry> {
        let lattice = crystal_lattice(structure)?;
        let n = structure.len();
        Ok(Symmetry {
            number: 1,
            symbol: "P 1".into(),
            hall_number: 1,
            operations: vec![SymOp::IDENTITY],
            orbits: (0..n).collect(),
            wyckoffs: vec!['a'; n],
            site_symmetry: vec!["1".into(); n],
            symprec,
            fallback: Some(reason),
            refined: RefinedCell { lattice: *lattice.rows(), positions: lattice.fractional_positions(structure) },
        })
    }

    /// Input indices of the orbit representatives, in increasing order.
    pub fn representatives(&self) -> Vec<usize> {
        (0..self.orbits.len()).filter(|&i| self.orbits[i] == i).collect()
    }

    /// Size of each atom's orbit in the input cell.
    pub fn multiplicities(&self) -> Vec<usize> {
        let mut count = vec![0; self.orbits.len()];
        for &r in &self.orbits {
            count[r] += 1;
        }
        self.orbits.iter().map(|&r| count[r]).collect()
    }

    /// The crystal system of the space group.
    pub fn crystal_system(&self) -> &'static str {
        match self.number {
            1..=2 => "triclinic",
            3..=15 => "monoclinic",
            16..=74 => "orthorhombic",
            75..=142 => "tetragonal",
            143..=167 => "trigonal",
            168..=194 => "hexagonal",
            _ => "cubic",
        }
    }

    /// For every atom j, an operation index g and an integer translation t with
    /// `x_j = R_g·x_{orbits[j]} + τ_g + t` (fractional coordinates of the input positions, not
    /// wrapped): the operation that recreates atom j from its representative (the first such
    /// operation in [`Symmetry::operations`]). The match is accepted within `tolerance` Å; an atom that
    /// no operation maps onto (inconsistent input) is an error.
    ///
    /// Cost: each operation is applied once per orbit and its image looked up in a grid of the
    /// orbit's wrapped positions, so O(orbits × operations + atoms), not atoms × operations.
    pub fn atom_operations(&self, structure: &Structure, tolerance: f64) -> Result<Vec<(usize, [i32; 3])>> {
        let lattice = crystal_lattice(structure)?;
        let frac = lattice.fractional_positions(structure);
        // Grid cells at least `tolerance` wide across each pair of lattice planes: an image within
        // `tolerance` of an atom lies in the atom's cell or a neighbouring one.
        let bins = lattice.plane_spacings().map(|d| ((d / tolerance).floor() as i64).clamp(1, 1 << 12));
        let cell_of = |f: &[f64; 3]| -> [i64; 3] {
            std::array::from_fn(|k| (((f[k] - f[k].floor()) * bins[k] as f64).floor() as i64).rem_euclid(bins[k]))
        };
        let mut found: Vec<Option<(usize, [i32; 3])>> = vec![None; frac.len()];
        for rep in self.representatives() {
            let mut grid: std::collections::HashMap<[i64; 3], Vec<usize>> = std::collections::HashMap::new();
            for j in (0..frac.len()).filter(|&j| self.orbits[j] == rep) {
                grid.entry(cell_of(&frac[j])).or_default().push(j);
            }
            let mut missing: usize = grid.values().map(Vec::len).sum();
            for (g, op) in self.operations.iter().enumerate() {
                if missing == 0 {
                    break;
                }
                let y = op.apply(&frac[rep]);
                let c = cell_of(&y);
                for offset in NEIGHBOUR_CELLS {
                    let key: [i64; 3] = std::array::from_fn(|k| (c[k] + offset[k]).rem_euclid(bins[k]));
                    for &j in grid.get(&key).into_iter().flatten() {
                        if found[j].is_some() {
                            continue;
                        }
                        let d: [f64; 3] = std::array::from_fn(|k| frac[j][k] - y[k]);
                        let t = d.map(f64::round);
                        let residual = lattice.to_cartesian(&std::array::from_fn(|k| d[k] - t[k]));
                        if residual.iter().map(|x| x * x).sum::<f64>().sqrt() <= tolerance {
                            found[j] = Some((g, t.map(|x| x as i32)));
                            missing -= 1;
                        }
                    }
                }
            }
        }
        found
            .into_iter()
            .enumerate()
            .map(|(j, op)| {
                op.ok_or_else(|| {
                    Error::invalid(format!(
                        "{}: no symmetry operation maps atom {} onto atom {j} within {tolerance} Å",
                        structure.label(),
                        self.orbits[j]
                    ))
                })
            })
            .collect()
    }
}

/// The 27 offsets of a grid cell and its neighbours.
const NEIGHBOUR_CELLS: [[i64; 3]; 27] = {
    let mut cells = [[0i64; 3]; 27];
    let mut k = 0;
    while k < 27 {
        cells[k] = [(k / 9) as i64 - 1, ((k / 3) % 3) as i64 - 1, (k % 3) as i64 - 1];
        k += 1;
    }
    cells
};

/// The lattice of a crystal: periodic along all three axes with a valid cell (see
/// [`Lattice::of_crystal`]); the error names the structure.
pub fn crystal_lattice(structure: &Structure) -> Result<Lattice> {
    Lattice::of_crystal(structure).map_err(|m| Error::invalid(format!("{}: {m}", structure.label())))
}

/// moyo's refined primitive standardised cell brought back to the input cell (see [`RefinedCell`]);
/// `None` when a transformation is singular or not finite.
fn refined_cell(ds: &moyo::MoyoDataset, input: &[[f64; 3]]) -> Option<RefinedCell> {
    let linear = ds.prim_std_linear;
    let inverse = linear.try_inverse()?;
    let origin = ds.prim_std_origin_shift;
    // Lattice bases are columns in moyo: A_prim_std = A_input · linear.
    let basis = ds.prim_std_cell.lattice.basis * inverse;
    let positions: Vec<[f64; 3]> = input
        .iter()
        .zip(&ds.mapping_std_prim)
        .map(|(x, &m)| {
            let refined = ds.prim_std_cell.positions[m];
            let image = (inverse * (Vector3::from(*x) - origin) - refined).map(f64::round);
            let x = linear * (refined + image) + origin;
            [x[0], x[1], x[2]]
        })
        .collect();
    let lattice = std::array::from_fn(|i| std::array::from_fn(|j| basis[(j, i)]));
    let finite = positions.iter().flatten().chain(basis.iter()).all(|v| v.is_finite());
    finite.then_some(RefinedCell { lattice, positions })
}

fn to_symop(rotation: &Matrix3<i32>, translation: &Vector3<f64>) -> SymOp {
    SymOp {
        rotation: std::array::from_fn(|i| std::array::from_fn(|j| rotation[(i, j)])),
        translation: std::array::from_fn(|i| translation[i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crystal(cell: [[f64; 3]; 3], numbers: Vec<u8>, frac: &[[f64; 3]]) -> Structure {
        Lattice::new(cell).unwrap().crystal(numbers, frac).unwrap()
    }

    fn rutile() -> Structure {
        let (a, c, u) = (4.594, 2.959, 0.3049);
        crystal(
            [[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, c]],
            vec![22, 22, 8, 8, 8, 8],
            &[
                [0.0, 0.0, 0.0],
                [0.5, 0.5, 0.5],
                [u, u, 0.0],
                [1.0 - u, 1.0 - u, 0.0],
                [0.5 + u, 0.5 - u, 0.5],
                [0.5 - u, 0.5 + u, 0.5],
            ],
        )
    }

    #[test]
    fn rutile_space_group_orbits_and_wyckoffs() {
        let s = Symmetry::find(&rutile(), &SymmetryOptions::default()).unwrap();
        assert_eq!(s.number, 136);
        assert_eq!(s.operations.len(), 16);
        assert_eq!(s.orbits, vec![0, 0, 2, 2, 2, 2]);
        assert_eq!(s.wyckoffs, vec!['a', 'a', 'f', 'f', 'f', 'f']);
        assert_eq!(s.multiplicities(), vec![2, 2, 4, 4, 4, 4]);
        assert_eq!(s.representatives(), vec![0, 2]);
        assert_eq!(s.crystal_system(), "tetragonal");
        assert!(s.fallback.is_none());
        // Every atom is recreated from its representative by the reported operation.
        let ops = s.atom_operations(&rutile(), 1e-6).unwrap();
        let l = crystal_lattice(&rutile()).unwrap();
        for (j, (g, t)) in ops.iter().enumerate() {
            let y = s.operations[*g].apply(&l.to_fractional(&rutile().positions[s.orbits[j]]));
            let x = l.to_fractional(&rutile().positions[j]);
            for k in 0..3 {
                assert!((y[k] + t[k] as f64 - x[k]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn failed_detection_falls_back_to_p1_and_molecules_are_refused() {
        // Two atoms on top of each other: moyo finds no consistent primitive cell.
        let mut bad = rutile();
        bad.positions[1] = bad.positions[0];
        let s = Symmetry::find(&bad, &SymmetryOptions { symprec: 1e-3, angle_tolerance: None }).unwrap();
        assert_eq!(s.number, 1);
        assert_eq!(s.orbits, (0..6).collect::<Vec<_>>());
        assert!(s.fallback.as_deref().unwrap().contains("moyo"), "{:?}", s.fallback);
        let molecule = Structure::molecule(vec![1, 1], vec![[0.0; 3], [0.74, 0.0, 0.0]]).unwrap();
        assert!(Symmetry::find(&molecule, &SymmetryOptions::default())
            .unwrap_err()
            .to_string()
            .contains("not a crystal"));
        assert!(Symmetry::find(&rutile(), &SymmetryOptions { symprec: -1.0, angle_tolerance: None }).is_err());
    }

    #[test]
    fn operations_print_as_cif_strings() {
        let op = SymOp { rotation: [[0, -1, 0], [1, 0, 0], [0, 0, 1]], translation: [0.5, 0.0, 0.75] };
        assert_eq!(op.to_xyz(), "-y+1/2, x, z+3/4");
        assert_eq!(SymOp::IDENTITY.to_xyz(), "x, y, z");
        assert_eq!(op.apply(&[0.1, 0.2, 0.3]), [0.3, 0.1, 1.05]);
    }
}
