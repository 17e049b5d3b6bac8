//! Import of PyTorch and Keras checkpoints: a `state_dict` (or Keras `{w.name: w.numpy()}`) saved as
//! safetensors plus the Python constructor's keyword arguments become a native [`Checkpoint`].
//!
//! | source | model | arguments (Python names) | tensors |
//! |---|---|---|---|
//! | PyG | `schnet` | `SchNet(hidden_channels, num_filters, num_interactions, num_gaussians, cutoff, max_num_neighbors, readout, dipole, mean, std, atomref)` and `scale` | as saved; `interactions.N.conv.nn.*` accepted for `interactions.N.mlp.*` |
//! | schnetpack | `schnet` | `SchNet(n_atom_basis, n_interactions, n_filters, max_z)`, `GaussianRBF(n_rbf, cutoff)`, `Atomwise(n_out, n_layers, aggregation_mode)`, `AddOffsets(mean, atomref)` | a `NeuralNetworkPotential` state dict, renamed to PyG's layout |
//! | PyG | `mpnn` | the QM9 example's `dim`, `num_features`, `num_edge_features`, `edge_hidden`, `steps`, `processing_steps`, `aggr`, and `mean`, `std` | as saved (old `conv.root` accepted) |
//! | kgcnn 3.1.0 | `cogn`, `congn` | `make_model`'s keyword dictionary (`model_default`, `crystal_unit_graphs`, `model_default_nested`, as JSON) | `{w.name: w.numpy()}`, mapped by structure (see `kgcnn_weights`) |
//! | chgnet 0.4.2 | `chgnet` | the file's `model_args` ([`import_chgnet`]) | the file's `state_dict` |
//! | sevenn 0.9–0.13 | `sevennet` | the checkpoint's `config` ([`import_sevenn`]) | its `model_state_dict`, patched as sevenn 0.13 loads old files |
//! | e3nn 0.6 | `gate-points-2101` | `gate_points_2101.Network(irreps_in, irreps_hidden, irreps_out, irreps_node_attr, irreps_edge_attr, layers, max_radius, number_of_basis, radial_layers, radial_neurons, num_neighbors, num_nodes, reduce_output)` ([`import_gate_points`]) | as saved; `output_mask` buffers dropped |
//!
//! Tensors of any float dtype are accepted; missing, unexpected and mis-shaped tensors are reported
//! together, like PyTorch's strict `load_state_dict`.

mod args;
mod chgnet;
mod e3nn;
mod kgcnn_config;
mod kgcnn_weights;
pub mod pretrained;
mod sevenn;
pub mod torch_pickle;

use crate::checkpoint::state_dict::StateDict;
use crate::checkpoint::{Checkpoint, CheckpointConfig, ModelConfig, Provenance, Target, FORMAT_VERSION};
use crate::error::{Error, Result};
use crate::inputs::pipeline::DEFAULT_SYMPREC;
use crate::model::expected_tensors;
use crate::models::mpnn::MpnnConfig;
use crate::models::schnet::{Readout, SchNetConfig, SchNetFlavor};
pub use args::Arguments;
use candle_core::{DType, Device, Tensor};
pub use chgnet::import_chgnet;
pub use e3nn::import_gate_points;
use gnn_layers::ops::Reduce;
pub use sevenn::import_sevenn;
use std::collections::BTreeSet;

/// The library a checkpoint comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// PyTorch Geometric.
    Pyg,
    /// schnetpack 2.
    Schnetpack,
    /// kgcnn 3.1.0 (Keras).
    Kgcnn,
    /// e3nn 0.6 ([`import_gate_points`], which also takes the elements of the one-hot inputs).
    E3nn,
    /// sevenn 0.9–0.13 checkpoint files ([`import_sevenn`], which reads the `.pth` file itself).
    Sevenn,
    /// chgnet's saved models ([`import_chgnet`], which reads the `.pth.tar` file itself).
    Chgnet,
}

