//! MPNN (Gilmer et al. 2017): edge-network messages (NNConv), GRU updates over `T` steps and a
//! set2set readout over `M` steps, with the paper's variants — towers, untied weights per step, a
//! master node, no input projection (zero-padded atom features) — and the configuration of PyG's
//! `examples/qm9_nn_conv.py` as [`MpnnConfig::pyg_qm9`], which loads its `state_dict` unchanged.
//!
//! ```text
//! out = relu(lin0(x))                       (or x zero-padded to dim)
//! repeat T:  m = relu(conv(out, e) [+ master message])
//!            out = gru(m, out)              (per tower, then mixed by `mix`)
//! y = lin2(relu(lin1(set2set(out) [‖ master])))  ·std + mean
//! ```
//!
//! Parameter names: `lin0`, `conv.{nn.0, nn.2, lin, bias}`, `gru.{weight,bias}_{ih,hh}_l0`,
//! `set2set.lstm.*`, `lin1`, `lin2` (PyG's). Untied weights number the steps (`conv.{t}.*`,
//! `gru.{t}.*`); towers prefix `towers.{k}.` and add the mixing network `mix.{0,2}`; the master
//! node adds `master.{to_master, to_atoms, gru}`.

use crate::error::{Error, Result};
use crate::inputs::featurize::MpnnFeatures;
use crate::models::output_head::OutputHead;
use crate::models::{Architecture, Capabilities, Elements, GraphInputs, GraphModel, Scaling, TargetScaling};
use candle_core::{Module, Tensor};
use candle_nn::{Linear, VarBuilder};
use gnn_layers::nn::{linear, Activation, EdgeTerms, Gru, Mlp, MlpConfig, NnConv, NnConvMode, Set2Set};
use gnn_layers::ops::{gather, scatter_mean, Reduce};
use gnn_layers::GraphTensors;
use serde::{Deserialize, Serialize};

/// MPNN hyperparameters (defaults: PyG's QM9 example).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MpnnConfig {
    /// How input graphs are built from structures.
    pub features: MpnnFeatures,
    /// Width of the input atom features.
    pub node_features: usize,
    /// Width of the input edge features.
    pub edge_features: usize,
    /// Node state width `d`.
    pub dim: usize,
    /// Hidden width of the edge network (`nn.0`).
    pub edge_hidden: usize,
    /// Message-passing steps `T`.
    pub steps: usize,
    /// Whether all steps share the message and update functions (PyG, Gilmer's default).
    pub tied_weights: bool,
    /// Aggregation of messages at the target atom (PyG: mean; Gilmer: sum).
    pub aggregation: Reduce,
    /// Whether atom features are projected by `lin0` + ReLU (PyG) or zero-padded to `dim` (Gilmer).
    pub input_projection: bool,
    /// Number of towers `k` (state split into `k` parts of width `d/k`, mixed by a shared network).
    pub towers: usize,
    /// Width of the master node's state, if there is one.
    pub master_node: Option<usize>,
    /// Set2set processing steps `M`.
    pub set2set_steps: usize,
    /// LSTM layers inside set2set.
    pub set2set_layers: usize,
    /// Hidden width of the output network (`lin1`).
    pub readout_hidden: usize,
    /// Number of predicted values per structure.
    pub outputs: usize,
    /// Target means: predictions are `y·std + mean` when both are set. One value (shared by all
    /// outputs, as PyG's example writes it) or one per output.
    #[serde(deserialize_with = "one_or_many")]
    pub mean: Option<Vec<f64>>,
    /// Target standard deviations, like `mean`.
    #[serde(deserialize_with = "one_or_many")]
    pub std: Option<Vec<f64>>,
}

/// Reads `null`, a number or a list of numbers.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<Vec<f64>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(f64),
        Many(Vec<f64>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(x) => vec![x],
        OneOrMany::Many(v) => v,
    }))
}

