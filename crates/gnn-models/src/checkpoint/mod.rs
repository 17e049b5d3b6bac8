//! Native checkpoints: a directory holding `config.json` ([`CheckpointConfig`]: model kind and
//! hyperparameters, targets and units, provenance) and `model.safetensors` (the tensors under the
//! model's parameter names). Both files are written atomically (temporary file, then rename).

pub mod import;
pub mod init;
pub mod state_dict;

use crate::error::{Error, Result};
pub use crate::models::ModelConfig;
use chem_graph::io::write_atomically;
use serde::{Deserialize, Serialize};
use state_dict::StateDict;
use std::path::Path;

/// Name of the configuration file in a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the weights file in a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Version of the checkpoint layout written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// A predicted quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Name (e.g. `U0`, `energy`).
    pub name: String,
    /// Unit of the predictions (e.g. `eV`, `D`); forces are in this unit per Å.
    pub unit: String,
}

/// Where the weights came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Provenance {
    /// `pyg`, `schnetpack`, `kgcnn` or `chemgnn`.
    pub source: String,
    /// The file the weights were read from.
    pub weights: Option<String>,
    /// The constructor arguments given at import, as written.
    pub arguments: Option<serde_json::Value>,
    /// chemgnn version that wrote the checkpoint.
    pub chemgnn_version: String,
}

/// The contents of `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The architecture.
    pub model: ModelConfig,
    /// What the model predicts, one entry per output.
    pub targets: Vec<Target>,
    /// Where the weights came from.
    #[serde(default)]
    pub provenance: Provenance,
    /// The symmetry tolerance (Å) at which the training crystals were symmetrised (kgcnn's
    /// `*AsymmetricUnitCell` preprocessors, chemgnn's `--asu` runs): predictions symmetrise
    /// crystals at it by default ([`crate::Model::default_graph_options`]). `None`: trained on
    /// positions as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symmetrized: Option<f64>,
}

/// A checkpoint in memory: configuration and tensors.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// `config.json`.
    pub config: CheckpointConfig,
    /// `model.safetensors`.
    pub weights: StateDict,
}

impl Checkpoint {
    /// Reads `dir/config.json` and `dir/model.safetensors` (shapes are checked when a model is built
    /// from them).
    pub fn read(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config_path = dir.join(CONFIG_FILE);
        if dir.is_dir() && !config_path.exists() {
            return Err(Error::Input(format!(
                "{}: not a chemgnn checkpoint (no {CONFIG_FILE}): give a run's best/ or last/ directory, or \
                 make one with `chemgnn import`",
                dir.display()
            )));
        }
        let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
        let config: CheckpointConfig =
            serde_json::from_str(&text).map_err(|e| Error::config(config_path.display().to_string(), e.to_string()))?;
        if config.format_version > FORMAT_VERSION {
            return Err(Error::config(
                config_path.display().to_string(),
                format!("format version {} is newer than this chemgnn reads ({FORMAT_VERSION})", config.format_version),
            ));
        }
        let weights = StateDict::read(dir.join(WEIGHTS_FILE))?;
        Ok(Self { config, weights })
    }

    /// Writes the checkpoint into `dir` (created if needed), each file atomically; the weights are
    /// written before the configuration, so a complete `config.json` always has its weights.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let weights_path = dir.join(WEIGHTS_FILE);
        let weights = safetensors::serialize(&self.weights.tensors, None)
            .map_err(|e| Error::Safetensors { path: weights_path.clone(), message: e.to_string() })?;
        write_atomically(&weights_path, &weights)?;
        let json = serde_json::to_string_pretty(&self.config).map_err(|e| Error::config("config", e.to_string()))?;
        Ok(write_atomically(dir.join(CONFIG_FILE), (json + "\n").as_bytes())?)
    }
}
