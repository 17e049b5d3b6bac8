//! kgcnn graph files: the ragged model inputs a kgcnn user feeds coGN/coNGN, stored flat in a
//! safetensors file with a row-length tensor per input.
//!
//! | tensor | dtype, shape | meaning |
//! |---|---|---|
//! | `atomic_number`, `atomic_number.row_lengths` | integers `[ΣN]`, `[G]` | Z of each node (asymmetric-unit representatives or all atoms) |
//! | `multiplicity`, `multiplicity.row_lengths` | numbers `[ΣN]`, `[G]`, optional | orbit size of each node (readout weights) |
//! | `edge_indices`, `edge_indices.row_lengths` | integers `[ΣE, 2]`, `[G]` | **[receiver, sender]** per edge, local to the crystal |
//! | `offset`, `offset.row_lengths` | floats `[ΣE, 3]`, `[G]` | `r_receiver − r_sender image` in Å |
//! | `voronoi_ridge_area`, `….row_lengths` | floats `[ΣE]`, `[G]`, coNGN | Voronoi face area in Å² |
//! | `line_graph_edge_indices`, `….row_lengths` | integers `[ΣL, 2]`, `[G]`, coNGN | [receiving edge, sending edge] per pair, local edge indices |
//!
//! These are exactly kgcnn's `KNNAsymmetricUnitCell(24)` / `VoronoiAsymmetricUnitCell(1e-6)`
//! graph dicts with `edge_indices[:, [1, 0]]` as matbench's coGN scripts feed them, so
//! `np.concatenate` over a dataset and the row lengths reproduce a `tf.RaggedTensor` input.
//! Any other tensor in the file is ignored. Positions are not needed: the edge vectors are the
//! offsets (negated into chemgnn's target → source convention).

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use chem_graph::{line_graph_from_pairs, Edges, Features, Graph, GraphBatch, Triplets};
use std::collections::HashMap;
use std::path::Path;

/// A batch read from a kgcnn graph file.
#[derive(Clone, Debug)]
pub struct KgcnnGraphs {
    /// The graphs, with the line graph when the file has one.
    pub batch: GraphBatch,
}

