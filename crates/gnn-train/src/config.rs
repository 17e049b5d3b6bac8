//! [`TrainConfig`]: everything a training run depends on, read from TOML or JSON (every field has
//! a default, unknown fields are errors) and written back, resolved, into the run directory.

use crate::error::{Error, Result};
use gnn_models::{DeviceSpec, GraphOptions, ModelConfig, Precision, SchNetConfig};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A training run's configuration. The defaults are the README's main job: a small SchNet on the
/// embedded QM9 sample predicting U0, a few minutes on two CPU cores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of the split (unless [`SplitConfig::seed`] is set), the initial weights and the
    /// shuffling.
    pub seed: u64,
    /// What to train on.
    pub data: DataConfig,
    /// Train / validation / test split.
    pub split: SplitConfig,
    /// The architecture (`kind = "schnet"` or `"mpnn"`); normalisation statistics are filled in
    /// from the training split.
    pub model: ModelConfig,
    /// Target standardisation and reference energies.
    pub normalization: NormalizationConfig,
    /// The loss.
    pub loss: LossConfig,
    /// Fine-tuning: start from a checkpoint, refit its energy shifts, freeze parameters.
    pub finetune: FinetuneConfig,
    /// The optimiser.
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Number of passes over the training split.
    pub epochs: usize,
    /// Structures per training batch.
    pub batch_size: usize,
    /// Also close a batch before it exceeds this many atoms.
    pub max_atoms_per_batch: Option<usize>,
    /// Structures per evaluation batch.
    pub eval_batch_size: usize,
    /// Clip the global gradient norm to this value.
    pub clip_grad_norm: Option<f64>,
    /// Keep an exponential moving average of the weights with this decay (e.g. 0.999); evaluation
    /// and the best checkpoint use the averaged weights.
    pub ema_decay: Option<f64>,
    /// Stop when the validation loss has not improved for this many epochs.
    pub early_stopping_patience: Option<usize>,
    /// `cpu` or `cuda` (`cuda:N` for another GPU).
    pub device: DeviceSpec,
    /// `f32` or `f64`.
    pub precision: Precision,
    /// Build every graph once before training (fast; memory grows with the dataset). Without it,
    /// graphs are built for each batch on a background thread.
    pub cache_graphs: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            data: DataConfig::default(),
            split: SplitConfig::default(),
            model: ModelConfig::Schnet(SchNetConfig {
                hidden_channels: 64,
                num_filters: 64,
                num_interactions: 3,
                num_gaussians: 25,
                cutoff: 5.0,
                max_num_neighbors: Some(32),
                ..SchNetConfig::default()
            }),
            normalization: NormalizationConfig::default(),
            loss: LossConfig::default(),
            finetune: FinetuneConfig::default(),
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            epochs: 30,
            batch_size: 32,
            max_atoms_per_batch: None,
            eval_batch_size: 128,
            clip_grad_norm: Some(10.0),
            ema_decay: None,
            early_stopping_patience: None,
            device: DeviceSpec::Cpu,
            precision: Precision::F32,
            cache_graphs: true,
        }
    }
}

