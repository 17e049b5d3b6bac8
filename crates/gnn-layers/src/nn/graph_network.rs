//! The graph-network (GN) block (Battaglia et al. 2018) in the form the crystal networks of Ruff et
//! al. 2023 (coGN, coNGN; kgcnn's `GraphNetwork` and `NestedGraphNetwork`) use:
//!
//! 1. **message** (edge update φE): `m_ji = MLP_E([e_ji, h_i, h_j])` for every edge j → i, from the
//!    edge features, the receiving (target) node and the sending (source) node, in that order —
//!    kgcnn's `[edge, receiver, sender]` (its `edge_indices[:, 0]` is the receiver);
//! 2. **nested** (coNGN): the messages are the *nodes* of a GN on the line graph, whose edges are
//!    pairs of edges sharing their target with fixed features (angle embeddings); each nested
//!    block updates them in place (`m ← GN_line(angles, m)`);
//! 3. **aggregate** (ρE→V): `a_i = ⊕_j m_ji` at the target, with [`Reduce`] (sum, mean, max, min);
//! 4. **update** (φV): `u_i = MLP_V(a_i)` or `MLP_V([a_i, h_i])`;
//!
//! then optional gates ([`Gate`]: `h' = GRU(u, h)` or `h' = σ(W h + b) ⊙ u`, and the same for
//! messages against the old edge features) and residual connections (`e' = e + m`,
//! `h' = h + u`; each needs equal widths).
//!
//! As in PyG's `MessagePassing`, each step is a method (`message`, `aggregate`, `update`), and one
//! check, [`GraphNetwork::can_fuse`], picks `message_and_aggregate` instead of the first two when
//! the messages are only summed: the fused kernel [`summed_mlp_messages`] never materialises them
//! ([`GraphNetwork::update_nodes`]). The literal path is the fused one's test oracle.
//!
//! An optional **global state** `g` (one vector per graph; [`GlobalConfig`], kgcnn's
//! `global_mlp`) is read by φE and φV (`[e, h_i, h_j, g]`, `[a_i, (h_i), g]`, each when configured)
//! and updated last: `g' = MLP_U([ρE→U(m), ρV→U(h'), g])` (+ `g` with a residual), where the
//! aggregations over each graph's messages and updated nodes are optional
//! ([`GraphNetwork::update_with_globals`]). coGN and coNGN have none.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::{Init, Linear, VarBuilder};

use super::init::uniform_fan_in;

use super::linear::linear;
use super::rnn::GruCell;
use super::sequential::{Mlp, MlpConfig};
use crate::ops::{dense, gather, scatter, summed_mlp_messages, Reduce, SegmentIndex, SplitMlp};

/// A gated update of a state `s` by a candidate `u` (kgcnn's `edge_gate`/`node_gate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gate {
    /// `s' = GRUCell(input = u, state = s)` (parameters `gru.*`, PyTorch's `nn.GRUCell` layout).
    Gru,
    /// `s' = σ(W s + b) ⊙ u` (parameters `gate.weight`, `gate.bias`).
    Hadamard,
}

/// The architecture of a [`GraphNetwork`] block.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GraphNetworkConfig {
    /// φE: input width = edge width + 2 × node width.
    pub edge_mlp: MlpConfig,
    /// φV: input width = message width (+ node width with `update_sees_node`).
    pub node_mlp: MlpConfig,
    /// ρE→V, the aggregation of messages at their target.
    pub aggregation: Reduce,
    /// Whether φV also receives the node's own features, `[a_i, h_i]` (coGN: no).
    #[serde(default)]
    pub update_sees_node: bool,
    /// `e' = e + m` instead of `e' = m`.
    #[serde(default)]
    pub edge_residual: bool,
    /// `h' = h + φV(…)` instead of `h' = φV(…)` (coGN: yes).
    #[serde(default)]
    pub node_residual: bool,
    /// Gate between the old edge features and the messages (before the residual).
    #[serde(default)]
    pub edge_gate: Option<Gate>,
    /// Gate between the old node features and the update (before the residual).
    #[serde(default)]
    pub node_gate: Option<Gate>,
    /// GN blocks run on the line graph between message and aggregation (coNGN: one, with a GRU
    /// node gate); parameters `nested.{k}.*`.
    #[serde(default)]
    pub nested: Vec<GraphNetworkConfig>,
    /// A global state per graph, read and updated by the block (parameters `global_mlp.*`).
    #[serde(default)]
    pub global: Option<GlobalConfig>,
}

/// The global state of a [`GraphNetwork`] block and what reads it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GlobalConfig {
    /// Width of the global state `g`.
    pub width: usize,
    /// φU: input width = message width (with `edges`) + node width (with `nodes`) + `width`.
    pub mlp: MlpConfig,
    /// Aggregation of each graph's messages fed to φU (kgcnn's `aggregate_edges_global`), if any.
    #[serde(default)]
    pub edges: Option<Reduce>,
    /// Aggregation of each graph's updated nodes fed to φU (kgcnn's `aggregate_nodes`), if any.
    #[serde(default)]
    pub nodes: Option<Reduce>,
    /// Whether φE also reads the edge's graph's state, `[e, h_i, h_j, g]`.
    #[serde(default)]
    pub to_edges: bool,
    /// Whether φV also reads the node's graph's state, `[a_i, (h_i), g]`.
    #[serde(default)]
    pub to_nodes: bool,
    /// `g' = g + φU(…)` instead of `g' = φU(…)`.
    #[serde(default)]
    pub residual: bool,
}