impl Default for MpnnConfig {
    fn default() -> Self {
        Self::pyg_qm9()
    }
}

impl MpnnConfig {
    /// PyG's `examples/qm9_nn_conv.py`: 11 atom and 5 edge features, `dim = 64`, edge network
    /// 5→128→4096, mean aggregation, 3 tied steps, set2set with 3 steps, output 128→64→1.
    pub fn pyg_qm9() -> Self {
        Self {
            features: MpnnFeatures::default(),
            node_features: 11,
            edge_features: 5,
            dim: 64,
            edge_hidden: 128,
            steps: 3,
            tied_weights: true,
            aggregation: Reduce::Mean,
            input_projection: true,
            towers: 1,
            master_node: None,
            set2set_steps: 3,
            set2set_layers: 1,
            readout_hidden: 64,
            outputs: 1,
            mean: None,
            std: None,
        }
    }

    /// Checks that the hyperparameters make a model.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |m: String| Err(Error::config(origin, m));
        if [self.node_features, self.edge_features, self.dim, self.edge_hidden, self.readout_hidden, self.outputs]
            .contains(&0)
        {
            return bad("MPNN widths must be positive".into());
        }
        if self.towers == 0 || !self.dim.is_multiple_of(self.towers) {
            return bad(format!("dim {} is not divisible into {} towers", self.dim, self.towers));
        }
        if !self.input_projection && self.node_features > self.dim {
            return bad(format!(
                "without input projection the {} atom features must fit into dim {}",
                self.node_features, self.dim
            ));
        }
        if matches!(self.aggregation, Reduce::Max | Reduce::Min) {
            return bad("MPNN messages are aggregated by sum or mean".into());
        }
        if self.master_node == Some(0) || self.set2set_layers == 0 {
            return bad("master node width and set2set layers must be positive".into());
        }
        for (name, values) in [("mean", &self.mean), ("std", &self.std)] {
            if let Some(v) = values.as_ref().filter(|v| v.len() != 1 && v.len() != self.outputs) {
                return bad(format!("`{name}` has {} values for {} outputs", v.len(), self.outputs));
            }
        }
        Ok(())
    }
}

/// One tower: its message function(s) and GRU(s), one per step unless weights are tied.
#[derive(Clone, Debug)]
struct Tower {
    convs: Vec<NnConv>,
    grus: Vec<Gru>,
}

impl Tower {
    fn new(config: &MpnnConfig, vb: VarBuilder) -> Result<Self> {
        let width = config.dim / config.towers;
        let edge_net = MlpConfig::new(&[config.edge_features, config.edge_hidden, width * width], Activation::Relu);
        let count = if config.tied_weights { 1 } else { config.steps };
        let name = |base: &str, t: usize| if config.tied_weights { base.to_string() } else { format!("{base}.{t}") };
        let convs = (0..count)
            .map(|t| NnConv::new(width, width, &edge_net, config.aggregation, true, true, vb.pp(name("conv", t))))
            .collect::<candle_core::Result<_>>()?;
        let grus =
            (0..count).map(|t| Gru::new(width, width, 1, vb.pp(name("gru", t)))).collect::<candle_core::Result<_>>()?;
        Ok(Self { convs, grus })
    }

    fn conv(&self, step: usize) -> &NnConv {
        &self.convs[step.min(self.convs.len() - 1)]
    }

    fn gru(&self, step: usize) -> &Gru {
        &self.grus[step.min(self.grus.len() - 1)]
    }
}

/// Gilmer's master node: a per-graph state of its own width, messages to and from every atom, and
/// its own GRU.
#[derive(Clone, Debug)]
struct MasterNode {
    to_master: Linear,
    to_atoms: Linear,
    gru: Gru,
    width: usize,
}