/// The dataset and what to predict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// `qm9-sample` (embedded), `qm9` (the cache written by `chemgnn data fetch qm9`), a QM9
    /// dataset file (`.safetensors`), an extended-xyz file, a graph-batch `.safetensors` file, or
    /// crystals: `crystal-sample` (committed), `matminer:<set>[:<target>]` (the cache of
    /// `chemgnn data fetch matminer`) or a MatBench table (`.json`/`.json.gz`).
    pub dataset: String,
    /// Target names: QM9 targets (`U0`, `gap`, …) or per-structure properties of an extended-xyz
    /// file (`energy`), or `y` columns (`y0`, `y1`, …) of a graph-batch file.
    pub targets: Vec<String>,
    /// Per-atom force array of an extended-xyz file to train on (e.g. `forces`).
    pub forces: Option<String>,
    /// Per-structure stress of an extended-xyz file to train on (e.g. `stress`): 9 values (3 × 3,
    /// row-major, as ASE writes it) or 6 (Voigt order `xx yy zz yz xz xy`), in target unit per Å³
    /// (eV/Å³), ASE's sign convention `σ = (1/V) ∂E/∂ε`.
    pub stress: Option<String>,
    /// Unit of each target when the dataset does not say (extended-xyz, graph-batch files).
    pub units: Vec<String>,
    /// Read extended-xyz frames from disk when needed instead of all at once.
    pub lazy: bool,
    /// Reduce crystal graphs to their asymmetric units (symmetrised at `symprec`), with
    /// multiplicities as readout weights.
    pub asu: bool,
    /// Distance tolerance in Å of the symmetry search behind `asu`.
    pub symprec: f64,
}

impl DataConfig {
    /// How the training structures become graphs: asymmetric units symmetrised at `symprec` with
    /// `asu`, the structures as given otherwise.
    pub fn graph_options(&self) -> GraphOptions {
        if self.asu {
            GraphOptions::asu(self.symprec)
        } else {
            GraphOptions::default()
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dataset: "qm9-sample".into(),
            targets: vec!["U0".into()],
            forces: None,
            stress: None,
            units: vec![],
            lazy: false,
            asu: false,
            symprec: chem_crystal::SymmetryOptions::default().symprec,
        }
    }
}

/// A split size: a count of structures or a fraction of the dataset.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SplitSize {
    /// This many structures.
    Count(usize),
    /// This fraction of the dataset (0–1).
    Fraction(f64),
}

/// How the dataset is split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// Training structures. With fractions, a remainder goes to nobody.
    pub train: SplitSize,
    /// Validation structures.
    pub val: SplitSize,
    /// Test structures; by default everything not in train or validation.
    pub test: Option<SplitSize>,
    /// Use the indices of this split file (`split.json` of another run) instead.
    pub file: Option<String>,
    /// Seed of the random permutation (defaults to the run's seed).
    pub seed: Option<u64>,
    /// MatBench v0.1's official fold (0–4) of a MatBench task table: the fold's test entries are the
    /// test split, `val` is drawn from its training entries and all others train (`train` and
    /// `test` are not used). Needs `chemgnn data fetch matbench-splits`.
    pub matbench_fold: Option<usize>,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            train: SplitSize::Fraction(0.8),
            val: SplitSize::Fraction(0.1),
            test: None,
            file: None,
            seed: None,
            matbench_fold: None,
        }
    }
}

/// Where reference values per element come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AtomrefMode {
    /// QM9's table for QM9's extensive energies (U0, U, H, G), least squares for other extensive
    /// targets, none for intensive ones.
    #[default]
    Auto,
    /// QM9's published atom reference energies (U0, U, H, G, ZPVE, Cv only).
    Qm9,
    /// Least-squares fit of the target to the element counts of the training split.
    Fit,
    /// No reference values.
    None,
}

/// Target standardisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NormalizationConfig {
    /// Scale and shift predictions by the training split's statistics (per atom for extensive
    /// targets, as schnetpack does), so the network learns unit-variance values.
    pub standardize: bool,
    /// Reference values per element, removed before the statistics are taken.
    pub atomref: AtomrefMode,
}

impl Default for NormalizationConfig {
    fn default() -> Self {
        Self { standardize: true, atomref: AtomrefMode::Auto }
    }
}

/// Per-residual loss function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// Squared error.
    #[default]
    Mse,
    /// Absolute error.
    Mae,
    /// Huber loss with `huber_delta`.
    Huber,
}