/// The global state a block with [`GraphNetworkConfig::global`] reads: `[graphs, width]`, and the
/// graph of each node.
#[derive(Clone, Copy, Debug)]
pub struct GlobalInput<'a> {
    /// `g`, one row per graph.
    pub state: &'a Tensor,
    /// Node → graph (segments are graphs).
    pub node_graph: &'a SegmentIndex,
}

/// Updated edges (messages, with the residual when configured) and nodes.
#[derive(Clone, Debug)]
pub struct GraphNetworkOutput {
    /// `[edges, message width]`.
    pub edges: Tensor,
    /// `[nodes, node width]`.
    pub nodes: Tensor,
}

/// The line graph a nested block runs on: fixed features of its edges (pairs of edges) and, for
/// each pair, the edge that receives (`receiver`) and the one that sends (`sender`).
#[derive(Clone, Copy, Debug)]
pub struct LineGraphInput<'a> {
    /// `[pairs, width]`.
    pub features: &'a Tensor,
    /// Receiving edge of each pair (segments are edges).
    pub receiver: &'a SegmentIndex,
    /// Sending edge of each pair (segments are edges).
    pub sender: &'a SegmentIndex,
}

#[derive(Clone, Debug)]
enum GateLayer {
    Gru(GruCell),
    Hadamard(Linear),
}

impl GateLayer {
    fn new(gate: Gate, width: usize, vb: VarBuilder) -> Result<Self> {
        Ok(match gate {
            Gate::Gru => GateLayer::Gru(GruCell::new(width, width, vb.pp("gru"))?),
            Gate::Hadamard => GateLayer::Hadamard(linear(width, width, true, vb.pp("gate"))?),
        })
    }

    /// The gated state from the candidate `update` and the old `state`.
    fn forward(&self, update: &Tensor, state: &Tensor) -> Result<Tensor> {
        match self {
            GateLayer::Gru(cell) => cell.step(update, state),
            GateLayer::Hadamard(dense) => candle_nn::ops::sigmoid(&dense.forward(state)?)?.mul(update),
        }
    }
}

/// One GN block (message → nested blocks → aggregate → update, gates and residuals as configured in
/// [`GraphNetworkConfig`]); parameters `edge_mlp.*` and `node_mlp.*` laid out
/// as [`Mlp`]'s, gates under `edge_gate.*`/`node_gate.*`, nested blocks under `nested.{k}.*`.
#[derive(Clone, Debug)]
pub struct GraphNetwork {
    edge_mlp: Mlp,
    node_mlp: Mlp,
    edge_gate: Option<GateLayer>,
    node_gate: Option<GateLayer>,
    nested: Vec<GraphNetwork>,
    global_mlp: Option<Mlp>,
    config: GraphNetworkConfig,
}

impl GraphNetwork {
    /// Builds the block with PyTorch's default initialisation; widths are checked against each
    /// other here and against the inputs in [`GraphNetwork::forward`].
    pub fn new(config: &GraphNetworkConfig, vb: VarBuilder) -> Result<Self> {
        Self::with_init(config, vb, &|fan_in, _| (uniform_fan_in(fan_in), uniform_fan_in(fan_in)))
    }

