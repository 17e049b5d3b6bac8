//! Parallel CPU kernels behind the custom ops: row gathers, segment reductions, fused
//! gather–multiply–scatter, per-row matrix–vector products and their outer-product gradients, for
//! `f32` and `f64`.
//!
//! Work is split over output rows, so every kernel is deterministic and needs no atomics; below
//! [`PARALLEL_MIN_ELEMENTS`] output elements it runs on the calling thread, because rayon's fork/join
//! costs more than the work.

use super::index::SegmentIndex;
use candle_core::{CpuStorage, Error, Layout, Result, WithDType};
use rayon::prelude::*;
use std::ops::{Add, AddAssign, Mul, MulAssign};

/// Output size (elements) from which kernels split work across rayon threads.
pub const PARALLEL_MIN_ELEMENTS: usize = 16 * 1024;

/// Whether the graph ops have kernels for `device`: always on the CPU, on CUDA GPUs with the
/// `cuda` feature; elsewhere (Metal) they are compositions of Candle's ops.
pub(crate) fn has_kernels(device: &candle_core::Device) -> bool {
    device.is_cpu() || has_cuda_kernels(device)
}

/// Whether `device` is a CUDA GPU and chemgnn's CUDA kernels are built (the `cuda` feature).
pub(crate) fn has_cuda_kernels(device: &candle_core::Device) -> bool {
    cfg!(feature = "cuda") && device.is_cuda()
}

/// The float types the kernels support.
pub(crate) trait Real:
    WithDType + Copy + Send + Sync + PartialOrd + Add<Output = Self> + Mul<Output = Self> + AddAssign + MulAssign
{
    const ZERO: Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
}

impl Real for f64 {
    const ZERO: Self = 0.0;
}

/// The contiguous data of a CPU tensor.
pub(crate) fn contiguous<'a, T: WithDType>(storage: &'a CpuStorage, layout: &Layout, op: &str) -> Result<&'a [T]> {
    let (start, end) =
        layout.contiguous_offsets().ok_or_else(|| Error::Msg(format!("{op}: the input must be contiguous")))?;
    Ok(&storage.as_slice::<T>()?[start..end])
}

/// Calls `fill(row, out_row)` for every row of `out` (rows of `row_len` elements), in parallel when
/// the output is large enough.
pub(crate) fn for_each_row<T: Real>(out: &mut [T], row_len: usize, fill: impl Fn(usize, &mut [T]) + Sync + Send) {
    if row_len == 0 {
        return;
    }
    if out.len() < PARALLEL_MIN_ELEMENTS {
        out.chunks_mut(row_len).enumerate().for_each(|(r, row)| fill(r, row));
    } else {
        let rows_per_task = (PARALLEL_MIN_ELEMENTS / 4 / row_len).max(1);
        out.par_chunks_mut(row_len * rows_per_task).enumerate().for_each(|(task, rows)| {
            for (k, row) in rows.chunks_mut(row_len).enumerate() {
                fill(task * rows_per_task + k, row);
            }
        });
    }
}

#[inline]
fn add_into<T: Real>(acc: &mut [T], row: &[T]) {
    acc.iter_mut().zip(row).for_each(|(a, &b)| *a += b);
}

/// `out[e] = x[index[e]]` (rows of `row_len`).
pub(crate) fn gather<T: Real>(x: &[T], index: &[u32], row_len: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; index.len() * row_len];
    for_each_row(&mut out, row_len, |e, row| {
        let s = index[e] as usize * row_len;
        row.copy_from_slice(&x[s..s + row_len]);
    });
    out
}

/// `out[s] = Σ_{index[r] = s} src[r]`, summed in row order.
pub(crate) fn scatter_sum<T: Real>(src: &[T], index: &SegmentIndex, row_len: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; index.num_segments() * row_len];
    for_each_row(&mut out, row_len, |s, acc| {
        for r in index.rows(s) {
            add_into(acc, &src[r * row_len..(r + 1) * row_len]);
        }
    });
    out
}

