//! Graphs reduced to the asymmetric unit (Ruff et al. 2023, kgcnn's `to_asymmetric_unit_graph`).
//!
//! # Construction
//! Start from a graph of the **full** input cell (any connectivity: radius, k-NN, Voronoi), so that
//! every distance is exact. Keep one node per orbit (its representative, [`Symmetry::orbits`]),
//! weighted by the orbit's multiplicity, and keep only the **in-edges** of representatives, with each
//! edge's source replaced by the representative of the source atom. Every kept node therefore has its
//! complete neighbourhood, and the number of edges shrinks by the same factor as the number of nodes.
//!
//! # Edges
//! An edge keeps its true `vector` and `distance` (to the real neighbour) and its integer image shift
//! `S` (of the real neighbour atom j). Because the source index now names the representative r of j,
//! `r_source + S·L − r_target` is **not** the edge vector; the vector is authoritative. The real
//! neighbour is recreated by the symmetry operation of the edge:
//! `x_neighbour = R_g·x_r + τ_g + T` in fractional coordinates, with `g = operations[e]` (an index
//! into [`Symmetry::operations`]) and `T = translations[e]`.
//!
//! # Why predictions do not change
//! For a model whose edge inputs are invariant (distances, angles, Voronoi areas), symmetry-equivalent
//! atoms have equal hidden states in every layer, so the message from a non-representative neighbour
//! equals the message from its representative. A readout weighted by multiplicities,
//! `Σ_r m_r·h_r` (sum) or `Σ_r m_r·h_r / Σ_r m_r` (mean), then equals the full-cell readout. Vector
//! features would have to be rotated by `R_g`; forces are not defined on this graph.
//!
//! The line graph of an asymmetric-unit graph ([`chem_graph::line_graph()`]) pairs in-edges sharing a
//! target and keeps pairs whose two edges have the same `(source, target)`: they are different,
//! symmetry-equivalent neighbours. (kgcnn's `get_angle_indices` drops them by default, which for
//! rock salt leaves no pairs at all.)

use chem_graph::{Features, Graph, Structure};

use crate::error::{Error, Result};
use crate::symmetry::{crystal_lattice, Symmetry};

/// Distance in Å within which an atom must be recreated from its representative by a symmetry
/// operation, relative to the tolerance of the symmetry search (moyo's positions are accurate to
/// about `symprec`).
const OPERATION_TOLERANCE_FACTOR: f64 = 4.0;

/// A crystal graph reduced to its asymmetric unit (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct AsymmetricUnitGraph {
    /// One node per orbit (atomic number and position of its representative), with
    /// [`Graph::node_weights`] set to the multiplicities; the in-edges of the representatives with
    /// sources mapped to representatives; edge features carried over.
    pub graph: Graph,
    /// Input-cell index of the atom each node stands for.
    pub atoms: Vec<usize>,
    /// Per edge: input-cell index of the real neighbour atom (before mapping to its representative).
    pub neighbor_atoms: Vec<usize>,
    /// Per edge: the operation (index into [`Symmetry::operations`]) that maps the source node onto
    /// the real neighbour.
    pub operations: Vec<u32>,
    /// Per edge: the integer translation T completing the operation (`R·x + τ + T`).
    pub translations: Vec<[i32; 3]>,
}