    /// [`GraphNetwork::new`] with `init(fan_in, fan_out) = (weight init, bias init)` for the layers
    /// of every MLP (nested blocks included; gates keep their own initialisation).
    pub fn with_init(
        config: &GraphNetworkConfig,
        vb: VarBuilder,
        init: &dyn Fn(usize, usize) -> (Init, Init),
    ) -> Result<Self> {
        let message = *config.edge_mlp.widths.last().unwrap_or(&0);
        let update_in = *config.node_mlp.widths.first().unwrap_or(&0);
        let update_out = *config.node_mlp.widths.last().unwrap_or(&0);
        let global_in = config.global.as_ref().filter(|g| g.to_nodes).map_or(0, |g| g.width);
        if update_in < message + global_in || (!config.update_sees_node && update_in != message + global_in) {
            candle_core::bail!(
                "graph network: the node MLP takes {update_in} inputs, but messages have {message} features{}",
                if config.update_sees_node { " plus the node's own" } else { "" }
            );
        }
        let nested = config
            .nested
            .iter()
            .enumerate()
            .map(|(k, c)| {
                let (nodes_in, nodes_out) = (c.edge_mlp.widths[0], *c.node_mlp.widths.last().unwrap_or(&0));
                if nodes_out != message || nodes_in <= 2 * message {
                    candle_core::bail!(
                        "graph network: nested block {k} must read and write the {message} message features \
                         (its node MLP gives {nodes_out}, its edge MLP takes {nodes_in})"
                    );
                }
                GraphNetwork::with_init(c, vb.pp(format!("nested.{k}")), init)
            })
            .collect::<Result<_>>()?;
        let global_mlp = config
            .global
            .as_ref()
            .map(|g| {
                let inputs = g.edges.map_or(0, |_| message) + g.nodes.map_or(0, |_| update_out) + g.width;
                let (mlp_in, mlp_out) = (g.mlp.widths[0], *g.mlp.widths.last().unwrap_or(&0));
                if mlp_in != inputs || (g.residual && mlp_out != g.width) {
                    candle_core::bail!(
                        "graph network: the global MLP takes {mlp_in} inputs and gives {mlp_out}, but reads {inputs} \
                         (aggregated messages, aggregated nodes, a state of {}){}",
                        g.width,
                        if g.residual { " and must give the state's width for the residual" } else { "" }
                    );
                }
                Mlp::with_init(&g.mlp, vb.pp("global_mlp"), init)
            })
            .transpose()?;
        Ok(Self {
            global_mlp,
            edge_mlp: Mlp::with_init(&config.edge_mlp, vb.pp("edge_mlp"), init)?,
            node_mlp: Mlp::with_init(&config.node_mlp, vb.pp("node_mlp"), init)?,
            edge_gate: config.edge_gate.map(|g| GateLayer::new(g, message, vb.pp("edge_gate"))).transpose()?,
            node_gate: config.node_gate.map(|g| GateLayer::new(g, update_out, vb.pp("node_gate"))).transpose()?,
            nested,
            config: config.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GraphNetworkConfig {
        &self.config
    }

    /// One block on edge features `[E, ·]` and node features `[N, ·]`; `source` and `target` map
    /// edges to their sending and receiving nodes (both with N segments). Errors for a block with
    /// nested blocks, which needs [`GraphNetwork::forward_nested`].
    pub fn forward(
        &self,
        edges: &Tensor,
        nodes: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
    ) -> Result<GraphNetworkOutput> {
        self.forward_nested(edges, nodes, source, target, None)
    }

    /// [`GraphNetwork::forward`] with the line graph the nested blocks run on: message → aggregate →
    /// update, the messages kept as the new edge features.
    pub fn forward_nested(
        &self,
        edges: &Tensor,
        nodes: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
        line_graph: Option<LineGraphInput>,
    ) -> Result<GraphNetworkOutput> {
        let x = self.check(Inputs { edges, nodes, source, target, line_graph, globals: None })?;
        let messages = self.message(&x)?;
        let nodes = self.update(&self.aggregate(&messages, &x)?, &x)?;
        let edges = if self.config.edge_residual { edges.add(&messages)? } else { messages };
        Ok(GraphNetworkOutput { edges, nodes })
    }

    /// The updated node features of [`GraphNetwork::forward_nested`] alone. Without the edge
    /// output, a block whose messages are only summed ([`GraphNetwork::can_fuse`]) computes
    /// them inside one fused kernel ([`summed_mlp_messages`]) and never materialises them —
    /// much less memory and time for training, but differentiable once only.
    pub fn update_nodes(
        &self,
        edges: &Tensor,
        nodes: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
        line_graph: Option<LineGraphInput>,
    ) -> Result<Tensor> {
        let x = self.check(Inputs { edges, nodes, source, target, line_graph, globals: None })?;
        self.update(&self.propagate(&x)?.1, &x)
    }

    /// [`GraphNetwork::update_nodes`] for a block with a global state: the updated nodes and the
    /// updated global state `[graphs, ·]`.
    pub fn update_with_globals(
        &self,
        edges: &Tensor,
        nodes: &Tensor,
        globals: GlobalInput,
        source: &SegmentIndex,
        target: &SegmentIndex,
        line_graph: Option<LineGraphInput>,
    ) -> Result<(Tensor, Tensor)> {
        let x = self.check(Inputs { edges, nodes, source, target, line_graph, globals: Some(globals) })?;
        let (messages, aggregated) = self.propagate(&x)?;
        let nodes = self.update(&aggregated, &x)?;
        let globals = self.update_globals(messages.as_ref(), &nodes, &x)?;
        Ok((nodes, globals))
    }

    /// Whether `message_and_aggregate` (one fused kernel) may replace message →
    /// aggregate: the messages are only summed at their target (no nested blocks, no edge gate, sum
    /// aggregation, no global update reading them).
    pub fn can_fuse(&self) -> bool {
        self.nested.is_empty()
            && self.edge_gate.is_none()
            && self.config.aggregation == Reduce::Sum
            && self.config.global.as_ref().is_none_or(|g| g.edges.is_none())
    }

    /// The aggregated messages, fused when [`can_fuse`](Self::can_fuse) (the messages are then not
    /// returned), else message → aggregate.
    fn propagate(&self, x: &Inputs) -> Result<(Option<Tensor>, Tensor)> {
        if self.can_fuse() {
            return Ok((None, self.message_and_aggregate(x)?));
        }
        let messages = self.message(x)?;
        let aggregated = self.aggregate(&messages, x)?;
        Ok((Some(messages), aggregated))
    }

    /// `x`, checked against the configuration.
    fn check<'a>(&self, x: Inputs<'a>) -> Result<Inputs<'a>> {
        let Inputs { edges, nodes, line_graph, globals, .. } = x;
        let global_width = match (&self.config.global, globals) {
            (Some(config), Some(input)) => {
                if input.state.dims() != [input.node_graph.num_segments(), config.width] {
                    candle_core::bail!(
                        "graph network: the global state {:?} must be [{} graphs, {}]",
                        input.state.dims(),
                        input.node_graph.num_segments(),
                        config.width
                    );
                }
                config.width
            }
            (None, None) => 0,
            (Some(_), None) => candle_core::bail!("graph network: this block has a global state (update_with_globals)"),
            (None, Some(_)) => candle_core::bail!("graph network: this block has no global state to update"),
        };
        let to_edges = self.config.global.as_ref().is_some_and(|g| g.to_edges);
        let expected = self.config.edge_mlp.widths[0];
        let (edge_width, node_width) = (edges.dim(D::Minus1)?, nodes.dim(D::Minus1)?);
        let reads = edge_width + 2 * node_width + if to_edges { global_width } else { 0 };
        if reads != expected {
            candle_core::bail!(
                "graph network: the edge MLP takes {expected} inputs, but edges have {edge_width} and nodes \
                 {node_width} features (edge + receiver + sender{} = {reads})",
                if to_edges { " + global" } else { "" }
            );
        }
        if !self.nested.is_empty() && line_graph.is_none() {
            candle_core::bail!("graph network: nested blocks need the line graph of the batch");
        }
        Ok(x)
    }

    /// The global state φE reads, if any.
    fn edge_globals<'a>(&self, x: &Inputs<'a>) -> Option<GlobalInput<'a>> {
        x.globals.filter(|_| self.config.global.as_ref().is_some_and(|g| g.to_edges))
    }

    /// φE, then the nested blocks and the edge gate: `m_ji = MLP_E([e_ji, h_i, h_j, (g)])` for every
    /// edge j → i (an edge's graph is its receiver's).
    fn message(&self, x: &Inputs) -> Result<Tensor> {
        let mut input = vec![x.edges.clone(), gather(x.nodes, x.target)?, gather(x.nodes, x.source)?];
        if let Some(g) = self.edge_globals(x) {
            input.push(gather(&gather(g.state, g.node_graph)?, x.target)?);
        }
        let mut messages = self.edge_mlp.forward(&Tensor::cat(&input, D::Minus1)?)?;
        // Nested blocks: the messages are the nodes of the line graph.
        if let Some(line) = x.line_graph {
            for block in &self.nested {
                messages = block.update_nodes(line.features, &messages, line.sender, line.receiver, None)?;
            }
        }
        if let Some(gate) = &self.edge_gate {
            messages = gate.forward(&messages, x.edges)?;
        }
        Ok(messages)
    }

    /// ρE→V: `a_i = ⊕_{j → i} m_ji`.
    fn aggregate(&self, messages: &Tensor, x: &Inputs) -> Result<Tensor> {
        scatter(messages, x.target, self.config.aggregation)
    }

    /// [`message`](Self::message) and a sum at the target in one fused kernel
    /// ([`summed_mlp_messages`]), for a block that [`can_fuse`](Self::can_fuse). The first layer of φE
    /// on `[e, h_i, h_j, g]` is split as `e·W_eᵀ + b + (h·W_rᵀ)[i] + (h·W_sᵀ)[j] (+ (g·W_gᵀ)[graph(i)])`:
    /// the node terms on N rows, the rest of the MLP per edge inside the kernel.
    fn message_and_aggregate(&self, x: &Inputs) -> Result<Tensor> {
        let (edge_width, node_width) = (x.edges.dim(D::Minus1)?, x.nodes.dim(D::Minus1)?);
        let first = &self.edge_mlp.layers()[0];
        let part = |start: usize, width: usize| first.weight().narrow(1, start, width)?.contiguous();
        let mut receiver_terms = dense(x.nodes, &part(edge_width, node_width)?, None)?;
        let sender_terms = dense(x.nodes, &part(edge_width + node_width, node_width)?, None)?;
        if let Some(g) = self.edge_globals(x) {
            let w_global = part(edge_width + 2 * node_width, g.state.dim(D::Minus1)?)?;
            receiver_terms = receiver_terms.add(&gather(&dense(g.state, &w_global, None)?, g.node_graph)?)?;
        }
        let mlp = SplitMlp {
            edge_weight: &part(0, edge_width)?,
            bias: first.bias(),
            later: &self.edge_mlp.layers()[1..],
            activation: self.config.edge_mlp.activation,
            activate_last: self.edge_mlp.activates_last(),
        };
        let node_terms = Tensor::cat(&[&receiver_terms, &sender_terms], D::Minus1)?;
        summed_mlp_messages(x.edges, &node_terms, &mlp, x.source, x.target)
    }

    /// φV, then the node gate and the residual: `h' = (h +) MLP_V([a_i, (h_i), (g)])`.
    fn update(&self, aggregated: &Tensor, x: &Inputs) -> Result<Tensor> {
        let mut input = vec![aggregated.clone()];
        if self.config.update_sees_node {
            input.push(x.nodes.clone());
        }
        if let Some(g) = x.globals.filter(|_| self.config.global.as_ref().is_some_and(|c| c.to_nodes)) {
            input.push(gather(g.state, g.node_graph)?);
        }
        let input = if input.len() == 1 { input.remove(0) } else { Tensor::cat(&input, D::Minus1)? };
        let mut update = self.node_mlp.forward(&input)?;
        if let Some(gate) = &self.node_gate {
            update = gate.forward(&update, x.nodes)?;
        }
        if self.config.node_residual {
            x.nodes.add(&update)
        } else {
            Ok(update)
        }
    }

    /// φU: `g' = (g +) MLP_U([ρE→U(m), ρV→U(h'), g])` over each graph's messages (when configured;
    /// then `messages` are given) and updated nodes.
    fn update_globals(&self, messages: Option<&Tensor>, nodes: &Tensor, x: &Inputs) -> Result<Tensor> {
        let (Some(config), Some(mlp), Some(input)) = (&self.config.global, &self.global_mlp, x.globals) else {
            candle_core::bail!("graph network: this block has no global state to update");
        };
        let mut parts = Vec::with_capacity(3);
        if let Some(reduce) = config.edges {
            let graph_of = input.node_graph.values();
            let edge_graph: Vec<u32> = x.target.values().iter().map(|&t| graph_of[t as usize]).collect();
            let edge_graph = SegmentIndex::new(edge_graph, input.node_graph.num_segments(), x.target.device())?;
            let Some(messages) = messages else {
                candle_core::bail!("graph network: the global update reads the messages, which were not kept");
            };
            parts.push(scatter(messages, &edge_graph, reduce)?);
        }
        if let Some(reduce) = config.nodes {
            parts.push(scatter(nodes, input.node_graph, reduce)?);
        }
        parts.push(input.state.clone());
        let update = mlp.forward(&Tensor::cat(&parts, D::Minus1)?)?;
        if config.residual {
            input.state.add(&update)
        } else {
            Ok(update)
        }
    }
}

