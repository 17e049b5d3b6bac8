//! [`Lattice`]: the three cell vectors of a crystal and the conversions that depend on them.
//!
//! # Conventions
//! * Rows are the cell vectors a, b, c in Å (ASE's and pymatgen's layout, and chem-graph's
//!   [`Cell`]). A fractional coordinate f maps to the Cartesian point `r = f · L` (row vector times
//!   matrix), so `r = f₀·a + f₁·b + f₂·c`.
//! * [`Lattice::from_parameters`] uses the crystallographic standard orientation (ASE's
//!   `cellpar_to_cell`, VESTA, most CIF readers): a along x, b in the xy-plane, c completing a
//!   right-handed cell.
//! * The reciprocal lattice is the crystallographer's one, without 2π: its rows a*, b*, c* satisfy
//!   `a_i · a*_j = δ_ij` (pymatgen's `reciprocal_lattice_crystallographic`).
//! * Angles are in degrees.

use chem_graph::{Cell, Structure};
use nalgebra::{Matrix3, Vector3};

use crate::error::{Error, Result};

/// The smallest |volume| in Å³ a lattice may have; below it the cell is treated as degenerate.
pub const MIN_VOLUME: f64 = 1e-6;

/// Three cell vectors (rows, Å). Constructed only through checked constructors, so every
/// `Lattice` is finite and non-singular (it may be left-handed; see [`Lattice::is_right_handed`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lattice {
    rows: Cell,
}

impl Lattice {
    /// A lattice from its rows. Errors when an entry is not finite or when |volume| <
    /// [`MIN_VOLUME`] (the vectors are linearly dependent).
    pub fn new(rows: Cell) -> Result<Self> {
        if rows.iter().flatten().any(|x| !x.is_finite()) {
            return Err(Error::invalid(format!("lattice {rows:?} has a non-finite entry")));
        }
        let lattice = Lattice { rows };
        if lattice.volume().abs() < MIN_VOLUME {
            return Err(Error::invalid(format!(
                "lattice {rows:?} has zero volume ({:.3e} Å³): its vectors are linearly dependent",
                lattice.volume()
            )));
        }
        Ok(lattice)
    }

    /// A lattice from lengths (Å) and angles α = ∠(b,c), β = ∠(a,c), γ = ∠(a,b) in degrees, in the
    /// standard orientation (a along x, b in the xy-plane). Errors for non-positive lengths, angles
    /// outside (0°, 180°), or angles that cannot close a cell (e.g. α + β < γ).
    pub fn from_parameters(lengths: [f64; 3], angles: [f64; 3]) -> Result<Self> {
        let [a, b, c] = lengths;
        if lengths.iter().any(|&x| !(x.is_finite() && x > 0.0)) {
            return Err(Error::invalid(format!("cell lengths {lengths:?} must be finite and positive")));
        }
        if angles.iter().any(|&x| !(x.is_finite() && x > 0.0 && x < 180.0)) {
            return Err(Error::invalid(format!("cell angles {angles:?} must lie strictly between 0 and 180 degrees")));
        }
        let [ca, cb, cg] = angles.map(cos_degrees);
        let sg = angles[2].to_radians().sin();
        let cx = cb;
        let cy = (ca - cb * cg) / sg;
        let cz2 = 1.0 - cx * cx - cy * cy;
        if cz2 <= 0.0 {
            return Err(Error::invalid(format!(
                "cell angles {angles:?} do not form a valid cell (zero or imaginary volume)"
            )));
        }
        Lattice::new([[a, 0.0, 0.0], [b * cg, b * sg, 0.0], [c * cx, c * cy, c * cz2.sqrt()]])
    }

    /// The rows a, b, c.
    pub fn rows(&self) -> &Cell {
        &self.rows
    }

    /// The matrix with the cell vectors as rows, as nalgebra.
    pub fn matrix(&self) -> Matrix3<f64> {
        Matrix3::from_fn(|i, j| self.rows[i][j])
    }

    /// Signed volume `a · (b × c)` in Å³ (negative for a left-handed cell).
    pub fn volume(&self) -> f64 {
        self.matrix().determinant()
    }

    /// True when `a · (b × c) > 0`.
    pub fn is_right_handed(&self) -> bool {
        self.volume() > 0.0
    }

    /// Lengths |a|, |b|, |c| in Å.
    pub fn lengths(&self) -> [f64; 3] {
        self.rows.map(|r| Vector3::from(r).norm())
    }

