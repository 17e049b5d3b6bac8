//! kgcnn 3.1.0 `make_model` keyword arguments of coGN/coNGN (`model_default`,
//! `crystal_unit_graphs`, `model_default_nested`, dumped to JSON) → [`CoGnConfig`].
//!
//! Supported: the GN options the paper's configurations use or that map exactly onto
//! [`GraphNetworkConfig`] — sum/mean/max/min local aggregation, GRU and Hadamard gates, residual
//! edge and node updates, node updates that see the node, nested blocks, mean or sum readout
//! (weighted by multiplicities on asymmetric units), Gaussian edge expansions with linear spacing.
//! Anything else (attention aggregation, global states, updated edges between blocks, logarithmic
//! expansions, activations kgcnn spells as dicts) is refused with the path of the option.

use crate::error::{Error, Result};
use crate::models::cogn::crystal_input::{CrystalInputConfig, ElementFeatures, GaussianExpansion};
use crate::models::cogn::CoGnConfig;
use gnn_layers::nn::{Activation, Gate, GraphNetworkConfig, MlpConfig};
use gnn_layers::ops::Reduce;
use serde_json::Value;

/// Angle expansion kgcnn's `make_model` hard-codes for line graphs: `from_bounds(16, 0, 3.2)`.
const ANGLE_BINS: usize = 16;
const MAX_ANGLE: f64 = 3.2;

/// A JSON value with its path, for error messages.
#[derive(Clone, Copy)]
struct At<'a> {
    value: &'a Value,
    path: &'a str,
    origin: &'a str,
}

impl<'a> At<'a> {
    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::config(self.origin, format!("`{}`: {message}", self.path))
    }

    fn child<T>(&self, key: &str, f: impl FnOnce(Option<At>) -> Result<T>) -> Result<T> {
        let path = format!("{}.{key}", self.path);
        let value = self.value.get(key).filter(|v| !v.is_null());
        f(value.map(|value| At { value, path: &path, origin: self.origin }))
    }

    fn usize(&self, key: &str, default: Option<usize>) -> Result<usize> {
        self.child(key, |v| match v {
            Some(v) => v.value.as_u64().map(|n| n as usize).ok_or_else(|| v.error("expected a non-negative integer")),
            None => default.ok_or_else(|| self.error(format!("missing `{key}`"))),
        })
    }

    fn opt_usize(&self, key: &str) -> Result<Option<usize>> {
        self.child(key, |v| {
            v.map(|v| v.value.as_u64().map(|n| n as usize).ok_or_else(|| v.error("expected an integer"))).transpose()
        })
    }

    fn f64(&self, key: &str, default: Option<f64>) -> Result<f64> {
        self.child(key, |v| match v {
            Some(v) => v.value.as_f64().ok_or_else(|| v.error("expected a number")),
            None => default.ok_or_else(|| self.error(format!("missing `{key}`"))),
        })
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool> {
        self.child(key, |v| {
            v.map_or(Ok(default), |v| v.value.as_bool().ok_or_else(|| v.error("expected true or false")))
        })
    }

    fn str(&self, key: &str) -> Result<Option<String>> {
        self.child(key, |v| {
            v.map(|v| v.value.as_str().map(str::to_owned).ok_or_else(|| v.error("expected a string"))).transpose()
        })
    }

    fn present(&self, key: &str) -> bool {
        self.value.get(key).is_some_and(|v| !v.is_null())
    }
}

/// Whether the model of `args` reads multiplicities (`inputs.multiplicity`): a model of
/// asymmetric-unit graphs.
pub fn reads_multiplicity(args: &Value) -> bool {
    args.get("inputs").and_then(|inputs| inputs.get("multiplicity")).is_some_and(|v| !v.is_null())
}

