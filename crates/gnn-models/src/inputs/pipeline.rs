//! The input pipeline: structures → the graphs a model reads, on positions as given or
//! symmetrised, on full cells or reduced to asymmetric units. One function,
//! [`graph_list`], serves prediction ([`crate::Model::graphs`]), training, Python and the C ABI.

use crate::error::{Error, Result};
use crate::models::{GraphInputs, ModelConfig};
use chem_crystal::graphs::{periodic_graph, Connectivity};
use chem_crystal::{Positions, PreparedCrystal, SymmetryOptions};
use chem_graph::{Graph, GraphBatch, Structure, VerletList};
use rayon::prelude::*;

/// Default distance tolerance (Å) of the symmetry search behind symmetrised positions and
/// asymmetric units.
pub const DEFAULT_SYMPREC: f64 = 1e-3;

/// How crystals are turned into graphs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GraphOptions {
    /// Build crystal graphs from the positions as given, or snapped to the symmetry found at
    /// `symprec` (a crystal whose atoms would move by more than `symprec` keeps its positions, with
    /// a warning). Molecules are always taken as given.
    pub positions: Positions,
    /// Reduce crystals to their asymmetric units (one node per symmetry orbit, weighted by its
    /// multiplicity), built on symmetrised positions whatever `positions` says.
    pub asu: bool,
    /// Distance tolerance (Å) of the symmetry search.
    pub symprec: f64,
}

impl Default for GraphOptions {
    /// Positions as given, full cells.
    fn default() -> Self {
        Self { positions: Positions::Original, asu: false, symprec: DEFAULT_SYMPREC }
    }
}

impl GraphOptions {
    /// Crystals symmetrised at `symprec`, full cells.
    pub fn symmetrized(symprec: f64) -> Self {
        Self { positions: Positions::Symmetrized, asu: false, symprec }
    }

    /// Asymmetric units of crystals symmetrised at `symprec`.
    pub fn asu(symprec: f64) -> Self {
        Self { positions: Positions::Symmetrized, asu: true, symprec }
    }
}

/// A model's graphs for a list of structures, and what the pipeline has to say about them.
#[derive(Clone, Debug)]
pub struct ModelGraphs {
    /// One graph per structure, in order.
    pub graphs: Vec<Graph>,
    /// `"label: reason"` for each crystal whose symmetrisation was refused: its graph is built
    /// from the positions as given, P1 (every atom its own orbit).
    pub p1_fallbacks: Vec<String>,
}

impl ModelGraphs {
    /// The graphs as one batch.
    pub fn batch(&self) -> Result<GraphBatch> {
        Ok(GraphBatch::from_graphs(&self.graphs)?)
    }
}

/// The graphs `config`'s model reads for `structures` (built in parallel) under `options`: the
/// model's own graph ([`model_graphs`]) of each structure as given, or of each crystal
/// symmetrised (as kgcnn's `*AsymmetricUnitCell` preprocessors do; P1 where symmetrisation is
/// refused, as kgcnn falls back when pyxtal fails), reduced to the asymmetric unit when asked.
pub fn graph_list(config: &ModelConfig, structures: &[Structure], options: &GraphOptions) -> Result<ModelGraphs> {
    if !options.asu && options.positions == Positions::Original {
        return Ok(ModelGraphs { graphs: model_graphs(config, structures)?, p1_fallbacks: vec![] });
    }
    check_structures(structures)?;
    let symmetry = SymmetryOptions { symprec: options.symprec, angle_tolerance: None };
    let crystals = structures
        .par_iter()
        .map(|s| {
            // Molecules have no cell to symmetrise; asymmetric units need one (an error then).
            if !options.asu && !s.is_periodic() {
                return Ok(None);
            }
            PreparedCrystal::new(s, &symmetry, Positions::Symmetrized)
                .map(Some)
                .map_err(|e| Error::Input(format!("{}: {e}", s.label())))
        })
        .collect::<Result<Vec<_>>>()?;
    let p1_fallbacks = crystals
        .iter()
        .flatten()
        .filter_map(|c| c.symmetry.fallback.as_ref().map(|reason| format!("{}: {reason}", c.structure.label())))
        .collect();
    let prepared: Vec<Structure> = crystals
        .iter()
        .zip(structures)
        .map(|(c, s)| c.as_ref().map_or_else(|| s.clone(), |c| c.structure.clone()))
        .collect();
    let full = model_graphs(config, &prepared)?;
    let graphs = if options.asu {
        crystals
            .par_iter()
            .zip(full)
            .map(|(c, g)| match c {
                Some(c) => Ok(c.reduce(&g).map_err(|e| Error::Input(format!("{}: {e}", c.structure.label())))?.graph),
                None => Ok(g),
            })
            .collect::<Result<_>>()?
    } else {
        full
    };
    Ok(ModelGraphs { graphs, p1_fallbacks })
}

