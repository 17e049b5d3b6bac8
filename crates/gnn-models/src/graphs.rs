//! The input graphs of each model: radius graphs for SchNet, featurised molecular graphs for MPNN,
//! and graphs given as a PyG `Batch` in a safetensors file.

use crate::checkpoint::ModelConfig;
use crate::crystal_input::MAX_ELEMENT;
use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use chem_crystal::graphs::{periodic_graph, Connectivity};
use chem_crystal::{AsymmetricUnitGraph, Positions, PreparedCrystal, SymmetryOptions};
use chem_graph::{Edges, Features, Graph, GraphBatch, RadiusOptions, Structure, VerletList};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// The graphs `config`'s model reads for `structures`, batched.
pub fn build_graphs(config: &ModelConfig, structures: &[Structure]) -> Result<GraphBatch> {
    Ok(GraphBatch::from_graphs(&build_graph_list(config, structures)?)?)
}

/// Asymmetric-unit graphs of [`build_asu_graph_list`], with the crystals that were reduced as P1.
#[derive(Clone, Debug)]
pub struct AsuGraphs {
    /// One graph per structure, in order.
    pub graphs: Vec<Graph>,
    /// `"label: reason"` for each crystal whose symmetrisation was refused (its graph is the full
    /// cell, every atom with multiplicity 1).
    pub p1_fallbacks: Vec<String>,
}

/// Graphs of crystals reduced to their asymmetric units: each crystal is symmetrised at `symprec`
/// (P1 where symmetrisation is refused, as kgcnn falls back when pyxtal fails; those are listed in
/// [`AsuGraphs::p1_fallbacks`]), the model's graph is built on the symmetrised cell and reduced,
/// with multiplicities as node weights.
pub fn build_asu_graph_list(config: &ModelConfig, structures: &[Structure], symprec: f64) -> Result<AsuGraphs> {
    check_structures(structures)?;
    let options = SymmetryOptions { symprec, angle_tolerance: None };
    let crystals = structures
        .par_iter()
        .map(|s| {
            PreparedCrystal::new(s, &options, Positions::Symmetrized)
                .map_err(|e| Error::Input(format!("{}: {e}", s.label())))
        })
        .collect::<Result<Vec<_>>>()?;
    let p1_fallbacks = crystals
        .iter()
        .filter_map(|c| c.symmetry.fallback.as_ref().map(|reason| format!("{}: {reason}", c.structure.label())))
        .collect();
    let symmetrized: Vec<Structure> = crystals.iter().map(|c| c.structure.clone()).collect();
    let full = build_graph_list(config, &symmetrized)?;
    let graphs = crystals
        .par_iter()
        .zip(&full)
        .map(|(c, g)| {
            Ok(AsymmetricUnitGraph::new(g, &c.structure, &c.symmetry)
                .map_err(|e| Error::Input(format!("{}: {e}", c.structure.label())))?
                .graph)
        })
        .collect::<Result<_>>()?;
    Ok(AsuGraphs { graphs, p1_fallbacks })
}

/// The graph of each structure (built in parallel), for callers that batch them their own way.
pub fn build_graph_list(config: &ModelConfig, structures: &[Structure]) -> Result<Vec<Graph>> {
    check_structures(structures)?;
    check_model_elements(config, structures)?;
    if let Some(options) = radius_options(config) {
        return Ok(Graph::radius_many(structures, &options)?);
    }
    match config {
        ModelConfig::Mpnn(c) => {
            if c.features.widths() != (c.node_features, c.edge_features) {
                return Err(Error::Input(format!(
                    "featurisation {:?} gives {:?} atom and edge features, the model reads {} and {}",
                    c.features,
                    c.features.widths(),
                    c.node_features,
                    c.edge_features
                )));
            }
            crate::featurize::mpnn_graph_list(&c.features, structures)
        }
        ModelConfig::Cogn(c) | ModelConfig::Congn(c) => crystal_graph_list(&c.connectivity, structures),
        other => Err(Error::Input(format!("no graph builder for {} models", other.kind()))),
    }
}