/// An MPNN; see the module documentation.
#[derive(Clone, Debug)]
pub struct Mpnn {
    config: MpnnConfig,
    lin0: Option<Linear>,
    towers: Vec<Tower>,
    mix: Option<Mlp>,
    master: Option<MasterNode>,
    set2set: Set2Set,
    lin1: Linear,
    lin2: Linear,
    head: OutputHead,
}

impl Mpnn {
    /// Builds the model (PyTorch's default initialisation for fresh parameters).
    pub fn new(config: &MpnnConfig, vb: VarBuilder) -> Result<Self> {
        config.validate("MPNN")?;
        let d = config.dim;
        let lin0 = config.input_projection.then(|| linear(config.node_features, d, true, vb.pp("lin0"))).transpose()?;
        let towers = if config.towers == 1 {
            vec![Tower::new(config, vb.clone())?]
        } else {
            (0..config.towers).map(|k| Tower::new(config, vb.pp(format!("towers.{k}")))).collect::<Result<_>>()?
        };
        let mix = (config.towers > 1)
            .then(|| Mlp::new(&MlpConfig::new(&[d, d, d], Activation::Relu), vb.pp("mix")))
            .transpose()?;
        let master = config
            .master_node
            .map(|width| -> Result<MasterNode> {
                let vb = vb.pp("master");
                Ok(MasterNode {
                    to_master: linear(d, width, true, vb.pp("to_master"))?,
                    to_atoms: linear(width, d, true, vb.pp("to_atoms"))?,
                    gru: Gru::new(width, width, 1, vb.pp("gru"))?,
                    width,
                })
            })
            .transpose()?;
        let set2set = Set2Set::new(d, config.set2set_steps, config.set2set_layers, vb.pp("set2set"))?;
        let readout_in = set2set.out_channels() + config.master_node.unwrap_or(0);
        let lin1 = linear(readout_in, config.readout_hidden, true, vb.pp("lin1"))?;
        let lin2 = linear(config.readout_hidden, config.outputs, true, vb.pp("lin2"))?;
        // PyG's example scales by the target statistics only when both are given.
        let head = match (&config.mean, &config.std) {
            (Some(mean), Some(std)) => OutputHead::per_structure(Some(mean.clone()), Some(std.clone())),
            _ => OutputHead::per_structure(None, None),
        };
        Ok(Self { config: config.clone(), lin0, towers, mix, master, set2set, lin1, lin2, head })
    }

    /// The configuration.
    pub fn config(&self) -> &MpnnConfig {
        &self.config
    }

    /// Sets how every message function computes its messages (default [`NnConvMode::Auto`]).
    pub fn set_nnconv_mode(&mut self, mode: NnConvMode) {
        self.towers.iter_mut().flat_map(|t| &mut t.convs).for_each(|conv| conv.set_mode(mode));
    }