/// The checked inputs of one block.
#[derive(Clone, Copy)]
struct Inputs<'a> {
    edges: &'a Tensor,
    nodes: &'a Tensor,
    source: &'a SegmentIndex,
    target: &'a SegmentIndex,
    line_graph: Option<LineGraphInput<'a>>,
    globals: Option<GlobalInput<'a>>,
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;
    use crate::test_support::{max_abs_diff, tensor};
    use candle_core::{DType, Device, Var};
    use candle_nn::VarMap;

    fn config(update_sees_node: bool) -> GraphNetworkConfig {
        let mut edge_mlp = MlpConfig::new(&[3 + 2 * 4, 5, 6], Activation::Silu);
        edge_mlp.activate_last = true;
        let mut node_mlp = MlpConfig::new(&[6 + if update_sees_node { 4 } else { 0 }, 4], Activation::Silu);
        node_mlp.activate_last = true;
        GraphNetworkConfig {
            edge_mlp,
            node_mlp,
            aggregation: Reduce::Sum,
            update_sees_node,
            edge_residual: false,
            node_residual: true,
            edge_gate: None,
            node_gate: None,
            nested: vec![],
            global: None,
        }
    }

    /// 5 nodes, 7 edges j → i; node 4 receives nothing.
    fn graph(perm: &[u32]) -> (SegmentIndex, SegmentIndex) {
        let source = [1u32, 2, 0, 3, 0, 4, 2].map(|j| perm[j as usize]).to_vec();
        let target = [0u32, 0, 1, 1, 2, 3, 3].map(|i| perm[i as usize]).to_vec();
        let dev = Device::Cpu;
        (SegmentIndex::new(source, 5, &dev).unwrap(), SegmentIndex::new(target, 5, &dev).unwrap())
    }

    fn network(config: &GraphNetworkConfig) -> GraphNetwork {
        let varmap = VarMap::new();
        let net = GraphNetwork::new(config, VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap();
        let mut data = varmap.data().lock().unwrap();
        let mut names: Vec<String> = data.keys().cloned().collect();
        names.sort();
        for (k, name) in names.iter().enumerate() {
            let var = data.get_mut(name).unwrap();
            var.set(&tensor(var.dims(), 100 + k as u64)).unwrap();
        }
        drop(data);
        net
    }

    #[test]
    fn messages_aggregate_at_the_receiver_and_update_with_a_residual() {
        for sees in [false, true] {
            let config = config(sees);
            let net = network(&config);
            let (e, h) = (tensor(&[7, 3], 1), tensor(&[5, 4], 2));
            let (source, target) = graph(&[0, 1, 2, 3, 4]);
            let out = net.forward(&e, &h, &source, &target).unwrap();
            // The same by hand, edge by edge.
            let (e_rows, h_rows) = (e.to_vec2::<f64>().unwrap(), h.to_vec2::<f64>().unwrap());
            let (src, tgt) = ([1usize, 2, 0, 3, 0, 4, 2], [0usize, 0, 1, 1, 2, 3, 3]);
            let mut aggregated = vec![vec![0.0; 6]; 5];
            for k in 0..7 {
                let input: Vec<f64> = [&e_rows[k][..], &h_rows[tgt[k]], &h_rows[src[k]]].concat();
                let m = net.edge_mlp.forward(&Tensor::new(&input[..], &Device::Cpu).unwrap().unsqueeze(0).unwrap());
                let m = m.unwrap().squeeze(0).unwrap().to_vec1::<f64>().unwrap();
                aggregated[tgt[k]].iter_mut().zip(&m).for_each(|(a, x)| *a += x);
            }
            let nodes = out.nodes.to_vec2::<f64>().unwrap();
            for i in 0..5 {
                let mut input = aggregated[i].clone();
                if sees {
                    input.extend(&h_rows[i]);
                }
                let u = net.node_mlp.forward(&Tensor::new(&input[..], &Device::Cpu).unwrap().unsqueeze(0).unwrap());
                let u = u.unwrap().squeeze(0).unwrap().to_vec1::<f64>().unwrap();
                for c in 0..4 {
                    assert!((nodes[i][c] - (h_rows[i][c] + u[c])).abs() < 1e-12, "node {i} feature {c}");
                }
            }
            assert_eq!(out.edges.dims(), &[7, 6]);
        }
    }

    #[test]
    fn relabelling_nodes_permutes_the_output() {
        let net = network(&config(true));
        let (e, h) = (tensor(&[7, 3], 1), tensor(&[5, 4], 2));
        let perm = [3u32, 0, 4, 1, 2];
        let (source, target) = graph(&[0, 1, 2, 3, 4]);
        let (p_source, p_target) = graph(&perm);
        // Node i becomes node perm[i]: h_p[perm[i]] = h[i].
        let mut inverse = [0u32; 5];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p as usize] = i as u32;
        }
        let h_p = h.index_select(&Tensor::new(&inverse[..], &Device::Cpu).unwrap(), 0).unwrap();
        let out = net.forward(&e, &h, &source, &target).unwrap().nodes.to_vec2::<f64>().unwrap();
        let out_p = net.forward(&e, &h_p, &p_source, &p_target).unwrap().nodes.to_vec2::<f64>().unwrap();
        for i in 0..5 {
            for c in 0..4 {
                assert!((out[i][c] - out_p[perm[i] as usize][c]).abs() < 1e-12);
            }
        }
    }

    /// ∂loss/∂h from backward against central differences, element by element (f64).
    fn assert_gradient_matches(h: &Var, loss: impl Fn(&Tensor) -> Result<Tensor>) {
        let grad = loss(h.as_tensor()).unwrap().backward().unwrap();
        let analytic = grad.get(h.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let base = h.as_tensor().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let step = 1e-6;
        for (k, &a) in analytic.iter().enumerate() {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[k] += delta;
                loss(&Tensor::from_vec(v, h.dims(), &Device::Cpu).unwrap()).unwrap().to_scalar::<f64>().unwrap()
            };
            let numeric = (at(step) - at(-step)) / (2.0 * step);
            assert!((a - numeric).abs() <= 1e-7 * (1.0 + numeric.abs()), "h[{k}]: {a} vs {numeric}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let net = network(&config(true));
        let (source, target) = graph(&[0, 1, 2, 3, 4]);
        let e = tensor(&[7, 3], 1);
        let h = Var::from_tensor(&tensor(&[5, 4], 2)).unwrap();
        let weights = tensor(&[5, 4], 3);
        let loss = |h: &Tensor| net.forward(&e, h, &source, &target)?.nodes.mul(&weights)?.sum_all();
        assert_gradient_matches(&h, loss);
        // The fused path (messages never materialised) gives the same nodes and exact gradients.
        let fused = net.update_nodes(&e, h.as_tensor(), &source, &target, None).unwrap();
        let unfused = net.forward(&e, h.as_tensor(), &source, &target).unwrap().nodes;
        let diff = max_abs_diff(&fused, &unfused);
        assert!(diff < 1e-14, "fused and materialised messages differ by {diff}");
        assert_gradient_matches(&h, |h: &Tensor| {
            net.update_nodes(&e, h, &source, &target, None)?.mul(&weights)?.sum_all()
        });
    }

    /// A block with a nested block on the line graph (GRU node gate, as coNGN) and a Hadamard node
    /// gate: gradients with respect to the node features match finite differences.
    #[test]
    fn nested_and_gated_blocks_have_exact_gradients() {
        let mut config = config(false);
        let mut nested = config.clone();
        nested.edge_mlp = MlpConfig { activate_last: true, ..MlpConfig::new(&[2 + 2 * 6, 5, 6], Activation::Silu) };
        nested.node_mlp = MlpConfig { activate_last: true, ..MlpConfig::new(&[6, 6], Activation::Silu) };
        (nested.node_gate, nested.node_residual) = (Some(Gate::Gru), false);
        config.nested = vec![nested];
        config.node_gate = Some(Gate::Hadamard);
        let net = network(&config);
        let (source, target) = graph(&[0, 1, 2, 3, 4]);
        let dev = Device::Cpu;
        // Pairs of edges sharing a target: (0, 1), (2, 3), (5, 6), both ways.
        let receiver = SegmentIndex::new(vec![0, 1, 2, 3, 5, 6], 7, &dev).unwrap();
        let sender = SegmentIndex::new(vec![1, 0, 3, 2, 6, 5], 7, &dev).unwrap();
        let features = tensor(&[6, 2], 4);
        let line = LineGraphInput { features: &features, receiver: &receiver, sender: &sender };
        let e = tensor(&[7, 3], 1);
        let h = Var::from_tensor(&tensor(&[5, 4], 2)).unwrap();
        let weights = tensor(&[5, 4], 3);
        let loss = |h: &Tensor| net.forward_nested(&e, h, &source, &target, Some(line))?.nodes.mul(&weights)?.sum_all();
        assert!(net.forward(&e, h.as_tensor(), &source, &target).unwrap_err().to_string().contains("line graph"));
        // The nested block changes the result.
        let plain = GraphNetwork { nested: vec![], ..net.clone() };
        let plain_loss = plain.forward(&e, h.as_tensor(), &source, &target).unwrap().nodes.mul(&weights).unwrap();
        let nested_loss = loss(h.as_tensor()).unwrap().to_scalar::<f64>().unwrap();
        assert!((plain_loss.sum_all().unwrap().to_scalar::<f64>().unwrap() - nested_loss).abs() > 1e-6);
        assert_gradient_matches(&h, loss);
    }

    /// Two graphs: nodes 0–2 (edges 1→0, 2→0, 0→1, 0→2) and nodes 3–4 (3→4, 4→3).
    fn two_graphs() -> (SegmentIndex, SegmentIndex, SegmentIndex) {
        let dev = Device::Cpu;
        let source = SegmentIndex::new(vec![1, 2, 0, 0, 3, 4], 5, &dev).unwrap();
        let target = SegmentIndex::new(vec![0, 0, 1, 2, 4, 3], 5, &dev).unwrap();
        let node_graph = SegmentIndex::new(vec![0, 0, 0, 1, 1], 2, &dev).unwrap();
        (source, target, node_graph)
    }

    fn global_config(edges: Option<Reduce>) -> GraphNetworkConfig {
        let mut c = config(false);
        c.edge_mlp.widths[0] += 2;
        c.node_mlp.widths[0] += 2;
        let inputs = edges.map_or(0, |_| 6) + 4 + 2;
        c.global = Some(GlobalConfig {
            width: 2,
            mlp: MlpConfig { activate_last: false, ..MlpConfig::new(&[inputs, 3, 2], Activation::Silu) },
            edges,
            nodes: Some(Reduce::Mean),
            to_edges: true,
            to_nodes: true,
            residual: true,
        });
        c
    }

    #[test]
    fn a_global_state_reaches_only_its_graph_updates_from_it_and_has_exact_gradients() {
        let (source, target, node_graph) = two_graphs();
        let e = tensor(&[6, 3], 1);
        let h = tensor(&[5, 4], 2);
        for edges in [None, Some(Reduce::Sum)] {
            let net = network(&global_config(edges));
            let run = |h: &Tensor, g: &Tensor| {
                net.update_with_globals(
                    &e,
                    h,
                    GlobalInput { state: g, node_graph: &node_graph },
                    &source,
                    &target,
                    None,
                )
            };
            let g = tensor(&[2, 2], 3);
            let (nodes, globals) = run(&h, &g).unwrap();
            // Without messages in φU's input: g' = g + φU([mean of the new nodes per graph, g]).
            if edges.is_none() {
                let pooled = scatter(&nodes, &node_graph, Reduce::Mean).unwrap();
                let update =
                    net.global_mlp.as_ref().unwrap().forward(&Tensor::cat(&[&pooled, &g], 1).unwrap()).unwrap();
                let diff = max_abs_diff(&globals, &g.add(&update).unwrap());
                assert!(diff < 1e-14, "global update differs by {diff}");
            }
            // Changing graph 1's state changes graph 1's nodes and state only.
            let g2 =
                Tensor::cat(&[g.narrow(0, 0, 1).unwrap(), g.narrow(0, 1, 1).unwrap().affine(1.0, 0.5).unwrap()], 0)
                    .unwrap();
            let (nodes2, globals2) = run(&h, &g2).unwrap();
            let delta = |a: &Tensor, b: &Tensor, start: usize, len: usize| {
                max_abs_diff(&a.narrow(0, start, len).unwrap(), &b.narrow(0, start, len).unwrap())
            };
            assert_eq!(delta(&nodes, &nodes2, 0, 3), 0.0);
            assert_eq!(delta(&globals, &globals2, 0, 1), 0.0);
            assert!(delta(&nodes, &nodes2, 3, 2) > 1e-6 && delta(&globals, &globals2, 1, 1) > 1e-6);
            // Gradients with respect to the nodes and the state, through nodes and state.
            let (wn, wg) = (tensor(&[5, 4], 4), tensor(&[2, 2], 5));
            let loss = |h: &Tensor, g: &Tensor| -> Result<Tensor> {
                let (n, u) = run(h, g)?;
                n.mul(&wn)?.sum_all()?.add(&u.mul(&wg)?.sum_all()?)
            };
            assert_gradient_matches(&Var::from_tensor(&h).unwrap(), |h| loss(h, &g));
            assert_gradient_matches(&Var::from_tensor(&g).unwrap(), |g| loss(&h, g));
        }
        // Through φE alone (φV does not read it), the state still reaches its graph's nodes.
        let mut edges_only = global_config(None);
        edges_only.node_mlp.widths[0] -= 2;
        edges_only.global.as_mut().unwrap().to_nodes = false;
        let net = network(&edges_only);
        let g = tensor(&[2, 2], 3);
        let nodes_for = |shift: f64| {
            let g = g.affine(1.0, shift).unwrap();
            let input = GlobalInput { state: &g, node_graph: &node_graph };
            net.update_with_globals(&e, &h, input, &source, &target, None).unwrap().0
        };
        assert!(max_abs_diff(&nodes_for(0.0), &nodes_for(0.5)) > 1e-6);
        // The state is required by such a block, refused by others, and checked for its shape.
        let net = network(&global_config(None));
        assert!(net.forward(&e, &h, &source, &target).unwrap_err().to_string().contains("has a global state"));
        let wrong = tensor(&[3, 2], 3);
        let input = GlobalInput { state: &wrong, node_graph: &node_graph };
        let err = net.update_with_globals(&e, &h, input, &source, &target, None).unwrap_err().to_string();
        assert!(err.contains("[2 graphs, 2]"), "{err}");
        let plain = network(&config(false));
        let g = tensor(&[2, 2], 3);
        let input = GlobalInput { state: &g, node_graph: &node_graph };
        let err = plain.update_with_globals(&e, &h, input, &source, &target, None).unwrap_err().to_string();
        assert!(err.contains("no global state"), "{err}");
    }

    /// The fused path (message_and_aggregate) against the literal one (message → aggregate →
    /// update): the same nodes and the same gradients for every parameter and input (f64), with a
    /// global state read by φE and φV.
    #[test]
    fn fused_and_literal_paths_agree_in_values_and_gradients() {
        let (source, target, node_graph) = two_graphs();
        let (e, h, g) = (tensor(&[6, 3], 1), tensor(&[5, 4], 2), tensor(&[2, 2], 3));
        let weights = tensor(&[5, 4], 4);
        for activation in [Activation::Silu, Activation::ShiftedSoftplus] {
            let mut config = global_config(None);
            config.edge_mlp.activation = activation;
            let varmap = VarMap::new();
            let net = GraphNetwork::new(&config, VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap();
            assert!(net.can_fuse());
            let [e, h, g] = [&e, &h, &g].map(|t| Var::from_tensor(t).unwrap());
            let globals = Some(GlobalInput { state: g.as_tensor(), node_graph: &node_graph });
            let x = Inputs { edges: &e, nodes: &h, source: &source, target: &target, line_graph: None, globals };
            let x = net.check(x).unwrap();
            let fused = net.update(&net.message_and_aggregate(&x).unwrap(), &x).unwrap();
            let literal = net.update(&net.aggregate(&net.message(&x).unwrap(), &x).unwrap(), &x).unwrap();
            let diff = max_abs_diff(&fused, &literal);
            assert!(diff < 1e-13, "{activation:?}: fused and literal nodes differ by {diff}");
            let fused_grads = fused.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
            let literal_grads = literal.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
            let params = varmap.all_vars();
            let inputs = [&e, &h, &g].map(|v| v.as_tensor().clone());
            let mut compared = 0;
            for t in params.iter().map(|v| v.as_tensor()).chain(&inputs) {
                // The global MLP is not on this path: neither gives it a gradient.
                let (a, b) = match (fused_grads.get(t), literal_grads.get(t)) {
                    (None, None) => continue,
                    (Some(a), Some(b)) => (a, b),
                    _ => panic!("{activation:?}: one path has no gradient for a {:?} tensor", t.dims()),
                };
                let diff = max_abs_diff(a, b);
                assert!(diff < 1e-12, "{activation:?}: gradients of a {:?} tensor differ by {diff}", t.dims());
                compared += 1;
            }
            // φE's and φV's weights and biases, and e, h, g.
            assert_eq!(compared, 2 * (config.edge_mlp.widths.len() - 1 + config.node_mlp.widths.len() - 1) + 3);
        }
    }

    #[test]
    fn mismatched_widths_are_errors() {
        let mut bad = config(false);
        bad.node_mlp.widths[0] = 5;
        let varmap = VarMap::new();
        let err = GraphNetwork::new(&bad, VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap_err();
        assert!(err.to_string().contains("takes 5 inputs, but messages have 6"), "{err}");
        let net = network(&config(false));
        let (source, target) = graph(&[0, 1, 2, 3, 4]);
        let err = net.forward(&tensor(&[7, 2], 1), &tensor(&[5, 4], 2), &source, &target).unwrap_err();
        assert!(err.to_string().contains("edges have 2 and nodes 4"), "{err}");
    }
}