/// The radius graph options of the models that read radius graphs: SchNet (with PyG's neighbour
/// cap when the model has one), e3nn's gate_points (every pair closer than `max_radius`, as e3nn's
/// radius graph) and L0Net/L1Net; `None` for the others.
pub fn radius_options(config: &ModelConfig) -> Option<RadiusOptions> {
    match config {
        ModelConfig::Schnet(c) => {
            Some(RadiusOptions { max_neighbors: c.max_num_neighbors, ..RadiusOptions::new(c.cutoff) })
        }
        ModelConfig::GatePoints(c) => Some(RadiusOptions::new(c.network.max_radius)),
        ModelConfig::L0net(c) | ModelConfig::L1net(c) => Some(RadiusOptions::new(c.cutoff)),
        ModelConfig::Mpnn(_) | ModelConfig::Cogn(_) | ModelConfig::Congn(_) => None,
    }
}

/// The radius graph of `structure` from a [`VerletList`] the caller keeps between calls (an MD
/// run): the same graph as [`build_graph_list`], searched again only when atoms moved beyond the
/// list's skin.
pub fn build_graph_verlet(config: &ModelConfig, structure: &Structure, list: &mut VerletList) -> Result<Graph> {
    let structures = std::slice::from_ref(structure);
    check_structures(structures)?;
    check_model_elements(config, structures)?;
    Ok(Graph::new(structure, list.edges(structure)?)?)
}