impl Source {
    /// Whether the checkpoint file says what it holds (architecture and weights in one file, read
    /// by [`import_file`]) instead of a state dict plus constructor arguments.
    pub fn self_describing(self) -> bool {
        matches!(self, Source::Sevenn | Source::Chgnet)
    }
}

/// Imports a self-describing checkpoint file ([`Source::self_describing`]): sevenn's `.pth`,
/// chgnet's `.pth.tar`.
pub fn import_file(source: Source, path: &std::path::Path) -> Result<Checkpoint> {
    match source {
        Source::Sevenn => import_sevenn(path),
        Source::Chgnet => import_chgnet(path),
        other => Err(Error::Input(format!("{other:?} checkpoints are a state dict plus arguments (import)"))),
    }
}

/// One importer: a framework, the model kind it makes and what it reads.
#[derive(Clone, Copy, Debug)]
pub struct Importer {
    /// The framework (`chemgnn import --from`).
    pub source: &'static str,
    /// The model kind made ([`crate::models::KINDS`]).
    pub kind: &'static str,
    /// What is read, in the framework's terms.
    pub reads: &'static str,
}

/// Every importer, in the order the command line lists them.
pub const IMPORTERS: &[Importer] = &[
    Importer {
        source: "pyg",
        kind: "schnet",
        reads: "torch_geometric.nn.models.SchNet: state_dict + constructor arguments",
    },
    Importer {
        source: "schnetpack",
        kind: "schnet",
        reads: "schnetpack 2 SchNet + Atomwise (+ AddOffsets): state_dict",
    },
    Importer { source: "pyg", kind: "mpnn", reads: "PyG's examples/qm9_nn_conv.py Net: state_dict + arguments" },
    Importer {
        source: "kgcnn",
        kind: "cogn",
        reads: "kgcnn 3.1.0 coGN: Keras weights + make_model keyword dictionary",
    },
    Importer {
        source: "kgcnn",
        kind: "congn",
        reads: "kgcnn 3.1.0 coNGN: Keras weights + make_model keyword dictionary",
    },
    Importer {
        source: "e3nn",
        kind: "gate-points-2101",
        reads: "e3nn 0.6 gate_points_2101.Network: state_dict + arguments",
    },
    Importer {
        source: "chgnet",
        kind: "chgnet",
        reads: "chgnet's saved CHGNet (.pth.tar: model_args + state_dict), e.g. the wheel's 0.3.0",
    },
    Importer {
        source: "sevenn",
        kind: "sevennet",
        reads: "sevenn 0.9–0.13 checkpoint .pth (SevenNet-0, SevenNet-l3i5): config + model_state_dict",
    },
];

/// The checkpoint of an imported interatomic potential (sevenn, chgnet): one `energy` target in eV,
/// the file and what was read from it as provenance.
fn potential_checkpoint(
    source: &str,
    origin: String,
    arguments: serde_json::Value,
    model: ModelConfig,
    weights: StateDict,
) -> Checkpoint {
    let provenance = Provenance {
        source: source.into(),
        weights: Some(origin),
        arguments: Some(arguments),
        chemgnn_version: env!("CARGO_PKG_VERSION").into(),
    };
    Checkpoint {
        config: CheckpointConfig {
            format_version: FORMAT_VERSION,
            model,
            targets: vec![Target { name: "energy".into(), unit: "eV".into() }],
            provenance,
            symmetrized: None,
        },
        weights,
    }
}

/// The target name an imported model predicts unless told otherwise: `energy` for SchNet,
/// `e_form` for coGN/coNGN, `mu` for the MPNN and SchNet's dipole variant.
pub fn default_target(config: &ModelConfig) -> &'static str {
    match config {
        ModelConfig::Schnet(c) if !c.dipole => "energy",
        ModelConfig::Sevennet(_) => "energy",
        ModelConfig::Cogn(_) | ModelConfig::Congn(_) => "e_form",
        _ => "mu",
    }
}

