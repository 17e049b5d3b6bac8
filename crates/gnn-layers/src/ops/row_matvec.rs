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
use super::scatter::scatter_sum;
use crate::kernels::has_kernels;
use crate::kernels::row_matvec::{OuterProducts, RowMatVec};
use candle_core::{Error, Result, Tensor};

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

/// `x · M[m(e)]` (or the transposed product), checked: every public product and the backward
/// passes go through it.
pub(crate) fn apply(
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