/// The training loss: `energy_weight · L(targets) + forces_weight · L(forces) + stress_weight ·
/// L(stress)`, each residual divided by its training-split scale (targets: spread around the
/// per-atom baseline; forces and stress: root mean square of the components) so the weights are
/// unit-free.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// The per-residual loss.
    pub kind: LossKind,
    /// Huber threshold (in units of the residual scale).
    pub huber_delta: f64,
    /// Weight of the target term.
    pub energy_weight: f64,
    /// Weight of the force term (used when the dataset has forces).
    pub forces_weight: f64,
    /// Weight of the stress term (used when `data.stress` is set; Voigt components).
    pub stress_weight: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self { kind: LossKind::Mse, huber_delta: 1.0, energy_weight: 1.0, forces_weight: 1.0, stress_weight: 1.0 }
    }
}

/// Fine-tuning a pretrained model (docs/training.md, "Fine-tuning").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneConfig {
    /// Start from this checkpoint directory (an imported potential, a run's `best/`, or a run
    /// directory: its best checkpoint): its model
    /// replaces `model`, its weights the initial ones. The model keeps its own target scaling
    /// (`normalization` only sets the loss scales); see `refit_shifts` for its energy shifts.
    pub init: Option<String>,
    /// Refit the model's per-element energy shifts ([`gnn_models::models::SpeciesShifts`]) by
    /// least squares on the training split before training: `δ = argmin Σ_s (E_s − pred_s −
    /// Σ_z n_sz δ_z)²` over the elements present, added to the shifts. Default: on with `init`
    /// when the first target is extensive and the model has shifts, off otherwise; `true` for a
    /// model without shifts is an error.
    pub refit_shifts: Option<bool>,
    /// Parameters that get no updates: name prefixes (`interactions.0.`) or globs with `*` and `?`
    /// matched against whole names (`*.bias`). A pattern matching nothing is an error.
    pub freeze: Vec<String>,
}

/// Adam-family optimisers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with L2 weight decay added to the gradient (`torch.optim.Adam`).
    #[default]
    Adam,
    /// Adam with decoupled weight decay (`torch.optim.AdamW`).
    AdamW,
}

/// Optimiser settings (PyTorch's names and defaults, except the learning rate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Adam or AdamW.
    pub kind: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Moment decay rates β₁, β₂.
    pub betas: [f64; 2],
    /// Denominator term ε.
    pub eps: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self { kind: OptimizerKind::Adam, lr: 1e-3, weight_decay: 0.0, betas: [0.9, 0.999], eps: 1e-8 }
    }
}

/// Learning-rate schedules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// Constant after warm-up.
    Constant,
    /// `ReduceLROnPlateau` on the validation loss.
    Plateau,
    /// Cosine decay to `min_lr` over the run.
    #[default]
    Cosine,
    /// Linear decay to `min_lr` over the run.
    Linear,
}

/// The learning-rate schedule, with an optional linear warm-up from 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// The schedule.
    pub kind: ScheduleKind,
    /// Epochs of linear warm-up (fractional values allowed; counted in steps).
    pub warmup_epochs: f64,
    /// Plateau: multiply the rate by this on a plateau.
    pub factor: f64,
    /// Plateau: epochs without improvement before reducing.
    pub patience: usize,
    /// Plateau: relative improvement that counts (PyTorch's `threshold`, mode `rel`).
    pub threshold: f64,
    /// Lowest learning rate (plateau floor, end of the decays).
    pub min_lr: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self { kind: ScheduleKind::Cosine, warmup_epochs: 1.0, factor: 0.5, patience: 5, threshold: 1e-4, min_lr: 1e-5 }
    }
}