impl AsymmetricUnitGraph {
    /// Reduces `full`, a graph of all atoms of `structure` (same atom order), to the asymmetric unit
    /// given by `symmetry` (from [`Symmetry::find`] on the same structure).
    ///
    /// Errors: a graph or symmetry that does not match the structure, a graph that already has node
    /// weights, an atom that no operation of `symmetry` recreates from its representative, or a
    /// graph that is not symmetric: an atom whose neighbourhood (the orbits and distances of its
    /// in-edges' sources) differs from its representative's, so that the reduction would change
    /// predictions of a distance-based model. The usual cause is a cap on the number of neighbours
    /// (e.g. SchNet's `max_num_neighbors`) cutting through a shell of equally distant atoms of
    /// different orbits. (A cap that cuts a shell of one orbit passes this check but changes the
    /// angles between neighbours: models that read angles need graphs without a cap.)
    pub fn new(full: &Graph, structure: &Structure, symmetry: &Symmetry) -> Result<Self> {
        let n = structure.len();
        full.validate()?;
        if full.num_nodes() != n || symmetry.orbits.len() != n {
            return Err(Error::invalid(format!(
                "{}: {n} atoms, but the graph has {} nodes and the symmetry {} orbit entries",
                structure.label(),
                full.num_nodes(),
                symmetry.orbits.len()
            )));
        }
        if full.node_weights.is_some() {
            return Err(Error::invalid("the graph is already weighted (reduced to an asymmetric unit?)"));
        }
        crystal_lattice(structure)?;
        let tolerance = OPERATION_TOLERANCE_FACTOR * symmetry.symprec;
        check_neighbourhoods(full, structure, symmetry, tolerance)?;
        let atom_ops = symmetry.atom_operations(structure, tolerance)?;
        let atoms = symmetry.representatives();
        let mut node_of = vec![u32::MAX; n];
        for (k, &a) in atoms.iter().enumerate() {
            node_of[a] = k as u32;
        }
        let multiplicities = symmetry.multiplicities();
        let mut graph = Graph {
            numbers: atoms.iter().map(|&a| structure.numbers[a]).collect(),
            positions: atoms.iter().map(|&a| structure.positions[a]).collect(),
            cell: full.cell,
            node_features: full.node_features.as_ref().map(|f| select_rows(f, &atoms)),
            node_weights: Some(atoms.iter().map(|&a| multiplicities[a] as f64).collect()),
            ..Default::default()
        };
        let kept: Vec<usize> =
            (0..full.num_edges()).filter(|&e| node_of[full.edges.target[e] as usize] != u32::MAX).collect();
        let (mut neighbor_atoms, mut operations, mut translations) = (vec![], vec![], vec![]);
        for &e in &kept {
            let ed = &full.edges;
            let j = ed.source[e] as usize;
            let (g, t) = atom_ops[j];
            let s = ed.shift[e];
            graph.edges.push(
                node_of[symmetry.orbits[j]],
                node_of[ed.target[e] as usize],
                s,
                ed.vector[e],
                ed.distance[e],
            );
            neighbor_atoms.push(j);
            operations.push(g as u32);
            translations.push(std::array::from_fn(|k| t[k] + s[k]));
        }
        graph.edge_features = full.edge_features.as_ref().map(|f| select_rows(f, &kept));
        graph.validate()?;
        Ok(AsymmetricUnitGraph { graph, atoms, neighbor_atoms, operations, translations })
    }

    /// Number of nodes (orbits).
    pub fn num_nodes(&self) -> usize {
        self.graph.num_nodes()
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.graph.num_edges()
    }

    /// The multiplicity of each node.
    pub fn multiplicities(&self) -> &[f64] {
        self.graph.node_weights.as_deref().unwrap_or_default()
    }
}

/// Checks that every atom's in-edges come from the same orbits at the same distances (within
/// `tolerance` Å) as its representative's.
fn check_neighbourhoods(full: &Graph, structure: &Structure, symmetry: &Symmetry, tolerance: f64) -> Result<()> {
    let mut neighbourhoods: Vec<Vec<(usize, f64)>> = vec![Vec::new(); full.num_nodes()];
    for e in 0..full.num_edges() {
        let source_orbit = symmetry.orbits[full.edges.source[e] as usize];
        neighbourhoods[full.edges.target[e] as usize].push((source_orbit, full.edges.distance[e]));
    }
    for n in &mut neighbourhoods {
        n.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    }
    for (j, n) in neighbourhoods.iter().enumerate() {
        let r = symmetry.orbits[j];
        let same = n.len() == neighbourhoods[r].len()
            && n.iter().zip(&neighbourhoods[r]).all(|(a, b)| a.0 == b.0 && (a.1 - b.1).abs() <= tolerance);
        if !same {
            return Err(Error::invalid(format!(
                "{}: the graph is not symmetric: atom {j} has {} neighbours, its symmetry-equivalent atom {r} has \
                 {} or different ones, so the asymmetric unit cannot stand for the cell (were the positions not \
                 symmetrised, or does a neighbour cap cut through a shell of equal distances?)",
                structure.label(),
                n.len(),
                neighbourhoods[r].len()
            )));
        }
    }
    Ok(())
}

fn select_rows(f: &Features, rows: &[usize]) -> Features {
    Features {
        width: f.width,
        data: rows.iter().flat_map(|&r| f.data[r * f.width..(r + 1) * f.width].iter().copied()).collect(),
    }
}

/// `Σ m_i·x_i` over the nodes of a (possibly reduced) graph: the multiplicity-weighted sum of a
/// per-node quantity, equal to the plain sum over the full cell.
pub fn weighted_sum(values: &[f64], weights: Option<&[f64]>) -> f64 {
    match weights {
        Some(w) => values.iter().zip(w).map(|(x, m)| x * m).sum(),
        None => values.iter().sum(),
    }
}

