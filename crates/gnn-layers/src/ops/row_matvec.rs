//! Per-row matrix–vector products: `out[e] = x[e] · W[e]` with one matrix per row, the message of
//! an edge-conditioned convolution (PyG's `NNConv`), computed without a batched matmul of tiny
//! matrices.

use super::kernels::{self, contiguous, with_float};
use candle_core::{CpuStorage, CustomOp2, Error, Layout, Result, Shape, Tensor, WithDType};

/// `out[e] = x[e] · W[e]` for `x: [rows, inputs]` and `weights: [rows, inputs · outputs]` holding
/// row-major `[inputs, outputs]` matrices (PyG's `weight.view(-1, in, out)`); returns
/// `[rows, outputs]`. Differentiable to any order in both arguments.
pub fn row_matvec(x: &Tensor, weights: &Tensor, inputs: usize, outputs: usize) -> Result<Tensor> {
    apply(x, weights, inputs, outputs, false)
}

/// `out[e] = W[e] · y[e]` for `y: [rows, outputs]` (the transpose of [`row_matvec`]); returns
/// `[rows, inputs]`.
pub fn row_matvec_transposed(y: &Tensor, weights: &Tensor, inputs: usize, outputs: usize) -> Result<Tensor> {
    apply(y, weights, inputs, outputs, true)
}

fn apply(x: &Tensor, weights: &Tensor, inputs: usize, outputs: usize, transpose: bool) -> Result<Tensor> {
    let x_len = if transpose { outputs } else { inputs };
    let (rows, width) = weights.dims2()?;
    if x.dims() != [rows, x_len] || width != inputs * outputs || x.dtype() != weights.dtype() {
        return Err(Error::Msg(format!(
            "row_matvec: x {:?} {:?} and weights {:?} {:?} do not fit {inputs}×{outputs} matrices",
            x.dims(),
            x.dtype(),
            weights.dims(),
            weights.dtype()
        )));
    }
    if x.device().is_cpu() {
        x.contiguous()?.apply_op2(&weights.contiguous()?, RowMatVec { inputs, outputs, transpose })
    } else {
        let w = weights.reshape((rows, inputs, outputs))?;
        if transpose {
            w.matmul(&x.unsqueeze(2)?)?.squeeze(2)
        } else {
            x.unsqueeze(1)?.matmul(&w)?.squeeze(1)
        }
    }
}

struct RowMatVec {
    inputs: usize,
    outputs: usize,
    transpose: bool,
}

impl CustomOp2 for RowMatVec {
    fn name(&self) -> &'static str {
        "chemgnn-row-matvec"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ws: &CpuStorage, wl: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let w = contiguous::<T>(ws, wl, self.name())?;
            T::to_cpu_storage_owned(kernels::row_matvec(x, w, self.inputs, self.outputs, self.transpose))
        });
        let width = if self.transpose { self.inputs } else { self.outputs };
        Ok((out, (xl.dims()[0], width).into()))
    }

    /// `∂x = Wᵀ·g` (the transposed product) and `∂W = x ⊗ g` (outer products per row).
    fn bwd(&self, x: &Tensor, w: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (i, o) = (self.inputs, self.outputs);
        let grad_x = apply(grad, w, i, o, !self.transpose)?;
        let (a, b) = if self.transpose { (grad, x) } else { (x, grad) };
        let rows = x.dim(0)?;
        let grad_w = a.unsqueeze(2)?.broadcast_mul(&b.unsqueeze(1)?)?.reshape((rows, i * o))?;
        Ok((Some(grad_x), Some(grad_w)))
    }
}
