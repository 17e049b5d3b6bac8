//! Target statistics fitted on the training split, and how they enter the model.
//!
//! For an extensive target (an energy) with reference values `ref[z]` the model predicts, as
//! schnetpack and PyG's SchNet do,
//!
//! ```text
//! y = Σ_i (h_i · std + mean) + Σ_i ref[z_i]
//! ```
//!
//! where `mean` and `std` are the per-atom mean and standard deviation of `(y − Σ ref) / n_atoms`
//! over the training split. Intensive targets use a mean readout and the statistics of `y` itself.
//! The MPNN (Set2Set readout) scales each output by the statistics of `y`. The loss divides each
//! residual by [`TargetStats::scale`], the spread of the target around this baseline, so loss
//! weights are unit-free.

use crate::config::{AtomrefMode, NormalizationConfig};
use crate::dataset::{Sample, TargetInfo};
use crate::error::{Error, Result};
use chem_graph::qm9::{Qm9Target, ATOMREF_ELEMENTS, ATOMREF_HARTREE, HARTREE_TO_EV};
use chem_graph::Structure;
use gnn_models::models::Scaling;
use gnn_models::{ModelConfig, TargetScaling};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// Fitted statistics of one target (saved as a run's `normalization.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetStats {
    /// Target name.
    pub name: String,
    /// Unit.
    pub unit: String,
    /// Whether statistics are per atom.
    pub extensive: bool,
    /// Shift the model applies (per atom for extensive targets).
    pub mean: f64,
    /// Scale the model applies (per atom for extensive targets).
    pub std: f64,
    /// Spread of the target around its baseline: residuals are divided by it in the loss.
    pub scale: f64,
    /// Reference value per atomic number (index = Z), when used.
    pub atomref: Option<Vec<f64>>,
}

/// All fitted statistics of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// One entry per target.
    pub targets: Vec<TargetStats>,
    /// Root-mean-square force component of the training split (the force residual scale).
    pub forces_scale: Option<f64>,
    /// Root-mean-square stress component (Voigt) of the training split (the stress residual scale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stress_scale: Option<f64>,
}

impl Normalization {
    /// Fits the statistics of `targets` on the training samples for `model`.
    pub fn fit(
        config: &NormalizationConfig,
        model: &ModelConfig,
        targets: &[TargetInfo],
        train: &[Sample],
    ) -> Result<Self> {
        if train.is_empty() {
            return Err(Error::Data("the training split is empty".into()));
        }
        let capabilities = model.capabilities();
        let per_atom_model = capabilities.scaling == Scaling::PerAtom;
        // Indexed by atomic number; the model maps it to its elements in `configure`.
        let num_elements = capabilities.elements.table_len();
        let stats = targets
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let y: Vec<f64> = train.iter().map(|s| s.targets[k]).collect();
                let atomref = resolve_atomref(config.atomref, model, t, train, &y, num_elements)?;
                let per_atom = t.extensive && per_atom_model;
                Ok(target_stats(t, train, &y, atomref, per_atom, config.standardize))
            })
            .collect::<Result<Vec<_>>>()?;
        let rms = |values: Vec<f64>| positive_or_one(root_mean_square(&values));
        let forces_scale = train
            .first()
            .and_then(|s| s.forces.as_ref())
            .map(|_| rms(train.iter().flat_map(|s| s.forces.iter().flatten().flatten().copied()).collect()));
        let stress_scale = train
            .first()
            .and_then(|s| s.stress.as_ref())
            .map(|_| rms(train.iter().flat_map(|s| s.stress.iter().flatten().copied()).collect()));
        Ok(Self { targets: stats, forces_scale, stress_scale })
    }

    /// Writes the statistics into `model`'s configuration, each model in its own terms
    /// ([`gnn_models::Architecture::set_target_scaling`]): SchNet's `mean`, `std`, `atomref` and a
    /// mean readout for an intensive target, the MPNN's and coGN's per-output `mean` and `std`, …
    pub fn configure(&self, model: &mut ModelConfig, standardize: bool) -> Result<()> {
        let scaling = TargetScaling {
            standardize: standardize
                .then(|| (self.targets.iter().map(|t| t.mean).collect(), self.targets.iter().map(|t| t.std).collect())),
            extensive: self.targets.iter().map(|t| t.extensive).collect(),
            atomref: self.targets.first().and_then(|t| t.atomref.clone()),
        };
        Ok(model.set_target_scaling(&scaling)?)
    }

    /// The loss scale of each target.
    pub fn scales(&self) -> Vec<f64> {
        self.targets.iter().map(|t| t.scale).collect()
    }
}