    /// Angles α = ∠(b,c), β = ∠(a,c), γ = ∠(a,b) in degrees.
    pub fn angles(&self) -> [f64; 3] {
        let v = self.rows.map(Vector3::from);
        let angle = |x: &Vector3<f64>, y: &Vector3<f64>| x.cross(y).norm().atan2(x.dot(y)).to_degrees();
        [angle(&v[1], &v[2]), angle(&v[0], &v[2]), angle(&v[0], &v[1])]
    }

    /// The metric tensor G = L·Lᵀ (`G_ij = a_i · a_j`).
    pub fn metric(&self) -> Matrix3<f64> {
        let m = self.matrix();
        m * m.transpose()
    }

    /// The reciprocal lattice without 2π (rows a*, b*, c* with `a_i · a*_j = δ_ij`).
    pub fn reciprocal(&self) -> Lattice {
        let inv_t = self.inverse().transpose();
        Lattice { rows: std::array::from_fn(|i| std::array::from_fn(|j| inv_t[(i, j)])) }
    }

    /// Distances between neighbouring lattice planes (100), (010), (001): `V / |b × c|`, ….
    pub fn plane_spacings(&self) -> [f64; 3] {
        self.reciprocal().lengths().map(|l| 1.0 / l)
    }

    /// Cartesian coordinates (Å) of the fractional coordinates `f`.
    pub fn to_cartesian(&self, f: &[f64; 3]) -> [f64; 3] {
        std::array::from_fn(|j| (0..3).map(|i| f[i] * self.rows[i][j]).sum())
    }

    /// Fractional coordinates of the Cartesian point `r`.
    pub fn to_fractional(&self, r: &[f64; 3]) -> [f64; 3] {
        let inv = self.inverse();
        std::array::from_fn(|j| (0..3).map(|i| r[i] * inv[(i, j)]).sum())
    }

    /// The lattice with rows `M · L` for an integer matrix M (a change of basis; unimodular M
    /// keeps the same lattice points). Errors when M is singular.
    pub fn transformed(&self, m: &[[i32; 3]; 3]) -> Result<Lattice> {
        let mf = Matrix3::from_fn(|i, j| m[i][j] as f64);
        let rows = mf * self.matrix();
        Lattice::new(std::array::from_fn(|i| std::array::from_fn(|j| rows[(i, j)])))
    }

    /// The Niggli-reduced cell of the same lattice (moyo's Křivý–Gruber implementation, right-handed
    /// result) and the integer matrix M with `reduced.rows = M · self.rows` (unimodular, det ±1).
    /// The reduced cell is unique for a given lattice, so two cells of one lattice reduce to the
    /// same lengths and angles.
    pub fn niggli_reduced(&self) -> Result<(Lattice, [[i32; 3]; 3])> {
        let (reduced, columns) = moyo::base::Lattice::new(self.matrix())
            .niggli_reduce()
            .map_err(|e| Error::invalid(format!("Niggli reduction of {:?} failed: {e}", self.rows)))?;
        // moyo keeps the vectors as columns: reduced_basis = basis · T, so the rows transform with Tᵀ.
        let m = std::array::from_fn(|i| std::array::from_fn(|j| columns[(j, i)]));
        Lattice::new(reduced.basis_as_array()).map(|l| (l, m))
    }

    /// A crystal (periodic along all three axes) with these cell vectors, atoms `numbers` at the
    /// fractional coordinates `frac`. Errors as [`Structure::validate`].
    pub fn crystal(&self, numbers: Vec<u8>, frac: &[[f64; 3]]) -> Result<Structure> {
        let positions = frac.iter().map(|f| self.to_cartesian(f)).collect();
        Structure::periodic(numbers, positions, self.rows, [true; 3])
    }

    /// The lattice of a crystal: `structure` must be valid, have a cell and be periodic along all
    /// three axes. The error says what is wrong without naming the structure (callers add where it
    /// came from).
    pub fn of_crystal(structure: &Structure) -> std::result::Result<Lattice, String> {
        structure.validate().map_err(|e| e.to_string())?;
        let Some(cell) = structure.cell else {
            return Err(
                "not a crystal: no cell (a crystal has three cell vectors and is periodic along all three axes)".into(),
            );
        };
        if structure.pbc != [true; 3] {
            return Err(format!("not a crystal: not periodic along all three axes (pbc = {:?})", structure.pbc));
        }
        Lattice::new(cell).map_err(|e| e.to_string())
    }

    /// Fractional coordinates of every atom of `structure` in this lattice.
    pub fn fractional_positions(&self, structure: &Structure) -> Vec<[f64; 3]> {
        structure.positions.iter().map(|r| self.to_fractional(r)).collect()
    }