impl std::str::FromStr for Source {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "pyg" | "torch_geometric" => Ok(Source::Pyg),
            "schnetpack" => Ok(Source::Schnetpack),
            "kgcnn" => Ok(Source::Kgcnn),
            "e3nn" => Ok(Source::E3nn),
            "sevenn" => Ok(Source::Sevenn),
            "chgnet" => Ok(Source::Chgnet),
            _ => Err(Error::Input(format!(
                "unknown source `{s}` (expected pyg, schnetpack, kgcnn, e3nn, sevenn or chgnet)"
            ))),
        }
    }
}

/// Imports `weights` of a `model` kind from `source` ([`IMPORTERS`]; e3nn networks through
/// [`import_gate_points`]), built with the keyword `arguments` (read from `arguments_origin`),
/// predicting `targets`.
pub fn import(
    source: Source,
    model: &str,
    arguments: &serde_json::Value,
    arguments_origin: &str,
    mut weights: StateDict,
    targets: Vec<Target>,
) -> Result<Checkpoint> {
    match source {
        Source::E3nn => {
            return Err(Error::Input("e3nn networks are imported with their elements (import_gate_points)".into()))
        }
        Source::Sevenn | Source::Chgnet => {
            return Err(Error::Input(format!("{source:?} checkpoints are imported from their file (import_file)")))
        }
        _ => {}
    }
    let config = if source == Source::Kgcnn {
        let nested = match model {
            "cogn" => false,
            "congn" => true,
            _ => return Err(Error::Input(format!("no importer for model `{model}` from kgcnn (cogn or congn)"))),
        };
        let config = kgcnn_config::cogn_config(arguments, arguments_origin, nested)?;
        let (mut tensors, mut keras) = kgcnn_weights::map_weights(std::mem::take(&mut weights.tensors))?;
        kgcnn_weights::split_gru_biases(&mut tensors, &mut keras)?;
        weights.tensors = tensors;
        let config = if nested { ModelConfig::Congn(config) } else { ModelConfig::Cogn(config) };
        let (required, optional) = expected_tensors(&config)?;
        // Name the Keras variable behind each mis-shaped parameter.
        weights.check(&required, &optional).map_err(|e| match e {
            Error::Weights { origin, problems } => Error::Weights {
                origin,
                problems: problems
                    .into_iter()
                    .map(|p| match keras.iter().find(|(ours, _)| p.contains(&format!("`{ours}`"))) {
                        Some((_, k)) => format!("{p} (Keras `{k}`)"),
                        None => p,
                    })
                    .collect(),
            },
            other => other,
        })?;
        config
    } else {
        torch_config(source, model, arguments, arguments_origin, &mut weights)?
    };
    let (required, optional) = expected_tensors(&config)?;
    weights.check(&required, &optional)?;
    let provenance = Provenance {
        source: format!("{source:?}").to_lowercase(),
        weights: Some(weights.origin.clone()),
        arguments: Some(arguments.clone()),
        chemgnn_version: env!("CARGO_PKG_VERSION").into(),
    };
    // kgcnn's asymmetric-unit models (a `multiplicity` input) were trained on crystals that its
    // `*AsymmetricUnitCell` preprocessors symmetrised.
    let symmetrized =
        (source == Source::Kgcnn && kgcnn_config::reads_multiplicity(arguments)).then_some(DEFAULT_SYMPREC);
    Ok(Checkpoint {
        config: CheckpointConfig { format_version: FORMAT_VERSION, model: config, targets, provenance, symmetrized },
        weights,
    })
}

/// The indices `N` of the blocks `{prefix}N.…` present in `weights` — what renaming loops over, not
/// `0..num_interactions`, so that an absurd count cannot loop (missing blocks are reported by the
/// shape check; found by fuzzing).
fn block_indices(weights: &StateDict, prefix: &str) -> BTreeSet<usize> {
    weights.tensors.keys().filter_map(|k| k.strip_prefix(prefix)?.split('.').next()?.parse().ok()).collect()
}

