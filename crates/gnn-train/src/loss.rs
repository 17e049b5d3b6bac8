//! Losses over scaled residuals `r = (prediction − target) / scale`, averaged over all entries
//! (PyTorch's `reduction='mean'`).

use crate::config::LossKind;
use candle_core::{Result, Tensor};

/// `mean(L(r))` for squared error, absolute error or Huber loss with threshold `delta`.
pub fn residual_loss(kind: LossKind, delta: f64, r: &Tensor) -> Result<Tensor> {
    match kind {
        LossKind::Mse => r.sqr()?.mean_all(),
        LossKind::Mae => r.abs()?.mean_all(),
        LossKind::Huber => {
            // |r| ≤ δ: r²/2; beyond: δ(|r| − δ/2). With q = min(|r|, δ): q²/2 + δ(|r| − q).
            let a = r.abs()?;
            let q = a.clamp(0.0, delta)?;
            (q.sqr()?.affine(0.5, 0.0)? + (a - &q)?.affine(delta, 0.0)?)?.mean_all()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Values and gradients from torch 2.15 (`mse_loss`, `l1_loss`, `huber_loss(delta=0.5)` of r
    /// against zeros).
    #[test]
    fn matches_pytorch_values_and_gradients() {
        let r = Var::from_tensor(&Tensor::new(&[-2.0f64, -0.3, 0.1, 0.7], &Device::Cpu).unwrap()).unwrap();
        for (kind, value, grad) in [
            (LossKind::Mse, 1.1475, [-1.0, -0.15, 0.05, 0.35]),
            (LossKind::Mae, 0.775, [-0.25, -0.25, 0.25, 0.25]),
            (LossKind::Huber, 0.2875, [-0.125, -0.075, 0.025, 0.125]),
        ] {
            let loss = residual_loss(kind, 0.5, r.as_tensor()).unwrap();
            assert!((loss.to_scalar::<f64>().unwrap() - value).abs() < 1e-12, "{kind:?}");
            let g = loss.backward().unwrap().get(r.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
            for (a, b) in g.iter().zip(grad) {
                assert!((a - b).abs() < 1e-12, "{kind:?}: {g:?}");
            }
        }
    }
}