/// The periodic graphs of `connectivity` (text form of `chem_crystal::graphs::Connectivity`), built
/// in parallel, for elements 1…118 (those with kgcnn's element features).
pub fn crystal_graph_list(connectivity: &str, structures: &[Structure]) -> Result<Vec<Graph>> {
    let connectivity: Connectivity =
        connectivity.parse().map_err(|e: chem_crystal::Error| Error::Input(format!("connectivity: {e}")))?;
    for s in structures {
        if !s.is_periodic() {
            return Err(Error::Input(format!(
                "{}: not a crystal (no periodic cell); the model reads crystal graphs",
                s.label()
            )));
        }
        if let Some(a) = s.numbers.iter().position(|&z| z == 0 || z > MAX_ELEMENT) {
            return Err(Error::Input(format!(
                "{}: atom {a} has atomic number {}, outside the element table (1…{MAX_ELEMENT})",
                s.label(),
                s.numbers[a]
            )));
        }
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

/// Rejects atomic numbers outside SchNet's embedding table.
fn check_model_elements(config: &ModelConfig, structures: &[Structure]) -> Result<()> {
    match config {
        ModelConfig::Schnet(c) => check_elements(structures, c.num_elements),
        _ => Ok(()),
    }
}

/// Rejects atomic numbers the model has no embedding for.
fn check_elements(structures: &[Structure], num_elements: usize) -> Result<()> {
    for s in structures {
        if let Some(a) = s.numbers.iter().position(|&z| z as usize >= num_elements) {
            return Err(Error::Input(format!(
                "{}: atom {a} has atomic number {}, but the model knows elements below {num_elements}",
                s.label(),
                s.numbers[a]
            )));
        }
    }
    Ok(())
}

/// Every tensor of a safetensors file, on the CPU (errors name the file).
pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .map_err(|e| Error::Safetensors { path: path.to_path_buf(), message: e.to_string() })
}

/// A PyG `Batch` as stored in a safetensors file: `z` (integers `[N]`), `pos` (`[N, 3]`), `batch`
/// (graph of each atom, `[N]`, optional for one graph), and optionally `x` (`[N, F]`),
/// `edge_index` (`[2, E]`, row 0 = source), `edge_attr` (`[E, D]`) and `cell` (`[G, 3, 3]` or
/// `[3G, 3]`).
#[derive(Clone, Debug)]
pub struct PygBatch {
    /// One structure per graph (molecules, or periodic when a cell is given).
    pub structures: Vec<Structure>,
    /// The given graph (edges and features), when `edge_index` was present.
    pub graphs: Option<GraphBatch>,
}

impl PygBatch {
    /// Reads the file; every inconsistency is an error naming the file and the tensor.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_tensors(&read_tensors(path)?, &path.display().to_string())
    }

    /// Interprets `tensors` from `origin`.
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, origin: &str) -> Result<Self> {
        let bad = |m: String| Error::Input(format!("{origin}: {m}"));
        let get = |name: &str| tensors.get(name);
        let ints = |name: &str, t: &Tensor| -> Result<Vec<i64>> {
            if t.dtype().is_float() {
                return Err(bad(format!("`{name}` must hold integers, found {:?}", t.dtype())));
            }
            Ok(t.flatten_all()?.to_dtype(DType::I64)?.to_vec1::<i64>()?)
        };
        let floats = |t: &Tensor| -> Result<Vec<f64>> { Ok(t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?) };
        let z_tensor = get("z").ok_or_else(|| bad("missing `z` (atomic numbers)".into()))?;
        let z = ints("z", z_tensor)?;
        let n = z.len();
        let pos = get("pos").ok_or_else(|| bad("missing `pos` (positions)".into()))?;
        if pos.dims() != [n, 3] {
            return Err(bad(format!("`pos` has shape {:?}, expected [{n}, 3]", pos.dims())));
        }
        let pos = floats(pos)?;
        let batch = match get("batch") {
            Some(t) if t.dims() == [n] => ints("batch", t)?,
            Some(t) => return Err(bad(format!("`batch` has shape {:?}, expected [{n}]", t.dims()))),
            None => vec![0; n],
        };
        let starts = graph_starts(&batch).map_err(bad)?;
        let graphs = starts.len() - 1;
        let cells = get("cell").map(|c| cell_rows(c, graphs, origin)).transpose()?;
        let mut structures = Vec::with_capacity(graphs);
        for g in 0..graphs {
            let atoms = starts[g]..starts[g + 1];
            let numbers = atoms
                .clone()
                .map(|a| u8::try_from(z[a]).map_err(|_| bad(format!("`z[{a}]` = {} is not an atomic number", z[a]))))
                .collect::<Result<Vec<u8>>>()?;
            let positions: Vec<[f64; 3]> = atoms.map(|a| [pos[3 * a], pos[3 * a + 1], pos[3 * a + 2]]).collect();
            let mut s = match &cells {
                Some(c) => Structure::periodic(numbers, positions, c[g], [true; 3]),
                None => Structure::molecule(numbers, positions),
            }
            .map_err(|e| bad(format!("graph {g}: {e}")))?;
            s.name = format!("{origin}#{g}");
            structures.push(s);
        }
        let graphs = get("edge_index")
            .map(|ei| given_graphs(&structures, &starts, ei, get("x"), get("edge_attr"), origin))
            .transpose()?;
        Ok(Self { structures, graphs })
    }
}

/// The first atom of each graph (and the atom count last) of a PyG/e3nn `batch` vector, which
/// must be non-negative and sorted.
pub(crate) fn graph_starts(batch: &[i64]) -> std::result::Result<Vec<usize>, String> {
    if batch.windows(2).any(|w| w[1] < w[0]) || batch.first().is_some_and(|&b| b < 0) {
        return Err("`batch` must be non-negative and sorted (as PyG and e3nn write it)".into());
    }
    if batch.last().is_some_and(|&b| b as usize >= batch.len()) {
        return Err(format!(
            "`batch` numbers graphs up to {}, more than its {} atoms",
            batch[batch.len() - 1],
            batch.len()
        ));
    }
    let graphs = batch.last().map_or(0, |&b| b as usize + 1);
    let mut starts = vec![0usize; graphs + 1];
    for &b in batch {
        starts[b as usize + 1] += 1;
    }
    for g in 0..graphs {
        starts[g + 1] += starts[g];
    }
    Ok(starts)
}