/// `Σ m_i·x_i / Σ m_i`: the multiplicity-weighted mean, equal to the plain mean over the full cell.
/// NaN for an empty graph.
pub fn weighted_mean(values: &[f64], weights: Option<&[f64]>) -> f64 {
    let total = match weights {
        Some(w) => w.iter().sum(),
        None => values.len() as f64,
    };
    weighted_sum(values, weights) / total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symmetry::SymmetryOptions;
    use crate::Lattice;
    use chem_graph::{line_graph, RadiusOptions};

    fn rock_salt() -> Structure {
        let a = 5.64;
        let l = Lattice::new([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]]).unwrap();
        let fcc = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
        let mut numbers = vec![];
        let mut positions = vec![];
        for (z, origin) in [(11u8, [0.0; 3]), (17, [0.5, 0.0, 0.0])] {
            for f in fcc {
                numbers.push(z);
                positions.push(l.to_cartesian(&std::array::from_fn(|k| f[k] + origin[k])));
            }
        }
        Structure::periodic(numbers, positions, *l.rows(), [true; 3]).unwrap()
    }

    #[test]
    fn rock_salt_reduces_to_two_nodes_and_keeps_multi_edge_pairs() {
        let s = rock_salt();
        let sym = Symmetry::find(&s, &SymmetryOptions::default()).unwrap();
        assert_eq!(sym.number, 225);
        let full = Graph::radius(&s, &RadiusOptions::new(3.0)).unwrap();
        assert_eq!(full.num_edges(), 8 * 6);
        let asu = AsymmetricUnitGraph::new(&full, &s, &sym).unwrap();
        assert_eq!(asu.num_nodes(), 2);
        assert_eq!(asu.multiplicities(), &[4.0, 4.0]);
        assert_eq!(asu.num_edges(), 12);
        // Six Cl→Na and six Na→Cl edges, all between the same two nodes.
        assert!(asu.graph.edges.source.iter().zip(&asu.graph.edges.target).all(|(s, t)| s != t));
        // All 6·5 ordered pairs per node survive, although each pair repeats (source, target).
        assert_eq!(line_graph(&asu.graph.edges).unwrap().len(), 60);
        // Each edge's operation recreates the real neighbour.
        let l = crystal_lattice(&s).unwrap();
        for e in 0..asu.num_edges() {
            let rep = asu.atoms[asu.graph.edges.source[e] as usize];
            let op = &sym.operations[asu.operations[e] as usize];
            let x = op.apply(&l.to_fractional(&s.positions[rep]));
            let real = l.to_cartesian(&std::array::from_fn(|k| x[k] + asu.translations[e][k] as f64));
            let target = s.positions[asu.atoms[asu.graph.edges.target[e] as usize]];
            for k in 0..3 {
                assert!((real[k] - target[k] - asu.graph.edges.vector[e][k]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn weighted_readouts_equal_full_cell_readouts() {
        let full = [1.0, 1.0, 1.0, 2.0, 2.0, 5.0];
        let reduced = [1.0, 2.0, 5.0];
        let m = [3.0, 2.0, 1.0];
        assert_eq!(weighted_sum(&reduced, Some(&m)), full.iter().sum::<f64>());
        assert!((weighted_mean(&reduced, Some(&m)) - full.iter().sum::<f64>() / 6.0).abs() < 1e-15);
        assert_eq!(weighted_mean(&full, None), 2.0);
    }

    #[test]
    fn an_asymmetric_graph_is_refused() {
        let s = rock_salt();
        let sym = Symmetry::find(&s, &SymmetryOptions::default()).unwrap();
        let mut g = Graph::radius(&s, &RadiusOptions::new(3.0)).unwrap();
        // Atom 5 (a Cl, not a representative) loses one of its six Na neighbours.
        let e = g.edges.target.iter().position(|&t| t == 5).unwrap();
        let mut edges = chem_graph::Edges::default();
        for k in (0..g.num_edges()).filter(|&k| k != e) {
            let ed = &g.edges;
            edges.push(ed.source[k], ed.target[k], ed.shift[k], ed.vector[k], ed.distance[k]);
        }
        g.edges = edges;
        let err = AsymmetricUnitGraph::new(&g, &s, &sym).unwrap_err().to_string();
        assert!(err.contains("not symmetric: atom 5 has 5 neighbours"), "{err}");
        // A cap that cuts a shell of one orbit leaves every atom the same distances and orbits, which
        // is all a distance-based model sees: accepted.
        let capped = Graph::radius(&s, &RadiusOptions::new(3.0).with_max_neighbors(3)).unwrap();
        assert!(AsymmetricUnitGraph::new(&capped, &s, &sym).is_ok());
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let s = rock_salt();
        let sym = Symmetry::find(&s, &SymmetryOptions::default()).unwrap();
        let mut other = s.clone();
        other.numbers.truncate(7);
        other.positions.truncate(7);
        let g = Graph::radius(&other, &RadiusOptions::new(3.0)).unwrap();
        assert!(AsymmetricUnitGraph::new(&g, &s, &sym).unwrap_err().to_string().contains("8 atoms"));
    }
}
