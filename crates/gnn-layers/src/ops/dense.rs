//! `y = x·Wᵀ + b` (PyTorch's `nn.Linear`) as one call into gemm with the bias folded into the
//! product (the output starts as the bias rows and gemm accumulates into it), instead of a matmul
//! followed by a broadcast add; and a backward pass that only computes the gradients some input
//! needs (forces through a frozen model skip the weight gradients, a third of the work).

use crate::kernels::dense::Linear;
use candle_core::{DType, Error, Result, Tensor};

/// `x·Wᵀ + b` for `x [rows, in]`, `weight [out, in]`, `bias [out]`; differentiable to any order.
pub fn dense(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (_, inputs) = x.dims2()?;
    let (outputs, weight_inputs) = weight.dims2()?;
    if inputs != weight_inputs || bias.is_some_and(|b| b.dims() != [outputs]) {
        return Err(Error::Msg(format!(
            "dense: x {:?}, weight {:?} and bias {:?} do not fit",
            x.dims(),
            weight.dims(),
            bias.map(|b| b.dims().to_vec())
        )));
    }
    if !x.device().is_cpu() || !matches!(x.dtype(), DType::F32 | DType::F64) {
        let y = x.matmul(&weight.t()?)?;
        return match bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        };
    }
    let bias = match bias {
        Some(b) => b.contiguous()?,
        None => Tensor::zeros(outputs, x.dtype(), x.device())?,
    };
    x.contiguous()?.apply_op3(&weight.contiguous()?, &bias, Linear)
}
