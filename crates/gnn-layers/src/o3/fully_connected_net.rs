//! e3nn's `FullyConnectedNet`: dense layers without biases, weights `layer{i}.weight` of shape
//! `[h_in, h_out]` (not `nn.Linear`'s transpose), initialised `N(0, 1)`, scaled by `1/√h_in` in the
//! forward pass, with normalised activations between layers (none after the last).

use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::normalized_activation::normalized;
use crate::nn::Activation;
use crate::ops::dense;

/// A bias-free MLP with e3nn's parameterisation (module docs).
#[derive(Clone, Debug)]
pub struct FullyConnectedNet {
    weights: Vec<Tensor>,
    activation: Option<Activation>,
}

impl FullyConnectedNet {
    /// Widths `hs = [in, hidden…, out]`; `activation` between layers (`None`: a linear map).
    pub fn new(hs: &[usize], activation: Option<Activation>, vb: VarBuilder) -> Result<Self> {
        if hs.len() < 2 {
            candle_core::bail!("FullyConnectedNet needs at least an input and an output width, got {hs:?}");
        }
        let init = Init::Randn { mean: 0.0, stdev: 1.0 };
        let weights = hs
            .windows(2)
            .enumerate()
            .map(|(i, w)| vb.get_with_hints((w[0], w[1]), &format!("layer{i}.weight"), init))
            .collect::<Result<_>>()?;
        Ok(Self { weights, activation })
    }

    /// Whether a parameter is a variable (gradients with respect to the weights are wanted).
    pub(crate) fn trains(&self) -> bool {
        self.weights.iter().any(|w| w.track_op())
    }

    /// `[…, in] → […, out]`. Each layer is one [`dense`] product (gemm on the rayon pool) with
    /// the 1/√in scale folded into the (small) weight matrix.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let last = self.weights.len() - 1;
        let mut dims = x.dims().to_vec();
        let inputs = dims.pop().unwrap_or(1);
        let mut h = x.reshape((x.elem_count() / inputs.max(1), inputs))?;
        for (i, w) in self.weights.iter().enumerate() {
            let h_in = w.dim(0)? as f64;
            h = dense(&h, &w.t()?.affine(1.0 / h_in.sqrt(), 0.0)?, None)?;
            if let (Some(act), true) = (self.activation, i < last) {
                h = normalized(act, &h)?;
            }
        }
        dims.push(h.dim(1)?);
        h.reshape(dims)
    }
}
