//! Import of sevenn's checkpoints (`checkpoint_*.pth`, written by sevenn 0.9 to 0.13): the model
//! `config` and `model_state_dict` of the `torch.save` file become a `sevennet` checkpoint, with the
//! patches sevenn 0.13 applies when it loads an old file (`SevenNetCheckpoint.build_model`,
//! `sevenn/scripts/backward_compatibility.py`):
//!
//! - files before 0.11 stored each convolution's paths in creation order; they are re-ordered by
//!   output block, which permutes the column blocks of the last weight-network layer
//!   (`{t}_convolution.weight_nn.layer{n}.weight`);
//! - some of those files hold Clebsch–Gordan buffers (`…_w3j_{l1}_{l2}_{l3}`) with the opposite
//!   sign to e3nn 0.6's (for SevenNet-0 the paths (1,2,2), (2,1,2), (2,2,1); for l3i5 also (1,3,3),
//!   (3,1,3), (3,3,1)): the weight columns of those paths are negated. Each buffer is compared with
//!   [`gnn_layers::o3::wigner_3j`]; one equal to neither sign is an error.
//!
//! Files before 0.10 also name their modules with spaces (`0 convolution`, `EdgeEmbedding`,
//! `rescale atomic energy`, …); they are renamed as sevenn's `map_old_model` does.
//!
//! The stored `{t}_convolution.denominator` becomes `conv_denominator`; output masks, empty
//! tensors and the 3j buffers are dropped.

use std::path::Path;

use candle_core::{DType, Tensor};
use serde_json::Value;

use super::torch_pickle::TorchPickle;
use crate::checkpoint::state_dict::StateDict;
use crate::checkpoint::{Checkpoint, ModelConfig};
use crate::error::{Error, Result};
use crate::model::expected_tensors;
use crate::models::sevennet::SevenNetConfig;

/// The newest sevenn whose checkpoints this importer knows.
const NEWEST: (u32, u32) = (0, 13);

/// Reads the sevenn checkpoint `path` (module docs) as a `sevennet` checkpoint predicting `energy`
/// in eV. Files of other models, unknown sevenn versions and unsupported configurations are
/// errors naming the file.
pub fn import_sevenn(path: &Path) -> Result<Checkpoint> {
    let pickle = TorchPickle::open(path)?;
    let origin = path.display().to_string();
    let bad = |m: String| Error::Input(format!("{origin}: {m}"));
    let raw = pickle.json(&["config"]).map_err(|e| bad(format!("not a sevenn checkpoint (no `config`: {e})")))?;
    let version = raw
        .get("version")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("not a sevenn checkpoint (its config has no `version`)".into()))?
        .to_string();
    let (major, minor, dev) =
        parse_version(&version).ok_or_else(|| bad(format!("sevenn version `{version}` not understood")))?;
    if (major, minor) < (0, 9) || (major, minor) > NEWEST {
        return Err(bad(format!(
            "written by sevenn {version}; this importer knows the checkpoints of sevenn 0.9 to {}.{}",
            NEWEST.0, NEWEST.1
        )));
    }
    let unsorted = (major, minor) < (0, 11) || ((major, minor) == (0, 11) && dev);
    let mut config = model_config(&raw).map_err(bad)?;
    let mut tensors = pickle.tensors(&["model_state_dict"])?;
    if (major, minor) < (0, 10) {
        tensors = tensors.into_iter().map(|(name, t)| (current_name(&name), t)).collect();
    }
    for t in 0..config.num_convolution_layer {
        let conv = format!("{t}_convolution");
        let denominator = tensors
            .remove(&format!("{conv}.denominator"))
            .ok_or_else(|| bad(format!("no tensor `{conv}.denominator`")))?;
        let value: Vec<f64> = denominator.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
        config.conv_denominator[t] = *value.first().ok_or_else(|| bad(format!("`{conv}.denominator` is empty")))?;
    }
    for t in 0..config.num_convolution_layer {
        patch_convolution(&config, t, unsorted, &mut tensors).map_err(|e| bad(e.to_string()))?;
    }
    tensors.retain(|name, t| !(name.ends_with(".output_mask") || name.contains("._w3j_") || t.elem_count() == 0));
    let weights = StateDict::new(origin.clone(), tensors);
    let model = ModelConfig::Sevennet(config);
    let (required, optional) = expected_tensors(&model)?;
    weights.check(&required, &optional)?;
    Ok(super::potential_checkpoint("sevenn", origin, serde_json::json!({ "version": version }), model, weights))
}