    fn inverse(&self) -> Matrix3<f64> {
        // Non-singular by construction.
        self.matrix().try_inverse().unwrap_or_else(Matrix3::zeros)
    }
}

fn cos_degrees(x: f64) -> f64 {
    // Exact zeros for right angles, so cubic and orthorhombic cells come out exactly diagonal.
    if x == 90.0 {
        0.0
    } else {
        x.to_radians().cos()
    }
}

impl TryFrom<Cell> for Lattice {
    type Error = Error;

    fn try_from(rows: Cell) -> Result<Self> {
        Lattice::new(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn parameters_round_trip_and_orientation() {
        let l = Lattice::from_parameters([4.0, 5.0, 6.0], [80.0, 95.0, 110.0]).unwrap();
        let (len, ang) = (l.lengths(), l.angles());
        for k in 0..3 {
            assert!(close(len[k], [4.0, 5.0, 6.0][k], 1e-14));
            assert!(close(ang[k], [80.0, 95.0, 110.0][k], 1e-12));
        }
        assert_eq!(l.rows()[0][1], 0.0);
        assert_eq!(l.rows()[1][2], 0.0);
        assert!(l.is_right_handed());
        let cubic = Lattice::from_parameters([3.0; 3], [90.0; 3]).unwrap();
        assert_eq!(cubic.rows(), &[[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]]);
        // ASE: cellpar_to_cell([4, 5, 6, 80, 95, 110]) = the matrix below (printed with repr).
        let ase = [
            [4.0, 0.0, 0.0],
            [-1.7101007166283435, 4.698463103929543, 0.0],
            [-0.5229344564859494, 0.9184226087915124, 5.906186541744202],
        ];
        for (row, expected) in l.rows().iter().zip(&ase) {
            for (x, y) in row.iter().zip(expected) {
                assert!(close(*x, *y, 1e-13), "{x} vs {y}");
            }
        }
    }

    #[test]
    fn fractional_cartesian_and_reciprocal() {
        let l = Lattice::new([[3.0, 0.2, 0.1], [0.5, 4.0, -0.3], [0.7, 0.4, 5.0]]).unwrap();
        let f = [0.25, -0.5, 1.75];
        let back = l.to_fractional(&l.to_cartesian(&f));
        assert!(back.iter().zip(&f).all(|(a, b)| (a - b).abs() < 1e-14));
        let r = l.reciprocal();
        for i in 0..3 {
            for j in 0..3 {
                let d: f64 = (0..3).map(|k| l.rows()[i][k] * r.rows()[j][k]).sum();
                assert!((d - if i == j { 1.0 } else { 0.0 }).abs() < 1e-14);
            }
        }
        let spacing = l.plane_spacings();
        let bc = Vector3::from(l.rows()[1]).cross(&Vector3::from(l.rows()[2])).norm();
        assert!(close(spacing[0], l.volume() / bc, 1e-14));
    }

    #[test]
    fn niggli_reduction_is_unique_per_lattice() {
        let l = Lattice::from_parameters([3.0, 4.0, 5.0], [70.0, 80.0, 100.0]).unwrap();
        let (reduced, _) = l.niggli_reduced().unwrap();
        // The same lattice in a skewed basis (a unimodular change of basis) reduces to the same cell.
        let skew = [[1, 2, 0], [0, 1, -3], [1, 2, 1]];
        let skewed = l.transformed(&skew).unwrap();
        assert!(close(skewed.volume().abs(), l.volume().abs(), 1e-12));
        let (again, m) = skewed.niggli_reduced().unwrap();
        for k in 0..3 {
            assert!(close(again.lengths()[k], reduced.lengths()[k], 1e-10), "{:?} {:?}", again, reduced);
            assert!(close(again.angles()[k], reduced.angles()[k], 1e-9));
        }
        // M maps the input rows onto the reduced rows.
        let mapped = skewed.transformed(&m).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                assert!((mapped.rows()[i][j] - again.rows()[i][j]).abs() < 1e-9);
            }
        }
        assert!(again.is_right_handed());
        let lens = again.lengths();
        assert!(lens[0] <= lens[1] + 1e-12 && lens[1] <= lens[2] + 1e-12);
    }

    #[test]
    fn degenerate_cells_are_rejected() {
        assert!(Lattice::new([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).is_err());
        assert!(Lattice::new([[f64::NAN, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]).is_err());
        assert!(Lattice::from_parameters([1.0, 1.0, 1.0], [10.0, 10.0, 90.0]).is_err());
        assert!(Lattice::from_parameters([1.0, -1.0, 1.0], [90.0; 3]).is_err());
        let left = Lattice::new([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).unwrap();
        assert!(!left.is_right_handed());
    }
}