/// The graph `config`'s model reads for each structure as given (built in parallel): its radius
/// graph, featurised molecular graph or periodic crystal graph ([`GraphInputs`]). Structures with
/// non-finite coordinates or elements the model does not know are refused, naming the structure
/// and atom.
pub fn model_graphs(config: &ModelConfig, structures: &[Structure]) -> Result<Vec<Graph>> {
    check_structures(structures)?;
    config.capabilities().elements.check(structures)?;
    match config.inputs() {
        GraphInputs::Radius(options) => {
            let graphs = Graph::radius_many(structures, &options)?;
            structures.iter().zip(&graphs).try_for_each(|(s, g)| check_overlaps(s, g))?;
            Ok(graphs)
        }
        GraphInputs::Molecular { features, widths } => {
            if features.widths() != widths {
                return Err(Error::Input(format!(
                    "featurisation {features:?} gives {:?} atom and edge features, the model reads {} and {}",
                    features.widths(),
                    widths.0,
                    widths.1
                )));
            }
            crate::inputs::featurize::mpnn_graph_list(&features, structures)
        }
        GraphInputs::Crystal { connectivity, .. } => crystal_graph_list(&connectivity, structures),
    }
}

/// The radius graph of `structure` from a [`VerletList`] the caller keeps between calls (an MD
/// run): the same graph as [`model_graphs`], searched again only when atoms moved beyond the
/// list's skin.
pub fn verlet_graph(config: &ModelConfig, structure: &Structure, list: &mut VerletList) -> Result<Graph> {
    let structures = std::slice::from_ref(structure);
    check_structures(structures)?;
    config.capabilities().elements.check(structures)?;
    // Not checked for overlaps: a trajectory in progress is the engine's to judge.
    Ok(Graph::new(structure, list.edges(structure)?)?)
}

/// Atoms closer than this (Å) are taken to overlap: no chemistry puts nuclei there, and distance
/// models divide by the distance (directions, `sin(r)/r` bases) or leave their training range.
pub const OVERLAP_DISTANCE: f64 = 0.01;

/// Rejects a radius graph with an edge shorter than [`OVERLAP_DISTANCE`], naming the atoms (an
/// atom on top of another, or of its own periodic image in a too-small cell). Applied to the
/// structures given for prediction, not to MD steps (`verlet_graph`).
fn check_overlaps(structure: &Structure, graph: &Graph) -> Result<()> {
    let e = &graph.edges;
    match e.distance.iter().position(|&d| d < OVERLAP_DISTANCE) {
        None => Ok(()),
        Some(k) => Err(Error::Input(format!(
            "{}: atoms {} and {} overlap ({:.4} Å apart{}, below {OVERLAP_DISTANCE} Å)",
            structure.label(),
            e.source[k],
            e.target[k],
            e.distance[k],
            if e.shift[k] == [0, 0, 0] { String::new() } else { format!(", periodic image {:?}", e.shift[k]) }
        ))),
    }
}

/// The periodic graphs of `connectivity` (text form of `chem_crystal::graphs::Connectivity`), built
/// in parallel.
fn crystal_graph_list(connectivity: &str, structures: &[Structure]) -> Result<Vec<Graph>> {
    let connectivity: Connectivity =
        connectivity.parse().map_err(|e: chem_crystal::Error| Error::Input(format!("connectivity: {e}")))?;
    if let Some(s) = structures.iter().find(|s| !s.is_periodic()) {
        return Err(Error::Input(format!(
            "{}: not a crystal (no periodic cell); the model reads crystal graphs",
            s.label()
        )));
    }
    structures
        .par_iter()
        .map(|s| periodic_graph(s, &connectivity).map_err(|e| Error::Input(format!("{}: {e}", s.label()))))
        .collect()
}

/// Rejects structures with non-finite coordinates (naming the structure and atom).
fn check_structures(structures: &[Structure]) -> Result<()> {
    for s in structures {
        if let Some(a) = s.positions.iter().position(|p| p.iter().any(|x| !x.is_finite())) {
            return Err(Error::Input(format!("{}: atom {a} has a non-finite coordinate", s.label())));
        }
    }
    Ok(())
}
