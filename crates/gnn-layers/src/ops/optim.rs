//! Optimiser kernels for CUDA GPUs: one Adam/AdamW step as a single in-place kernel per parameter
//! instead of a dozen element-wise ops (each a launch and an allocation), and the sum of squares
//! of all gradients in one launch: what keeps small-batch GPU training from being bound by the
//! host. The CPU keeps the optimiser's composed ops (bit-exact PyTorch order).

use crate::kernels::optim::FusedAdam;
use candle_core::{Device, Error, Result, Tensor};

/// The scalars of one step, as PyTorch's `Adam`/`AdamW` compute them for step `t`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// `lr / (1 − β1ᵗ)`.
    pub step_size: f64,
    /// `1 / √(1 − β2ᵗ)`.
    pub inv_sqrt_bias2: f64,
    /// ε.
    pub eps: f64,
    /// L2 weight decay added to the gradient (`Adam`'s `weight_decay`; 0 for none).
    pub l2: f64,
    /// Factor applied to the parameter before the step (`AdamW`: `1 − lr·weight_decay`; 1 for none).
    pub decay: f64,
}

/// Whether [`adam_step_in_place`] runs on `device` (CUDA GPUs with the `cuda` feature).
pub fn fused_adam_available(device: &Device) -> bool {
    crate::kernels::has_cuda_kernels(device)
}

/// `Σ x²` over all elements of all `tensors`, accumulated in f64 (the square of the global norm of
/// a set of gradients). On a CUDA GPU, one launch and one copy back for all tensors (each summed
/// by one block, in a fixed order: deterministic); elsewhere per-tensor ops.
pub fn sum_of_squares(tensors: &[&Tensor]) -> Result<f64> {
    #[cfg(feature = "cuda")]
    if let Some(first) = tensors.first() {
        let same = |t: &&Tensor| t.device().same_device(first.device()) && t.dtype() == first.dtype();
        if first.device().is_cuda() && tensors.iter().all(same) {
            let contiguous = tensors.iter().map(|t| t.contiguous()).collect::<Result<Vec<_>>>()?;
            return crate::kernels::cuda::sum_squares(&contiguous);
        }
    }
    let mut total = 0.0;
    for t in tensors {
        total += t.to_dtype(candle_core::DType::F64)?.sqr()?.sum_all()?.to_scalar::<f64>()?;
    }
    Ok(total)
}

/// Updates `param`, the first moment `m` and the second moment `v` in place from `grad` (all of one
/// shape, dtype and device; Candle refuses moments that share storage with the parameter, and `m`
/// and `v` must not share storage with each other or with anything else that must keep its value).
/// CUDA only: see [`fused_adam_available`].
pub fn adam_step_in_place(param: &Tensor, m: &Tensor, v: &Tensor, grad: &Tensor, step: &AdamStep) -> Result<()> {
    let shape = param.shape();
    if m.shape() != shape || v.shape() != shape || grad.shape() != shape {
        return Err(Error::Msg(format!(
            "adam_step: parameter {:?}, moments {:?} {:?} and gradient {:?} differ",
            param.dims(),
            m.dims(),
            v.dims(),
            grad.dims()
        )));
    }
    let grad = grad.contiguous()?;
    param.inplace_op3(m, v, &FusedAdam { grad, step: *step })
}