/// The configuration of a PyTorch model from its constructor arguments (weights renamed in place).
fn torch_config(
    source: Source,
    model: &str,
    arguments: &serde_json::Value,
    arguments_origin: &str,
    weights: &mut StateDict,
) -> Result<ModelConfig> {
    let mut args = Arguments::new(arguments, arguments_origin)?;
    let config = match (source, model) {
        (Source::Pyg, "schnet") => ModelConfig::Schnet(pyg_schnet(&mut args, weights)?),
        (Source::Schnetpack, "schnet") => ModelConfig::Schnet(schnetpack_schnet(&mut args, weights)?),
        (Source::Pyg, "mpnn") => ModelConfig::Mpnn(pyg_mpnn(&mut args, weights)?),
        _ => return Err(Error::Input(format!("no importer for model `{model}` from {source:?}"))),
    };
    args.finish()?;
    Ok(config)
}

fn pyg_schnet(args: &mut Arguments, weights: &mut StateDict) -> Result<SchNetConfig> {
    let d = SchNetConfig::default();
    let hidden_channels = args.usize("hidden_channels", d.hidden_channels)?;
    let mut config = SchNetConfig {
        flavor: SchNetFlavor::Pyg,
        hidden_channels,
        num_filters: args.usize("num_filters", d.num_filters)?,
        num_interactions: args.usize("num_interactions", d.num_interactions)?,
        num_gaussians: args.usize("num_gaussians", d.num_gaussians)?,
        cutoff: args.f64("cutoff", d.cutoff)?,
        max_num_neighbors: Some(args.usize("max_num_neighbors", 32)?),
        readout: match args.str("readout", "add")? {
            "add" | "sum" => Readout::Add,
            "mean" => Readout::Mean,
            other => return Err(args.invalid(format!("readout `{other}` is not add or mean"))),
        },
        dipole: args.bool("dipole", false)?,
        mean: args.opt_f64("mean")?,
        std: args.opt_f64("std")?,
        atomref: false,
        scale: args.opt_f64("scale")?,
        num_elements: d.num_elements,
    };
    if args.has("interaction_graph") {
        return Err(args.invalid("a custom interaction_graph cannot be imported"));
    }
    // `conv.nn` is the same module as `mlp`: keep one name.
    for t in block_indices(weights, "interactions.") {
        let (alias, name) = (format!("interactions.{t}.conv.nn."), format!("interactions.{t}.mlp."));
        if weights.tensors.keys().any(|k| k.starts_with(&name)) {
            weights.tensors.retain(|k, _| !k.starts_with(&alias));
        } else {
            weights.rename_prefix(&alias, &name);
        }
    }
    if let Some(values) = args.opt_numbers("atomref")? {
        if !weights.tensors.contains_key("atomref.weight") {
            let n = values.len();
            weights.tensors.insert("atomref.weight".into(), Tensor::from_vec(values, (n, 1), &Device::Cpu)?);
        }
    }
    config.atomref = weights.tensors.contains_key("atomref.weight") && !config.dipole;
    Ok(config)
}

