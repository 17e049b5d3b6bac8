//! `activation(x + bias)` as one fused op (the bias of a linear layer and the activation after it).

use crate::kernels::bias_activation::{BiasActivation, Kind};
use crate::nn::Activation;
use candle_core::{Error, Result, Tensor};

/// `activation(x + bias)` with `bias` (`[C]`) broadcast over the rows of `x` (`[…, C]`); without a
/// bias, `activation(x)`. Differentiable in `x` and `bias` (up to the third derivative for the fused
/// activations; tanh and non-CPU devices use Candle's ops).
pub fn bias_activation(x: &Tensor, bias: Option<&Tensor>, activation: Activation) -> Result<Tensor> {
    let kind = Kind::of(activation)
        .filter(|_| x.device().is_cpu() && matches!(x.dtype(), candle_core::DType::F32 | candle_core::DType::F64));
    let Some(kind) = kind else {
        let z = match bias {
            Some(b) => x.broadcast_add(b)?,
            None => x.clone(),
        };
        return activation.apply_unfused(&z);
    };
    let width = x.dims().last().copied().unwrap_or(1);
    let bias = match bias {
        Some(b) if b.dims() == [width] && b.dtype() == x.dtype() => b.contiguous()?,
        Some(b) => {
            return Err(Error::Msg(format!(
                "bias_activation: bias {:?} {:?} does not fit x {:?} {:?}",
                b.dims(),
                b.dtype(),
                x.dims(),
                x.dtype()
            )))
        }
        None => Tensor::zeros(width, x.dtype(), x.device())?,
    };
    x.contiguous()?.apply_op2(&bias, BiasActivation { kind })
}