/// The name sevenn ≥ 0.10 gives a parameter of an older file (`map_old_model`: modules named with
/// spaces, `denumerator`).
fn current_name(name: &str) -> String {
    let (module, rest) = name.split_once('.').unwrap_or((name, ""));
    let module = match module {
        "EdgeEmbedding" => "edge_embedding".to_string(),
        "reducing nn input to hidden" => "reduce_input_to_hidden".to_string(),
        "reducing nn hidden to energy" => "reduce_hidden_to_energy".to_string(),
        "rescale atomic energy" => "rescale_atomic_energy".to_string(),
        other => match other.split_once(' ') {
            Some((t, block)) if t.parse::<usize>().is_ok() => format!("{t}_{}", block.replace(' ', "_")),
            _ => other.to_string(),
        },
    };
    let rest = rest.replace("denumerator", "denominator");
    if rest.is_empty() {
        module
    } else {
        format!("{module}.{rest}")
    }
}

/// `major.minor.patch[.devN]` → `(major, minor, is a dev release)`.
fn parse_version(version: &str) -> Option<(u32, u32, bool)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((major, minor, parts.next().is_some_and(|s| s.starts_with("dev"))))
}

/// The network's configuration from sevenn's `config` dictionary (as JSON); an error message for
/// what is missing or not supported.
fn model_config(raw: &Value) -> std::result::Result<SevenNetConfig, String> {
    let get = |key: &str| raw.get(key).ok_or_else(|| format!("its config has no `{key}`"));
    let text = |key: &str| -> std::result::Result<String, String> {
        Ok(get(key)?.as_str().ok_or_else(|| format!("config `{key}` is not a string"))?.to_string())
    };
    let flag = |key: &str| raw.get(key).and_then(Value::as_bool).unwrap_or(false);
    if let Some(kind) = raw.get("_model_type").and_then(Value::as_str) {
        if kind != "E3_equivariant_model" {
            return Err(format!("a sevenn model of type `{kind}`, not an E3_equivariant_model"));
        }
    }
    let unsupported = [
        (
            text("interaction_type").unwrap_or_else(|_| "nequip".into()) != "nequip",
            "an interaction_type other than nequip",
        ),
        (text("self_connection_type")? != "linear", "a self_connection_type other than linear"),
        (flag("use_bias_in_linear"), "use_bias_in_linear"),
        (flag("readout_as_fcn"), "readout_as_fcn"),
        (flag("use_modality"), "several modalities (multi-fidelity models)"),
        (raw.pointer("/cuequivariance_config/use").and_then(Value::as_bool) == Some(true), "cuEquivariance weights"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(bad, _)| *bad) {
        return Err(format!("SevenNet with {what} is not supported"));
    }
    let int = |key: &str| get(key)?.as_i64().ok_or_else(|| format!("config `{key}` is not an integer"));
    let lmax = [int("lmax_edge").unwrap_or(-1), int("lmax")?].into_iter().find(|&l| l > 0).unwrap_or(0) as u32;
    if int("lmax_node").unwrap_or(-1) > 0 {
        return Err("SevenNet with lmax_node is not supported".into());
    }
    let t = int("num_convolution_layer")? as usize;
    let irreps_manual = match get("irreps_manual")? {
        Value::Array(list) => list,
        _ => return Err("SevenNet without irreps_manual is not supported".into()),
    };
    if irreps_manual.len() != t.saturating_add(1) {
        return Err(format!("{t} interaction blocks but {} irreps_manual entries", irreps_manual.len()));
    }
    let mut cutoff_function = get("cutoff_function")?.clone();
    // sevenn ≤ 0.9 kept `poly_cut_p_value` next to an XPLOR cutoff (dropped on load).
    if cutoff_function.get("cutoff_function_name").and_then(Value::as_str) == Some("XPLOR") {
        if let Some(map) = cutoff_function.as_object_mut() {
            map.remove("poly_cut_p_value");
        }
    }
    let value = serde_json::json!({
        "chemical_species": get("chemical_species")?,
        "cutoff": get("cutoff")?,
        "irreps_manual": irreps_manual,
        "lmax": lmax,
        "is_parity": get("is_parity")?,
        "num_convolution_layer": t,
        "radial_basis": get("radial_basis")?,
        "cutoff_function": cutoff_function,
        "weight_nn_hidden_neurons": get("weight_nn_hidden_neurons")?,
        "act_radial": get("act_radial")?,
        "act_scalar": get("act_scalar")?,
        "act_gate": get("act_gate")?,
        // sevenn 0.13 reads a missing flag as false.
        "_normalize_sph": flag("_normalize_sph"),
        // Replaced by the stored denominators.
        "conv_denominator": vec![1.0; t],
    });
    serde_json::from_value(value).map_err(|e| format!("unsupported config: {e}"))
}

/// Re-orders (files before 0.11) and sign-corrects block `t`'s last weight-network layer (module
/// docs).
fn patch_convolution(
    config: &SevenNetConfig,
    t: usize,
    unsorted: bool,
    tensors: &mut std::collections::BTreeMap<String, Tensor>,
) -> Result<()> {
    let paths = config.convolution_paths(t)?;
    // The stored column blocks follow the paths in creation order before 0.11, by output after.
    let paths = if unsorted { paths } else { paths.sorted_by_output() };
    let layer = config.weight_nn_hidden_neurons.len();
    let key = format!("{t}_convolution.weight_nn.layer{layer}.weight");
    let w = tensors.get(&key).ok_or_else(|| Error::Input(format!("no tensor `{key}`")))?;
    let (in1, in2, out) = (&paths.irreps_in1, &paths.irreps_in2, &paths.irreps_out);
    let widths: Vec<usize> = paths.instructions.iter().map(|i| in1.0[i.i_in1].mul).collect();
    if w.dims().len() != 2 || w.dim(1)? != widths.iter().sum::<usize>() {
        return Err(Error::Input(format!(
            "`{key}` has shape {:?}, but the convolution has {} path weights",
            w.dims(),
            widths.iter().sum::<usize>()
        )));
    }
    // The stored column blocks, each with its sign.
    let mut blocks = Vec::with_capacity(widths.len());
    let mut offset = 0;
    for (ins, &width) in paths.instructions.iter().zip(&widths) {
        let (l1, l2, l3) = (in1.0[ins.i_in1].ir.l, in2.0[ins.i_in2].ir.l, out.0[ins.i_out].ir.l);
        let block = w.narrow(1, offset, width)?;
        offset += width;
        let flipped = l1 > 0 && l2 > 0 && l3 > 0 && {
            let name = format!("{t}_convolution.convolution._compiled_main_left_right._w3j_{l1}_{l2}_{l3}");
            let stored = tensors.get(&name).ok_or_else(|| Error::Input(format!("no buffer `{name}`")))?;
            let stored: Vec<f64> = stored.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
            let ours = gnn_layers::o3::wigner_3j(l1, l2, l3)?;
            let off = |sign: f64| {
                if stored.len() == ours.len() {
                    ours.iter().zip(&stored).map(|(a, b)| (sign * a - b).abs()).fold(0.0, f64::max)
                } else {
                    f64::INFINITY
                }
            };
            match (off(1.0) < 1e-6, off(-1.0) < 1e-6) {
                (true, _) => false,
                (_, true) => true,
                _ => {
                    return Err(Error::Input(format!(
                        "the Clebsch–Gordan buffer `{name}` equals e3nn 0.6's with neither sign"
                    )))
                }
            }
        };
        blocks.push((ins.i_out, if flipped { block.neg()? } else { block }));
    }
    blocks.sort_by_key(|(i_out, _)| *i_out);
    let columns: Vec<Tensor> = blocks.into_iter().map(|(_, b)| b).collect();
    tensors.insert(key, Tensor::cat(&columns, 1)?);
    Ok(())
}
