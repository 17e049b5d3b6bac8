//! Errors in physical units: MAE and RMSE per target (and for force components), with the ratio to
//! chemical accuracy for QM9 targets.

use crate::dataset::TargetInfo;
use crate::progress::human_error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Errors of one quantity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorStats {
    /// Mean absolute error.
    pub mae: f64,
    /// Root-mean-square error.
    pub rmse: f64,
    /// Unit of both.
    pub unit: String,
    /// MAE divided by chemical accuracy (QM9 targets).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chemical_accuracy_ratio: Option<f64>,
}

/// Loss and errors over one split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean loss per structure (the training loss's definition); NaN (and not written) when not
    /// computed.
    #[serde(skip_serializing_if = "is_nan", default = "not_computed")]
    pub loss: f64,
    /// Errors per target name.
    pub targets: BTreeMap<String, ErrorStats>,
    /// Force-component errors, when the dataset has forces.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub forces: Option<ErrorStats>,
    /// Stress-component (Voigt) errors, when training on stress.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stress: Option<ErrorStats>,
    /// Number of structures.
    pub structures: usize,
}

fn not_computed() -> f64 {
    f64::NAN
}

fn is_nan(x: &f64) -> bool {
    x.is_nan()
}

impl Metrics {
    /// One line per target (MAE, RMSE, chemical-accuracy ratio; meV for energies) and one for
    /// forces, for people.
    pub fn report_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .targets
            .iter()
            .map(|(name, e)| {
                let ratio =
                    e.chemical_accuracy_ratio.map_or(String::new(), |r| format!("  chemical-accuracy ratio {r:.2}"));
                format!("  {name}: MAE {}  RMSE {}{ratio}", human_error(e.mae, &e.unit), human_error(e.rmse, &e.unit))
            })
            .collect();
        for (name, e) in [("forces", &self.forces), ("stress", &self.stress)] {
            if let Some(f) = e {
                out.push(format!("  {name}: MAE {:.4} {}  RMSE {:.4} {}", f.mae, f.unit, f.rmse, f.unit));
            }
        }
        out
    }
}

/// Accumulates predictions batch by batch.
#[derive(Clone, Debug, Default)]
pub struct Accumulator {
    abs: Vec<f64>,
    sq: Vec<f64>,
    structures: usize,
    loss: f64,
    force_abs: f64,
    force_sq: f64,
    force_components: usize,
    stress_abs: f64,
    stress_sq: f64,
    stress_components: usize,
    /// `(predicted, true)` of the first target for every structure seen, in order.
    pub pairs: Vec<(f64, f64)>,
}

impl Accumulator {
    /// Adds a batch: predictions and targets row by row (`[structures][targets]`), the batch's mean
    /// loss, and optionally flattened predicted and reference force components.
    pub fn add(&mut self, predicted: &[Vec<f64>], actual: &[Vec<f64>], loss: f64, forces: Option<(&[f64], &[f64])>) {
        for (p, a) in predicted.iter().zip(actual) {
            if self.abs.is_empty() {
                (self.abs, self.sq) = (vec![0.0; p.len()], vec![0.0; p.len()]);
            }
            for (k, (p, a)) in p.iter().zip(a).enumerate() {
                self.abs[k] += (p - a).abs();
                self.sq[k] += (p - a).powi(2);
            }
            if let (Some(p), Some(a)) = (p.first(), a.first()) {
                self.pairs.push((*p, *a));
            }
        }
        self.loss += loss * predicted.len() as f64;
        self.structures += predicted.len();
        if let Some((p, a)) = forces {
            for (p, a) in p.iter().zip(a) {
                self.force_abs += (p - a).abs();
                self.force_sq += (p - a).powi(2);
            }
            self.force_components += p.len();
        }
    }

    /// Adds a batch's flattened predicted and reference stress components.
    pub fn add_stress(&mut self, predicted: &[f64], actual: &[f64]) {
        for (p, a) in predicted.iter().zip(actual) {
            self.stress_abs += (p - a).abs();
            self.stress_sq += (p - a).powi(2);
        }
        self.stress_components += predicted.len();
    }

    /// The metrics of everything added.
    pub fn finish(&self, targets: &[TargetInfo]) -> Metrics {
        let n = self.structures.max(1) as f64;
        let stats = |abs: f64, sq: f64, n: f64, unit: String, accuracy: Option<f64>| ErrorStats {
            mae: abs / n,
            rmse: (sq / n).sqrt(),
            unit,
            chemical_accuracy_ratio: accuracy.map(|c| abs / n / c),
        };
        Metrics {
            loss: self.loss / n,
            targets: targets
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let (abs, sq) = (self.abs.get(k).copied().unwrap_or(0.0), self.sq.get(k).copied().unwrap_or(0.0));
                    (t.name.clone(), stats(abs, sq, n, t.unit.clone(), t.chemical_accuracy))
                })
                .collect(),
            forces: (self.force_components > 0).then(|| {
                let unit = format!("{}/Å", targets.first().map_or("eV", |t| t.unit.as_str()));
                stats(self.force_abs, self.force_sq, self.force_components as f64, unit, None)
            }),
            stress: (self.stress_components > 0).then(|| {
                let unit = format!("{}/Å³", targets.first().map_or("eV", |t| t.unit.as_str()));
                stats(self.stress_abs, self.stress_sq, self.stress_components as f64, unit, None)
            }),
            structures: self.structures,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chem_graph::qm9::Qm9Target;

    #[test]
    fn mae_rmse_and_chemical_accuracy() {
        let mut acc = Accumulator::default();
        acc.add(&[vec![1.0], vec![2.0]], &[vec![1.1], vec![1.7]], 0.5, None);
        acc.add(&[vec![0.0]], &[vec![0.0]], 2.0, Some((&[1.0, 2.0], &[1.5, 2.0])));
        let m = acc.finish(&[TargetInfo::qm9(Qm9Target::U0)]);
        let u0 = &m.targets["U0"];
        assert!((u0.mae - 0.4 / 3.0).abs() < 1e-12);
        assert!((u0.rmse - (0.1f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((u0.chemical_accuracy_ratio.unwrap() - 0.4 / 3.0 / 0.043).abs() < 1e-12);
        assert!((m.loss - 1.0).abs() < 1e-12);
        assert_eq!(m.forces.unwrap().mae, 0.25);
        assert!(m.stress.is_none());
        acc.add_stress(&[1.0, -1.0], &[0.5, -1.0]);
        assert_eq!(acc.finish(&[TargetInfo::qm9(Qm9Target::U0)]).stress.unwrap().mae, 0.25);
        assert_eq!(acc.pairs.len(), 3);
    }
}