/// The [`CoGnConfig`] of `args` (a `make_model` keyword dictionary from `origin`); `nested` says
/// whether a coNGN (true) or a coGN (false) is expected.
pub fn cogn_config(args: &Value, origin: &str, nested: bool) -> Result<CoGnConfig> {
    let root = At { value: args, path: "args", origin };
    if !args.is_object() {
        return Err(root.error("expected the JSON object of make_model's keyword arguments"));
    }
    for key in args.as_object().into_iter().flat_map(|m| m.keys()) {
        if !["name", "inputs", "input_block_cfg", "processing_blocks_cfg", "output_block_cfg"].contains(&key.as_str()) {
            return Err(root.error(format!("unknown argument `{key}`")));
        }
    }
    let inputs = root.child("inputs", |v| v.map(|v| v.value.clone()).ok_or_else(|| root.error("missing `inputs`")))?;
    let inputs = At { value: &inputs, path: "args.inputs", origin };
    let line_graph = inputs.present("line_graph_edge_indices");
    let voronoi = inputs.present("voronoi_ridge_area");
    let input =
        root.child("input_block_cfg", |v| input_block(v.ok_or_else(|| root.error("missing `input_block_cfg`"))?))?;
    if voronoi != input.voronoi_area.is_some() {
        return Err(inputs.error("`voronoi_ridge_area` must be an input exactly when `bins_voronoi_area` is set"));
    }
    let blocks_value = root.child("processing_blocks_cfg", |v| {
        v.map(|v| v.value.clone()).ok_or_else(|| root.error("missing `processing_blocks_cfg`"))
    })?;
    let list = blocks_value.as_array().ok_or_else(|| root.error("`processing_blocks_cfg` must be a list"))?;
    let (mut nodes, edges) = (input.node_size, input.edge_size);
    let mut blocks = Vec::with_capacity(list.len());
    for (k, b) in list.iter().enumerate() {
        let path = format!("args.processing_blocks_cfg[{k}]");
        let block = gn_block(At { value: b, path: &path, origin }, edges, nodes)?;
        nodes = *block.node_mlp.widths.last().unwrap_or(&nodes);
        blocks.push(block);
    }
    let has_nested = blocks.iter().any(|b| !b.nested.is_empty());
    if has_nested != line_graph {
        return Err(inputs.error("`line_graph_edge_indices` must be an input exactly when blocks are nested"));
    }
    if has_nested != nested {
        let (given, asked) = if has_nested { ("coNGN", "cogn") } else { ("coGN", "congn") };
        return Err(root.error(format!("these arguments describe a {given}, but --model {asked} was asked for")));
    }
    let (readout, output) = root.child("output_block_cfg", |v| {
        output_block(v.ok_or_else(|| root.error("missing `output_block_cfg`"))?, nodes)
    })?;
    Ok(CoGnConfig {
        connectivity: if has_nested { "voronoi:1e-6" } else { "knn:24" }.into(),
        input,
        angle: has_nested.then(|| GaussianExpansion::new(ANGLE_BINS, MAX_ANGLE)),
        blocks,
        readout,
        output,
        mean: None,
        std: None,
    })
}

fn input_block(cfg: At) -> Result<CrystalInputConfig> {
    let element_features = ElementFeatures {
        atomic_mass: cfg.bool("atomic_mass", true)?,
        atomic_radius: cfg.bool("atomic_radius", true)?,
        electronegativity: cfg.bool("electronegativity", true)?,
        ionization_energy: cfg.bool("ionization_energy", true)?,
        oxidation_states: cfg.bool("oxidation_states", true)?,
    };
    let empty = Value::Object(Default::default());
    let edge = cfg.child("edge_embedding_args", |v| Ok(v.map_or(empty.clone(), |v| v.value.clone())))?;
    let edge = At { value: &edge, path: "args.input_block_cfg.edge_embedding_args", origin: cfg.origin };
    for (key, default) in [("distance_log_base", 1.0), ("voronoi_area_log_base", 1.0)] {
        if edge.f64(key, Some(default))? != 1.0 {
            return Err(edge.error(format!("`{key}` other than 1 (logarithmic spacing) is not supported")));
        }
    }
    let distance = GaussianExpansion {
        bins: edge.usize("bins_distance", Some(32))?,
        max: edge.f64("max_distance", Some(5.0))?,
        width: edge.f64("gaussian_width_distance", Some(1.0))?,
    };
    let voronoi_area = match edge.opt_usize("bins_voronoi_area")? {
        Some(bins) if bins > 0 => Some(GaussianExpansion {
            bins,
            max: edge.f64("max_voronoi_area", None)?,
            width: edge.f64("gaussian_width_voronoi_area", Some(1.0))?,
        }),
        _ => None,
    };
    Ok(CrystalInputConfig {
        node_size: cfg.usize("node_size", Some(64))?,
        edge_size: cfg.usize("edge_size", Some(64))?,
        element_features,
        distance,
        voronoi_area,
    })
}

