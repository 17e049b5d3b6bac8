//! [`GraphTensors`]: a `chem_graph::GraphBatch` as Candle tensors on a device.

use crate::edge_pairs::EdgePairs;
use crate::ops::{gather, scatter_sum, segment_sizes, SegmentIndex};
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
    /// The atoms grouped by atomic number (segments `0..=max number`), for embedding lookups
    /// without reading `numbers` back from a GPU.
    pub elements: SegmentIndex,
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
    /// Cartesian offsets `vector − (r_j − r_i)`, `[edges, 3]`: the image offset `S·L` for an
    /// ordinary graph (zeros for molecules), and for a graph reduced to the asymmetric unit of a
    /// crystal (whose sources are orbit representatives) whatever makes
    /// [`GraphTensors::edge_vectors`] return the true vectors stored in the batch.
    pub offsets: Tensor,
    /// Cell rows per graph, `[graphs, 3, 3]` (zeros for molecules).
    pub cells: Tensor,
    /// Node features `[nodes, width]`, when the batch has them.
    pub node_features: Option<Tensor>,
    /// Edge features `[edges, width]`, when the batch has them.
    pub edge_features: Option<Tensor>,
    /// Readout weight of each node, `[nodes, 1]` (multiplicities of asymmetric-unit nodes), when the
    /// batch has them; see [`GraphTensors::sum_nodes`].
    pub node_weights: Option<Tensor>,
    /// The edges grouped by unordered pair (see [`EdgePairs`]), when some edges have their reverse.
    pub pairs: Option<EdgePairs>,
    /// The line graph (pairs of edges sharing their target), when the batch has one.
    pub line_graph: Option<LineGraphTensors>,
}

/// The line graph of a batch: its nodes are the batch's edges, its edges the pairs `b → a` of
/// [`chem_graph::Triplets`] (messages flow from the pair's second edge to its first).
#[derive(Clone, Debug)]
pub struct LineGraphTensors {
    /// First edge `a` of each pair (the receiver); segments are the batch's edges.
    pub receiver: SegmentIndex,
    /// Second edge `b` of each pair (the sender); segments are the batch's edges.
    pub sender: SegmentIndex,
    /// Angle between the two edges' vectors in radians, `[pairs]`, a constant (no gradient).
    pub angles: Tensor,
}

impl LineGraphTensors {
    /// The same line graph on `device`.
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        Ok(Self {
            receiver: self.receiver.to_device(device)?,
            sender: self.sender.to_device(device)?,
            angles: self.angles.to_device(device)?,
        })
    }
}

impl GraphTensors {
    /// Converts `batch` to tensors of float type `dtype` on `device`. For a GPU, the tensors are
    /// built on the host first and then copied ([`GraphTensors::to_device`]), so every GPU call
    /// happens on the calling thread.
    pub fn new(batch: &GraphBatch, dtype: DType, device: &Device) -> Result<Self> {
        if !device.is_cpu() {
            return Self::new(batch, dtype, &Device::Cpu)?.to_device(device);
        }
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
        let offsets: Vec<f64> = (0..edges)
            .flat_map(|e| {
                let (j, i) = (batch.edges.source[e] as usize, batch.edges.target[e] as usize);
                let (rj, ri, v) = (&batch.positions[j], &batch.positions[i], &batch.edges.vector[e]);
                (0..3).map(move |c| v[c] - (rj[c] - ri[c]))
            })
            .collect();
        let features = |f: &Option<chem_graph::Features>, rows: usize| -> Result<Option<Tensor>> {
            f.as_ref().map(|f| floats(f.data.clone(), &[rows, f.width])).transpose()
        };
        // The edge pairing (a search per edge) runs next to the rest of the conversion.
        let (paired, source) = rayon::join(
            || -> Result<_> {
                let target = SegmentIndex::new(batch.edges.target.clone(), nodes, device)?;
                let pairs = EdgePairs::new(batch, &target, device)?;
                Ok((target, pairs))
            },
            || SegmentIndex::new(batch.edges.source.clone(), nodes, device),
        );
        let ((target, pairs), source) = (paired?, source?);
        let line_graph = batch
            .line_graph
            .as_ref()
            .map(|lg| -> Result<LineGraphTensors> {
                Ok(LineGraphTensors {
                    receiver: SegmentIndex::new(lg.edge_a.clone(), edges, device)?,
                    sender: SegmentIndex::new(lg.edge_b.clone(), edges, device)?,
                    angles: floats(lg.angle.clone(), &[lg.len()])?,
                })
            })
            .transpose()?;
        Ok(Self {
            elements: SegmentIndex::new(numbers.clone(), numbers.iter().max().map_or(0, |&z| z as usize + 1), device)?,
            numbers: Tensor::from_vec(numbers, nodes, device)?,
            positions: floats(batch.positions.iter().flatten().copied().collect(), &[nodes, 3])?,
            node_graph: SegmentIndex::new(batch.node_graph.clone(), graphs, device)?,
            source,
            target,
            shifts: floats(batch.edges.shift.iter().flatten().map(|&s| s as f64).collect(), &[edges, 3])?,
            offsets: floats(offsets, &[edges, 3])?,
            cells: floats(batch.cells.iter().flatten().flatten().copied().collect(), &[graphs, 3, 3])?,
            node_features: features(&batch.node_features, nodes)?,
            edge_features: features(&batch.edge_features, edges)?,
            node_weights: batch.node_weights.as_ref().map(|w| floats(w.clone(), &[nodes, 1])).transpose()?,
            pairs,
            line_graph,
        })
    }

