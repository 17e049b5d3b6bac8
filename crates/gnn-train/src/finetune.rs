//! Fine-tuning helpers: the checkpoint to start from ([`read_init`]), which parameters are frozen
//! ([`frozen_parameters`]) and the least-squares refit of a model's per-element energy shifts on
//! new data ([`refit_species_shifts`]).

use crate::dataset::Sample;
use crate::error::{Error, Result};
use crate::normalization::fit_per_element;
use crate::run_dir::{RunDir, BEST};
use candle_core::{DType, Device, Tensor};
use chem_graph::Structure;
use gnn_models::checkpoint::CheckpointConfig;
use gnn_models::{Checkpoint, GraphOptions, Model, ModelConfig, StateDict, Target};
use std::collections::BTreeSet;
use std::path::Path;

/// The checkpoint fine-tuning starts from: `dir` itself, or the best checkpoint of a run directory.
pub fn read_init(dir: &Path) -> Result<Checkpoint> {
    let best = RunDir::open_read_only(dir).ok().and_then(|run| run.checkpoint_dir(BEST));
    Ok(Checkpoint::read(best.as_deref().unwrap_or(dir))?)
}

/// Whether `name` matches `pattern`: a glob (`*` any run of characters, `?` one character) matched
/// against the whole name when the pattern has a wildcard, a name prefix otherwise.
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    if !pattern.contains(['*', '?']) {
        return name.starts_with(pattern);
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // matched[j]: the pattern so far matches the first j characters of the name.
    let mut matched = vec![false; n.len() + 1];
    matched[0] = true;
    for &c in &p {
        let mut next = vec![false; n.len() + 1];
        for j in 0..=n.len() {
            next[j] = match c {
                '*' => matched[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matched[j - 1],
                c => j > 0 && matched[j - 1] && n[j - 1] == c,
            };
        }
        matched = next;
    }
    matched[n.len()]
}

/// The names of `parameters` that one of `patterns` matches ([`matches_pattern`]); a pattern that
/// matches no parameter is an error naming it and a few parameter names.
pub fn frozen_parameters<'a>(
    patterns: &[String],
    parameters: impl IntoIterator<Item = &'a String> + Clone,
) -> Result<BTreeSet<String>> {
    let mut frozen = BTreeSet::new();
    for pattern in patterns {
        let hits: Vec<&String> = parameters.clone().into_iter().filter(|n| matches_pattern(pattern, n)).collect();
        if hits.is_empty() {
            let examples: Vec<&String> = parameters.clone().into_iter().take(4).collect();
            return Err(Error::config(
                "finetune.freeze",
                format!(
                    "`{pattern}` matches no parameter (names look like {examples:?}; prefixes or globs with * and ?)"
                ),
            ));
        }
        frozen.extend(hits.into_iter().cloned());
    }
    Ok(frozen)
}

/// Refits the per-element energy shifts of `model` ([`gnn_models::models::SpeciesShifts`]) on
/// `samples`: with the model's predictions `pred_s` of the first output (in `dtype`, graphs built
/// with `options`) and the first target `E_s`, solves `min Σ_s (E_s − pred_s − Σ_z c_sz δ_z)²`
/// over the elements present (`c_sz` the element counts, or fractions for a mean readout), and
/// adds `δ` to the shift tensor in `weights`. Returns `(Z, δ_Z)` per element. Errors when the
/// model has no shifts or an element has no row.
pub fn refit_species_shifts(
    model: &ModelConfig,
    weights: &mut StateDict,
    samples: &[Sample],
    options: &GraphOptions,
    dtype: DType,
    device: &Device,
) -> Result<Vec<(u8, f64)>> {
    let shifts = model.species_shifts().ok_or_else(|| {
        Error::config(
            "finetune.refit_shifts",
            format!("this {} has no per-element energy shifts to refit", model.kind()),
        )
    })?;
    let checkpoint = Checkpoint {
        config: CheckpointConfig {
            format_version: gnn_models::checkpoint::FORMAT_VERSION,
            model: model.clone(),
            targets: vec![Target { name: "energy".into(), unit: String::new() }; model.outputs()],
            provenance: Default::default(),
            symmetrized: None,
        },
        weights: weights.clone(),
    };
    let network = Model::from_checkpoint(&checkpoint, dtype, device)?;
    let structures: Vec<Structure> = samples.iter().map(|s| s.structure.clone()).collect();
    let graphs = network.graphs(&structures, options)?.graphs;
    let predicted = network.predict_graphs(&graphs, false, false, 64)?;
    let residuals: Vec<f64> = samples.iter().zip(&predicted).map(|(s, p)| s.targets[0] - p.values[0]).collect();
    let refs: Vec<&Structure> = structures.iter().collect();
    let (elements, delta) = fit_per_element(&refs, &residuals, shifts.mean)?;

    let table = weights.tensors.get(&shifts.tensor).ok_or_else(|| {
        Error::Data(format!("{}: no tensor `{}` (the model's energy shifts)", weights.origin, shifts.tensor))
    })?;
    let mut values = table.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
    if values.len() != shifts.elements.len() {
        return Err(Error::Data(format!(
            "{}: `{}` has {} values for {} elements",
            weights.origin,
            shifts.tensor,
            values.len(),
            shifts.elements.len()
        )));
    }
    for (&z, d) in elements.iter().zip(&delta) {
        let row = shifts.elements.iter().position(|&e| e == z).ok_or_else(|| {
            Error::Data(format!("element Z = {z} of the training data has no energy shift in the model"))
        })?;
        values[row] += d;
    }
    let updated = Tensor::from_vec(values, table.shape(), &Device::Cpu)?.to_dtype(table.dtype())?;
    weights.tensors.insert(shifts.tensor, updated);
    Ok(elements.into_iter().zip(delta).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_globs() {
        assert!(matches_pattern("interactions.0.", "interactions.0.mlp.0.weight"));
        assert!(!matches_pattern("interactions.0.", "interactions.1.mlp.0.weight"));
        assert!(matches_pattern("*.bias", "lin1.bias") && !matches_pattern("*.bias", "lin1.bias2"));
        assert!(matches_pattern("0_*", "0_convolution.weight") && !matches_pattern("0_*", "10_x"));
        assert!(matches_pattern("lin?.weight", "lin2.weight") && !matches_pattern("lin?.weight", "lin.weight"));
        let names = ["a.weight".to_string(), "a.bias".into(), "b.weight".into()];
        let frozen = frozen_parameters(&["a.".into(), "*.weight".into()], &names).unwrap();
        assert_eq!(frozen.len(), 3);
        let err = frozen_parameters(&["c.".into()], &names).unwrap_err().to_string();
        assert!(err.contains("`c.` matches no parameter"), "{err}");
    }
}
