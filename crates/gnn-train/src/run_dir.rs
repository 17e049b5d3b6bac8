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
//! `best/` and `last/` are replaced as a whole: written to `NAME.tmp/`, then swapped in by renames
//! (the previous one is `NAME.old/` between the two), so each is always one consistent state even
//! if the process dies or a write fails while saving; readers fall back to `NAME.old/`.
//!
//! A process that trains in the directory holds an exclusive lock on its `.lock` file (released
//! by the operating system when the process ends, however it ends), so a second `train --resume`
//! of the same run is refused instead of interleaving its writes.

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::schedule::ScheduleState;
use candle_core::Tensor;
use chem_graph::io::write_atomically;
use gnn_models::Checkpoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
/// The lock file held by the process training in the directory.
pub const LOCK: &str = ".lock";
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
    /// The held `.lock` (for writers; `None` when opened for reading).
    lock: Option<Arc<File>>,
}

impl RunDir {
    /// Starts a new run for `path`: a locked staging directory `.NAME.partial` beside it, which
    /// [`RunDir::publish`] renames to `path` once the first state is saved — so a run killed
    /// before that leaves no half-made run directory behind. An existing non-empty `path` is
    /// refused (resume it instead); a staging directory left by a killed process is replaced.
    pub fn create(path: &Path) -> Result<Self> {
        if path.read_dir().is_ok_and(|mut d| d.next().is_some()) {
            return Err(Error::config(
                path.display(),
                "the run directory exists and is not empty: choose another --out, or --resume it",
            ));
        }
        let name = path.file_name().ok_or_else(|| Error::config(path.display(), "not a directory name"))?;
        let staging = path.with_file_name(format!(".{}.partial", name.to_string_lossy()));
        if staging.exists() {
            // Locking it first: another process may be creating the same run right now.
            let stale = Self::locked(&staging)?;
            std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
            drop(stale);
        }
        std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        Self::locked(&staging)
    }

    /// Moves a directory made by [`RunDir::create`] to `path` (which must not exist or be empty).
    pub fn publish(&mut self, path: &Path) -> Result<()> {
        if path.is_dir() {
            // Empty (checked by `create`), unless another process made a run there since.
            std::fs::remove_dir(path).map_err(|e| Error::io(path, e))?;
        }
        std::fs::rename(&self.path, path).map_err(|e| Error::io(path, e))?;
        self.path = path.to_path_buf();
        Ok(())
    }

    /// Opens an existing run directory to continue training in it (locked).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_read_only(path)?;
        Self::locked(path)
    }

    /// Opens an existing run directory to read it (not locked).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        if !path.join(CONFIG).is_file() {
            return Err(Error::state(&path.join(CONFIG), "not a run directory (no config.json)"));
        }
        Ok(Self { path: path.to_path_buf(), lock: None })
    }

    fn locked(path: &Path) -> Result<Self> {
        let lock_path = path.join(LOCK);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { path: path.to_path_buf(), lock: Some(Arc::new(file)) }),
            Err(TryLockError::WouldBlock) => Err(Error::state(
                &lock_path,
                "another chemgnn process is training in this run directory; wait for it to end (or stop it)",
            )),
            Err(TryLockError::Error(e)) => Err(Error::io(&lock_path, e)),
        }
    }

    /// Whether this handle holds the directory's lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// The checkpoint directory `name` (`best` or `last`), or `name.old` when a save was cut
    /// short between its two renames; `None` when neither exists.
    pub fn checkpoint_dir(&self, name: &str) -> Option<PathBuf> {
        [self.file(name), self.file(&format!("{name}.old"))].into_iter().find(|d| d.is_dir())
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

    /// Replaces `best/` with the checkpoint.
    pub fn save_best(&self, checkpoint: &Checkpoint) -> Result<()> {
        self.replace_dir(BEST, |tmp| Ok(checkpoint.save(tmp)?))
    }

    /// Replaces `last/` with this state.
    pub fn save_last(&self, saved: &Saved) -> Result<()> {
        self.replace_dir(LAST, |tmp| {
            saved.checkpoint.save(tmp)?;
            let bytes = safetensors::serialize(&saved.optimizer, None)
                .map_err(|e| Error::state(&tmp.join(OPTIMIZER), e.to_string()))?;
            write_atomically(tmp.join(OPTIMIZER), &bytes)?;
            let state = serde_json::to_string(&saved.state).expect("state serialises") + "\n";
            Ok(write_atomically(tmp.join(TRAINER), state.as_bytes())?)
        })
    }

    /// Writes `name.tmp/` with `write`, then swaps it in for `name/`; when `write` fails the
    /// partial `name.tmp/` is removed and `name/` is untouched.
    fn replace_dir(&self, name: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        assert!(self.is_locked(), "a run directory is written only under its lock");
        let target = self.file(name);
        let tmp = self.file(&format!("{name}.tmp"));
        let old = self.file(&format!("{name}.old"));
        if old.exists() && !target.exists() {
            // A previous save stopped between its renames: `old` is the latest complete state.
            std::fs::rename(&old, &target).map_err(|e| Error::io(&old, e))?;
        }
        for dir in [&tmp, &old] {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        if let Err(e) = write(&tmp) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if target.exists() {
            std::fs::rename(&target, &old).map_err(|e| Error::io(&target, e))?;
        }
        std::fs::rename(&tmp, &target).map_err(|e| Error::io(&tmp, e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        Ok(())
    }

    /// Reads `last/` (see [`RunDir::checkpoint_dir`]).
    pub fn load_last(&self) -> Result<Saved> {
        let Some(dir) = self.checkpoint_dir(LAST) else {
            return Err(Error::state(&self.file(LAST), "no saved state to resume from"));
        };
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