/// kgcnn's `MLP(units, activation)` on `input` features.
fn mlp(cfg: At, input: usize) -> Result<MlpConfig> {
    let units: Vec<usize> = cfg.child("units", |v| {
        let v = v.ok_or_else(|| cfg.error("missing `units`"))?;
        match v.value {
            Value::Number(n) => n.as_u64().map(|n| vec![n as usize]).ok_or_else(|| v.error("expected integers")),
            Value::Array(a) => {
                a.iter().map(|x| x.as_u64().map(|n| n as usize).ok_or_else(|| v.error("expected integers"))).collect()
            }
            _ => Err(v.error("expected an integer or a list of integers")),
        }
    })?;
    let activations: Vec<String> = cfg.child("activation", |v| match v {
        None => Ok(vec!["linear".to_string(); units.len()]),
        Some(v) => match v.value {
            Value::String(s) => Ok(vec![s.clone(); units.len()]),
            Value::Array(a) if a.len() == units.len() => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| v.error("activations given as objects are not supported"))
                })
                .collect(),
            _ => Err(v.error(format!("expected one activation name or {} of them", units.len()))),
        },
    })?;
    for key in ["use_normalization", "use_dropout"] {
        if cfg.bool(key, false)? {
            return Err(cfg.error(format!("`{key}` is not supported")));
        }
    }
    if !cfg.bool("use_bias", true)? {
        return Err(cfg.error("`use_bias: false` is not supported"));
    }
    let parse = |name: &str| -> Result<Activation> {
        Ok(match name {
            "swish" | "silu" => Activation::Silu,
            "relu" => Activation::Relu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "softplus" => Activation::Softplus,
            "linear" => Activation::Identity,
            other => return Err(cfg.error(format!("activation `{other}` is not supported"))),
        })
    };
    let acts = activations.iter().map(|a| parse(a)).collect::<Result<Vec<_>>>()?;
    let (hidden, last) =
        (acts[..acts.len().saturating_sub(1)].to_vec(), *acts.last().ok_or_else(|| cfg.error("no layers"))?);
    let activation = hidden.first().copied().unwrap_or(last);
    if hidden.iter().any(|&a| a != activation) || !(last == activation || last == Activation::Identity) {
        return Err(cfg.error(format!("activations {activations:?}: hidden layers must share one activation")));
    }
    let mut widths = vec![input];
    widths.extend(units);
    Ok(MlpConfig { widths, activation, activate_last: last == activation && last != Activation::Identity, bias: true })
}

fn gate(cfg: At, key: &str) -> Result<Option<Gate>> {
    match cfg.str(key)?.as_deref() {
        None => Ok(None),
        Some("gru") => Ok(Some(Gate::Gru)),
        Some("hadamard") => Ok(Some(Gate::Hadamard)),
        Some(other) => Err(cfg.error(format!("`{key}` `{other}` is not supported (gru or hadamard)"))),
    }
}

fn flags(cfg: At, key: &str, default: &[bool]) -> Result<Vec<bool>> {
    cfg.child(key, |v| match v {
        None => Ok(default.to_vec()),
        Some(v) => v
            .value
            .as_array()
            .filter(|a| a.len() == default.len())
            .and_then(|a| a.iter().map(Value::as_bool).collect::<Option<Vec<_>>>())
            .ok_or_else(|| v.error(format!("expected {} booleans", default.len()))),
    })
}

