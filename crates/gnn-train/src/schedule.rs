//! Learning-rate schedules: constant, `ReduceLROnPlateau`, cosine and linear decay, each with an
//! optional linear warm-up. Decays and warm-up advance per step; the plateau rule per epoch.

use crate::config::{ScheduleConfig, ScheduleKind};
use serde::{Deserialize, Serialize};

/// The part of a schedule that changes during training (saved for exact resumption).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// Current plateau learning rate (before warm-up).
    pub plateau_lr: f64,
    /// Best validation loss seen by the plateau rule.
    pub best: Option<f64>,
    /// Epochs since it improved.
    pub bad_epochs: usize,
}

/// A learning-rate schedule over `total_steps` steps.
#[derive(Clone, Debug)]
pub struct Schedule {
    config: ScheduleConfig,
    base_lr: f64,
    warmup_steps: f64,
    total_steps: u64,
    /// The mutable part.
    pub state: ScheduleState,
}

impl Schedule {
    /// A schedule peaking at `base_lr`, for `epochs` epochs of `steps_per_epoch` steps.
    pub fn new(config: &ScheduleConfig, base_lr: f64, steps_per_epoch: usize, epochs: usize) -> Self {
        Self {
            config: config.clone(),
            base_lr,
            warmup_steps: config.warmup_epochs * steps_per_epoch as f64,
            total_steps: (steps_per_epoch * epochs) as u64,
            state: ScheduleState { plateau_lr: base_lr, best: None, bad_epochs: 0 },
        }
    }

    /// The learning rate of step `step` (0-based).
    pub fn lr(&self, step: u64) -> f64 {
        let warmup = if self.warmup_steps > 0.0 { ((step + 1) as f64 / self.warmup_steps).min(1.0) } else { 1.0 };
        let progress = (step as f64 / self.total_steps.max(1) as f64).min(1.0);
        let (base, min) = (self.base_lr, self.config.min_lr);
        let lr = match self.config.kind {
            ScheduleKind::Constant => base,
            ScheduleKind::Plateau => self.state.plateau_lr,
            ScheduleKind::Cosine => min + (base - min) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
            ScheduleKind::Linear => base + (min - base) * progress,
        };
        warmup * lr
    }

    /// Ends an epoch with validation loss `val_loss`: PyTorch's `ReduceLROnPlateau` (mode `min`,
    /// relative threshold, no cooldown) for the plateau schedule. Returns whether the rate dropped.
    pub fn end_epoch(&mut self, val_loss: f64) -> bool {
        if self.config.kind != ScheduleKind::Plateau {
            return false;
        }
        let s = &mut self.state;
        if s.best.is_none_or(|best| val_loss < best * (1.0 - self.config.threshold)) {
            (s.best, s.bad_epochs) = (Some(val_loss), 0);
        } else {
            s.bad_epochs += 1;
        }
        if s.bad_epochs > self.config.patience {
            s.bad_epochs = 0;
            let reduced = (s.plateau_lr * self.config.factor).max(self.config.min_lr);
            if s.plateau_lr - reduced > 1e-8 {
                s.plateau_lr = reduced;
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(kind: ScheduleKind, warmup_epochs: f64) -> ScheduleConfig {
        ScheduleConfig { kind, warmup_epochs, min_lr: 0.1, ..Default::default() }
    }

    #[test]
    fn warmup_then_decay() {
        let cos = Schedule::new(&config(ScheduleKind::Cosine, 1.0), 1.0, 10, 10);
        assert!((cos.lr(0) - 0.1 * cos_at(0.0)).abs() < 1e-12);
        assert!((cos.lr(9) - cos_at(0.09)).abs() < 1e-12);
        assert!((cos.lr(50) - 0.55).abs() < 1e-12);
        assert!((cos.lr(100) - 0.1).abs() < 1e-12);
        let lin = Schedule::new(&config(ScheduleKind::Linear, 0.0), 1.0, 10, 10);
        assert!((lin.lr(50) - 0.55).abs() < 1e-12);
        fn cos_at(p: f64) -> f64 {
            0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
        }
    }

    /// The learning rates torch 2.15's `ReduceLROnPlateau(opt, factor=0.5, patience=2, min_lr=0.1)`
    /// printed for these losses, starting at lr = 1.
    #[test]
    fn plateau_follows_pytorch() {
        let mut s = Schedule::new(
            &ScheduleConfig {
                kind: ScheduleKind::Plateau,
                warmup_epochs: 0.0,
                patience: 2,
                factor: 0.5,
                min_lr: 0.1,
                ..Default::default()
            },
            1.0,
            1,
            1,
        );
        let losses = [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99];
        let lrs: Vec<f64> = losses
            .iter()
            .map(|&l| {
                s.end_epoch(l);
                s.lr(0)
            })
            .collect();
        assert_eq!(lrs, vec![1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125]);
    }
}
