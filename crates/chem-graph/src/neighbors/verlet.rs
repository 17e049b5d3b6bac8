//! [`VerletList`]: a radius graph kept between calls (MD steps, relaxation steps) and searched again
//! only when it may have gone stale.

use super::{check_cutoff, radius_graph, RadiusOptions, System};
use crate::error::{Error, Result};
use crate::graph::Edges;
use crate::structure::{Cell, Structure};

/// A radius graph for a structure that moves a little between calls. Pairs are searched within
/// `cutoff + skin`; each call recomputes the candidates' vectors from the new positions and keeps
/// those closer than the cutoff. The search runs again when an atom has moved more than `skin / 2`
/// since the last search (so no pair can have entered the cutoff unseen), or when the atoms, cell
/// or periodicity changed. The edges are those of [`radius_graph`] on the same structure, in the same
/// order and bit for bit (the vectors are computed by the same expression).
#[derive(Debug, Clone)]
pub struct VerletList {
    options: RadiusOptions,
    skin: f64,
    candidates: Edges,
    reference: Option<Reference>,
    searches: usize,
}

/// What the last search saw.
#[derive(Debug, Clone)]
struct Reference {
    numbers: Vec<u8>,
    positions: Vec<[f64; 3]>,
    cell: Option<Cell>,
    pbc: [bool; 3],
}

impl VerletList {
    /// A list for `options` with `skin` Å of margin. Errors for a cutoff or skin that is not
    /// finite (or negative), and for a neighbour cap: which neighbours a cap keeps changes as atoms
    /// move, so capped graphs must be searched every time.
    pub fn new(options: RadiusOptions, skin: f64) -> Result<Self> {
        check_cutoff(options.cutoff)?;
        if !skin.is_finite() || skin < 0.0 {
            return Err(Error::invalid(format!("the Verlet skin must be finite and non-negative, not {skin}")));
        }
        if options.max_neighbors.is_some() {
            return Err(Error::invalid("a radius graph with a neighbour cap cannot be kept as a Verlet list"));
        }
        Ok(Self { options, skin, candidates: Edges::default(), reference: None, searches: 0 })
    }

    /// The edges of `structure` closer than the cutoff (see the type's docs).
    pub fn edges(&mut self, structure: &Structure) -> Result<Edges> {
        let system = System::new(structure)?;
        if self.is_stale(structure) {
            let wide = RadiusOptions { cutoff: self.options.cutoff + self.skin, ..self.options };
            self.candidates = radius_graph(structure, &wide)?;
            self.reference = Some(Reference {
                numbers: structure.numbers.clone(),
                positions: structure.positions.clone(),
                cell: structure.cell,
                pbc: structure.pbc,
            });
            self.searches += 1;
        }
        let c = &self.candidates;
        let mut edges = Edges::default();
        for e in 0..c.len() {
            let (j, i, s) = (c.source[e], c.target[e], c.shift[e]);
            let (vector, distance) = system.edge(j as usize, i as usize, s);
            let self_loop = j == i && s == [0; 3];
            if distance < self.options.cutoff || self_loop {
                edges.source.push(j);
                edges.target.push(i);
                edges.shift.push(s);
                edges.vector.push(vector);
                edges.distance.push(distance);
            }
        }
        Ok(edges)
    }

    /// How many times the list searched for pairs (the rest of the calls reused a search).
    pub fn searches(&self) -> usize {
        self.searches
    }

    fn is_stale(&self, structure: &Structure) -> bool {
        let Some(r) = &self.reference else { return true };
        if r.numbers != structure.numbers || r.cell != structure.cell || r.pbc != structure.pbc {
            return true;
        }
        let limit = (0.5 * self.skin).powi(2);
        r.positions.iter().zip(&structure.positions).any(|(a, b)| {
            let d2: f64 = (0..3).map(|k| (a[k] - b[k]).powi(2)).sum();
            d2.is_nan() || d2 > limit
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A distorted periodic box of 32 atoms.
    fn crystal(step: usize) -> Structure {
        let cell = [[7.0, 0.0, 0.0], [0.8, 6.5, 0.0], [0.3, -0.4, 7.2]];
        let positions: Vec<[f64; 3]> = (0..32)
            .map(|a| {
                let t = a as f64 + 0.01 * step as f64;
                [
                    (t * 1.37).rem_euclid(7.0),
                    (t * 2.11).rem_euclid(6.5),
                    (t * 0.73 + 0.1 * (t * 3.1).sin()).rem_euclid(7.2),
                ]
            })
            .collect();
        Structure::periodic(vec![6; 32], positions, cell, [true; 3]).unwrap()
    }

    #[test]
    fn edges_equal_a_fresh_search_at_every_step_and_searches_are_saved() {
        let options = RadiusOptions::new(3.0);
        let mut list = VerletList::new(options, 1.0).unwrap();
        for step in 0..40 {
            let s = crystal(step);
            assert_eq!(list.edges(&s).unwrap(), radius_graph(&s, &options).unwrap(), "step {step}");
        }
        // Atoms move ≈ 0.03 Å per step here: the 0.5 Å half-skin lasts several steps.
        assert!(list.searches() > 1 && list.searches() < 20, "{} searches", list.searches());
    }

    #[test]
    fn a_changed_cell_or_atom_list_searches_again() {
        let mut list = VerletList::new(RadiusOptions::new(3.0), 1.0).unwrap();
        let s = crystal(0);
        list.edges(&s).unwrap();
        list.edges(&s).unwrap();
        assert_eq!(list.searches(), 1);
        let mut strained = s.clone();
        strained.cell.as_mut().unwrap()[0][0] = 7.01;
        assert_eq!(list.edges(&strained).unwrap(), radius_graph(&strained, &RadiusOptions::new(3.0)).unwrap());
        assert_eq!(list.searches(), 2);
        let mut other = strained.clone();
        other.numbers[0] = 8;
        list.edges(&other).unwrap();
        assert_eq!(list.searches(), 3);
    }

    #[test]
    fn capped_graphs_and_bad_skins_are_refused() {
        assert!(VerletList::new(RadiusOptions::new(3.0).with_max_neighbors(4), 1.0).is_err());
        assert!(VerletList::new(RadiusOptions::new(3.0), -1.0).is_err());
        assert!(VerletList::new(RadiusOptions::new(3.0), f64::NAN).is_err());
    }
}
