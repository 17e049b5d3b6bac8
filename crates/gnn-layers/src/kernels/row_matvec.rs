//! Per-row matrix–vector products `x[e] · W[m(e)]`, their transposes and the matrix gradient
//! `Σ a[e] ⊗ b[e]`: the ops behind [`ops::row_matvec()`] and [`ops::outer_products`], each family
//! member's backward written with the others.

use super::{contiguous, for_each_row, with_float, Real};
use crate::ops::{self, row_matvec, SegmentIndex};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, WithDType};

pub(crate) struct RowMatVec {
    pub(crate) index: Option<SegmentIndex>,
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
    pub(crate) transpose: bool,
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
            T::to_cpu_storage_owned(row_matvec_rows(x, w, index, self.inputs, self.outputs, self.transpose))
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

    /// `∂x = Mᵀ·g` (the transposed product) and `∂M = Σ x ⊗ g` ([`ops::outer_products`]; `g ⊗ y` for the
    /// transposed product).
    fn bwd(&self, x: &Tensor, w: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let index = self.index.as_ref();
        let grad_x = x
            .track_op()
            .then(|| row_matvec::apply(grad, w, index, self.inputs, self.outputs, !self.transpose))
            .transpose()?;
        let (a, b) = if self.transpose { (grad, x) } else { (x, grad) };
        let grad_w = w.track_op().then(|| ops::outer_products(a, b, index)).transpose()?;
        Ok((grad_x, grad_w))
    }
}

pub(crate) struct OuterProducts {
    pub(crate) index: Option<SegmentIndex>,
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
            T::to_cpu_storage_owned(outer_product_rows(a, b, self.index.as_ref(), inputs, outputs))
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
        let grad_a = a.track_op().then(|| row_matvec::apply(b, grad, index, inputs, outputs, true)).transpose()?;
        let grad_b = b.track_op().then(|| row_matvec::apply(a, grad, index, inputs, outputs, false)).transpose()?;
        Ok((grad_a, grad_b))
    }
}

#[inline]
fn axpy<T: Real>(acc: &mut [T], a: T, x: &[T]) {
    acc.iter_mut().zip(x).for_each(|(o, &v)| *o += a * v);
}

/// `Σ a[k]·b[k]` with eight independent partial sums, so that the loop vectorises.
#[inline]
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail = ac.remainder().iter().zip(bc.remainder()).fold(T::ZERO, |s, (&x, &y)| s + x * y);
    let mut lanes = [T::ZERO; 8];
    for (ca, cb) in ac.zip(bc) {
        for ((l, &x), &y) in lanes.iter_mut().zip(ca).zip(cb) {
            *l += x * y;
        }
    }
    lanes.iter().fold(tail, |s, &l| s + l)
}

/// Per-row matrix–vector products with row-major `[inputs, outputs]` matrices `w[m(e)]`, where
/// `m(e) = index[e]` (or `e` without an index): `out[e] = x[e] · w[m(e)]` (length `outputs`), or
/// with `transpose`, `out[e] = w[m(e)] · x[e]` (length `inputs`, `x[e]` of length `outputs`).
///
/// With an unsorted index, rows are computed grouped by matrix (so that each matrix is read into
/// cache once) and then put back in order; every row is computed the same way either way.
fn row_matvec_rows<T: Real>(
    x: &[T],
    w: &[T],
    index: Option<&SegmentIndex>,
    inputs: usize,
    outputs: usize,
    transpose: bool,
) -> Vec<T> {
    let matrix = inputs * outputs;
    let (x_len, out_len) = if transpose { (outputs, inputs) } else { (inputs, outputs) };
    let rows = match index {
        Some(index) => index.len(),
        None => w.len().checked_div(matrix).unwrap_or(0),
    };
    let product = |e: usize, acc: &mut [T]| {
        let m = index.map_or(e, |index| index.values()[e] as usize);
        let (xe, we) = (&x[e * x_len..(e + 1) * x_len], &w[m * matrix..(m + 1) * matrix]);
        if transpose {
            for (a, w_row) in acc.iter_mut().zip(we.chunks_exact(outputs)) {
                *a = dot(w_row, xe);
            }
        } else {
            for (&xv, w_row) in xe.iter().zip(we.chunks_exact(outputs)) {
                axpy(acc, xv, w_row);
            }
        }
    };
    let mut out = vec![T::ZERO; rows * out_len];
    match index.and_then(SegmentIndex::grouped_order) {
        Some(order) if out_len > 0 => {
            let mut grouped = vec![T::ZERO; rows * out_len];
            for_each_row(&mut grouped, out_len, |p, acc| product(order[p] as usize, acc));
            for (&e, row) in order.iter().zip(grouped.chunks_exact(out_len)) {
                let e = e as usize;
                out[e * out_len..(e + 1) * out_len].copy_from_slice(row);
            }
        }
        _ => for_each_row(&mut out, out_len, product),
    }
    out
}

/// `out[s] = Σ_{index[e] = s} a[e] ⊗ b[e]` (row-major `[a_len, b_len]` blocks), or without an index
/// one outer product per row: the matrix gradient of [`row_matvec_rows`].
fn outer_product_rows<T: Real>(a: &[T], b: &[T], index: Option<&SegmentIndex>, a_len: usize, b_len: usize) -> Vec<T> {
    let rows = index.map_or(a.len().checked_div(a_len).unwrap_or(0), SegmentIndex::num_segments);
    let mut out = vec![T::ZERO; rows * a_len * b_len];
    let add = |acc: &mut [T], e: usize| {
        let (ae, be) = (&a[e * a_len..(e + 1) * a_len], &b[e * b_len..(e + 1) * b_len]);
        for (&av, acc_row) in ae.iter().zip(acc.chunks_exact_mut(b_len)) {
            axpy(acc_row, av, be);
        }
    };
    match index {
        Some(index) => for_each_row(&mut out, a_len * b_len, |s, acc| index.rows(s).for_each(|e| add(acc, e))),
        None => for_each_row(&mut out, a_len * b_len, |e, acc| add(acc, e)),
    }
    out
}
