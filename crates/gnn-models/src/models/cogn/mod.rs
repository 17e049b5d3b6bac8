//! coGN and coNGN (Ruff, Reiser, Stühmer, Friederich 2023, "Connectivity optimized nested line
//! graph networks for crystal structures"), as kgcnn 3.1.0's `kgcnn.literature.coGN` builds them:
//!
//! ```text
//! h = CrystalInput(Z); e = CrystalInput(d [, Voronoi area])         // crystal_input.rs
//! repeat for each block:                                          // GraphNetwork
//!     m_ji = MLP_E([e_ji, h_i, h_j])                              // e is never updated
//!     (coNGN) m ← GN_line(angle embeddings, m)                     // nested GN, GRU node gate
//!     h_i  = h_i + MLP_V(Σ_j m_ji)
//! y = MLP_out( Σ_i m_i h_i / Σ_i m_i )                             // multiplicity-weighted mean
//! ```
//!
//! One implementation serves both: coNGN is coGN with nested blocks, Voronoi-area edge features
//! and angle embeddings on the line graph ([`CoGnConfig::cogn`], [`CoGnConfig::congn`] are the
//! paper's `model_default` and `model_default_nested`).
//!
//! # Graphs
//! The model reads the periodic graph of [`CoGnConfig::connectivity`] (kgcnn's
//! `KNNAsymmetricUnitCell(24)` for coGN, `VoronoiAsymmetricUnitCell(1e-6)` for coNGN), on full
//! cells or reduced to the asymmetric unit with multiplicities as node weights: every feature is
//! invariant, so symmetry-equivalent atoms carry equal states and both give the same prediction.
//! Messages are summed at the edge's target (kgcnn's receiver, `edge_indices[:, 0]`).
//!
//! # Line graph (coNGN)
//! The nodes of the line graph are the edges; its edges are all ordered pairs (a, b), a ≠ b, of
//! edges with the same target, *including pairs whose two edges join the same two atoms* (in an
//! asymmetric-unit graph these are different, symmetry-equivalent neighbours; kgcnn's
//! `get_angle_indices` drops them by default, which loses most angles of high-symmetry crystals).
//! The message of b flows to a; the pair's feature is the angle between the two edge vectors
//! (the bond angle at the shared atom), expanded in Gaussians and never updated.
//!
//! # Parameters
//! `input.*` ([`CrystalInput`]), `blocks.{k}.edge_mlp.*`, `blocks.{k}.node_mlp.*`,
//! `blocks.{k}.nested.{j}.{edge_mlp, node_mlp, node_gate.gru}.*` ([`GraphNetwork`]) and
//! `output.*` (an [`Mlp`]). Linear weights are `[out, in]` (Keras kernels transposed on import).
//! Fresh models start as kgcnn's do: Glorot-uniform kernels, zero biases, embedding `U(±0.05)`
//! (the GRU keeps PyTorch's initialisation).

pub mod crystal_input;
pub mod element_features;

use crate::error::{Error, Result};
use crate::models::output_head::OutputHead;
use crate::models::{Architecture, Capabilities, Elements, GraphInputs, GraphModel, Scaling, TargetScaling};
use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;
use crystal_input::{keras_init, CrystalInput, CrystalInputConfig, GaussianExpansion, MAX_ELEMENT};
use gnn_layers::nn::{
    Activation, Gate, GaussianBasis, GraphNetwork, GraphNetworkConfig, LineGraphInput, Mlp, MlpConfig,
};
use gnn_layers::ops::Reduce;
use gnn_layers::GraphTensors;
use serde::{Deserialize, Serialize};

/// coGN / coNGN hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoGnConfig {
    /// How crystal graphs are built (`knn:24`, `voronoi:1e-6`, `radius:5.0`; see
    /// `chem_crystal::graphs::Connectivity`).
    pub connectivity: String,
    /// Atom and edge embeddings.
    pub input: CrystalInputConfig,
    /// Expansion of line-graph angles (radians) for nested blocks (coNGN: 16 up to 3.2).
    #[serde(default)]
    pub angle: Option<GaussianExpansion>,
    /// The processing blocks, in order.
    pub blocks: Vec<GraphNetworkConfig>,
    /// Pooling of node states per crystal: `mean` (weighted by multiplicities) or `sum`.
    pub readout: Reduce,
    /// The MLP on the pooled state, ending in the outputs.
    pub output: MlpConfig,
    /// Per-output mean added after the output MLP (kgcnn users apply a `StandardScaler` outside the
    /// model; training here stores it in the model).
    #[serde(default)]
    pub mean: Option<Vec<f64>>,
    /// Per-output scale applied before adding `mean`.
    #[serde(default)]
    pub std: Option<Vec<f64>>,
}