impl KgcnnGraphs {
    /// Reads `path`; every inconsistency is an error naming the file and the tensor.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_tensors(&crate::inputs::batch_file::read_tensors(path)?, &path.display().to_string())
    }

    /// The tensors of `batch` in this format (the inverse of [`KgcnnGraphs::from_tensors`]): graphs
    /// chemgnn built, written for kgcnn. Multiplicities are written when the batch has node
    /// weights, face areas when it has width-1 edge features, pairs when it has a line graph.
    pub fn to_tensors(batch: &GraphBatch) -> Result<HashMap<String, Tensor>> {
        let cpu = &Device::Cpu;
        let graphs = batch.num_graphs();
        let rows = |offsets: &[usize]| -> Result<Tensor> {
            Ok(Tensor::new(offsets.windows(2).map(|w| (w[1] - w[0]) as i64).collect::<Vec<_>>(), cpu)?)
        };
        let mut out = HashMap::new();
        let mut put = |name: &str, values: Tensor, lengths: Tensor| {
            out.insert(format!("{name}.row_lengths"), lengths);
            out.insert(name.to_string(), values);
        };
        let (node_rows, edge_rows) = (rows(&batch.node_offsets)?, rows(&batch.edge_offsets)?);
        let numbers: Vec<i64> = batch.numbers.iter().map(|&z| z as i64).collect();
        put("atomic_number", Tensor::new(numbers, cpu)?, node_rows.clone());
        if let Some(w) = &batch.node_weights {
            put("multiplicity", Tensor::new(w.iter().map(|&m| m.round() as i64).collect::<Vec<_>>(), cpu)?, node_rows);
        }
        let e = batch.num_edges();
        let mut indices = Vec::with_capacity(2 * e);
        let mut offsets = Vec::with_capacity(3 * e);
        for g in 0..graphs {
            let (n0, range) = (batch.node_offsets[g] as i64, batch.edge_offsets[g]..batch.edge_offsets[g + 1]);
            for k in range {
                indices.extend([batch.edges.target[k] as i64 - n0, batch.edges.source[k] as i64 - n0]);
                offsets.extend(batch.edges.vector[k].iter().map(|v| -v as f32));
            }
        }
        put("edge_indices", Tensor::from_vec(indices, (e, 2), cpu)?, edge_rows.clone());
        put("offset", Tensor::from_vec(offsets, (e, 3), cpu)?, edge_rows.clone());
        if let Some(f) = batch.edge_features.as_ref().filter(|f| f.width == 1) {
            put(
                "voronoi_ridge_area",
                Tensor::new(f.data.iter().map(|&a| a as f32).collect::<Vec<_>>(), cpu)?,
                edge_rows,
            );
        }
        if let Some(lg) = &batch.line_graph {
            let mut pairs = Vec::with_capacity(2 * lg.len());
            let mut lengths = vec![0i64; graphs];
            for k in 0..lg.len() {
                let g = batch.edge_offsets.partition_point(|&o| o <= lg.edge_a[k] as usize) - 1;
                let e0 = batch.edge_offsets[g] as i64;
                pairs.extend([lg.edge_a[k] as i64 - e0, lg.edge_b[k] as i64 - e0]);
                lengths[g] += 1;
            }
            put("line_graph_edge_indices", Tensor::from_vec(pairs, (lg.len(), 2), cpu)?, Tensor::new(lengths, cpu)?);
        }
        Ok(out)
    }

    /// Whether `tensors` look like a kgcnn graph file (they have `atomic_number.row_lengths`).
    pub fn recognise(tensors: &HashMap<String, Tensor>) -> bool {
        tensors.contains_key("atomic_number.row_lengths") && tensors.contains_key("edge_indices")
    }

    /// Interprets `tensors` from `origin`.
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, origin: &str) -> Result<Self> {
        let ragged = Ragged { tensors, origin };
        let (numbers, node_rows) = ragged.ints("atomic_number", 1, true)?;
        let numbers = numbers.map(|v| v.into_iter().map(|x| x[0]).collect::<Vec<_>>()).unwrap_or_default();
        let (edge_indices, edge_rows) = ragged.ints("edge_indices", 2, true)?;
        let edge_indices = edge_indices.unwrap_or_default();
        let (offsets, offset_rows) = ragged.floats("offset", 3, true)?;
        let offsets = offsets.unwrap_or_default();
        let (multiplicity, multiplicity_rows) = ragged.floats("multiplicity", 1, false)?;
        let (areas, area_rows) = ragged.floats("voronoi_ridge_area", 1, false)?;
        let (pairs, pair_rows) = ragged.ints("line_graph_edge_indices", 2, false)?;
        let graphs = node_rows.len();
        let same = |rows: &[usize], name: &str, like: &[usize], what: &str| -> Result<()> {
            if rows != like {
                return Err(Error::Input(format!("{origin}: `{name}.row_lengths` differ from `{what}.row_lengths`")));
            }
            Ok(())
        };
        if edge_rows.len() != graphs {
            return Err(Error::Input(format!(
                "{origin}: {graphs} crystals in `atomic_number` but {} in `edge_indices`",
                edge_rows.len()
            )));
        }
        same(&offset_rows, "offset", &edge_rows, "edge_indices")?;
        if multiplicity.is_some() {
            same(&multiplicity_rows, "multiplicity", &node_rows, "atomic_number")?;
        }
        if areas.is_some() {
            same(&area_rows, "voronoi_ridge_area", &edge_rows, "edge_indices")?;
        }
        if pairs.is_some() && pair_rows.len() != graphs {
            return Err(Error::Input(format!(
                "{origin}: `line_graph_edge_indices.row_lengths` has {} crystals, expected {graphs}",
                pair_rows.len()
            )));
        }
        let (mut node_start, mut edge_start, mut pair_start) = (0, 0, 0);
        let mut list = Vec::with_capacity(graphs);
        let mut line_graphs = Vec::with_capacity(graphs);
        for g in 0..graphs {
            let (n, e) = (node_rows[g], edge_rows[g]);
            let at = |m: String| Error::Input(format!("{origin}: crystal {g}: {m}"));
            let numbers = numbers[node_start..node_start + n]
                .iter()
                .map(|&z| {
                    u8::try_from(z)
                        .ok()
                        .filter(|&z| (1..=crate::models::cogn::crystal_input::MAX_ELEMENT).contains(&z))
                        .ok_or_else(|| at(format!("atomic number {z} is not an element")))
                })
                .collect::<Result<Vec<u8>>>()?;
            let mut edges = Edges::default();
            for k in edge_start..edge_start + e {
                let [receiver, sender] = [edge_indices[k][0], edge_indices[k][1]];
                if receiver < 0 || sender < 0 || receiver as usize >= n || sender as usize >= n {
                    return Err(at(format!(
                        "edge {} ([{receiver}, {sender}]) refers to a node outside 0..{n}",
                        k - edge_start
                    )));
                }
                let o = &offsets[k];
                if o.iter().any(|x| !x.is_finite()) {
                    return Err(at(format!("edge {} has a non-finite offset", k - edge_start)));
                }
                let vector = [-o[0], -o[1], -o[2]];
                let d = (vector[0] * vector[0] + vector[1] * vector[1] + vector[2] * vector[2]).sqrt();
                edges.push(sender as u32, receiver as u32, [0; 3], vector, d);
            }
            let graph = Graph {
                numbers,
                positions: vec![[0.0; 3]; n],
                edges,
                edge_features: areas
                    .as_ref()
                    .map(|a| Features { width: 1, data: a[edge_start..edge_start + e].iter().map(|x| x[0]).collect() }),
                node_weights: multiplicity
                    .as_ref()
                    .map(|m| m[node_start..node_start + n].iter().map(|x| x[0]).collect()),
                ..Default::default()
            };
            graph.validate().map_err(|e| at(e.to_string()))?;
            if let Some(pairs) = &pairs {
                let local = &pairs[pair_start..pair_start + pair_rows[g]];
                let index = |v: i64| u32::try_from(v).map_err(|_| at(format!("line-graph edge index {v} is negative")));
                let a = local.iter().map(|p| index(p[0])).collect::<Result<Vec<_>>>()?;
                let b = local.iter().map(|p| index(p[1])).collect::<Result<Vec<_>>>()?;
                line_graphs.push(line_graph_from_pairs(&graph.edges, a, b).map_err(|e| at(e.to_string()))?);
                pair_start += pair_rows[g];
            }
            list.push(graph);
            node_start += n;
            edge_start += e;
        }
        let mut batch = GraphBatch::from_graphs(&list)?;
        if pairs.is_some() {
            let mut all = Triplets::default();
            for (g, lg) in line_graphs.into_iter().enumerate() {
                let shift = batch.edge_offsets[g] as u32;
                all.edge_a.extend(lg.edge_a.iter().map(|&a| a + shift));
                all.edge_b.extend(lg.edge_b.iter().map(|&b| b + shift));
                all.angle.extend(lg.angle);
                all.cos_angle.extend(lg.cos_angle);
            }
            batch.line_graph = Some(all);
        }
        Ok(Self { batch })
    }
}

