//! A PyG `Batch` stored in a safetensors file: its structures, and its own edges and features
//! when it has them.

use crate::error::{Error, Result};
use crate::inputs::batch_file::{graph_starts, read_tensors};
use candle_core::{DType, Tensor};
use chem_graph::{Edges, Features, Graph, GraphBatch, Structure};
use std::collections::HashMap;
use std::path::Path;

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