impl CoGnConfig {
    /// kgcnn's coGN `model_default` with width `units` (128 in the paper): kNN-24 graphs,
    /// 5 blocks of a 5-layer edge MLP and a 1-layer node MLP (SiLU), residual node updates,
    /// weighted mean, one linear output.
    pub fn cogn(units: usize) -> Self {
        Self {
            connectivity: "knn:24".into(),
            input: CrystalInputConfig {
                node_size: units,
                edge_size: units,
                element_features: Default::default(),
                distance: GaussianExpansion::new(32, 8.0),
                voronoi_area: None,
            },
            angle: None,
            blocks: vec![block(units, units, 5, 1, vec![]); 5],
            readout: Reduce::Mean,
            output: MlpConfig::new(&[units, 1], Activation::Silu),
            mean: None,
            std: None,
        }
    }

    /// kgcnn's `model_default_nested` (coNGN) with width `units` (160 in the paper): Voronoi graphs
    /// (minimum face area 1e-6 Å²) with face areas in 32 Gaussians up to 30 Å², 5 blocks of a
    /// 4-layer edge MLP, one nested block (2-layer edge and node MLPs, GRU gate) and a 4-layer node
    /// MLP; output `Dense(units, SiLU) → Dense(1)`.
    pub fn congn(units: usize) -> Self {
        let angles = 16;
        let nested = block(angles, units, 2, 2, vec![]);
        let nested = GraphNetworkConfig { node_gate: Some(Gate::Gru), node_residual: false, ..nested };
        Self {
            connectivity: "voronoi:1e-6".into(),
            input: CrystalInputConfig {
                node_size: units,
                edge_size: units,
                element_features: Default::default(),
                distance: GaussianExpansion::new(32, 8.0),
                voronoi_area: Some(GaussianExpansion::new(32, 30.0)),
            },
            angle: Some(GaussianExpansion::new(angles, 3.2)),
            blocks: vec![block(units, units, 4, 4, vec![nested]); 5],
            readout: Reduce::Mean,
            output: MlpConfig::new(&[units, units, 1], Activation::Silu),
            mean: None,
            std: None,
        }
    }

    /// Number of outputs.
    pub fn outputs(&self) -> usize {
        *self.output.widths.last().unwrap_or(&0)
    }

    /// Whether the model reads the line graph.
    pub fn uses_line_graph(&self) -> bool {
        self.blocks.iter().any(|b| !b.nested.is_empty())
    }
}

/// A GN block whose MLPs are `edge_depth` and `node_depth` SiLU layers of `units`, reading edges of
/// width `edge_width`, summing at the receiver, with a residual node update.
fn block(
    edge_width: usize,
    units: usize,
    edge_depth: usize,
    node_depth: usize,
    nested: Vec<GraphNetworkConfig>,
) -> GraphNetworkConfig {
    let mlp = |input: usize, depth: usize| {
        let mut widths = vec![input];
        widths.extend(std::iter::repeat_n(units, depth));
        MlpConfig { activate_last: true, ..MlpConfig::new(&widths, Activation::Silu) }
    };
    GraphNetworkConfig {
        edge_mlp: mlp(edge_width + 2 * units, edge_depth),
        node_mlp: mlp(units, node_depth),
        aggregation: Reduce::Sum,
        update_sees_node: false,
        edge_residual: false,
        node_residual: true,
        edge_gate: None,
        node_gate: None,
        nested,
        global: None,
    }
}

/// coGN or coNGN (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct CoGn {
    input: CrystalInput,
    angle: Option<GaussianBasis>,
    blocks: Vec<GraphNetwork>,
    output: Mlp,
    head: OutputHead,
    config: CoGnConfig,
}

