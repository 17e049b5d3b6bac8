//! e3nn's `gate_points_2101.Network` (January 2021): equivariant point convolutions with
//! self-interactions and gates, exactly as e3nn 0.6.0 computes it, with its `state_dict` names.
//!
//! Per graph: edges join atoms closer than `max_radius` (strictly, no self loops); an edge from
//! `src` to `dst` has `vec = pos[src] − pos[dst]`, attributes `smooth_cutoff(|vec|/r_max) · Y(veĉ)`
//! (spherical harmonics, component normalisation) and the length embedded in `number_of_basis`
//! Gaussians × √number_of_basis. Each of `layers` blocks is a [`Convolution`] into the input of a
//! [`Gate`] (scalars through SiLU/tanh, gates sigmoid/tanh, by parity); a last convolution maps to
//! `irreps_out`; with `reduce_output` the nodes of each graph are summed and divided by
//! `√num_nodes`. A convolution is
//! `sin(π/8)·sc(x, z) + c·lin2(Σ_edges tp(lin1(x, z)[src], edge_attr, fc(embedding)) / √num_neighbors, z)`,
//! with `c = cos(π/8)` where the self-connection `sc` reaches the output and 1 elsewhere.
//!
//! Parameters are named as e3nn's: `layers.{k}.first.{sc,lin1,lin2}.weight`,
//! `layers.{k}.first.fc.layer{i}.weight`, and `layers.{layers}.…` for the last convolution
//! (e3nn's `output_mask` buffers and empty `tp.weight` are not read).

use crate::models::{Architecture, Capabilities, Elements, GraphInputs, GraphModel, Scaling, TargetScaling};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use chem_graph::RadiusOptions;
use gnn_layers::nn::Activation;
use gnn_layers::o3::{
    EdgeEmbedding, EdgeEmbeddingConfig, Envelope, FullyConnectedTensorProduct, Gate, GateConfig, Irrep, Irreps, MulIr,
    Parity, PointConvolution, PointConvolutionConfig, PointOutput, SoftOneHotBasis,
};
use gnn_layers::ops::{scatter_sum, SegmentIndex};
use gnn_layers::GraphTensors;

/// The constructor arguments of `gate_points_2101.Network`, under their Python names (irreps as
/// strings), as an e3nn user dumps them to JSON.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatePointsConfig {
    /// Node input features (`None`: every node starts with the scalar 1).
    pub irreps_in: Option<Irreps>,
    /// Hidden features (the gates' scalars and gated irreps are taken from these).
    pub irreps_hidden: Irreps,
    /// Output features.
    pub irreps_out: Irreps,
    /// Node attributes (`None`: the scalar 1).
    pub irreps_node_attr: Option<Irreps>,
    /// Edge attributes: spherical harmonics, e.g. `1x0e+1x1o+1x2e`.
    pub irreps_edge_attr: Irreps,
    /// Number of gated blocks.
    pub layers: usize,
    /// Cutoff radius (Å).
    pub max_radius: f64,
    /// Gaussians of the edge length.
    pub number_of_basis: usize,
    /// Hidden layers of the radial network.
    pub radial_layers: usize,
    /// Width of the radial network's hidden layers.
    pub radial_neurons: usize,
    /// Typical number of neighbours (messages are divided by its square root).
    pub num_neighbors: f64,
    /// Typical number of nodes (the pooled output is divided by its square root).
    pub num_nodes: f64,
    /// Sum the nodes of each graph.
    #[serde(default = "yes")]
    pub reduce_output: bool,
}

fn yes() -> bool {
    true
}

/// Whether `ir_out` is in `a ⊗ b` for some blocks of the two irreps (e3nn's `tp_path_exists`).
fn path_exists(a: &Irreps, b: &Irreps, ir_out: Irrep) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.ir.times(y.ir).any(|ir| ir == ir_out)))
}

/// One point convolution of [`GatePoints`] (module docs): self-connection `sc` and `lin1` around
/// the shared [`PointConvolution`] (radial MLP `fc`, mixing `lin2` with the node attributes).
#[derive(Clone, Debug)]
pub struct Convolution {
    sc: FullyConnectedTensorProduct,
    lin1: FullyConnectedTensorProduct,
    conv: PointConvolution,
    /// `c` per output component: cos(π/8) where `sc` reaches, 1 elsewhere.
    mix: Vec<f64>,
}

