//! [`Model`]: any chemgnn architecture loaded from a checkpoint, ready to predict on structures.

use crate::checkpoint::state_dict::{parameter_shapes, Shapes};
use crate::checkpoint::{Checkpoint, CheckpointConfig};
use crate::error::{Error, Result};
use crate::inputs::batch_file::{read_batch, BatchInput};
use crate::inputs::pipeline::{graph_list, verlet_graph, GraphOptions, ModelGraphs};
use crate::models::{ModelConfig, Network};
use crate::potential::stress;
use candle_core::{DType, Device};
use chem_crystal::Positions;
use chem_graph::{Graph, GraphBatch, Structure, VerletList};
use gnn_layers::GraphTensors;
use std::path::Path;

/// Parameter shapes `config` requires, and buffers it may carry.
pub fn expected_tensors(config: &ModelConfig) -> Result<(Shapes, Shapes)> {
    let required = parameter_shapes(|vb| Network::new(config, vb).map_err(|e| candle_core::Error::Msg(e.to_string())))?;
    Ok((required, config.buffers()))
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

    /// The graphs this model reads for `structures` under `options` (the input pipeline,
    /// [`graph_list`]): its radius graph, featurised molecular graph or periodic crystal graph, on
    /// positions as given or symmetrised, full cells or asymmetric units.
    pub fn graphs(&self, structures: &[Structure], options: &GraphOptions) -> Result<ModelGraphs> {
        graph_list(&self.config.model, structures, options)
    }

    /// The options predictions use unless told otherwise: a model trained on symmetrised crystals
    /// ([`CheckpointConfig::symmetrized`]: kgcnn's `*AsymmetricUnitCell` preprocessing, chemgnn's
    /// `--asu` runs) sees crystals symmetrised at the same tolerance, others the positions as given.
    pub fn default_graph_options(&self) -> GraphOptions {
        match self.config.symmetrized {
            Some(symprec) => GraphOptions { positions: Positions::Symmetrized, asu: false, symprec },
            None => GraphOptions::default(),
        }
    }

    /// Magnetic moments per atom (μ_B) of each structure, for models that predict them (CHGNet);
    /// an error for other models.
    pub fn magmoms(&self, structures: &[Structure]) -> Result<Vec<Vec<f64>>> {
        let Network::Chgnet(network) = &self.network else {
            return Err(Error::Input(format!("{} models do not predict magnetic moments", self.config.model.kind())));
        };
        let graphs = self.graphs(structures, &GraphOptions::default())?.graphs;
        let mut out = Vec::with_capacity(graphs.len());
        for graph in &graphs {
            let batch = GraphBatch::from_graphs(std::slice::from_ref(graph))?;
            let g = GraphTensors::new(&batch, self.dtype, &self.device)?;
            out.push(network.magmoms(&g, &g.positions)?.to_dtype(DType::F64)?.to_vec1::<f64>()?);
        }
        Ok(out)
    }

    /// Reads a `.safetensors` batch file for this model ([`read_batch`]).
    pub fn read_batch(&self, path: impl AsRef<std::path::Path>) -> Result<BatchInput> {
        read_batch(path.as_ref(), &self.config.model)
    }

    /// Predicts every structure as given, in batches of `batch_size`, with forces when asked.
    pub fn predict_structures(
        &self,
        structures: &[Structure],
        with_forces: bool,
        batch_size: usize,
    ) -> Result<Vec<Prediction>> {
        self.predict_graphs(&self.graphs(structures, &GraphOptions::default())?.graphs, with_forces, false, batch_size)
    }

    /// Predicts every structure (one batch of 64 structures at a time), without forces.
    pub fn predict(&self, structures: &[Structure]) -> Result<Vec<Prediction>> {
        self.predict_structures(structures, false, 64)
    }

    /// Predicts the graphs of `batch` (built by [`Model::graphs`] or read from a graph-batch file).
    pub fn predict_batch(&self, batch: &GraphBatch, with_forces: bool) -> Result<Vec<Prediction>> {
        self.predict_derivatives(batch, with_forces, false)
    }

    /// Energies, forces and stress (see [`Prediction::stress`]) of periodic structures as given,
    /// one batch of `batch_size` at a time, from one backward pass per batch.
    pub fn predict_with_stress(&self, structures: &[Structure], batch_size: usize) -> Result<Vec<Prediction>> {
        self.predict_graphs(&self.graphs(structures, &GraphOptions::default())?.graphs, true, true, batch_size)
    }

    /// Predicts `graphs` ([`Model::graphs`]) in batches of `batch_size`, with forces and stress
    /// when asked (stress implies forces, from the same backward pass).
    pub fn predict_graphs(
        &self,
        graphs: &[Graph],
        with_forces: bool,
        with_stress: bool,
        batch_size: usize,
    ) -> Result<Vec<Prediction>> {
        let mut out = Vec::with_capacity(graphs.len());
        for chunk in graphs.chunks(batch_size.max(1)) {
            out.extend(self.predict_derivatives(&GraphBatch::from_graphs(chunk)?, with_forces, with_stress)?);
        }
        Ok(out)
    }

    /// A [`VerletList`] with `skin` Å of margin for this model's radius graphs, to pass to
    /// [`Model::predict_with_verlet`] call after call; `None` for models whose graphs cannot be
    /// kept between calls (no radius graph, or PyG's neighbour cap).
    pub fn verlet_list(&self, skin: f64) -> Option<VerletList> {
        self.config.model.inputs().radius().and_then(|options| VerletList::new(*options, skin).ok())
    }

    /// Energy, forces and, for a periodic structure, stress of one structure (an MD or relaxation
    /// step), its graph taken from `list` ([`Model::verlet_list`]): the same prediction as
    /// [`Model::predict_with_stress`] / [`Model::predict_structures`] with forces.
    pub fn predict_with_verlet(&self, structure: &Structure, list: &mut VerletList) -> Result<Prediction> {
        let graph = verlet_graph(&self.config.model, structure, list)?;
        let batch = GraphBatch::from_graphs(std::slice::from_ref(&graph))?;
        let mut predictions = self.predict_derivatives(&batch, true, structure.is_periodic())?;
        Ok(predictions.remove(0))
    }

    fn predict_derivatives(&self, batch: &GraphBatch, with_forces: bool, with_stress: bool) -> Result<Vec<Prediction>> {
        if (with_forces || with_stress) && !self.config.model.capabilities().forces {
            return Err(Error::Input(format!(
                "{} predictions are not differentiated for forces or stress (they do not depend differentiably on the positions)",
                self.config.model.kind()
            )));
        }
        let with_line_graph;
        let batch = if self.config.model.inputs().line_graph() && batch.line_graph.is_none() {
            with_line_graph = batch.clone().with_line_graph()?;
            &with_line_graph
        } else {
            batch
        };
        let g = GraphTensors::new(batch, self.dtype, &self.device)?;
        let d = stress::derivatives(&self.network, batch, &g, with_forces, with_stress, false)?;
        let (y, forces) = (d.energy, d.forces);
        let stress = d.stress.map(|s| s.to_vec2::<f64>()).transpose()?;
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
                stress: stress.as_ref().map(|s| [s[k][0], s[k][1], s[k][2], s[k][3], s[k][4], s[k][5]]),
            })
            .collect())
    }
}
