//! Snapping a crystal to exact symmetry: [`Symmetry::symmetrize`].
//!
//! DFT-relaxed and experimental structures are symmetric only within a tolerance, so atoms that the
//! symmetry search calls equivalent see their neighbours at distances that differ in the last
//! digits. That is enough to make a k-nearest-neighbour cut or a Voronoi face of near-zero area fall
//! differently for two equivalent atoms, and then the asymmetric unit no longer stands for the cell.
//! Symmetrising first removes the differences: after [`Symmetry::symmetrize`], equivalent atoms have
//! the same neighbourhoods up to floating-point rounding (~1e-13 Å), for any connectivity.
//!
//! The symmetrised structure is the input cell (basis, origin, orientation and atom order kept) with
//! the positions and the lattice of [`Symmetry::refined`]: positions averaged over their images under
//! the exact space-group operations, metric tensor averaged over the point group (spglib's and moyo's
//! refinement). This is what kgcnn's ASU preprocessors do through pyxtal and spglib, except that
//! kgcnn continues with spglib's *standardised conventional* cell (another basis and origin, and
//! possibly more atoms), whereas the cell here stays the input's: asymmetric-unit graphs are the
//! same, multiplicities differ by one factor per crystal, which a weighted mean ignores.

use chem_graph::Structure;

use crate::error::{Error, Result};
use crate::lattice::Lattice;
use crate::symmetry::{crystal_lattice, Symmetry};

/// A structure snapped to exact symmetry, and how far it moved.
#[derive(Debug, Clone, PartialEq)]
pub struct Symmetrized {
    /// The symmetrised structure (same atoms, order, name and properties; new positions and cell).
    pub structure: Structure,
    /// Largest displacement of an atom relative to the lattice, in Å: `|(x' − x)·L|` with x, x' the
    /// fractional coordinates before and after and L the input cell.
    pub max_displacement: f64,
    /// Largest change of a cell vector in Å, `max_k |a'_k − a_k|` (the stretch that makes the metric
    /// symmetric).
    pub max_lattice_change: f64,
}

impl Symmetry {
    /// `structure` (the one this symmetry was found for) snapped to exact symmetry (see the
    /// [module docs](crate::symmetrize)). For a P1 result it is the input unchanged.
    ///
    /// Errors: a structure that does not match this symmetry (atom count), and an atom that would
    /// move by more than [`Symmetry::symprec`], which the symmetry search should never allow: the
    /// message names the atom and the distance.
    pub fn symmetrize(&self, structure: &Structure) -> Result<Symmetrized> {
        let lattice = crystal_lattice(structure)?;
        let n = structure.len();
        if self.refined.positions.len() != n {
            return Err(Error::invalid(format!(
                "{}: {n} atoms, but the symmetry was found for {} atoms",
                structure.label(),
                self.refined.positions.len()
            )));
        }
        let refined = Lattice::new(self.refined.lattice)
            .map_err(|e| Error::invalid(format!("{}: the refined cell is invalid: {e}", structure.label())))?;
        let before = lattice.fractional_positions(structure);
        let (mut max_displacement, mut worst) = (0.0f64, 0);
        for (i, (x, y)) in before.iter().zip(&self.refined.positions).enumerate() {
            let d = norm(&lattice.to_cartesian(&std::array::from_fn(|k| y[k] - x[k])));
            if d > max_displacement {
                (max_displacement, worst) = (d, i);
            }
        }
        if max_displacement > self.symprec {
            return Err(Error::invalid(format!(
                "{}: symmetrising would move atom {worst} by {max_displacement:.3e} Å, more than the symmetry \
                 tolerance of {:.3e} Å",
                structure.label(),
                self.symprec
            )));
        }
        let max_lattice_change = (0..3)
            .map(|k| norm(&std::array::from_fn(|j| refined.rows()[k][j] - lattice.rows()[k][j])))
            .fold(0.0, f64::max);
        let mut symmetrized = structure.clone();
        symmetrized.cell = Some(*refined.rows());
        symmetrized.positions = self.refined.positions.iter().map(|x| refined.to_cartesian(x)).collect();
        Ok(Symmetrized { structure: symmetrized, max_displacement, max_lattice_change })
    }
}

