//! [`PreparedCrystal`] and [`CrystalGraphs`]: the whole pipeline from a crystal to its full-cell and asymmetric-unit graphs,
//! symmetry search → symmetrisation → periodic graph → reduction.
//!
//! # Positions
//! By default ([`Positions::Symmetrized`]) both graphs are built from the structure snapped to exact
//! symmetry ([`Symmetry::symmetrize`]): equivalent atoms then have the same neighbourhoods to
//! rounding, so the reduction holds for every connectivity, and a model predicts the same from the
//! asymmetric unit as from the full cell. If symmetrisation is refused (an atom would move by more
//! than the tolerance), the crystal is treated as P1 and [`Symmetry::fallback`] says why, as kgcnn
//! does when pyxtal fails. [`Positions::Original`] builds the graphs from the positions as given:
//! right for full-cell graphs that must see the exact input (kgcnn's `*UnitCell` preprocessors do
//! this), but the reduction then fails when near-ties break differently for equivalent atoms.
//! kgcnn's `*AsymmetricUnitCell` preprocessors symmetrise, as the default here does.
//!
//! # Tolerances
//! After symmetrisation, distances and Voronoi face areas of equivalent atoms agree to rounding
//! (≲1e-12 Å, Å²), far below kNN's default tie tolerance
//! ([`DEFAULT_KNN_TOLERANCE`](crate::graphs::DEFAULT_KNN_TOLERANCE), 1e-9 Å) and the Voronoi
//! degeneracy threshold ([`DEGENERATE_AREA`](crate::graphs::DEGENERATE_AREA)·R²), so any tie
//! tolerance ≥ 1e-9 Å and any minimum face area give consistent graphs. On original positions the
//! same distances differ by up to twice the symmetry tolerance, which no threshold can absorb in
//! general (a face of area ~symprec·perimeter exists for one atom and not for its twin).

use std::fmt;
use std::str::FromStr;

use chem_graph::{Graph, Structure};

use crate::asu::AsymmetricUnitGraph;
use crate::error::{Error, Result};
use crate::graphs::{periodic_graph, Connectivity};
use crate::symmetry::{Symmetry, SymmetryOptions};

/// Which positions a crystal's graphs are built from (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Positions {
    /// Snapped to exact symmetry (the default).
    #[default]
    Symmetrized,
    /// As given.
    Original,
}

impl fmt::Display for Positions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Positions::Symmetrized => "symmetrized",
            Positions::Original => "original",
        })
    }
}

impl FromStr for Positions {
    type Err = Error;

    /// `symmetrized` (or `symmetrised`) or `original`.
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "symmetrized" | "symmetrised" => Ok(Positions::Symmetrized),
            "original" => Ok(Positions::Original),
            other => Err(Error::invalid(format!("positions `{other}`: expected `symmetrized` or `original`"))),
        }
    }
}

/// A crystal ready for graph building: its symmetry and the structure its graphs are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedCrystal {
    /// The symmetry found for the input (P1 with a reason when detection or symmetrisation failed).
    pub symmetry: Symmetry,
    /// The structure graphs are built from: symmetrised or as given.
    pub structure: Structure,
    /// Largest atom displacement made by symmetrisation, in Å (0 for original positions or P1).
    pub max_displacement: f64,
    /// Largest change of a cell vector made by symmetrisation, in Å.
    pub max_lattice_change: f64,
}

impl PreparedCrystal {
    /// Symmetry search, then symmetrisation unless `positions` is [`Positions::Original`]; a refused
    /// symmetrisation gives P1 with the reason in [`Symmetry::fallback`].
    ///
    /// Errors: a structure that is not a crystal, invalid tolerances.
    pub fn new(structure: &Structure, options: &SymmetryOptions, positions: Positions) -> Result<Self> {
        let found = Symmetry::find(structure, options)?;
        Ok(match positions {
            Positions::Original => PreparedCrystal {
                symmetry: found,
                structure: structure.clone(),
                max_displacement: 0.0,
                max_lattice_change: 0.0,
            },
            Positions::Symmetrized => symmetrized_or_p1(found, structure, options.symprec)?,
        })
    }

    /// The full-cell graph of [`Self::structure`] and its reduction to the asymmetric unit.
    ///
    /// Errors: those of the graph builders, and (only for original positions) a graph that is not
    /// symmetric.
    pub fn graphs(self, connectivity: &Connectivity) -> Result<CrystalGraphs> {
        let full = periodic_graph(&self.structure, connectivity)?;
        let asu = self.reduce(&full)?;
        Ok(CrystalGraphs { crystal: self, full, asu })
    }

    /// Any full-cell graph of [`Self::structure`] (a periodic graph, a model's radius graph)
    /// reduced to the asymmetric unit with this crystal's symmetry.
    ///
    /// Errors: a graph of another structure, and (only for original positions) a graph that is not
    /// symmetric.
    pub fn reduce(&self, full: &Graph) -> Result<AsymmetricUnitGraph> {
        AsymmetricUnitGraph::new(full, &self.structure, &self.symmetry)
    }
}