/// One processing block reading edges of width `edges` and nodes of width `nodes`.
fn gn_block(cfg: At, edges: usize, nodes: usize) -> Result<GraphNetworkConfig> {
    for key in ["global_mlp", "aggregate_edges_global", "aggregate_nodes"] {
        if cfg.present(key) {
            return Err(cfg.error(format!("`{key}` in a processing block (a global state) is not supported")));
        }
    }
    if cfg.bool("return_updated_edges", true)? {
        return Err(cfg.error("`return_updated_edges: true` (edges updated between blocks) is not supported"));
    }
    if !cfg.bool("return_updated_nodes", true)? || cfg.bool("multiplicity_readout", false)? {
        return Err(cfg.error("a processing block must return updated nodes and have no readout"));
    }
    if flags(cfg, "update_edges_input", &[true, true, true, false])? != [true, true, true, false] {
        return Err(cfg.error("`update_edges_input` must be [true, true, true, false] (edge, receiver, sender)"));
    }
    let node_input = flags(cfg, "update_nodes_input", &[true, false, false])?;
    if !node_input[0] || node_input[2] {
        return Err(cfg.error("`update_nodes_input` must be [true, _, false]"));
    }
    let aggregation = match cfg.str("aggregate_edges_local")?.as_deref().unwrap_or("sum") {
        "sum" => gnn_layers::ops::Reduce::Sum,
        "mean" => Reduce::Mean,
        "max" => Reduce::Max,
        "min" => Reduce::Min,
        other => return Err(cfg.error(format!("`aggregate_edges_local` `{other}` is not supported"))),
    };
    let edge_mlp =
        cfg.child("edge_mlp", |v| mlp(v.ok_or_else(|| cfg.error("missing `edge_mlp`"))?, edges + 2 * nodes))?;
    let message = *edge_mlp.widths.last().unwrap_or(&0);
    let nested = cfg.child("nested_blocks_cfgs", |v| {
        let Some(v) = v else { return Ok(vec![]) };
        let list = v.value.as_array().ok_or_else(|| v.error("expected a list"))?;
        list.iter()
            .enumerate()
            .map(|(k, b)| {
                let path = format!("{}[{k}]", v.path);
                gn_block(At { value: b, path: &path, origin: v.origin }, ANGLE_BINS, message)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let update_sees_node = node_input[1];
    let node_mlp = cfg.child("node_mlp", |v| {
        mlp(v.ok_or_else(|| cfg.error("missing `node_mlp`"))?, message + if update_sees_node { nodes } else { 0 })
    })?;
    if cfg.present("global_gate") {
        return Err(cfg.error("`global_gate` is not supported"));
    }
    Ok(GraphNetworkConfig {
        edge_mlp,
        node_mlp,
        aggregation,
        update_sees_node,
        edge_residual: cfg.bool("residual_edge_update", false)?,
        node_residual: cfg.bool("residual_node_update", false)?,
        edge_gate: gate(cfg, "edge_gate")?,
        node_gate: gate(cfg, "node_gate")?,
        nested,
        global: None,
    })
}

fn output_block(cfg: At, nodes: usize) -> Result<(Reduce, MlpConfig)> {
    for key in ["edge_mlp", "node_mlp", "nested_blocks_cfgs", "aggregate_edges_global"] {
        if cfg.present(key) {
            return Err(cfg.error(format!("`{key}` in the output block is not supported")));
        }
    }
    if flags(cfg, "update_global_input", &[false, true, false])? != [false, true, false] {
        return Err(cfg.error("`update_global_input` must be [false, true, false] (pooled nodes only)"));
    }
    let readout = match cfg.str("aggregate_nodes")?.as_deref() {
        Some("mean") => Reduce::Mean,
        Some("sum") => Reduce::Sum,
        other => return Err(cfg.error(format!("`aggregate_nodes` {other:?} is not supported (mean or sum)"))),
    };
    let output = cfg.child("global_mlp", |v| mlp(v.ok_or_else(|| cfg.error("missing `global_mlp`"))?, nodes))?;
    Ok((readout, output))
}