impl Convolution {
    fn new(
        irreps_in: &Irreps,
        node_attr: &Irreps,
        edge_attr: &Irreps,
        irreps_out: &Irreps,
        config: &GatePointsConfig,
        vb: VarBuilder,
    ) -> Result<Self> {
        let sc = FullyConnectedTensorProduct::new(irreps_in, node_attr, irreps_out, vb.pp("sc"))?;
        let lin1 = FullyConnectedTensorProduct::new(irreps_in, node_attr, irreps_in, vb.pp("lin1"))?;
        let conv_config = PointConvolutionConfig {
            irreps_in: irreps_in.clone(),
            irreps_edge: edge_attr.clone(),
            irreps_out: irreps_out.clone(),
            radial_basis: config.number_of_basis,
            radial_neurons: config.radial_neurons,
            radial_layers: config.radial_layers,
            divisor: config.num_neighbors.sqrt(),
            paths_by_output: false,
            output: PointOutput::NodeAttributes(node_attr.clone()),
        };
        let conv = PointConvolution::new(&conv_config, vb.pp("fc"), vb.pp("lin2"))?;
        let reached: Vec<usize> = sc.tensor_product().config().instructions.iter().map(|i| i.i_out).collect();
        let c_x = (std::f64::consts::PI / 8.0).cos();
        let mix = irreps_out
            .iter()
            .enumerate()
            .flat_map(|(k, b)| std::iter::repeat_n(if reached.contains(&k) { c_x } else { 1.0 }, b.dim()))
            .collect();
        Ok(Self { sc, lin1, conv, mix })
    }

    /// Node features `x` and attributes `z` over the embedded edges.
    fn forward(&self, x: &Tensor, z: &Tensor, edges: &EdgeEmbedding) -> Result<Tensor> {
        let s = self.sc.forward(x, z)?;
        let h = self.conv.forward(&self.lin1.forward(x, z)?, Some(z), edges)?;
        let mix = Tensor::new(self.mix.as_slice(), h.device())?.to_dtype(h.dtype())?;
        s.affine((std::f64::consts::PI / 8.0).sin(), 0.0)?.add(&h.broadcast_mul(&mix)?)
    }
}

/// e3nn's `gate_points_2101.Network` (module docs).
#[derive(Clone, Debug)]
pub struct GatePoints {
    blocks: Vec<(Convolution, Option<Gate>)>,
    config: GatePointsConfig,
}

impl GatePoints {
    /// Builds the network from `vb` (parameter names as e3nn's `state_dict`).
    pub fn new(config: &GatePointsConfig, vb: VarBuilder) -> Result<Self> {
        let scalar: Irreps = "0e".parse()?;
        let node_attr = config.irreps_node_attr.clone().unwrap_or_else(|| scalar.clone());
        let edge_attr = &config.irreps_edge_attr;
        let mut irreps = config.irreps_in.clone().unwrap_or_else(|| scalar.clone());
        let act = |p: Parity| if p == Parity::Even { Activation::Silu } else { Activation::Tanh };
        let act_gate = |p: Parity| if p == Parity::Even { Activation::Sigmoid } else { Activation::Tanh };
        let mut blocks = Vec::with_capacity(config.layers + 1);
        for k in 0..config.layers {
            let reachable = |b: &&MulIr| path_exists(&irreps, edge_attr, b.ir);
            let scalars =
                Irreps(config.irreps_hidden.iter().filter(|b| b.ir.l == 0).filter(reachable).copied().collect());
            let gated = Irreps(config.irreps_hidden.iter().filter(|b| b.ir.l > 0).filter(reachable).copied().collect());
            let even = Irrep::new(0, Parity::Even);
            let gate_ir = if path_exists(&irreps, edge_attr, even) { even } else { Irrep::new(0, Parity::Odd) };
            let gates = Irreps(gated.iter().map(|b| MulIr { mul: b.mul, ir: gate_ir }).collect());
            let gate = Gate::new(GateConfig {
                act_scalars: scalars.iter().map(|b| act(b.ir.p)).collect(),
                act_gates: gates.iter().map(|b| act_gate(b.ir.p)).collect(),
                irreps_scalars: scalars,
                irreps_gates: gates,
                irreps_gated: gated,
            })?;
            let vb = vb.pp(format!("layers.{k}.first"));
            let conv = Convolution::new(&irreps, &node_attr, edge_attr, gate.irreps_in(), config, vb)?;
            irreps = gate.irreps_out().clone();
            blocks.push((conv, Some(gate)));
        }
        let vb = vb.pp(format!("layers.{}", config.layers));
        blocks.push((Convolution::new(&irreps, &node_attr, edge_attr, &config.irreps_out, config, vb)?, None));
        Ok(Self { blocks, config: config.clone() })
    }