fn cell_rows(cell: &Tensor, graphs: usize, origin: &str) -> Result<Vec<[[f64; 3]; 3]>> {
    if cell.elem_count() != graphs * 9 {
        return Err(Error::Input(format!(
            "{origin}: `cell` has shape {:?}, expected [{graphs}, 3, 3] or [{}, 3]",
            cell.dims(),
            3 * graphs
        )));
    }
    let v = cell.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    Ok(v.chunks(9).map(|c| [[c[0], c[1], c[2]], [c[3], c[4], c[5]], [c[6], c[7], c[8]]]).collect())
}

/// Graphs with the file's edges (image shifts zero) and features.
fn given_graphs(
    structures: &[Structure],
    starts: &[usize],
    edge_index: &Tensor,
    x: Option<&Tensor>,
    edge_attr: Option<&Tensor>,
    origin: &str,
) -> Result<GraphBatch> {
    let bad = |m: String| Error::Input(format!("{origin}: {m}"));
    let n = *starts.last().unwrap_or(&0);
    if edge_index.rank() != 2 || edge_index.dim(0)? != 2 || edge_index.dtype().is_float() {
        return Err(bad(format!("`edge_index` must be integers of shape [2, E], found {:?}", edge_index.dims())));
    }
    let e = edge_index.dim(1)?;
    let index = edge_index.to_dtype(DType::I64)?.to_vec2::<i64>()?;
    let features = |t: Option<&Tensor>, rows: usize, name: &str| -> Result<Option<Features>> {
        t.map(|t| {
            if t.rank() != 2 || t.dim(0)? != rows {
                return Err(bad(format!("`{name}` has shape {:?}, expected [{rows}, width]", t.dims())));
            }
            Ok(Features { width: t.dim(1)?, data: t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()? })
        })
        .transpose()
    };
    let x = features(x, n, "x")?;
    let attr = features(edge_attr, e, "edge_attr")?;
    let mut per_graph: Vec<(Edges, Vec<usize>)> = vec![(Edges::default(), vec![]); structures.len()];
    for (k, (&j, &i)) in index[0].iter().zip(&index[1]).enumerate() {
        if j < 0 || i < 0 || j as usize >= n || i as usize >= n {
            return Err(bad(format!("edge {k} ({j} → {i}) refers to an atom outside 0..{n}")));
        }
        let g = starts.partition_point(|&s| s <= i as usize) - 1;
        if !(starts[g]..starts[g + 1]).contains(&(j as usize)) {
            return Err(bad(format!("edge {k} ({j} → {i}) joins two different graphs")));
        }
        let (sj, si) = (j as usize - starts[g], i as usize - starts[g]);
        let (pj, pi) = (structures[g].positions[sj], structures[g].positions[si]);
        let v = [pj[0] - pi[0], pj[1] - pi[1], pj[2] - pi[2]];
        let d = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        per_graph[g].0.push(sj as u32, si as u32, [0; 3], v, d);
        per_graph[g].1.push(k);
    }
    let graphs = structures
        .iter()
        .zip(per_graph)
        .enumerate()
        .map(|(g, (s, (edges, ks)))| {
            let mut graph = Graph::new(s, edges)?;
            graph.node_features = x.as_ref().map(|f| Features {
                width: f.width,
                data: f.data[starts[g] * f.width..starts[g + 1] * f.width].to_vec(),
            });
            graph.edge_features = attr.as_ref().map(|f| Features {
                width: f.width,
                data: ks.iter().flat_map(|&k| f.data[k * f.width..(k + 1) * f.width].iter().copied()).collect(),
            });
            Ok(graph)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(GraphBatch::from_graphs(&graphs)?)
}
