//! Per-row matrix–vector products: `out[e] = x[e] · W[m(e)]` with one matrix per row (`m(e) = e`,
//! the message of an edge-conditioned convolution, PyG's `NNConv`) or matrices shared through an
//! index (`m(e) = index[e]`, e.g. one matrix per source node in the factorised `NNConv`), computed
//! without a batched matmul of tiny matrices.
//!
//! Three ops close the family under differentiation: the product [`row_matvec_indexed`], its
//! transpose [`row_matvec_indexed_transposed`] and the matrix gradient [`outer_products`]
//! (`Σ_{index[e] = s} a[e] ⊗ b[e]`). The backward of each is written with the others, so
//! gradients of any order stay on these kernels.

use super::index::SegmentIndex;
use super::kernels::{self, contiguous, has_kernels, with_float};
use super::scatter::scatter_sum;
use candle_core::{CpuStorage, CustomOp2, Error, Layout, Result, Shape, Tensor, WithDType};

/// `out[e] = x[e] · W[e]` for `x: [rows, inputs]` and `weights: [rows, inputs · outputs]` holding
/// row-major `[inputs, outputs]` matrices (PyG's `weight.view(-1, in, out)`); returns
/// `[rows, outputs]`. Differentiable to any order in both arguments.
pub fn row_matvec(x: &Tensor, weights: &Tensor, inputs: usize, outputs: usize) -> Result<Tensor> {
    apply(x, weights, None, inputs, outputs, false)
}

/// `out[e] = W[e] · y[e]` for `y: [rows, outputs]` (the transpose of [`row_matvec`]); returns
/// `[rows, inputs]`.
pub fn row_matvec_transposed(y: &Tensor, weights: &Tensor, inputs: usize, outputs: usize) -> Result<Tensor> {
    apply(y, weights, None, inputs, outputs, true)
}

/// `out[e] = x[e] · M[index[e]]` for `x: [index.len(), inputs]` and `matrices:
/// [index.num_segments(), inputs · outputs]` (row-major `[inputs, outputs]`); returns
/// `[index.len(), outputs]`. Differentiable to any order in both arguments.
pub fn row_matvec_indexed(
    x: &Tensor,
    matrices: &Tensor,
    index: &SegmentIndex,
    inputs: usize,
    outputs: usize,
) -> Result<Tensor> {
    apply(x, matrices, Some(index), inputs, outputs, false)
}

/// `out[e] = M[index[e]] · y[e]` for `y: [index.len(), outputs]` (the transpose of
/// [`row_matvec_indexed`]); returns `[index.len(), inputs]`.
pub fn row_matvec_indexed_transposed(
    y: &Tensor,
    matrices: &Tensor,
    index: &SegmentIndex,
    inputs: usize,
    outputs: usize,
) -> Result<Tensor> {
    apply(y, matrices, Some(index), inputs, outputs, true)
}

/// `out[s] = Σ_{index[e] = s} a[e] ⊗ b[e]` for `a: [rows, inputs]` and `b: [rows, outputs]`, as
/// `[index.num_segments(), inputs · outputs]` (row-major `[inputs, outputs]` blocks); without an
/// index, the outer product of every row (`[rows, inputs · outputs]`). The matrix gradient of
/// [`row_matvec`] and [`row_matvec_indexed`]; differentiable to any order in both arguments.
pub fn outer_products(a: &Tensor, b: &Tensor, index: Option<&SegmentIndex>) -> Result<Tensor> {
    let ((rows, inputs), (b_rows, outputs)) = (a.dims2()?, b.dims2()?);
    if b_rows != rows || index.is_some_and(|i| i.len() != rows) || a.dtype() != b.dtype() {
        return Err(Error::Msg(format!(
            "outer_products: a {:?} {:?} and b {:?} {:?} do not match (index of {:?} rows)",
            a.dims(),
            a.dtype(),
            b.dims(),
            b.dtype(),
            index.map(SegmentIndex::len)
        )));
    }
    if has_kernels(a.device()) {
        a.contiguous()?.apply_op2(&b.contiguous()?, OuterProducts { index: index.cloned() })
    } else {
        let products = a.unsqueeze(2)?.broadcast_mul(&b.unsqueeze(1)?)?.reshape((rows, inputs * outputs))?;
        match index {
            Some(index) => scatter_sum(&products, index),
            None => Ok(products),
        }
    }
}

