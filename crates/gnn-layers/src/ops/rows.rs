//! Row-wise kernels on `[rows, …]` tensors: scaling `out[r] = x[r] · s[r]` and its companion, dot
//! products `out[r] = x[r] · y[r]` (each is the other's derivative, so a per-edge factor such as a
//! cutoff multiplies `[edges, features]` rows in one pass, forward and backward, to any order), and
//! deterministic parallel column sums (bias gradients).

use super::kernels::{contiguous, with_float, Real, PARALLEL_MIN_ELEMENTS};
use candle_core::{CpuStorage, CustomOp2, Error, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

/// `out[r, …] = x[r, …] · s[r]` for `x [rows, …]` and `s [rows]`.
pub fn scale_rows(x: &Tensor, s: &Tensor) -> Result<Tensor> {
    check(x, s, "scale_rows")?;
    if !x.device().is_cpu() {
        let mut dims = vec![1; x.rank()];
        dims[0] = s.dim(0)?;
        return x.broadcast_mul(&s.reshape(dims)?);
    }
    x.contiguous()?.apply_op2(&s.contiguous()?, ScaleRows)
}

/// `out[r] = Σ_c x[r, c] · y[r, c]` for `x, y [rows, …]`.
pub fn row_dot(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    if x.dims() != y.dims() || x.rank() == 0 || x.dtype() != y.dtype() {
        return Err(Error::Msg(format!("row_dot: x {:?} and y {:?} differ", x.dims(), y.dims())));
    }
    if !x.device().is_cpu() {
        return x.mul(y)?.flatten_from(1)?.sum(1);
    }
    x.contiguous()?.apply_op2(&y.contiguous()?, RowDot)
}

fn check(x: &Tensor, s: &Tensor, op: &str) -> Result<()> {
    if x.rank() == 0 || s.dims() != [x.dim(0)?] || x.dtype() != s.dtype() {
        return Err(Error::Msg(format!("{op}: x {:?} and s {:?} do not fit", x.dims(), s.dims())));
    }
    Ok(())
}

struct ScaleRows;
struct RowDot;

impl CustomOp2 for ScaleRows {
    fn name(&self) -> &'static str {
        "chemgnn-scale-rows"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ss: &CpuStorage, sl: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let s = contiguous::<T>(ss, sl, self.name())?;
            T::to_cpu_storage_owned(scale(x, s))
        });
        Ok((out, xl.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, s: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_x = x.track_op().then(|| scale_rows(grad, s)).transpose()?;
        let grad_s = s.track_op().then(|| row_dot(grad, x)).transpose()?;
        Ok((grad_x, grad_s))
    }
}

impl CustomOp2 for RowDot {
    fn name(&self) -> &'static str {
        "chemgnn-row-dot"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ys: &CpuStorage, yl: &Layout) -> Result<(CpuStorage, Shape)> {
        let rows = xl.dims()[0];
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let y = contiguous::<T>(ys, yl, self.name())?;
            T::to_cpu_storage_owned(dot(x, y, rows))
        });
        Ok((out, rows.into()))
    }

    fn bwd(&self, x: &Tensor, y: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_x = x.track_op().then(|| scale_rows(y, grad)).transpose()?;
        let grad_y = y.track_op().then(|| scale_rows(x, grad)).transpose()?;
        Ok((grad_x, grad_y))
    }
}

fn scale<T: Real>(x: &[T], s: &[T]) -> Vec<T> {
    let width = x.len().checked_div(s.len()).unwrap_or(0);
    let mut out = vec![T::ZERO; x.len()];
    if width == 0 {
        return out;
    }
    let fill = |(r, (o, xr)): (usize, (&mut [T], &[T]))| o.iter_mut().zip(xr).for_each(|(o, &v)| *o = v * s[r]);
    if x.len() < PARALLEL_MIN_ELEMENTS {
        out.chunks_mut(width).zip(x.chunks(width)).enumerate().for_each(fill);
    } else {
        out.par_chunks_mut(width).zip(x.par_chunks(width)).enumerate().for_each(fill);
    }
    out
}

fn dot<T: Real>(x: &[T], y: &[T], rows: usize) -> Vec<T> {
    let width = x.len().checked_div(rows).unwrap_or(0);
    if width == 0 {
        return vec![T::ZERO; rows];
    }
    let row = |(a, b): (&[T], &[T])| a.iter().zip(b).fold(T::ZERO, |acc, (&u, &v)| acc + u * v);
    if x.len() < PARALLEL_MIN_ELEMENTS {
        x.chunks(width).zip(y.chunks(width)).map(row).collect()
    } else {
        x.par_chunks(width).zip(y.par_chunks(width)).map(row).collect()
    }
}

/// Rows per block of [`column_sums`]: fixed (not tied to the thread count), so the summation
/// order and the result are the same on any number of threads.
const SUM_BLOCK_ROWS: usize = 256;

/// `out[c] = Σ_r x[r, c]` for `x [rows, columns]` (the gradient of a bias): blocks of rows summed in
/// parallel, then the block sums in order. Differentiable to any order.
pub fn column_sums(x: &Tensor) -> Result<Tensor> {
    x.dims2()?;
    if !x.device().is_cpu() {
        return x.sum(0);
    }
    x.contiguous()?.apply_op1(ColumnSums)
}

struct ColumnSums;

impl candle_core::CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "chemgnn-column-sums"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let columns = xl.dims()[1];
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            T::to_cpu_storage_owned(sum_columns(x, columns))
        });
        Ok((out, columns.into()))
    }

    fn bwd(&self, x: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        grad.unsqueeze(0)?.broadcast_as(x.shape())?.contiguous().map(Some)
    }
}

fn sum_columns<T: Real>(x: &[T], columns: usize) -> Vec<T> {
    if columns == 0 {
        return vec![];
    }
    let block = |rows: &[T]| {
        let mut acc = vec![T::ZERO; columns];
        for row in rows.chunks_exact(columns) {
            acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
        }
        acc
    };
    let blocks: Vec<Vec<T>> = if x.len() < PARALLEL_MIN_ELEMENTS {
        x.chunks(SUM_BLOCK_ROWS * columns).map(block).collect()
    } else {
        x.par_chunks(SUM_BLOCK_ROWS * columns).map(block).collect()
    };
    let mut out = vec![T::ZERO; columns];
    for b in &blocks {
        out.iter_mut().zip(b).for_each(|(o, &v)| *o += v);
    }
    out
}