fn schnetpack_schnet(args: &mut Arguments, weights: &mut StateDict) -> Result<SchNetConfig> {
    let hidden = args.opt_usize("n_atom_basis")?;
    let interactions = args.opt_usize("n_interactions")?;
    let (Some(hidden_channels), Some(num_interactions)) = (hidden, interactions) else {
        return Err(args.invalid("schnetpack SchNet needs `n_atom_basis` and `n_interactions`"));
    };
    let cutoff = args.f64("cutoff", 5.0)?;
    let readout = match args.str("aggregation_mode", "sum")? {
        "sum" => Readout::Add,
        "avg" => Readout::Mean,
        other => return Err(args.invalid(format!("aggregation_mode `{other}` is not sum or avg"))),
    };
    let unsupported = [
        (args.usize("n_layers", 2)? != 2, "n_layers other than 2"),
        (args.opt_usize("n_hidden")?.is_some(), "n_hidden"),
        (args.usize("n_out", 1)? != 1, "n_out other than 1"),
        (args.bool("shared_interactions", false)?, "shared_interactions"),
        (
            args.str("activation", "shifted_softplus")? != "shifted_softplus",
            "an activation other than shifted_softplus",
        ),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(bad, _)| *bad) {
        return Err(args.invalid(format!("schnetpack SchNet with {what} is not supported")));
    }
    let mut config = SchNetConfig {
        flavor: SchNetFlavor::Schnetpack,
        hidden_channels,
        num_filters: args.usize("n_filters", hidden_channels)?,
        num_interactions,
        num_gaussians: args.usize("n_rbf", 20)?,
        cutoff,
        max_num_neighbors: None,
        readout,
        dipole: false,
        mean: args.opt_f64("mean")?,
        std: None,
        atomref: false,
        scale: None,
        num_elements: args.usize("max_z", 100)?,
    };
    let renames = [
        ("representation.embedding.", "embedding."),
        ("representation.radial_basis.", "distance_expansion."),
        ("output_modules.0.outnet.0.", "lin1."),
        ("output_modules.0.outnet.1.", "lin2."),
    ];
    for (from, to) in renames {
        weights.rename_prefix(from, to);
    }
    for t in block_indices(weights, "representation.interactions.") {
        let p = format!("representation.interactions.{t}.");
        let q = format!("interactions.{t}.");
        for (from, to) in [
            ("filter_network.0.", "mlp.0."),
            ("filter_network.1.", "mlp.2."),
            ("in2f.", "conv.lin1."),
            ("f2out.0.", "conv.lin2."),
            ("f2out.1.", "lin."),
        ] {
            weights.rename_prefix(&format!("{p}{from}"), &format!("{q}{to}"));
        }
    }
    if let Some(c) = weights.tensors.remove("representation.cutoff_fn.cutoff") {
        let stored = c.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        if stored.iter().any(|&s| (s - cutoff).abs() > 1e-6 * cutoff) {
            return Err(args.invalid(format!(
                "argument cutoff {cutoff} differs from the checkpoint's cutoff_fn.cutoff {stored:?}"
            )));
        }
    }
    let mut postprocessor = |suffix: &str| {
        let key = weights.tensors.keys().find(|k| k.starts_with("postprocessors.") && k.ends_with(suffix)).cloned();
        key.and_then(|k| weights.tensors.remove(&k))
    };
    if let Some(mean) = postprocessor(".mean") {
        config.mean = Some(mean.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?.first().copied().unwrap_or(0.0));
    }
    let atomref = match postprocessor(".atomref") {
        Some(a) => Some(a),
        None => args.opt_numbers("atomref")?.map(|v| Tensor::new(v, &Device::Cpu)).transpose()?,
    };
    if let Some(a) = atomref {
        let n = a.elem_count();
        weights.tensors.insert("atomref.weight".into(), a.reshape((n, 1))?);
        config.atomref = true;
    }
    Ok(config)
}

fn pyg_mpnn(args: &mut Arguments, weights: &mut StateDict) -> Result<MpnnConfig> {
    let d = MpnnConfig::pyg_qm9();
    let config = MpnnConfig {
        dim: args.usize("dim", d.dim)?,
        node_features: args.usize("num_features", d.node_features)?,
        edge_features: args.usize("num_edge_features", d.edge_features)?,
        edge_hidden: args.usize("edge_hidden", d.edge_hidden)?,
        steps: args.usize("steps", d.steps)?,
        set2set_steps: args.usize("processing_steps", d.set2set_steps)?,
        aggregation: match args.str("aggr", "mean")? {
            "mean" => Reduce::Mean,
            "add" | "sum" => Reduce::Sum,
            other => return Err(args.invalid(format!("aggr `{other}` is not mean or add"))),
        },
        mean: args.opt_f64("mean")?.map(|m| vec![m]),
        std: args.opt_f64("std")?.map(|s| vec![s]),
        ..d
    };
    // PyG ≤ 1.7 stored the root weight as `conv.root [in, out]`, the transpose of `conv.lin.weight`.
    if let Some(root) = weights.tensors.remove("conv.root") {
        weights.tensors.insert("conv.lin.weight".into(), root.t()?.contiguous()?);
    }
    Ok(config)
}