impl TrainConfig {
    /// Reads a `.toml` or `.json` file (by extension; TOML otherwise).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let config: Self = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| Error::config(path.display(), e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| Error::config(path.display(), e.to_string()))?
        };
        config.validate().map_err(|e| Error::config(path.display(), e))?;
        Ok(config)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.epochs == 0 || self.batch_size == 0 || self.eval_batch_size == 0 {
            return Err("epochs, batch_size and eval_batch_size must be positive".into());
        }
        if self.data.targets.is_empty() {
            return Err("data.targets names no target".into());
        }
        if !(self.optimizer.lr > 0.0 && self.optimizer.lr.is_finite()) {
            return Err(format!("optimizer.lr must be positive, not {}", self.optimizer.lr));
        }
        if let Some(d) = self.ema_decay.filter(|d| !(0.0..1.0).contains(d)) {
            return Err(format!("ema_decay must be in [0, 1), not {d}"));
        }
        if let Some(c) = self.clip_grad_norm.filter(|c| c.is_nan() || *c <= 0.0) {
            return Err(format!("clip_grad_norm must be positive, not {c}"));
        }
        if !(0.0..1.0).contains(&self.schedule.factor) {
            return Err(format!("schedule.factor must be in [0, 1), not {}", self.schedule.factor));
        }
        if (self.data.forces.is_some() || self.data.stress.is_some()) && !self.model.capabilities().force_training {
            let trainable: Vec<&str> = gnn_models::models::KINDS
                .iter()
                .filter(|k| ModelConfig::preset(k.name).is_some_and(|c| c.capabilities().force_training))
                .map(|k| k.name)
                .collect();
            return Err(format!(
                "training on forces or stress needs a model that trains on forces ({}), not {}",
                trainable.join(", "),
                self.model.kind()
            ));
        }
        let weights = [self.loss.energy_weight, self.loss.forces_weight, self.loss.stress_weight];
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(format!("loss weights must be finite and non-negative, not {weights:?}"));
        }
        for size in [Some(self.split.train), Some(self.split.val), self.split.test].into_iter().flatten() {
            if let SplitSize::Fraction(f) = size {
                if !(0.0..=1.0).contains(&f) {
                    return Err(format!("split fractions must be in [0, 1], not {f}"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_only_what_it_names() {
        let c: TrainConfig = toml::from_str(
            "epochs = 3\n[optimizer]\nkind = \"adamw\"\n[split]\ntrain = 100\nval = 0.25\n[model]\nkind = \"mpnn\"\n",
        )
        .unwrap();
        assert_eq!(c.epochs, 3);
        assert_eq!(c.optimizer.kind, OptimizerKind::AdamW);
        assert_eq!(c.optimizer.lr, OptimizerConfig::default().lr);
        assert_eq!(c.split.train, SplitSize::Count(100));
        assert_eq!(c.split.val, SplitSize::Fraction(0.25));
        assert!(matches!(c.model, ModelConfig::Mpnn(_)));
        assert_eq!(c.batch_size, TrainConfig::default().batch_size);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        let err = toml::from_str::<TrainConfig>("epoch = 3\n").unwrap_err().to_string();
        assert!(err.contains("epoch"), "{err}");
        let c = TrainConfig { ema_decay: Some(1.5), ..Default::default() };
        assert!(c.validate().unwrap_err().contains("ema_decay"));
    }

    #[test]
    fn fine_tuning_table_and_loss_weights() {
        let c: TrainConfig = toml::from_str(
            "[finetune]\ninit = \"runs/a/best\"\nfreeze = [\"interactions.0.\"]\n[loss]\nstress_weight = 0.1\n\
             [data]\nstress = \"stress\"\n",
        )
        .unwrap();
        assert_eq!(c.finetune.init.as_deref(), Some("runs/a/best"));
        assert_eq!((c.finetune.refit_shifts, c.finetune.freeze.len()), (None, 1));
        assert_eq!((c.loss.stress_weight, c.data.stress.as_deref()), (0.1, Some("stress")));
        let negative = TrainConfig { loss: LossConfig { forces_weight: -1.0, ..Default::default() }, ..c };
        assert!(negative.validate().unwrap_err().contains("loss weights"));
    }

    #[test]
    fn json_round_trip() {
        let c = TrainConfig::default();
        assert_eq!(serde_json::from_str::<TrainConfig>(&serde_json::to_string_pretty(&c).unwrap()).unwrap(), c);
    }
}