    /// Predictions `[graphs, outputs]` for graphs with atom features `g.node_features` and edge
    /// features `g.edge_features`.
    pub fn forward(&self, g: &GraphTensors) -> Result<Tensor> {
        let missing = |what: &str| Error::Input(format!("MPNN input has no {what} features"));
        if g.node_weights.is_some() {
            return Err(Error::Input(
                "the MPNN's set2set readout does not take weighted (asymmetric-unit) graphs".into(),
            ));
        }
        let x = g.node_features.as_ref().ok_or_else(|| missing("atom"))?;
        let e = g.edge_features.as_ref().ok_or_else(|| missing("edge"))?;
        let (cfg, d) = (&self.config, self.config.dim);
        if x.dim(1)? != cfg.node_features || e.dim(1)? != cfg.edge_features {
            return Err(Error::Input(format!(
                "MPNN expects {} atom and {} edge features, the input has {} and {}",
                cfg.node_features,
                cfg.edge_features,
                x.dim(1)?,
                e.dim(1)?
            )));
        }
        let mut out = match &self.lin0 {
            Some(lin0) => lin0.forward(x)?.relu()?,
            None => x.pad_with_zeros(1, 0, d - cfg.node_features)?,
        };
        let width = d / cfg.towers;
        // With tied weights the edge terms are the same at every step: compute them once.
        let nodes = x.dim(0)?;
        let tied_terms: Vec<EdgeTerms> = if cfg.tied_weights {
            self.towers.iter().map(|t| t.conv(0).edge_terms(e, nodes, cfg.steps)).collect::<candle_core::Result<_>>()?
        } else {
            vec![]
        };
        let mut master = match &self.master {
            Some(m) => Some(Tensor::zeros((g.num_graphs(), m.width), x.dtype(), x.device())?),
            None => None,
        };
        for step in 0..cfg.steps {
            let parts = self.split(&out, width)?;
            let messages = self
                .towers
                .iter()
                .zip(&parts)
                .enumerate()
                .map(|(k, (tower, part))| {
                    let conv = tower.conv(step);
                    match tied_terms.get(k) {
                        Some(terms) => conv.forward_with(part, terms, &g.source, &g.target),
                        None => conv.forward_with(part, &conv.edge_terms(e, nodes, 1)?, &g.source, &g.target),
                    }
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            let mut m = Tensor::cat(&messages, 1)?;
            if let (Some(node), Some(state)) = (&self.master, &master) {
                m = m.add(&gather(&node.to_atoms.forward(state)?, &g.node_graph)?)?;
                let to_master = node.to_master.forward(&scatter_mean(&out, &g.node_graph)?)?.relu()?;
                master = Some(node.gru.step(&to_master, std::slice::from_ref(state))?.remove(0));
            }
            let m = self.split(&m.relu()?, width)?;
            let updated = self
                .towers
                .iter()
                .zip(m.iter().zip(&parts))
                .map(|(tower, (m, h))| Ok(tower.gru(step).step(m, std::slice::from_ref(h))?.remove(0)))
                .collect::<Result<Vec<_>>>()?;
            out = Tensor::cat(&updated, 1)?;
            if let Some(mix) = &self.mix {
                out = mix.forward(&out)?;
            }
        }
        let mut pooled = self.set2set.forward(&out, &g.node_graph)?;
        if let Some(state) = &master {
            pooled = Tensor::cat(&[&pooled, state], 1)?;
        }
        let y = self.lin2.forward(&self.lin1.forward(&pooled)?.relu()?)?;
        self.head.forward(g, &y)
    }

    fn split(&self, x: &Tensor, width: usize) -> candle_core::Result<Vec<Tensor>> {
        if self.towers.len() == 1 {
            return Ok(vec![x.clone()]);
        }
        (0..self.towers.len()).map(|k| x.narrow(1, k * width, width)).collect()
    }
}

impl GraphModel for Mpnn {
    fn forward(&self, g: &GraphTensors, _positions: &Tensor) -> Result<Tensor> {
        Mpnn::forward(self, g)
    }
}

impl Architecture for MpnnConfig {
    type Network = Mpnn;

    fn build(&self, vb: VarBuilder) -> Result<Mpnn> {
        Mpnn::new(self, vb)
    }

    fn outputs(&self) -> usize {
        self.outputs
    }

    fn inputs(&self) -> GraphInputs {
        GraphInputs::Molecular { features: self.features, widths: (self.node_features, self.edge_features) }
    }

    /// Predictions from featurised graphs: no derivatives in the positions.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            forces: false,
            force_training: false,
            atom_energies: Err("it has no per-atom energies (its set2set readout mixes atoms)".into()),
            elements: Elements::Any,
            scaling: Scaling::PerStructure,
        }
    }

    /// One output per target, with their `mean` and `std` when standardised.
    fn set_target_scaling(&mut self, scaling: &TargetScaling) -> Result<()> {
        self.outputs = scaling.targets();
        if let Some((mean, std)) = &scaling.standardize {
            (self.mean, self.std) = (Some(mean.clone()), Some(std.clone()));
        }
        Ok(())
    }
}
