//! Import of e3nn's `gate_points_2101.Network`: its constructor arguments (irreps as strings, under
//! the Python names) and its `state_dict`. e3nn's buffers (`*.output_mask`), empty weights
//! (`*.tp.weight`, `*.mul.weight`, shape `[0]`) and Clebsch–Gordan constants
//! (`*._w3j_{l1}_{l2}_{l3}`) carry no parameters and are dropped — the constants after checking
//! that they equal ours (signs included), which catches a state_dict from an e3nn with other
//! conventions.

use crate::checkpoint::state_dict::StateDict;
use crate::checkpoint::{Checkpoint, CheckpointConfig, ModelConfig, Provenance, Target, FORMAT_VERSION};
use crate::error::{Error, Result};
use crate::model::expected_tensors;
use crate::models::gate_points::{GatePointsConfig, GatePointsModelConfig};

/// A checkpoint of a `gate_points_2101.Network` built with `arguments` (read from
/// `arguments_origin`), its `state_dict` `weights`, the `elements` whose one-hot encoding feeds its
/// `Nx0e` node inputs/attributes, predicting one target per output component: `names` (default
/// `y0`, `y1`, …), all in `unit`.
pub fn import_gate_points(
    arguments: &serde_json::Value,
    arguments_origin: &str,
    mut weights: StateDict,
    elements: Vec<u8>,
    names: Option<Vec<String>>,
    unit: &str,
) -> Result<Checkpoint> {
    let network: GatePointsConfig = serde_json::from_value(arguments.clone())
        .map_err(|e| Error::config(arguments_origin, format!("not gate_points_2101.Network's arguments: {e}")))?;
    let config = GatePointsModelConfig { network, elements };
    config.check()?;
    let names = names.unwrap_or_else(|| (0..config.outputs()).map(|k| format!("y{k}")).collect());
    if names.len() != config.outputs() {
        return Err(Error::Input(format!(
            "the network predicts {} values (`{}`), but {} target names were given",
            config.outputs(),
            config.network.irreps_out,
            names.len()
        )));
    }
    let targets = names.into_iter().map(|name| Target { name, unit: unit.into() }).collect();
    check_clebsch_gordan(&weights)?;
    weights
        .tensors
        .retain(|name, t| !(name.ends_with(".output_mask") || name.contains("._w3j_") || t.elem_count() == 0));
    let model = ModelConfig::GatePoints(config);
    let (required, optional) = expected_tensors(&model)?;
    weights.check(&required, &optional)?;
    let provenance = Provenance {
        source: "e3nn".into(),
        weights: Some(weights.origin.clone()),
        arguments: Some(arguments.clone()),
        chemgnn_version: env!("CARGO_PKG_VERSION").into(),
    };
    Ok(Checkpoint {
        config: CheckpointConfig { format_version: FORMAT_VERSION, model, targets, provenance, symmetrized: None },
        weights,
    })
}

/// Compares every `…._w3j_{l1}_{l2}_{l3}` buffer with [`gnn_layers::o3::wigner_3j`].
fn check_clebsch_gordan(weights: &StateDict) -> Result<()> {
    for (name, t) in &weights.tensors {
        let Some((_, ls)) = name.rsplit_once("._w3j_") else { continue };
        let l: Vec<u32> = ls.split('_').filter_map(|v| v.parse().ok()).collect();
        let [l1, l2, l3] = l[..] else { continue };
        let ours = gnn_layers::o3::wigner_3j(l1, l2, l3)?;
        let theirs: Vec<f64> = t.flatten_all()?.to_dtype(candle_core::DType::F64)?.to_vec1()?;
        let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0f64, f64::max);
        if ours.len() != theirs.len() || worst > 1e-6 {
            return Err(Error::Input(format!(
                "{}: the Clebsch–Gordan buffer `{name}` differs from e3nn 0.6's (by {worst:e}): weights from \
                 another e3nn version would give other numbers",
                weights.origin
            )));
        }
    }
    Ok(())
}
