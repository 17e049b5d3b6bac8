//! Native checkpoints: a directory holding `config.json` ([`CheckpointConfig`]: model kind and
//! hyperparameters, targets and units, provenance) and `model.safetensors` (the tensors under the
//! model's parameter names). Both files are written atomically (temporary file, then rename).

use crate::cogn::CoGnConfig;
use crate::equivariant_net::EquivariantNetConfig;
use crate::error::{Error, Result};
use crate::gate_points::GatePointsModelConfig;
use crate::mpnn::MpnnConfig;
use crate::schnet::SchNetConfig;
use crate::state_dict::StateDict;
use chem_graph::io::write_atomically;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Name of the configuration file in a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the weights file in a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Version of the checkpoint layout written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// A model architecture and its hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    /// [`crate::SchNet`].
    Schnet(SchNetConfig),
    /// [`crate::Mpnn`].
    Mpnn(MpnnConfig),
    /// [`crate::CoGn`] without nested blocks (coGN).
    Cogn(CoGnConfig),
    /// [`crate::CoGn`] with nested line-graph blocks (coNGN).
    Congn(CoGnConfig),
    /// [`crate::GatePointsModel`]: e3nn's `gate_points_2101.Network`.
    #[serde(rename = "gate-points-2101")]
    GatePoints(GatePointsModelConfig),
    /// [`crate::EquivariantNet`] with scalar features (distances only).
    L0net(EquivariantNetConfig),
    /// [`crate::EquivariantNet`] with scalar and l = 1 features.
    L1net(EquivariantNetConfig),
}

impl ModelConfig {
    /// The model kind as written in `config.json` (`"schnet"`, `"mpnn"`).
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Schnet(_) => "schnet",
            ModelConfig::Mpnn(_) => "mpnn",
            ModelConfig::Cogn(_) => "cogn",
            ModelConfig::Congn(_) => "congn",
            ModelConfig::GatePoints(_) => "gate-points-2101",
            ModelConfig::L0net(_) => "l0net",
            ModelConfig::L1net(_) => "l1net",
        }
    }

    /// Number of values the model predicts per structure.
    pub fn outputs(&self) -> usize {
        match self {
            ModelConfig::Schnet(_) => 1,
            ModelConfig::Mpnn(c) => c.outputs,
            ModelConfig::Cogn(c) | ModelConfig::Congn(c) => c.outputs(),
            ModelConfig::GatePoints(c) => c.outputs(),
            ModelConfig::L0net(_) | ModelConfig::L1net(_) => 1,
        }
    }

    /// Whether the model's graphs carry a line graph ([`chem_graph::GraphBatch::with_line_graph`]).
    pub fn uses_line_graph(&self) -> bool {
        matches!(self, ModelConfig::Cogn(c) | ModelConfig::Congn(c) if c.uses_line_graph())
    }
}

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