    /// The same tensors on `device`: one copy per tensor and index, nothing recomputed (the
    /// host-side half of a batch can be built on another thread, and this copy done where the
    /// GPU is used).
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        let tensor = |t: &Tensor| t.to_device(device);
        let optional = |t: &Option<Tensor>| t.as_ref().map(tensor).transpose();
        Ok(Self {
            numbers: tensor(&self.numbers)?,
            elements: self.elements.to_device(device)?,
            positions: tensor(&self.positions)?,
            node_graph: self.node_graph.to_device(device)?,
            source: self.source.to_device(device)?,
            target: self.target.to_device(device)?,
            shifts: tensor(&self.shifts)?,
            offsets: tensor(&self.offsets)?,
            cells: tensor(&self.cells)?,
            node_features: optional(&self.node_features)?,
            edge_features: optional(&self.edge_features)?,
            node_weights: optional(&self.node_weights)?,
            pairs: self.pairs.as_ref().map(|p| p.to_device(device)).transpose()?,
            line_graph: self.line_graph.as_ref().map(|l| l.to_device(device)).transpose()?,
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

    /// `Σ_i m_i·y_i` per graph (`[graphs, …]` from `[nodes, …]`), with the node weights m when the
    /// batch has them (1 otherwise): the sum over the full crystal even when the graph holds only its
    /// asymmetric unit.
    pub fn sum_nodes(&self, y: &Tensor) -> Result<Tensor> {
        match &self.node_weights {
            Some(w) => {
                scatter_sum(&y.broadcast_mul(&broadcastable(w, y.rank())?.to_dtype(y.dtype())?)?, &self.node_graph)
            }
            None => scatter_sum(y, &self.node_graph),
        }
    }

    /// `Σ_i m_i·y_i / Σ_i m_i` per graph (0 for an empty graph): the mean over the full crystal.
    pub fn mean_nodes(&self, y: &Tensor) -> Result<Tensor> {
        let total = broadcastable(&self.atoms_per_graph()?, y.rank())?;
        self.sum_nodes(y)?.broadcast_div(&total.to_dtype(y.dtype())?)
    }

    /// Number of atoms each graph stands for, `[graphs]` in f64: `Σ_i m_i` with node weights,
    /// the node count otherwise, and at least 1 (so that it can divide).
    pub fn atoms_per_graph(&self) -> Result<Tensor> {
        match &self.node_weights {
            Some(w) => scatter_sum(&w.to_dtype(DType::F64)?, &self.node_graph)?.squeeze(1)?.clamp(1.0, f64::MAX),
            None => segment_sizes(&self.node_graph, DType::F64, 1),
        }
    }

    /// Edge lengths (`[edges]`) of `vectors` from [`GraphTensors::edge_vectors`].
    pub fn edge_lengths(vectors: &Tensor) -> Result<Tensor> {
        vectors.sqr()?.sum(1)?.sqrt()
    }
}

/// `w` (`[rows]` or `[rows, 1]`) reshaped to `[rows, 1, …]` to broadcast against rank-`rank` rows.
fn broadcastable(w: &Tensor, rank: usize) -> Result<Tensor> {
    let mut dims = vec![1usize; rank.max(1)];
    dims[0] = w.dim(0)?;
    w.reshape(dims)
}