    /// The configuration.
    pub fn config(&self) -> &GatePointsConfig {
        &self.config
    }

    /// The network on `nodes` atoms given the edge vectors `vec = pos[src] − pos[dst]` (plus the
    /// lattice shift of a periodic image), node inputs `x` and attributes `z` (`None` where the
    /// network has none), edges `src → dst` (the radius graph, both directions) and `node_graph`:
    /// `[graphs, irreps_out.dim()]` with `reduce_output`, else `[nodes, ·]`. Differentiable in `vec`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        vec: &Tensor,
        nodes: usize,
        x: Option<&Tensor>,
        z: Option<&Tensor>,
        src: &SegmentIndex,
        dst: &SegmentIndex,
        node_graph: &SegmentIndex,
    ) -> Result<Tensor> {
        let c = &self.config;
        let embedding = EdgeEmbeddingConfig {
            irreps_sh: c.irreps_edge_attr.clone(),
            max_radius: c.max_radius,
            number_of_basis: c.number_of_basis,
            basis: SoftOneHotBasis::Gaussian,
            basis_cutoff: false,
            basis_scale: (c.number_of_basis as f64).sqrt(),
            envelope: Envelope::Harmonics,
        };
        let edges = EdgeEmbedding::new(vec, src, dst, &embedding)?;
        let ones = Tensor::ones((nodes, 1), vec.dtype(), vec.device())?;
        let input = |given: Option<&Tensor>, irreps: &Option<Irreps>, name: &str| -> Result<Tensor> {
            match (given, irreps) {
                (Some(t), Some(i)) if t.dims() == [nodes, i.dim()] => Ok(t.clone()),
                (None, None) => Ok(ones.clone()),
                (Some(t), Some(i)) => {
                    candle_core::bail!("gate_points: {name} {:?}, expected [{nodes}, {}] (`{i}`)", t.dims(), i.dim())
                }
                (None, Some(i)) => candle_core::bail!("gate_points: the network reads {name} (`{i}`)"),
                (Some(_), None) => candle_core::bail!("gate_points: the network has no {name}"),
            }
        };
        let mut h = input(x, &c.irreps_in, "node inputs")?;
        let z = input(z, &c.irreps_node_attr, "node attributes")?;
        for (conv, gate) in &self.blocks {
            h = conv.forward(&h, &z, &edges)?;
            if let Some(gate) = gate {
                h = gate.forward(&h)?;
            }
        }
        if c.reduce_output {
            scatter_sum(&h, node_graph)?.affine(1.0 / c.num_nodes.sqrt(), 0.0)
        } else {
            Ok(h)
        }
    }
}

/// A `gate_points_2101` network as a chemgnn checkpoint kind (`"gate-points-2101"`): the network's
/// arguments, and the elements whose one-hot encoding (in this order) is fed as node inputs and/or
/// attributes whose irreps are `{elements}x0e`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GatePointsModelConfig {
    /// The e3nn constructor arguments.
    pub network: GatePointsConfig,
    /// Atomic numbers of the one-hot node features (empty when the network reads none).
    #[serde(default)]
    pub elements: Vec<u8>,
}

impl GatePointsModelConfig {
    /// Checks that the network predicts per graph (`reduce_output`) and that node inputs and
    /// attributes, where the network reads them, are the elements' one-hot encoding when elements
    /// are given. Without elements, such a network predicts from e3nn data dicts only.
    pub fn check(&self) -> crate::Result<()> {
        let n = &self.network;
        if !n.reduce_output {
            return Err(crate::Error::Input(
                "gate_points: networks with reduce_output = false predict per atom, which checkpoints do not support"
                    .into(),
            ));
        }
        let one_hot = format!("{}x0e", self.elements.len());
        for (name, irreps) in [("irreps_in", &n.irreps_in), ("irreps_node_attr", &n.irreps_node_attr)] {
            if let Some(i) = irreps.as_ref().filter(|_| !self.elements.is_empty()) {
                if i.to_string() != one_hot {
                    return Err(crate::Error::Input(format!(
                        "gate_points: {name} `{i}` must be the one-hot encoding of the elements given ({one_hot} for {:?})",
                        self.elements
                    )));
                }
            }
        }
        Ok(())
    }

    /// Values per structure: the dimension of `irreps_out`.
    pub fn outputs(&self) -> usize {
        self.network.irreps_out.dim()
    }
}

