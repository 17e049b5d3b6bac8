//! Import of a CHGNet checkpoint as chgnet saves it (`torch.save` of `{"model": {"model_args",
//! "state_dict"}, "optimizer", …}`, e.g. the wheel's `chgnet/pretrained/0.3.0/*.pth.tar`), read
//! without Python. The architecture comes from `model_args` (chgnet's `CHGNet.__init__` keywords);
//! arguments chemgnn does not implement (another activation or normalisation, `mlp_first` false, no
//! bond or angle updates, no composition model) are refused by name.

use super::args::Arguments;
use super::torch_pickle::TorchPickle;
use crate::checkpoint::state_dict::StateDict;
use crate::checkpoint::{Checkpoint, ModelConfig};
use crate::error::{Error, Result};
use crate::model::expected_tensors;
use crate::models::chgnet::ChgnetConfig;
use std::path::Path;

/// A checkpoint of the CHGNet saved in `path`, predicting the total `energy` in eV.
pub fn import_chgnet(path: &Path) -> Result<Checkpoint> {
    let pickle = TorchPickle::open(path)?;
    let origin = path.display().to_string();
    let arguments = pickle.json(&["model", "model_args"])?;
    let weights = StateDict::new(origin.clone(), pickle.tensors(&["model", "state_dict"])?);
    let config = chgnet_config(&arguments, &format!("{origin}: model_args"), &weights)?;
    let model = ModelConfig::Chgnet(config);
    let (required, optional) = expected_tensors(&model)?;
    weights.check(&required, &optional)?;
    Ok(super::potential_checkpoint("chgnet", origin, arguments, model, weights))
}

/// The configuration of chgnet's `model_args`; `mlp_out_bias` (a loading option of chgnet, not
/// stored) follows from the weights.
fn chgnet_config(arguments: &serde_json::Value, origin: &str, weights: &StateDict) -> Result<ChgnetConfig> {
    let mut args = Arguments::new(arguments, origin)?;
    let d = ChgnetConfig::v0_3_0();
    let require = |args: &Arguments, name: &str, ok: bool, what: &str| -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(args.invalid(format!("`{name}`: chemgnn implements CHGNet with {what} only")))
        }
    };
    let composition = args.has("composition_model");
    require(&args, "composition_model", composition, "a composition model (AtomRef)")?;
    let update_bond = args.bool("update_bond", true)?;
    require(&args, "update_bond", update_bond, "bond updates (true)")?;
    let update_angle = args.bool("update_angle", true)?;
    require(&args, "update_angle", update_angle, "angle updates (true)")?;
    let mlp_first = args.bool("mlp_first", true)?;
    require(&args, "mlp_first", mlp_first, "the readout MLP before pooling (true)")?;
    let silu = args.str("non_linearity", "silu")?.eq_ignore_ascii_case("silu");
    require(&args, "non_linearity", silu, "silu")?;
    for name in ["gMLP_norm", "readout_norm"] {
        let layer = args.str(name, "layer")?.eq_ignore_ascii_case("layer");
        require(&args, name, layer, "layer normalisation (\"layer\")")?;
    }
    let conv_norm = args.has("conv_norm");
    require(&args, "conv_norm", !conv_norm, "no conv_norm (null)")?;
    let final_mlp = matches!(args.str("final_mlp", "MLP")?, "MLP" | "normal");
    require(&args, "final_mlp", final_mlp, "an MLP readout (\"MLP\")")?;
    // Without effect on predictions: pooling when mlp_first, training options, graph algorithm.
    for name in ["read_out", "graph_converter_algorithm", "version"] {
        args.str(name, "")?;
    }
    args.f64("mlp_dropout", 0.0)?;
    args.f64("conv_dropout", 0.0)?;
    args.bool("is_intensive", true)?;
    args.bool("learnable_rbf", true)?;
    let config = ChgnetConfig {
        atom_fea_dim: args.usize("atom_fea_dim", d.atom_fea_dim)?,
        bond_fea_dim: args.usize("bond_fea_dim", d.bond_fea_dim)?,
        angle_fea_dim: args.usize("angle_fea_dim", d.angle_fea_dim)?,
        num_radial: args.usize("num_radial", d.num_radial)?,
        num_angular: args.usize("num_angular", d.num_angular)?,
        n_conv: args.usize("n_conv", d.n_conv)?,
        atom_conv_hidden_dim: widths(&mut args, "atom_conv_hidden_dim", d.atom_conv_hidden_dim)?,
        bond_conv_hidden_dim: widths(&mut args, "bond_conv_hidden_dim", d.bond_conv_hidden_dim)?,
        angle_layer_hidden_dim: widths(&mut args, "angle_layer_hidden_dim", d.angle_layer_hidden_dim)?,
        mlp_hidden_dims: widths(&mut args, "mlp_hidden_dims", d.mlp_hidden_dims)?,
        atom_graph_cutoff: args.f64("atom_graph_cutoff", d.atom_graph_cutoff)?,
        bond_graph_cutoff: args.f64("bond_graph_cutoff", d.bond_graph_cutoff)?,
        cutoff_coeff: args.usize("cutoff_coeff", d.cutoff_coeff as usize)? as u32,
        mlp_out_bias: weights.tensors.contains_key("atom_conv_layers.0.mlp_out.layers.1.bias"),
    };
    if args.bool("mlp_out_bias", config.mlp_out_bias)? != config.mlp_out_bias {
        return Err(args.invalid("`mlp_out_bias` disagrees with the weights (output-layer biases present or not)"));
    }
    args.finish()?;
    if config.n_conv == 0 || config.num_angular.is_multiple_of(2) || config.num_radial == 0 || config.cutoff_coeff == 0
    {
        return Err(Error::config(origin, "n_conv, num_radial and cutoff_coeff must be positive and num_angular odd"));
    }
    if !(config.bond_graph_cutoff > 0.0 && config.bond_graph_cutoff <= config.atom_graph_cutoff) {
        return Err(Error::config(origin, "bond_graph_cutoff must be positive and at most atom_graph_cutoff"));
    }
    Ok(config)
}

/// chgnet's hidden widths: an integer `h` (`0`: none) or a list.
fn widths(args: &mut Arguments, name: &'static str, default: Vec<usize>) -> Result<Vec<usize>> {
    match args.opt_usize(name) {
        Ok(Some(0)) => Ok(vec![]),
        Ok(Some(h)) => Ok(vec![h]),
        Ok(None) => Ok(default),
        Err(_) => {
            let list = args.opt_numbers(name)?.unwrap_or_default();
            if list.iter().any(|&w| w < 1.0 || w.fract() != 0.0) {
                return Err(args.invalid(format!("`{name}` must be a width or a list of positive widths")));
            }
            Ok(list.into_iter().map(|w| w as usize).collect())
        }
    }
}