/// A prepared crystal and both of its graphs.
#[derive(Debug, Clone, PartialEq)]
pub struct CrystalGraphs {
    /// Symmetry and the structure the graphs were built from.
    pub crystal: PreparedCrystal,
    /// The graph of every atom (Voronoi face areas as edge features).
    pub full: Graph,
    /// `full` reduced to the asymmetric unit.
    pub asu: AsymmetricUnitGraph,
}

impl CrystalGraphs {
    /// Runs the whole pipeline on one crystal: [`PreparedCrystal::new`], then
    /// [`PreparedCrystal::graphs`].
    pub fn new(
        structure: &Structure,
        connectivity: &Connectivity,
        options: &SymmetryOptions,
        positions: Positions,
    ) -> Result<Self> {
        PreparedCrystal::new(structure, options, positions)?.graphs(connectivity)
    }
}

/// `structure` symmetrised with `found`; or, when symmetrisation is refused, the structure as given
/// with P1 symmetry that says why.
fn symmetrized_or_p1(found: Symmetry, structure: &Structure, symprec: f64) -> Result<PreparedCrystal> {
    Ok(match found.symmetrize(structure) {
        Ok(s) => PreparedCrystal {
            symmetry: found,
            structure: s.structure,
            max_displacement: s.max_displacement,
            max_lattice_change: s.max_lattice_change,
        },
        Err(e) => PreparedCrystal {
            symmetry: Symmetry::p1(structure, symprec, format!("symmetrisation refused: {e}"))?,
            structure: structure.clone(),
            max_displacement: 0.0,
            max_lattice_change: 0.0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lattice;

    /// Rock salt with one Cl displaced by 4e-4 Å along x: within the symmetry tolerance, so Fm-3m is
    /// found, but the displaced Cl's six Na neighbours are no longer at one distance.
    fn disturbed_rock_salt() -> Structure {
        let a = 5.64;
        let l = Lattice::new([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]).unwrap();
        let fcc = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
        let mut frac = vec![];
        for origin in [[0.0; 3], [0.5, 0.0, 0.0]] {
            frac.extend(fcc.iter().map(|f| -> [f64; 3] { std::array::from_fn(|k| f[k] + origin[k]) }));
        }
        frac[5][0] += 4e-4 / a;
        l.crystal(vec![11, 11, 11, 11, 17, 17, 17, 17], &frac).unwrap()
    }

    #[test]
    fn symmetrised_graphs_reduce_where_original_ones_do_not() {
        let s = disturbed_rock_salt();
        // kNN with k = 5 cuts the shell of six Na: the displaced Cl has a unique 5 nearest.
        let knn: Connectivity = "knn:5".parse().unwrap();
        let options = SymmetryOptions::default();
        let original = CrystalGraphs::new(&s, &knn, &options, Positions::Original).unwrap_err().to_string();
        assert!(original.contains("not symmetric"), "{original}");
        let g = CrystalGraphs::new(&s, &knn, &options, Positions::Symmetrized).unwrap();
        assert_eq!(g.crystal.symmetry.number, 225);
        assert!(g.crystal.symmetry.fallback.is_none());
        let moved = g.crystal.max_displacement;
        assert!(moved > 1e-4 && moved < 4e-4, "{moved}");
        assert_eq!(g.asu.num_nodes(), 2);
        // Every atom keeps all six nearest neighbours (ties kept), in the ASU as in the cell.
        assert_eq!(g.full.num_edges(), 8 * 6);
        assert_eq!(g.asu.num_edges(), 12);
        for connectivity in ["voronoi", "radius:3.0"] {
            let g = CrystalGraphs::new(&s, &connectivity.parse().unwrap(), &options, Positions::Symmetrized).unwrap();
            assert_eq!(g.asu.num_edges() * 4, g.full.num_edges(), "{connectivity}");
        }
    }

    #[test]
    fn a_refused_symmetrisation_falls_back_to_p1() {
        let s = disturbed_rock_salt();
        let mut found = Symmetry::find(&s, &SymmetryOptions::default()).unwrap();
        found.refined.positions[3][1] += 0.01;
        let p1 = symmetrized_or_p1(found, &s, 1e-3).unwrap();
        assert_eq!((p1.symmetry.number, p1.symmetry.orbits.len()), (1, 8));
        let reason = p1.symmetry.fallback.unwrap();
        assert!(reason.starts_with("symmetrisation refused") && reason.contains("atom 3"), "{reason}");
        assert_eq!((p1.structure, p1.max_displacement), (s, 0.0));
    }

    #[test]
    fn positions_parse_and_print() {
        for p in [Positions::Symmetrized, Positions::Original] {
            assert_eq!(p.to_string().parse::<Positions>().unwrap(), p);
        }
        assert_eq!("symmetrised".parse::<Positions>().unwrap(), Positions::Symmetrized);
        assert!("raw".parse::<Positions>().unwrap_err().to_string().contains("`symmetrized` or `original`"));
    }
}