/// [`GatePoints`] fed from chemgnn graphs (module docs of [`GatePointsModelConfig`]).
#[derive(Clone, Debug)]
pub struct GatePointsModel {
    network: GatePoints,
    elements: Vec<u8>,
}

impl GatePointsModel {
    /// Builds the network from `vb`.
    pub fn new(config: &GatePointsModelConfig, vb: VarBuilder) -> crate::Result<Self> {
        config.check()?;
        Ok(Self { network: GatePoints::new(&config.network, vb)?, elements: config.elements.clone() })
    }
}

impl GraphModel for GatePointsModel {
    /// Predictions `[graphs, outputs]` for the radius graphs of `g`, differentiable in `positions`.
    /// Node inputs/attributes are `g`'s node features when it has them (`x` then `z`, an
    /// [`E3nnBatch`](crate::E3nnBatch)), else the one-hot encoding of the elements.
    fn forward(&self, g: &GraphTensors, positions: &Tensor) -> crate::Result<Tensor> {
        let c = &self.network.config;
        let nodes = g.num_nodes();
        let (din, dattr) =
            (c.irreps_in.as_ref().map_or(0, |i| i.dim()), c.irreps_node_attr.as_ref().map_or(0, |i| i.dim()));
        if let Some(features) = &g.node_features {
            if features.dim(1)? != din + dattr {
                return Err(crate::Error::Input(format!(
                    "gate_points: {} node feature columns, expected x ({din}) and z ({dattr})",
                    features.dim(1)?
                )));
            }
            let x = c.irreps_in.as_ref().map(|_| features.narrow(1, 0, din)).transpose()?;
            let z = c.irreps_node_attr.as_ref().map(|_| features.narrow(1, din, dattr)).transpose()?;
            let vectors = g.edge_vectors(positions)?;
            return Ok(self.network.forward(
                &vectors,
                nodes,
                x.as_ref(),
                z.as_ref(),
                &g.source,
                &g.target,
                &g.node_graph,
            )?);
        }
        if self.elements.is_empty() && (din > 0 || dattr > 0) {
            return Err(crate::Error::Input(
                "gate_points: the network reads node inputs/attributes and was imported without --elements: \
                 predict from an e3nn data dict (.safetensors with pos, x, z, batch)"
                    .into(),
            ));
        }
        let numbers = g.numbers.to_vec1::<u32>()?;
        let mut one_hot = vec![0f64; nodes * self.elements.len()];
        for (a, &z) in numbers.iter().enumerate() {
            let k = self.elements.iter().position(|&e| e as u32 == z).ok_or_else(|| {
                crate::Error::Input(format!("gate_points: atom {a} is element {z}, not one of {:?}", self.elements))
            })?;
            one_hot[a * self.elements.len() + k] = 1.0;
        }
        let features = (!self.elements.is_empty())
            .then(|| {
                Tensor::from_vec(one_hot, (nodes, self.elements.len()), positions.device())?.to_dtype(positions.dtype())
            })
            .transpose()?;
        let x = c.irreps_in.as_ref().and(features.as_ref());
        let z = c.irreps_node_attr.as_ref().and(features.as_ref());
        Ok(self.network.forward(&g.edge_vectors(positions)?, nodes, x, z, &g.source, &g.target, &g.node_graph)?)
    }
}

impl Architecture for GatePointsModelConfig {
    type Network = GatePointsModel;

    fn build(&self, vb: VarBuilder) -> crate::Result<GatePointsModel> {
        GatePointsModel::new(self, vb)
    }

    fn outputs(&self) -> usize {
        GatePointsModelConfig::outputs(self)
    }

    /// Every pair closer than `max_radius`, as e3nn's radius graph.
    fn inputs(&self) -> GraphInputs {
        GraphInputs::Radius(RadiusOptions::new(self.network.max_radius))
    }

    fn capabilities(&self) -> Capabilities {
        let elements = if self.elements.is_empty() { Elements::Any } else { Elements::Listed(self.elements.clone()) };
        Capabilities {
            forces: true,
            force_training: false,
            atom_energies: Err("it has no per-atom energies (SchNet, L0Net and L1Net have)".into()),
            elements,
            scaling: Scaling::None,
        }
    }

    fn output_irreps(&self) -> Option<String> {
        Some(self.network.irreps_out.to_string())
    }

    fn set_target_scaling(&mut self, _scaling: &TargetScaling) -> crate::Result<()> {
        Err(crate::Error::config(
            "model",
            "gate-points-2101 networks are imported from e3nn; training them is not supported yet",
        ))
    }
}
