//! The run directory: everything a run writes, and the saved state it resumes from.
//!
//! | path | contents |
//! |---|---|
//! | `config.json` | the resolved [`TrainConfig`](crate::TrainConfig) (with the fitted model statistics) |
//! | `split.json` | [`Split`](crate::Split): train / validation / test indices |
//! | `normalization.json` | [`Normalization`](crate::Normalization): fitted target statistics |
//! | `metrics.jsonl` | one [`EpochRecord`] per line |
//! | `best/` | checkpoint with the lowest validation loss (EMA weights when enabled) |
//! | `last/` | checkpoint of the latest state plus `optimizer.safetensors` and `trainer.json` |
//! | `learning_curve.png`, `test_parity.png` | plots |
//! | `summary.json` | [`Summary`](crate::Summary): test metrics and how the run ended |
//!
//! `last/` is replaced as a whole: written to `last.tmp/`, then swapped in by renames, so it is
//! always one consistent state even if the process dies while saving.

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::schedule::ScheduleState;
use candle_core::Tensor;
use chem_graph::io::write_atomically;
use gnn_models::Checkpoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Resolved configuration file.
pub const CONFIG: &str = "config.json";
/// Split file.
pub const SPLIT: &str = "split.json";
/// Target statistics file.
pub const NORMALIZATION: &str = "normalization.json";
/// Metrics log.
pub const METRICS: &str = "metrics.jsonl";
/// Final summary.
pub const SUMMARY: &str = "summary.json";
/// Best checkpoint directory.
pub const BEST: &str = "best";
/// Latest state directory.
pub const LAST: &str = "last";
/// Learning-curve plot.
pub const LEARNING_CURVE: &str = "learning_curve.png";
/// Predicted-vs-true plot on the test split.
pub const TEST_PARITY: &str = "test_parity.png";
const OPTIMIZER: &str = "optimizer.safetensors";
const TRAINER: &str = "trainer.json";

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epochs completed (1-based).
    pub epoch: usize,
    /// Optimiser steps taken so far.
    pub step: u64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation loss and errors.
    pub val: Metrics,
    /// Seconds of the training pass.
    pub train_seconds: f64,
    /// Seconds of the epoch including validation.
    pub epoch_seconds: f64,
    /// Training throughput.
    pub molecules_per_s: f64,
}

/// Where training stands (saved as `last/trainer.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Current epoch (0-based).
    pub epoch: usize,
    /// Batches of the current epoch already trained.
    pub batch: usize,
    /// Optimiser steps taken.
    pub step: u64,
    /// The schedule's state.
    pub schedule: ScheduleState,
    /// Lowest validation loss so far, and its epoch (1-based).
    pub best: Option<(f64, usize)>,
    /// Epochs since the validation loss last improved.
    pub epochs_without_improvement: usize,
    /// Loss sum and structure count of the current epoch so far.
    pub epoch_loss: (f64, usize),
    /// Training seconds of the current epoch so far.
    pub epoch_train_seconds: f64,
    /// Every completed epoch.
    pub history: Vec<EpochRecord>,
}

/// The latest saved state.
pub struct Saved {
    /// Current (not averaged) weights and configuration.
    pub checkpoint: Checkpoint,
    /// Optimiser moments (`exp_avg.*`, `exp_avg_sq.*`) and EMA weights (`ema.*`).
    pub optimizer: BTreeMap<String, Tensor>,
    /// Progress.
    pub state: TrainerState,
}

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    /// Its path.
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new run directory; an existing non-empty one is refused (resume it instead).
    pub fn create(path: &Path) -> Result<Self> {
        if path.read_dir().is_ok_and(|mut d| d.next().is_some()) {
            return Err(Error::config(
                path.display(),
                "the run directory exists and is not empty: choose another --out, or --resume it",
            ));
        }
        std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
        Ok(Self { path: path.to_path_buf() })
    }

    /// Opens an existing run directory.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.join(CONFIG).is_file() {
            return Err(Error::state(&path.join(CONFIG), "not a run directory (no config.json)"));
        }
        Ok(Self { path: path.to_path_buf() })
    }

    /// `path/name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `text` to `name` atomically.
    pub fn write(&self, name: &str, text: &str) -> Result<()> {
        Ok(write_atomically(self.file(name), text.as_bytes())?)
    }

    /// Writes `value` as pretty JSON to `name`.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(|e| Error::state(&self.file(name), e.to_string()))?;
        self.write(name, &(text + "\n"))
    }

    /// Reads JSON from `name`, naming the file when it is missing or corrupted.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        read_json(&self.file(name))
    }

    /// Rewrites `metrics.jsonl` from the history.
    pub fn write_metrics(&self, history: &[EpochRecord]) -> Result<()> {
        let lines: String =
            history.iter().map(|r| serde_json::to_string(r).expect("records serialise") + "\n").collect();
        self.write(METRICS, &lines)
    }

    /// Saves the checkpoint into `best/`.
    pub fn save_best(&self, checkpoint: &Checkpoint) -> Result<()> {
        Ok(checkpoint.save(self.file(BEST))?)
    }

    /// Replaces `last/` with this state.
    pub fn save_last(&self, saved: &Saved) -> Result<()> {
        let tmp = self.file("last.tmp");
        let old = self.file("last.old");
        for dir in [&tmp, &old] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        saved.checkpoint.save(&tmp)?;
        let bytes = safetensors::serialize(&saved.optimizer, None)
            .map_err(|e| Error::state(&tmp.join(OPTIMIZER), e.to_string()))?;
        write_atomically(tmp.join(OPTIMIZER), &bytes)?;
        let state = serde_json::to_string(&saved.state).expect("state serialises") + "\n";
        write_atomically(tmp.join(TRAINER), state.as_bytes())?;
        let last = self.file(LAST);
        if last.exists() {
            std::fs::rename(&last, &old).map_err(|e| Error::io(&last, e))?;
        }
        std::fs::rename(&tmp, &last).map_err(|e| Error::io(&tmp, e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        Ok(())
    }

    /// Reads `last/` (or `last.old/` when a save was cut short between its two renames).
    pub fn load_last(&self) -> Result<Saved> {
        let mut dir = self.file(LAST);
        if !dir.exists() && self.file("last.old").exists() {
            dir = self.file("last.old");
        }
        if !dir.exists() {
            return Err(Error::state(&dir, "no saved state to resume from"));
        }
        let checkpoint = Checkpoint::read(&dir)?;
        let path = dir.join(OPTIMIZER);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let optimizer = candle_core::safetensors::load_buffer(&bytes, &candle_core::Device::Cpu)
            .map_err(|e| Error::state(&path, format!("corrupted optimizer state: {e}")))?
            .into_iter()
            .collect();
        let state = read_json(&dir.join(TRAINER))?;
        Ok(Saved { checkpoint, optimizer, state })
    }
}

/// Reads JSON from `path`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::state(path, format!("corrupted or incompatible: {e}")))
}
