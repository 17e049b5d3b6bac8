//! Metrics of a saved model on a dataset (`chemgnn eval`).

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::loader::GraphSource;
use crate::metrics::{Accumulator, Metrics};
use gnn_models::{GraphOptions, Model};
use std::sync::Arc;

/// Errors of `model` on the samples `indices` of `dataset`, in batches of `batch_size`; forces are
/// compared when the dataset has them; graphs are built under `options` (symmetrised crystals,
/// asymmetric units).
pub fn evaluate_model(
    model: &Model,
    dataset: Arc<dyn Dataset>,
    indices: &[usize],
    batch_size: usize,
    options: &GraphOptions,
) -> Result<Metrics> {
    let names: Vec<&str> = model.config().targets.iter().map(|t| t.name.as_str()).collect();
    let have: Vec<&str> = dataset.targets().iter().map(|t| t.name.as_str()).collect();
    if names != have {
        return Err(Error::Data(format!("the model predicts {names:?}, the dataset provides {have:?}")));
    }
    let with_forces = dataset.has_forces();
    let targets = dataset.targets().to_vec();
    let source = GraphSource::with_options(&model.config().model, options, dataset, &[], false)?;
    let mut acc = Accumulator::default();
    source.prefetch(&source.batches(indices, batch_size, None), None, |_, batch| {
        let predictions = model.predict_batch(&batch.graphs, with_forces)?;
        let values: Vec<Vec<f64>> = predictions.iter().map(|p| p.values.clone()).collect();
        let forces: Option<Vec<f64>> = predictions
            .iter()
            .map(|p| p.forces.as_ref().map(|f| f.concat()))
            .collect::<Option<Vec<_>>>()
            .map(|f| f.concat());
        acc.add(&values, &batch.targets, f64::NAN, forces.as_deref().zip(batch.forces.as_deref()));
        Ok(true)
    })?;
    if let Some(warning) = source.p1_warning() {
        eprintln!("{warning}");
    }
    Ok(acc.finish(&targets))
}