fn norm(v: &[f64; 3]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symmetry::SymmetryOptions;

    /// Rutile (P4₂/mnm) with every coordinate and the cell disturbed by up to ~2e-4 Å.
    fn disturbed_rutile() -> Structure {
        let (a, c, u) = (4.594, 2.959, 0.3049);
        let lattice = Lattice::new([[a + 2e-4, 1e-4, 0.0], [-1e-4, a - 1e-4, 0.0], [0.0, 1e-4, c]]).unwrap();
        let frac = [
            [0.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [u, u, 0.0],
            [1.0 - u, 1.0 - u, 0.0],
            [0.5 + u, 0.5 - u, 0.5],
            [0.5 - u, 0.5 + u, 0.5],
        ];
        let noise = [[3e-5, -2e-5, 1e-5], [-1e-5, 2e-5, 3e-5], [2e-5, 1e-5, -3e-5]];
        let frac: Vec<[f64; 3]> =
            frac.iter().enumerate().map(|(i, f)| std::array::from_fn(|k| f[k] + noise[i % 3][k] + 1.0)).collect();
        lattice.crystal(vec![22, 22, 8, 8, 8, 8], &frac).unwrap()
    }

    #[test]
    fn symmetrised_rutile_is_exactly_symmetric_and_close_to_the_input() {
        let s = disturbed_rutile();
        let symmetry = Symmetry::find(&s, &SymmetryOptions::default()).unwrap();
        assert_eq!(symmetry.number, 136);
        let out = symmetry.symmetrize(&s).unwrap();
        assert!(out.max_displacement > 1e-5 && out.max_displacement < 1e-3, "{}", out.max_displacement);
        assert!(out.max_lattice_change > 1e-5 && out.max_lattice_change < 1e-3, "{}", out.max_lattice_change);
        let t = &out.structure;
        let lattice = crystal_lattice(t).unwrap();
        // Tetragonal metric: a = b, all angles 90°.
        let [la, lb, _] = lattice.lengths();
        assert!((la - lb).abs() < 1e-12);
        for angle in lattice.angles() {
            assert!((angle - 90.0).abs() < 1e-10, "{angle}");
        }
        // Every operation maps every atom exactly onto an atom of the same element.
        let frac = lattice.fractional_positions(t);
        for op in &symmetry.operations {
            for (i, x) in frac.iter().enumerate() {
                let y = op.apply(x);
                let hit = frac.iter().enumerate().any(|(j, z)| {
                    t.numbers[i] == t.numbers[j]
                        && (0..3).all(|k| {
                            let d = y[k] - z[k];
                            (d - d.round()).abs() < 1e-12
                        })
                });
                assert!(hit, "operation {} moves atom {i} off the structure", op.to_xyz());
            }
        }
        // Atoms stay near their input positions (no wrapping), the structure keeps its identity.
        for (a, b) in t.positions.iter().zip(&s.positions) {
            assert!(norm(&std::array::from_fn(|k| a[k] - b[k])) < 2e-3);
        }
        assert_eq!((t.numbers.clone(), t.name.clone()), (s.numbers.clone(), s.name.clone()));
        // Symmetrising again changes nothing beyond rounding.
        let again = Symmetry::find(t, &SymmetryOptions::default()).unwrap().symmetrize(t).unwrap();
        assert!(again.max_displacement < 1e-12 && again.max_lattice_change < 1e-12);
    }

    #[test]
    fn p1_leaves_the_structure_and_mismatches_are_errors() {
        let s = disturbed_rutile();
        let p1 = Symmetry::p1(&s, 1e-3, "test".into()).unwrap();
        let out = p1.symmetrize(&s).unwrap();
        assert_eq!(out.max_displacement, 0.0);
        assert_eq!(out.max_lattice_change, 0.0);
        for (a, b) in out.structure.positions.iter().zip(&s.positions) {
            assert!(norm(&std::array::from_fn(|k| a[k] - b[k])) < 1e-12);
        }
        let mut fewer = s.clone();
        fewer.numbers.pop();
        fewer.positions.pop();
        assert!(p1.symmetrize(&fewer).unwrap_err().to_string().contains("found for 6 atoms"));
    }

    #[test]
    fn a_displacement_beyond_the_tolerance_is_refused() {
        let s = disturbed_rutile();
        let mut symmetry = Symmetry::find(&s, &SymmetryOptions::default()).unwrap();
        symmetry.refined.positions[4][2] += 0.01;
        let err = symmetry.symmetrize(&s).unwrap_err().to_string();
        assert!(err.contains("would move atom 4 by") && err.contains("symmetry tolerance"), "{err}");
    }
}