/// Which reference values a target gets.
fn resolve_atomref(
    mode: AtomrefMode,
    model: &ModelConfig,
    target: &TargetInfo,
    train: &[Sample],
    y: &[f64],
    num_elements: usize,
) -> Result<Option<Vec<f64>>> {
    let table = target.qm9.and_then(qm9_atomref);
    let per_atom = model.capabilities().scaling == Scaling::PerAtom;
    let mode = match (mode, per_atom) {
        (AtomrefMode::None, _) | (AtomrefMode::Auto, false) => return Ok(None),
        (_, false) => {
            return Err(Error::config(
                "normalization.atomref",
                format!("{} has no atom references; train it on atomization or per-atom targets instead", model.kind()),
            ))
        }
        (AtomrefMode::Auto, true) if !target.extensive => return Ok(None),
        (AtomrefMode::Auto, true) if table.is_some() => AtomrefMode::Qm9,
        (AtomrefMode::Auto, true) => AtomrefMode::Fit,
        (m, true) => m,
    };
    let values = match mode {
        AtomrefMode::Qm9 => table.ok_or_else(|| {
            Error::config("normalization.atomref", format!("QM9 has no atom references for `{}`", target.name))
        })?,
        _ => {
            let structures: Vec<&Structure> = train.iter().map(|s| &s.structure).collect();
            let (elements, values) = fit_per_element(&structures, y, false)?;
            let mut out = vec![0.0; elements.last().map_or(0, |&z| z as usize + 1)];
            for (z, v) in elements.into_iter().zip(values) {
                out[z as usize] = v;
            }
            out
        }
    };
    let mut out = vec![0.0; num_elements];
    for (z, v) in values.into_iter().enumerate().filter(|(_, v)| *v != 0.0) {
        *out.get_mut(z).ok_or_else(|| {
            Error::Data(format!("element Z = {z} is outside the model's {num_elements} embeddings"))
        })? = v;
    }
    Ok(Some(out))
}

/// QM9's atom reference energies (eV, index = Z) for U0, U, H and G.
fn qm9_atomref(t: Qm9Target) -> Option<Vec<f64>> {
    let column = [Qm9Target::U0, Qm9Target::U, Qm9Target::H, Qm9Target::G].iter().position(|&c| c == t)?;
    let mut out = vec![0.0; 10];
    for (&z, row) in ATOMREF_ELEMENTS.iter().zip(ATOMREF_HARTREE) {
        out[z as usize] = row[column] * HARTREE_TO_EV;
    }
    Some(out)
}

/// Least-squares values per element: `y_s ≈ Σ_z c_sz · v_z` with `c_sz` the count of element `z`
/// in structure `s` (its fraction when `fractions`); returns the elements present (ascending) and
/// their values (minimum-norm solution where the counts are degenerate).
pub(crate) fn fit_per_element(structures: &[&Structure], y: &[f64], fractions: bool) -> Result<(Vec<u8>, Vec<f64>)> {
    let mut elements: Vec<u8> = structures.iter().flat_map(|s| s.numbers.iter().copied()).collect();
    elements.sort_unstable();
    elements.dedup();
    let counts = DMatrix::from_fn(structures.len(), elements.len(), |i, k| {
        let n = structures[i].numbers.iter().filter(|&&z| z == elements[k]).count() as f64;
        if fractions {
            n / structures[i].len().max(1) as f64
        } else {
            n
        }
    });
    let solution = counts
        .svd(true, true)
        .solve(&DVector::from_column_slice(y), 1e-10)
        .map_err(|e| Error::Data(format!("least squares per element: {e}")))?;
    Ok((elements, solution.iter().copied().collect()))
}

fn target_stats(
    t: &TargetInfo,
    train: &[Sample],
    y: &[f64],
    atomref: Option<Vec<f64>>,
    per_atom: bool,
    standardize: bool,
) -> TargetStats {
    let reference = |s: &Sample| -> f64 {
        atomref.as_ref().map_or(0.0, |r| s.structure.numbers.iter().map(|&z| r[z as usize]).sum())
    };
    let atoms = |s: &Sample| if per_atom { s.structure.len().max(1) as f64 } else { 1.0 };
    let values: Vec<f64> = train.iter().zip(y).map(|(s, y)| (y - reference(s)) / atoms(s)).collect();
    let (mean, std) = mean_std(&values);
    let residuals: Vec<f64> = train.iter().zip(y).map(|(s, y)| y - reference(s) - atoms(s) * mean).collect();
    let scale = if standardize { positive_or_one(root_mean_square(&residuals)) } else { 1.0 };
    TargetStats {
        name: t.name.clone(),
        unit: t.unit.clone(),
        extensive: per_atom,
        mean,
        std: positive_or_one(std),
        scale,
        atomref,
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt())
}

