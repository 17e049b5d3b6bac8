//! [`Model`]: any chemgnn architecture loaded from a checkpoint, ready to predict on structures.

use crate::checkpoint::{Checkpoint, CheckpointConfig, ModelConfig};
use crate::cogn::CoGn;
use crate::e3nn_batch::E3nnBatch;
use crate::equivariant_net::EquivariantNet;
use crate::error::{Error, Result};
use crate::gate_points::GatePointsModel;
use crate::graphs::{build_graph_verlet, build_graphs, radius_options, PygBatch};
use crate::mpnn::Mpnn;
use crate::schnet::SchNet;
use crate::state_dict::{parameter_shapes, Shapes};
use crate::stress;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use chem_graph::{GraphBatch, Structure, VerletList};
use gnn_layers::autograd::forces;
use gnn_layers::GraphTensors;
use std::path::Path;

/// A built network of one of the supported kinds.
#[derive(Clone, Debug)]
pub enum Network {
    /// SchNet.
    SchNet(SchNet),
    /// MPNN.
    Mpnn(Mpnn),
    /// coGN or coNGN.
    CoGn(CoGn),
    /// e3nn's gate_points_2101.
    GatePoints(GatePointsModel),
    /// L0Net / L1Net.
    Equivariant(Box<EquivariantNet>),
}

impl Network {
    /// Builds the network for `config` from `vb`.
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(match config {
            ModelConfig::Schnet(c) => Network::SchNet(SchNet::new(c, vb)?),
            ModelConfig::Mpnn(c) => Network::Mpnn(Mpnn::new(c, vb)?),
            ModelConfig::Cogn(c) | ModelConfig::Congn(c) => Network::CoGn(CoGn::new(c, vb)?),
            ModelConfig::GatePoints(c) => Network::GatePoints(GatePointsModel::new(c, vb)?),
            ModelConfig::L0net(c) | ModelConfig::L1net(c) => {
                Network::Equivariant(Box::new(EquivariantNet::new(c, vb)?))
            }
        })
    }

    /// Predictions `[graphs, outputs]`; `positions` is the tensor forces are taken with respect to.
    pub fn forward(&self, g: &GraphTensors, positions: &Tensor) -> Result<Tensor> {
        match self {
            Network::SchNet(m) => m.forward(g, positions),
            Network::Mpnn(m) => m.forward(g),
            Network::CoGn(m) => m.forward(g, positions),
            Network::GatePoints(m) => m.forward(g, positions),
            Network::Equivariant(m) => m.forward(g, positions),
        }
    }

    /// Whether predictions depend differentiably on positions (so forces are defined).
    pub fn has_forces(&self) -> bool {
        matches!(self, Network::SchNet(_) | Network::GatePoints(_) | Network::Equivariant(_))
    }
}

/// Parameter shapes `config` requires, and buffers it may carry.
pub fn expected_tensors(config: &ModelConfig) -> Result<(Shapes, Shapes)> {
    let required = parameter_shapes(|vb| Network::new(config, vb).map_err(|e| candle_core::Error::Msg(e.to_string())))?;
    let optional = match config {
        ModelConfig::Schnet(c) => c.buffers(),
        ModelConfig::Mpnn(_)
        | ModelConfig::Cogn(_)
        | ModelConfig::Congn(_)
        | ModelConfig::GatePoints(_)
        | ModelConfig::L0net(_)
        | ModelConfig::L1net(_) => Shapes::new(),
    };
    Ok((required, optional))
}

/// One structure's prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The predicted values (one per target).
    pub values: Vec<f64>,
    /// Forces `−∂E/∂r` per atom, when asked for (target unit per Å).
    pub forces: Option<Vec<[f64; 3]>>,
    /// Stress `(1/V) ∂E/∂ε` in Voigt order `xx, yy, zz, yz, xz, xy` (ASE's convention, target unit
    /// per Å³), when asked for (periodic structures).
    pub stress: Option<[f64; 6]>,
}

