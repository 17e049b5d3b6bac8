//! Activation functions, with PyTorch's numerics (softplus switches to the identity above 20) and
//! gradients that can be differentiated again.

use candle_core::{CpuStorage, CustomOp1, Layout, Module, Result, Shape, Tensor, WithDType};

/// `ln 2` rounded to `f32`, the shift PyG's `ShiftedSoftplus` uses (`torch.log(torch.tensor(2.0)).item()`).
pub const PYG_SSP_SHIFT: f64 = 0.693_147_182_464_599_6;

/// Above this, PyTorch's `softplus` returns its input.
pub const SOFTPLUS_THRESHOLD: f64 = 20.0;

/// An element-wise activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `softplus(x) − ln 2` (schnetpack, `math.log(2.0)`).
    ShiftedSoftplus,
    /// `softplus(x) − ln 2` with `ln 2` rounded to `f32`, as PyG's `ShiftedSoftplus`.
    ShiftedSoftplusPyg,
    /// `ln(1 + eˣ)`, the identity above 20 (`torch.nn.functional.softplus`).
    Softplus,
    /// `x·σ(x)`.
    Silu,
    /// `max(x, 0)`.
    Relu,
    /// `tanh x`.
    Tanh,
    /// `σ(x)`.
    Sigmoid,
    /// `x`.
    Identity,
}

impl Activation {
    /// Applies the activation (a fused, vectorised kernel on the CPU; see
    /// [`bias_activation`](super::bias_activation)).
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        super::bias_activation(x, None, self)
    }

    /// Applies the activation with Candle's element-wise ops.
    pub(crate) fn apply_unfused(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::ShiftedSoftplus => softplus(x)?.affine(1.0, -std::f64::consts::LN_2),
            Activation::ShiftedSoftplusPyg => softplus(x)?.affine(1.0, -PYG_SSP_SHIFT),
            Activation::Softplus => softplus(x),
            Activation::Silu => x.silu(),
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => candle_nn::ops::sigmoid(x),
            Activation::Identity => Ok(x.clone()),
        }
    }
}

impl Module for Activation {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x)
    }
}

/// `softplus(x) = ln(1 + eˣ)` computed with `ln_1p` like PyTorch, and `x` above
/// [`SOFTPLUS_THRESHOLD`]; its derivative (`σ(x)`, or 1 above the threshold) is differentiable.
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype().is_float() {
        x.contiguous()?.apply_op1(Softplus)
    } else {
        let above = x.gt(SOFTPLUS_THRESHOLD)?;
        above.where_cond(x, &x.exp()?.affine(1.0, 1.0)?.log()?)
    }
}

/// Derivative of [`softplus`]: `σ(x)`, and 1 above the threshold.
fn softplus_derivative(x: &Tensor) -> Result<Tensor> {
    let above = x.gt(SOFTPLUS_THRESHOLD)?;
    above.where_cond(&x.ones_like()?, &candle_nn::ops::sigmoid(x)?)
}

struct Softplus;

/// `ln(1 + eˣ)` as `max(x, 0) + log1p(e^−|x|)`, with log1p by Goldberg's `y·ln(u)/(u − 1)`, `u = 1 + y`
/// (a few ulps, and several times faster than libm's `log1pf`).
fn softplus_f32(x: f32) -> f32 {
    let y = (-x.abs()).exp();
    let u = 1.0 + y;
    let log1p = if u == 1.0 { y } else { u.ln() * (y / (u - 1.0)) };
    x.max(0.0) + log1p
}

impl CustomOp1 for Softplus {
    fn name(&self) -> &'static str {
        "chemgnn-softplus"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        // f32 is computed in f32, as PyTorch does (and 3× faster than going through f64).
        if let CpuStorage::F32(_) = storage {
            let x = crate::ops::contiguous::<f32>(storage, layout, self.name())?;
            let out = x.iter().map(|&v| softplus_f32(v)).collect();
            return Ok((CpuStorage::F32(out), layout.shape().clone()));
        }
        fn map<T: WithDType>(x: &[T]) -> Vec<T> {
            x.iter()
                .map(|&v| {
                    let v = v.to_f64();
                    T::from_f64(if v > SOFTPLUS_THRESHOLD { v } else { v.exp().ln_1p() })
                })
                .collect()
        }
        let out = crate::ops::with_float!(storage, self.name(), |T| {
            T::to_cpu_storage_owned(map(crate::ops::contiguous::<T>(storage, layout, self.name())?))
        });
        Ok((out, layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        grad.mul(&softplus_derivative(x)?).map(Some)
    }
}

#[cfg(test)]
mod softplus_tests {
    use super::softplus_f32;

    #[test]
    fn fast_f32_softplus_is_accurate_over_the_whole_range() {
        for i in -4000..=4000 {
            let x = i as f32 * 0.01;
            let exact = (x as f64).exp().ln_1p();
            let err = (softplus_f32(x) as f64 - exact).abs() / exact.max(1e-30);
            assert!(err < 4.0 * f32::EPSILON as f64, "x = {x}: {} vs {exact} ({err:e})", softplus_f32(x));
        }
    }
}
