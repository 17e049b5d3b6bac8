//! [`Summary`]: how a run ended and how well its best model does on the test split.

use crate::metrics::Metrics;
use crate::trainer::StopReason;
use serde::{Deserialize, Serialize};

/// The contents of a run's `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Test-split metrics of the best checkpoint.
    pub test: Metrics,
    /// Epoch (1-based) of the best validation loss.
    pub best_epoch: Option<usize>,
    /// The best validation loss.
    pub best_val_loss: Option<f64>,
    /// Epochs completed.
    pub epochs_run: usize,
    /// Optimiser steps taken.
    pub steps: u64,
    /// Wall-clock seconds of this process's part of the run.
    pub seconds: f64,
    /// Mean seconds of an epoch's training pass.
    pub seconds_per_epoch: f64,
    /// Why the run ended.
    pub stopped: StopReason,
    /// The run directory.
    pub run_dir: String,
}

impl Summary {
    /// A few lines for people: test errors (meV for energies), chemical-accuracy ratios, timing.
    pub fn report(&self) -> String {
        let mut out = vec![format!(
            "test set ({} structures, best epoch {}):",
            self.test.structures,
            self.best_epoch.map_or("-".into(), |e| e.to_string())
        )];
        out.extend(self.test.report_lines());
        out.push(format!(
            "{} epochs ({:?}), {:.1} s per epoch, {:.0} s in all; run directory {}",
            self.epochs_run, self.stopped, self.seconds_per_epoch, self.seconds, self.run_dir
        ));
        out.join("\n")
    }
}