/// A model with its checkpoint configuration, on a device, in a float dtype.
#[derive(Clone, Debug)]
pub struct Model {
    config: CheckpointConfig,
    network: Network,
    dtype: DType,
    device: Device,
}

impl Model {
    /// Loads a checkpoint directory in f32 on the CPU.
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_on(dir, DType::F32, &Device::Cpu)
    }

    /// Loads a checkpoint directory in `dtype` on `device`.
    pub fn load_on(dir: impl AsRef<Path>, dtype: DType, device: &Device) -> Result<Self> {
        Self::from_checkpoint(&Checkpoint::read(dir)?, dtype, device)
    }

    /// Builds the model from a checkpoint in memory, checking every tensor's name and shape.
    pub fn from_checkpoint(checkpoint: &Checkpoint, dtype: DType, device: &Device) -> Result<Self> {
        let config = &checkpoint.config;
        let (required, optional) = expected_tensors(&config.model)?;
        checkpoint.weights.check(&required, &optional)?;
        let outputs = config.model.outputs();
        if config.targets.len() != outputs {
            return Err(Error::config(
                &checkpoint.weights.origin,
                format!("the model predicts {outputs} values but {} targets are named", config.targets.len()),
            ));
        }
        let network = Network::new(&config.model, checkpoint.weights.var_builder(dtype, device)?)?;
        Ok(Self { config: config.clone(), network, dtype, device: device.clone() })
    }

    /// The checkpoint configuration.
    pub fn config(&self) -> &CheckpointConfig {
        &self.config
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The float type the model computes in.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The graphs this model reads for `structures` (radius graph for SchNet, featurised molecular
    /// graph for MPNN, periodic graph of its connectivity for coGN/coNGN).
    pub fn graphs(&self, structures: &[Structure]) -> Result<GraphBatch> {
        build_graphs(&self.config.model, structures)
    }

    /// The graphs for a PyG batch file: its own edges and features for MPNN when it has them
    /// (exactly what the PyTorch model was fed), otherwise built from its structures.
    pub fn pyg_batch_graphs(&self, batch: &PygBatch) -> Result<GraphBatch> {
        match (&self.config.model, &batch.graphs) {
            (ModelConfig::Mpnn(_), Some(g)) if g.node_features.is_some() && g.edge_features.is_some() => Ok(g.clone()),
            _ => self.graphs(&batch.structures),
        }
    }

    /// The graphs for an e3nn data dict (gate_points networks only): radius graphs of its
    /// molecules, with its `x` and `z` as node features.
    pub fn e3nn_batch_graphs(&self, batch: &E3nnBatch) -> Result<GraphBatch> {
        if !matches!(self.config.model, ModelConfig::GatePoints(_)) {
            return Err(Error::Input(format!(
                "e3nn data dicts feed gate_points networks, not {} models",
                self.config.model.kind()
            )));
        }
        let mut graphs = self.graphs(&batch.structures)?;
        graphs.node_features = batch.features.clone();
        Ok(graphs)
    }

    /// Predicts every structure, in batches of `batch_size`, with forces when asked.
    pub fn predict_structures(
        &self,
        structures: &[Structure],
        with_forces: bool,
        batch_size: usize,
    ) -> Result<Vec<Prediction>> {
        let mut out = Vec::with_capacity(structures.len());
        for chunk in structures.chunks(batch_size.max(1)) {
            out.extend(self.predict_batch(&self.graphs(chunk)?, with_forces)?);
        }
        Ok(out)
    }

    /// Predicts every structure (one batch of 64 structures at a time), without forces.
    pub fn predict(&self, structures: &[Structure]) -> Result<Vec<Prediction>> {
        self.predict_structures(structures, false, 64)
    }

    /// Predicts the graphs of `batch` (built by [`Model::graphs`] or read from a graph-batch file).
    pub fn predict_batch(&self, batch: &GraphBatch, with_forces: bool) -> Result<Vec<Prediction>> {
        self.predict_derivatives(batch, with_forces, false)
    }

    /// Energies, forces and stress (see [`Prediction::stress`]) of periodic structures, one batch of
    /// `batch_size` at a time, from one backward pass per batch.
    pub fn predict_with_stress(&self, structures: &[Structure], batch_size: usize) -> Result<Vec<Prediction>> {
        let mut out = Vec::with_capacity(structures.len());
        for chunk in structures.chunks(batch_size.max(1)) {
            out.extend(self.predict_derivatives(&self.graphs(chunk)?, true, true)?);
        }
        Ok(out)
    }

    /// A [`VerletList`] with `skin` Å of margin for this model's radius graphs, to pass to
    /// [`Model::predict_with_verlet`] call after call; `None` for models whose graphs cannot be
    /// kept between calls (no radius graph, or PyG's neighbour cap).
    pub fn verlet_list(&self, skin: f64) -> Option<VerletList> {
        radius_options(&self.config.model).and_then(|options| VerletList::new(options, skin).ok())
    }

    /// Energy, forces and, for a periodic structure, stress of one structure (an MD or relaxation
    /// step), its graph taken from `list` ([`Model::verlet_list`]): the same prediction as
    /// [`Model::predict_with_stress`] / [`Model::predict_structures`] with forces.
    pub fn predict_with_verlet(&self, structure: &Structure, list: &mut VerletList) -> Result<Prediction> {
        let graph = build_graph_verlet(&self.config.model, structure, list)?;
        let batch = GraphBatch::from_graphs(std::slice::from_ref(&graph))?;
        let mut predictions = self.predict_derivatives(&batch, true, structure.is_periodic())?;
        Ok(predictions.remove(0))
    }

    fn predict_derivatives(&self, batch: &GraphBatch, with_forces: bool, with_stress: bool) -> Result<Vec<Prediction>> {
        if (with_forces || with_stress) && !self.network.has_forces() {
            return Err(Error::Input(format!(
                "{} predictions are not differentiated for forces or stress (SchNet's and gate_points' are)",
                self.config.model.kind()
            )));
        }
        let with_line_graph;
        let batch = if self.config.model.uses_line_graph() && batch.line_graph.is_none() {
            with_line_graph = batch.clone().with_line_graph()?;
            &with_line_graph
        } else {
            batch
        };
        let g = GraphTensors::new(batch, self.dtype, &self.device)?;
        let positions = Var::from_tensor(&g.positions)?;
        let (y, forces, stress) = if with_stress {
            let strained = stress::strain(batch, &g, positions.as_tensor())?;
            let y = self.network.forward(&strained.graphs, &strained.positions)?;
            let grads = y.sum_all()?.backward()?;
            let gradient = |v: &Var| grads.get(v.as_tensor()).map_or_else(|| v.zeros_like(), |g| Ok(g.clone()));
            let forces = gradient(&positions)?.neg()?;
            let stress = stress::voigt_stress(&gradient(&strained.strain)?, &strained.volumes)?;
            (y, Some(forces), Some(stress))
        } else {
            let y = self.network.forward(&g, positions.as_tensor())?;
            let forces = if with_forces { Some(forces(&y, &positions, false)?) } else { None };
            (y, forces, None)
        };
        let values = y.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        let forces = forces.map(|f| f.to_dtype(DType::F64)?.to_vec2::<f64>()).transpose()?;
        Ok(values
            .into_iter()
            .enumerate()
            .map(|(k, values)| Prediction {
                values,
                forces: forces.as_ref().map(|f| {
                    (batch.node_offsets[k]..batch.node_offsets[k + 1]).map(|a| [f[a][0], f[a][1], f[a][2]]).collect()
                }),
                stress: stress.as_ref().map(|s| s[k]),
            })
            .collect())
    }
}