impl CoGn {
    /// Builds the model from `vb`.
    pub fn new(config: &CoGnConfig, vb: VarBuilder) -> Result<Self> {
        if !matches!(config.readout, Reduce::Mean | Reduce::Sum) {
            return Err(Error::Input(format!("coGN readout {:?}: expected mean or sum", config.readout)));
        }
        let outputs = config.outputs();
        for (name, v) in [("mean", &config.mean), ("std", &config.std)] {
            if v.as_ref().is_some_and(|v| v.len() != outputs) {
                return Err(Error::Input(format!("coGN `{name}` must have one value per output ({outputs})")));
            }
        }
        if config.uses_line_graph() && config.angle.is_none() {
            return Err(Error::Input("nested blocks need an angle expansion (`angle`)".into()));
        }
        let angle = config.angle.map(|a| a.basis(vb.device(), vb.dtype())).transpose()?;
        let blocks = config
            .blocks
            .iter()
            .enumerate()
            .map(|(k, c)| GraphNetwork::with_init(c, vb.pp(format!("blocks.{k}")), &keras_init))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            input: CrystalInput::new(&config.input, vb.pp("input"))?,
            angle,
            blocks,
            output: Mlp::with_init(&config.output, vb.pp("output"), keras_init)?,
            head: OutputHead::per_structure(config.mean.clone(), config.std.clone()),
            config: config.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CoGnConfig {
        &self.config
    }
}

impl GraphModel for CoGn {
    /// Predictions `[graphs, outputs]`; edge lengths are taken from `positions` (differentiable).
    fn forward(&self, g: &GraphTensors, positions: &Tensor) -> Result<Tensor> {
        let distances = GraphTensors::edge_lengths(&g.edge_vectors(positions)?)?;
        let edges = self.input.edges(g, &distances)?;
        let mut nodes = self.input.nodes(g)?;
        let angles = match (&self.angle, &g.line_graph) {
            (Some(basis), Some(lg)) => Some(basis.forward(&lg.angles.to_dtype(edges.dtype())?)?),
            (Some(_), None) => {
                return Err(Error::Input(
                    "coNGN needs the line graph of the batch (GraphBatch::with_line_graph)".into(),
                ))
            }
            (None, _) => None,
        };
        let line = match (&angles, &g.line_graph) {
            (Some(features), Some(lg)) => Some(LineGraphInput { features, receiver: &lg.receiver, sender: &lg.sender }),
            _ => None,
        };
        for block in &self.blocks {
            nodes = block.update_nodes(&edges, &nodes, &g.source, &g.target, line)?;
        }
        let pooled = match self.config.readout {
            Reduce::Sum => g.sum_nodes(&nodes)?,
            _ => g.mean_nodes(&nodes)?,
        };
        self.head.forward(g, &self.output.forward(&pooled)?)
    }
}

impl Architecture for CoGnConfig {
    type Network = CoGn;

    fn build(&self, vb: VarBuilder) -> Result<CoGn> {
        CoGn::new(self, vb)
    }

    fn outputs(&self) -> usize {
        CoGnConfig::outputs(self)
    }

    fn inputs(&self) -> GraphInputs {
        GraphInputs::Crystal { connectivity: self.connectivity.clone(), line_graph: self.uses_line_graph() }
    }

    /// Invariant features of the crystal graph; its predictions are not differentiated in the
    /// positions (coNGN's angles enter as constants).
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            forces: false,
            force_training: false,
            atom_energies: Err("it has no per-atom energies (it pools before its output MLP)".into()),
            elements: Elements::UpTo(MAX_ELEMENT),
            scaling: Scaling::PerStructure,
        }
    }

    /// One output per target (the output MLP's last width), with their `mean` and `std` when
    /// standardised.
    fn set_target_scaling(&mut self, scaling: &TargetScaling) -> Result<()> {
        if let Some(last) = self.output.widths.last_mut() {
            *last = scaling.targets();
        }
        if let Some((mean, std)) = &scaling.standardize {
            (self.mean, self.std) = (Some(mean.clone()), Some(std.clone()));
        }
        Ok(())
    }
}
