//! `nn.LayerNorm` and `nn.BatchNorm1d`, composed from differentiable ops (Candle's fused
//! `layer_norm` silently drops gradients).

use super::init::{ONES, ZEROS};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use std::sync::atomic::{AtomicBool, Ordering};

/// PyTorch's default `eps` for both norms.
pub const NORM_EPS: f64 = 1e-5;

/// `nn.LayerNorm(dim)` over the last dimension: parameters `weight`, `bias`.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Builds the layer (scale 1, shift 0).
    pub fn new(dim: usize, eps: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self { weight: vb.get_with_hints(dim, "weight", ONES)?, bias: vb.get_with_hints(dim, "bias", ZEROS)?, eps })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        crate::ops::standardize_rows(x, self.eps)?.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

/// `nn.BatchNorm1d(features)` on `[rows, features]`: parameters `weight`, `bias`; buffers
/// `running_mean`, `running_var` (PyTorch's `num_batches_tracked` is not needed with a fixed
/// momentum and is ignored).
///
/// In training mode it normalises with the batch statistics (biased variance) and updates the
/// running statistics (`momentum` 0.1, unbiased variance) — as PyTorch; in evaluation mode it uses
/// the running statistics.
#[derive(Debug)]
pub struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    momentum: f64,
    eps: f64,
    training: AtomicBool,
}

impl BatchNorm {
    /// Builds the layer in training mode.
    pub fn new(features: usize, eps: f64, momentum: f64, vb: VarBuilder) -> Result<Self> {
        let buffer = |name: &str, init| vb.get_with_hints(features, name, init);
        Ok(Self {
            weight: vb.get_with_hints(features, "weight", ONES)?,
            bias: vb.get_with_hints(features, "bias", ZEROS)?,
            running_mean: buffer("running_mean", ZEROS)?,
            running_var: buffer("running_var", ONES)?,
            momentum,
            eps,
            training: AtomicBool::new(true),
        })
    }

    /// Switches between training (batch statistics) and evaluation (running statistics).
    pub fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    /// The running mean and variance.
    pub fn running_stats(&self) -> (&Tensor, &Tensor) {
        (&self.running_mean, &self.running_var)
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (mean, var) = if self.training.load(Ordering::Relaxed) {
            let rows = x.dim(0)?;
            let mean = x.mean(0)?;
            let var = x.broadcast_sub(&mean)?.sqr()?.mean(0)?;
            let unbiased = var.affine(rows as f64 / (rows.max(2) - 1) as f64, 0.0)?.detach();
            update_in_place(&self.running_mean, &mean.detach(), self.momentum)?;
            update_in_place(&self.running_var, &unbiased, self.momentum)?;
            (mean, var)
        } else {
            (self.running_mean.clone(), self.running_var.clone())
        };
        let normed = x.broadcast_sub(&mean)?.broadcast_div(&var.affine(1.0, self.eps)?.sqrt()?)?;
        normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

/// `buffer ← (1 − momentum)·buffer + momentum·batch`, written into the buffer's storage so that the
/// variable map it came from (and so checkpoints) sees the update.
fn update_in_place(buffer: &Tensor, batch: &Tensor, momentum: f64) -> Result<()> {
    let updated = buffer.affine(1.0 - momentum, 0.0)?.add(&batch.to_dtype(buffer.dtype())?.affine(momentum, 0.0)?)?;
    buffer.slice_set(&updated.detach(), 0, 0)
}
