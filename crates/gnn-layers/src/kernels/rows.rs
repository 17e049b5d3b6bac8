//! Row-wise ops on `[rows, …]` tensors: scaling `x[r] · s[r]` and row dots `x[r] · y[r]` (each the
//! other's derivative) and deterministic column sums: the ops behind [`ops::scale_rows`],
//! [`ops::row_dot`] and [`ops::column_sums`].

use super::{contiguous, with_float, Real, PARALLEL_MIN_ELEMENTS};
use crate::ops;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

pub(crate) struct ScaleRows;
pub(crate) struct RowDot;

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
        let grad_x = x.track_op().then(|| ops::scale_rows(grad, s)).transpose()?;
        let grad_s = s.track_op().then(|| ops::row_dot(grad, x)).transpose()?;
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
        let grad_x = x.track_op().then(|| ops::scale_rows(y, grad)).transpose()?;
        let grad_y = y.track_op().then(|| ops::scale_rows(x, grad)).transpose()?;
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

/// Rows per block of [`ops::column_sums`]: fixed (not tied to the thread count), so the summation
/// order and the result are the same on any number of threads.
const SUM_BLOCK_ROWS: usize = 256;

pub(crate) struct ColumnSums;

impl CustomOp1 for ColumnSums {
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