fn root_mean_square(v: &[f64]) -> f64 {
    (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// `x` when it is a usable scale, else 1 (a constant target has no spread to divide by).
fn positive_or_one(x: f64) -> f64 {
    if x.is_finite() && x > 1e-12 {
        x
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gnn_models::{MpnnConfig, Readout, SchNetConfig};

    fn sample(numbers: Vec<u8>, y: f64) -> Sample {
        let positions = (0..numbers.len()).map(|i| [i as f64, 0.0, 0.0]).collect();
        Sample {
            structure: Structure::molecule(numbers, positions).unwrap(),
            targets: vec![y],
            forces: None,
            stress: None,
        }
    }

    fn energy() -> TargetInfo {
        TargetInfo { name: "E".into(), unit: "eV".into(), extensive: true, chemical_accuracy: None, qm9: None }
    }

    #[test]
    fn fitted_references_recover_an_additive_target() {
        // E = -1·n_H - 10·n_C exactly: the fit finds both and leaves no residual.
        let train: Vec<Sample> = [(2, 1), (4, 1), (2, 2), (6, 2), (0, 3)]
            .iter()
            .map(|&(h, c)| {
                let numbers = [vec![1u8; h], vec![6u8; c]].concat();
                sample(numbers, -(h as f64) - 10.0 * c as f64)
            })
            .collect();
        let config = NormalizationConfig { standardize: true, atomref: AtomrefMode::Fit };
        let model = ModelConfig::Schnet(SchNetConfig::default());
        let n = Normalization::fit(&config, &model, &[energy()], &train).unwrap();
        let r = n.targets[0].atomref.as_ref().unwrap();
        assert!((r[1] + 1.0).abs() < 1e-9 && (r[6] + 10.0).abs() < 1e-9, "{r:?}");
        assert!(n.targets[0].mean.abs() < 1e-9);
        assert_eq!(n.targets[0].scale, 1.0); // no spread left: falls back to 1
    }

    #[test]
    fn qm9_table_and_model_configuration() {
        let train = vec![sample(vec![6, 1, 1, 1, 1], -1100.0), sample(vec![8, 1, 1], -2070.0)];
        let config = NormalizationConfig::default();
        let mut model = ModelConfig::Schnet(SchNetConfig::default());
        let n = Normalization::fit(&config, &model, &[TargetInfo::qm9(Qm9Target::U0)], &train).unwrap();
        let r = n.targets[0].atomref.as_ref().unwrap();
        assert!((r[1] - (-0.500273 * HARTREE_TO_EV)).abs() < 1e-9);
        n.configure(&mut model, true).unwrap();
        let ModelConfig::Schnet(c) = &model else { unreachable!() };
        assert!(c.atomref && c.mean == Some(n.targets[0].mean) && c.readout == Readout::Add);
        // Intensive target: mean readout, no references.
        let gap = Normalization::fit(&config, &model, &[TargetInfo::qm9(Qm9Target::Gap)], &train).unwrap();
        assert!(gap.targets[0].atomref.is_none());
        let mut m2 = ModelConfig::Schnet(SchNetConfig::default());
        gap.configure(&mut m2, true).unwrap();
        assert!(matches!(m2, ModelConfig::Schnet(SchNetConfig { readout: Readout::Mean, .. })));
    }

    #[test]
    fn mpnn_refuses_references_and_scales_each_output() {
        let train = vec![sample(vec![6, 1], 1.0), sample(vec![8], 3.0)];
        let mpnn = ModelConfig::Mpnn(MpnnConfig::pyg_qm9());
        let forced = NormalizationConfig { standardize: true, atomref: AtomrefMode::Fit };
        assert!(Normalization::fit(&forced, &mpnn, &[energy()], &train).is_err());
        let n = Normalization::fit(&NormalizationConfig::default(), &mpnn, &[energy()], &train).unwrap();
        assert_eq!((n.targets[0].mean, n.targets[0].std), (2.0, 1.0));
    }
}