/// The rows of a ragged input (`None` when an optional one is absent) and its row lengths.
type RaggedRows<T> = (Option<Vec<Vec<T>>>, Vec<usize>);

/// Ragged tensors `name` + `name.row_lengths` of a file.
struct Ragged<'a> {
    tensors: &'a HashMap<String, Tensor>,
    origin: &'a str,
}

impl Ragged<'_> {
    /// Rows of `width` values (`None` when optional and absent) and the row lengths.
    fn rows(&self, name: &str, width: usize, required: bool) -> Result<Option<(Tensor, Vec<usize>)>> {
        let origin = self.origin;
        let Some(values) = self.tensors.get(name) else {
            return if required { Err(Error::Input(format!("{origin}: missing tensor `{name}`"))) } else { Ok(None) };
        };
        let lengths_name = format!("{name}.row_lengths");
        let lengths = self
            .tensors
            .get(&lengths_name)
            .ok_or_else(|| Error::Input(format!("{origin}: `{name}` has no `{lengths_name}`")))?;
        if lengths.rank() != 1 || lengths.dtype().is_float() {
            return Err(Error::Input(format!("{origin}: `{lengths_name}` must be integers of shape [crystals]")));
        }
        let lengths = lengths.to_dtype(DType::I64)?.to_vec1::<i64>()?;
        if lengths.iter().any(|&l| l < 0) {
            return Err(Error::Input(format!("{origin}: `{lengths_name}` has a negative length")));
        }
        let lengths: Vec<usize> = lengths.into_iter().map(|l| l as usize).collect();
        let total = lengths
            .iter()
            .try_fold(0usize, |sum, &l| sum.checked_add(l))
            .ok_or_else(|| Error::Input(format!("{origin}: `{lengths_name}` sums to more rows than can exist")))?;
        let shape_ok = match width {
            1 => values.dims() == [total] || values.dims() == [total, 1],
            w => values.dims() == [total, w],
        };
        if !shape_ok {
            let expected = if width == 1 { format!("[{total}]") } else { format!("[{total}, {width}]") };
            return Err(Error::Input(format!(
                "{origin}: `{name}` has shape {:?}, expected {expected} (the sum of `{lengths_name}`)",
                values.dims()
            )));
        }
        Ok(Some((values.reshape((total, width))?, lengths)))
    }

    fn ints(&self, name: &str, width: usize, required: bool) -> Result<RaggedRows<i64>> {
        match self.rows(name, width, required)? {
            None => Ok((None, vec![])),
            Some((t, lengths)) => {
                if t.dtype().is_float() {
                    return Err(Error::Input(format!(
                        "{}: `{name}` must hold integers, found {:?}",
                        self.origin,
                        t.dtype()
                    )));
                }
                Ok((Some(t.to_dtype(DType::I64)?.to_vec2::<i64>()?), lengths))
            }
        }
    }

    fn floats(&self, name: &str, width: usize, required: bool) -> Result<RaggedRows<f64>> {
        match self.rows(name, width, required)? {
            None => Ok((None, vec![])),
            Some((t, lengths)) => Ok((Some(t.to_dtype(DType::F64)?.to_vec2::<f64>()?), lengths)),
        }
    }
}