/// `out[s] = max (or min) over {src[r] : index[r] = s}`, element-wise; 0 for empty segments.
/// NaN propagates, as in PyTorch.
pub(crate) fn scatter_extremum<T: Real>(src: &[T], index: &SegmentIndex, row_len: usize, max: bool) -> Vec<T> {
    let mut out = vec![T::ZERO; index.num_segments() * row_len];
    for_each_row(&mut out, row_len, |s, acc| {
        let mut rows = index.rows(s);
        let Some(first) = rows.next() else { return };
        acc.copy_from_slice(&src[first * row_len..(first + 1) * row_len]);
        for r in rows {
            for (a, &v) in acc.iter_mut().zip(&src[r * row_len..(r + 1) * row_len]) {
                let better = if max { v > *a } else { v < *a };
                if better || v.to_f64().is_nan() {
                    *a = v;
                }
            }
        }
    });
    out
}

/// `out[i] = Σ_{dst[e] = i} x[src[e]] ⊙ w[k(e)]` with `k(e) = w_index[e]` (or `e`): a gather, an
/// element-wise product with per-row weights and a segment sum, without materialising the gathered
/// rows.
pub(crate) fn gather_mul_scatter<T: Real>(
    x: &[T],
    w: &[T],
    src: &SegmentIndex,
    dst: &SegmentIndex,
    w_index: Option<&SegmentIndex>,
    row_len: usize,
) -> Vec<T> {
    let mut out = vec![T::ZERO; dst.num_segments() * row_len];
    let source = src.values();
    let w_rows = w_index.map(SegmentIndex::values);
    for_each_row(&mut out, row_len, |i, acc| {
        for e in dst.rows(i) {
            let (j, k) = (source[e] as usize, w_rows.map_or(e, |rows| rows[e] as usize));
            let (xj, wk) = (&x[j * row_len..(j + 1) * row_len], &w[k * row_len..(k + 1) * row_len]);
            acc.iter_mut().zip(xj.iter().zip(wk)).for_each(|(a, (&xv, &wv))| *a += xv * wv);
        }
    });
    out
}

/// `out[s] = Σ_{out_index[e] = s} a[a_index[e]] ⊙ b[b_index[e]]`, or without `out_index` one row per
/// `e`: the weight gradient of [`gather_mul_scatter`] in one pass.
pub(crate) fn edge_products<T: Real>(
    a: &[T],
    b: &[T],
    a_index: &SegmentIndex,
    b_index: &SegmentIndex,
    out_index: Option<&SegmentIndex>,
    row_len: usize,
) -> Vec<T> {
    let rows = out_index.map_or(a_index.len(), SegmentIndex::num_segments);
    let mut out = vec![T::ZERO; rows * row_len];
    let (ai, bi) = (a_index.values(), b_index.values());
    let add = |acc: &mut [T], e: usize| {
        let (j, i) = (ai[e] as usize, bi[e] as usize);
        let (aj, bi) = (&a[j * row_len..(j + 1) * row_len], &b[i * row_len..(i + 1) * row_len]);
        acc.iter_mut().zip(aj.iter().zip(bi)).for_each(|(o, (&av, &bv))| *o += av * bv);
    };
    match out_index {
        Some(index) => for_each_row(&mut out, row_len, |s, acc| index.rows(s).for_each(|e| add(acc, e))),
        None => for_each_row(&mut out, row_len, |e, acc| add(acc, e)),
    }
    out
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
pub(crate) fn row_matvec<T: Real>(
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
/// one outer product per row: the matrix gradient of [`row_matvec`].
pub(crate) fn outer_products<T: Real>(
    a: &[T],
    b: &[T],
    index: Option<&SegmentIndex>,
    a_len: usize,
    b_len: usize,
) -> Vec<T> {
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

/// Runs `$body` with `$t` bound to `f32` or `f64` according to the dtype of the CPU storage
/// `$storage`; other dtypes are an error naming `$op`.
macro_rules! with_float {
    ($storage:expr, $op:expr, |$t:ident| $body:expr) => {
        match candle_core::backend::BackendStorage::dtype($storage) {
            candle_core::DType::F32 => {
                type $t = f32;
                $body
            }
            candle_core::DType::F64 => {
                type $t = f64;
                $body
            }
            other => {
                return Err(candle_core::Error::Msg(format!(
                    "{}: unsupported dtype {other:?} (expected f32 or f64)",
                    $op
                )))
            }
        }
    };
}
pub(crate) use with_float;
