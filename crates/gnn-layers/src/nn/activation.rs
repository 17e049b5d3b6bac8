//! Activation functions, with PyTorch's numerics (softplus switches to the identity above 20) and
//! gradients that can be differentiated again.

use candle_core::{Module, Result, Tensor};

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
    /// [`bias_activation`](crate::ops::bias_activation)).
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        crate::ops::bias_activation(x, None, self)
    }

    /// Applies the activation with Candle's element-wise ops.
    pub(crate) fn apply_unfused(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::ShiftedSoftplus => softplus_composed(x)?.affine(1.0, -std::f64::consts::LN_2),
            Activation::ShiftedSoftplusPyg => softplus_composed(x)?.affine(1.0, -PYG_SSP_SHIFT),
            Activation::Softplus => softplus_composed(x),
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

/// `softplus(x) = ln(1 + eˣ)`, and `x` above [`SOFTPLUS_THRESHOLD`] (PyTorch's numerics): the fused
/// kernel of [`bias_activation`](crate::ops::bias_activation) on the CPU, differentiable to any order.
pub fn softplus(x: &Tensor) -> Result<Tensor> {
    Activation::Softplus.apply(x)
}

/// [`softplus`] composed from Candle's ops (other devices and dtypes).
fn softplus_composed(x: &Tensor) -> Result<Tensor> {
    let above = x.gt(SOFTPLUS_THRESHOLD)?;
    above.where_cond(x, &x.exp()?.affine(1.0, 1.0)?.log()?)
}
