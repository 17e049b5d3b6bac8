//! [`GraphTensors`]: a `chem_graph::GraphBatch` as Candle tensors on a device.

use crate::autograd::enable_higher_order_gradients;
use crate::ops::{gather, SegmentIndex};
use candle_core::{DType, Device, Error, Result, Tensor};
use chem_graph::GraphBatch;

/// The tensors of a batch of graphs, with PyG's edge convention (edge `j → i` goes from `source`
/// `j` to `target` `i`; its vector is `r_j + S·L − r_i`).
///
/// Node and edge indices are [`SegmentIndex`]es, ready for the aggregations in [`crate::ops`].
#[derive(Clone, Debug)]
pub struct GraphTensors {
    /// Atomic numbers, `u32 [nodes]`.
    pub numbers: Tensor,
    /// Positions in Å, `[nodes, 3]`.
    pub positions: Tensor,
    /// Graph of each node (PyG's `batch`); segments are graphs.
    pub node_graph: SegmentIndex,
    /// Source node `j` of each edge; segments are nodes.
    pub source: SegmentIndex,
    /// Target node `i` of each edge; segments are nodes.
    pub target: SegmentIndex,
    /// Integer image shifts `S` of the source atoms, as floats, `[edges, 3]`.
    pub shifts: Tensor,
    /// Cartesian image offsets `S·L`, `[edges, 3]` (zeros for molecules).
    pub offsets: Tensor,
    /// Cell rows per graph, `[graphs, 3, 3]` (zeros for molecules).
    pub cells: Tensor,
    /// Node features `[nodes, width]`, when the batch has them.
    pub node_features: Option<Tensor>,
    /// Edge features `[edges, width]`, when the batch has them.
    pub edge_features: Option<Tensor>,
}

impl GraphTensors {
    /// Converts `batch` to tensors of float type `dtype` on `device`. Also makes sure gradients can
    /// be differentiated again (see [`crate::autograd`]).
    pub fn new(batch: &GraphBatch, dtype: DType, device: &Device) -> Result<Self> {
        enable_higher_order_gradients();
        if !dtype.is_float() {
            return Err(Error::Msg(format!("GraphTensors: dtype {dtype:?} is not a float type")));
        }
        batch.edges.check_lengths().map_err(|e| Error::Msg(e.to_string()))?;
        let (nodes, edges, graphs) = (batch.num_nodes(), batch.num_edges(), batch.num_graphs());
        if batch.positions.len() != nodes || batch.node_graph.len() != nodes || batch.cells.len() != graphs {
            return Err(Error::Msg("GraphTensors: inconsistent batch (positions, node_graph or cells)".into()));
        }
        let floats = |values: Vec<f64>, shape: &[usize]| -> Result<Tensor> {
            Tensor::from_vec(values, shape, device)?.to_dtype(dtype)
        };
        let numbers: Vec<u32> = batch.numbers.iter().map(|&z| z as u32).collect();
        let offsets: Vec<f64> = batch
            .edges
            .shift
            .iter()
            .zip(&batch.edges.target)
            .flat_map(|(s, &i)| {
                let cell = &batch.cells[batch.node_graph[i as usize] as usize];
                (0..3).map(move |c| (0..3).map(|k| s[k] as f64 * cell[k][c]).sum::<f64>())
            })
            .collect();
        let features = |f: &Option<chem_graph::Features>, rows: usize| -> Result<Option<Tensor>> {
            f.as_ref().map(|f| floats(f.data.clone(), &[rows, f.width])).transpose()
        };
        Ok(Self {
            numbers: Tensor::from_vec(numbers, nodes, device)?,
            positions: floats(batch.positions.iter().flatten().copied().collect(), &[nodes, 3])?,
            node_graph: SegmentIndex::new(batch.node_graph.clone(), graphs, device)?,
            source: SegmentIndex::new(batch.edges.source.clone(), nodes, device)?,
            target: SegmentIndex::new(batch.edges.target.clone(), nodes, device)?,
            shifts: floats(batch.edges.shift.iter().flatten().map(|&s| s as f64).collect(), &[edges, 3])?,
            offsets: floats(offsets, &[edges, 3])?,
            cells: floats(batch.cells.iter().flatten().flatten().copied().collect(), &[graphs, 3, 3])?,
            node_features: features(&batch.node_features, nodes)?,
            edge_features: features(&batch.edge_features, edges)?,
        })
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.node_graph.len()
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.source.len()
    }

    /// Number of graphs.
    pub fn num_graphs(&self) -> usize {
        self.node_graph.num_segments()
    }

    /// Edge vectors `r_j + S·L − r_i` (`[edges, 3]`) computed from `positions`, differentiable in
    /// them (pass the [`candle_core::Var`] that forces are taken with respect to).
    pub fn edge_vectors(&self, positions: &Tensor) -> Result<Tensor> {
        let rj = gather(positions, &self.source)?;
        let ri = gather(positions, &self.target)?;
        rj.sub(&ri)?.add(&self.offsets.to_dtype(positions.dtype())?)
    }

    /// Edge lengths (`[edges]`) of `vectors` from [`GraphTensors::edge_vectors`].
    pub fn edge_lengths(vectors: &Tensor) -> Result<Tensor> {
        vectors.sqr()?.sum(1)?.sqrt()
    }
}