fn apply(
    x: &Tensor,
    weights: &Tensor,
    index: Option<&SegmentIndex>,
    inputs: usize,
    outputs: usize,
    transpose: bool,
) -> Result<Tensor> {
    let x_len = if transpose { outputs } else { inputs };
    let rows = x.dims().first().copied().unwrap_or(0);
    let (matrices, width) = weights.dims2()?;
    let index_fits = index.map_or(matrices == rows, |i| i.len() == rows && i.num_segments() == matrices);
    if x.dims() != [rows, x_len] || width != inputs * outputs || !index_fits || x.dtype() != weights.dtype() {
        return Err(Error::Msg(format!(
            "row_matvec: x {:?} {:?} and weights {:?} {:?} do not fit {inputs}×{outputs} matrices (index of {:?} rows)",
            x.dims(),
            x.dtype(),
            weights.dims(),
            weights.dtype(),
            index.map(SegmentIndex::len)
        )));
    }
    if has_kernels(x.device()) {
        let op = RowMatVec { index: index.cloned(), inputs, outputs, transpose };
        x.contiguous()?.apply_op2(&weights.contiguous()?, op)
    } else {
        let w = match index {
            Some(index) => weights.index_select(index.tensor(), 0)?,
            None => weights.clone(),
        };
        let w = w.reshape((rows, inputs, outputs))?;
        if transpose {
            w.matmul(&x.unsqueeze(2)?)?.squeeze(2)
        } else {
            x.unsqueeze(1)?.matmul(&w)?.squeeze(1)
        }
    }
}

struct RowMatVec {
    index: Option<SegmentIndex>,
    inputs: usize,
    outputs: usize,
    transpose: bool,
}

impl RowMatVec {
    /// Length of an output row.
    fn width(&self) -> usize {
        if self.transpose {
            self.inputs
        } else {
            self.outputs
        }
    }
}

impl CustomOp2 for RowMatVec {
    fn name(&self) -> &'static str {
        "chemgnn-row-matvec"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ws: &CpuStorage, wl: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let w = contiguous::<T>(ws, wl, self.name())?;
            let index = self.index.as_ref();
            T::to_cpu_storage_owned(kernels::row_matvec(x, w, index, self.inputs, self.outputs, self.transpose))
        });
        Ok((out, (xl.dims()[0], self.width()).into()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        xs: &candle_core::CudaStorage,
        xl: &Layout,
        ws: &candle_core::CudaStorage,
        wl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (index, inputs, outputs) = (self.index.as_ref(), self.inputs, self.outputs);
        let out = super::cuda::row_matvec(xs, xl, ws, wl, index, inputs, outputs, self.transpose)?;
        Ok((out, (xl.dims()[0], self.width()).into()))
    }

    /// `∂x = Mᵀ·g` (the transposed product) and `∂M = Σ x ⊗ g` ([`outer_products`]; `g ⊗ y` for the
    /// transposed product).
    fn bwd(&self, x: &Tensor, w: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let index = self.index.as_ref();
        let grad_x =
            x.track_op().then(|| apply(grad, w, index, self.inputs, self.outputs, !self.transpose)).transpose()?;
        let (a, b) = if self.transpose { (grad, x) } else { (x, grad) };
        let grad_w = w.track_op().then(|| outer_products(a, b, index)).transpose()?;
        Ok((grad_x, grad_w))
    }
}

struct OuterProducts {
    index: Option<SegmentIndex>,
}

impl OuterProducts {
    /// `[segments of the index (or rows of a), block]`.
    fn shape(&self, al: &Layout, block: usize) -> Shape {
        (self.index.as_ref().map_or(al.dims()[0], SegmentIndex::num_segments), block).into()
    }
}

impl CustomOp2 for OuterProducts {
    fn name(&self) -> &'static str {
        "chemgnn-outer-products"
    }

    fn cpu_fwd(&self, as_: &CpuStorage, al: &Layout, bs: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        let (inputs, outputs) = (al.dims()[1], bl.dims()[1]);
        let out = with_float!(as_, self.name(), |T| {
            let a = contiguous::<T>(as_, al, self.name())?;
            let b = contiguous::<T>(bs, bl, self.name())?;
            T::to_cpu_storage_owned(kernels::outer_products(a, b, self.index.as_ref(), inputs, outputs))
        });
        Ok((out, self.shape(al, inputs * outputs)))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        as_: &candle_core::CudaStorage,
        al: &Layout,
        bs: &candle_core::CudaStorage,
        bl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (inputs, outputs) = (al.dims()[1], bl.dims()[1]);
        let out = super::cuda::outer_products(as_, al, bs, bl, self.index.as_ref())?;
        Ok((out, self.shape(al, inputs * outputs)))
    }

    /// `∂a[e] = G[index[e]] · b[e]` (the transposed product) and `∂b[e] = a[e] · G[index[e]]`.
    fn bwd(&self, a: &Tensor, b: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (index, inputs, outputs) = (self.index.as_ref(), a.dim(1)?, b.dim(1)?);
        let grad_a = a.track_op().then(|| apply(b, grad, index, inputs, outputs, true)).transpose()?;
        let grad_b = b.track_op().then(|| apply(a, grad, index, inputs, outputs, false)).transpose()?;
        Ok((grad_a, grad_b))
    }
}
