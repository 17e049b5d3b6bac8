//! Gather rows by index and reduce rows into segments (sum, max, min): the ops behind
//! [`ops::gather`] and [`ops::scatter`]. Gather and sum are each other's backward, so they can be
//! differentiated any number of times.

use super::{contiguous, for_each_row, row_len, with_float, with_rows, Real};
use crate::ops::{self, SegmentIndex};
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, WithDType};

pub(crate) struct Gather {
    pub(crate) index: SegmentIndex,
}

impl CustomOp1 for Gather {
    fn name(&self) -> &'static str {
        "chemgnn-gather"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(storage, self.name(), |T| {
            let x = contiguous::<T>(storage, layout, self.name())?;
            T::to_cpu_storage_owned(gather_rows(x, self.index.values(), row_len(layout)))
        });
        Ok((out, with_rows(layout, self.index.len())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let out = super::cuda::gather(storage, layout, &self.index, row_len(layout))?;
        Ok((out, with_rows(layout, self.index.len())))
    }

    fn bwd(&self, _x: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        ops::scatter_sum(grad, &self.index).map(Some)
    }
}

pub(crate) struct ScatterSum {
    pub(crate) index: SegmentIndex,
}

impl CustomOp1 for ScatterSum {
    fn name(&self) -> &'static str {
        "chemgnn-scatter-sum"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(storage, self.name(), |T| {
            let src = contiguous::<T>(storage, layout, self.name())?;
            T::to_cpu_storage_owned(sum_rows(src, &self.index, row_len(layout)))
        });
        Ok((out, with_rows(layout, self.index.num_segments())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let out = super::cuda::segment_reduce(storage, layout, &self.index, row_len(layout), None)?;
        Ok((out, with_rows(layout, self.index.num_segments())))
    }

    fn bwd(&self, _src: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        ops::gather(grad, &self.index).map(Some)
    }
}

pub(crate) struct ScatterExtremum {
    pub(crate) index: SegmentIndex,
    pub(crate) max: bool,
}

impl CustomOp1 for ScatterExtremum {
    fn name(&self) -> &'static str {
        if self.max {
            "chemgnn-scatter-max"
        } else {
            "chemgnn-scatter-min"
        }
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(storage, self.name(), |T| {
            let src = contiguous::<T>(storage, layout, self.name())?;
            T::to_cpu_storage_owned(extremum_rows(src, &self.index, row_len(layout), self.max))
        });
        Ok((out, with_rows(layout, self.index.num_segments())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let out = super::cuda::segment_reduce(storage, layout, &self.index, row_len(layout), Some(self.max))?;
        Ok((out, with_rows(layout, self.index.num_segments())))
    }

    /// The gradient of a segment goes to the rows equal to its extremum, split equally among ties.
    fn bwd(&self, src: &Tensor, out: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let hits = ops::gather(&out.detach(), &self.index)?.eq(&src.detach())?.to_dtype(src.dtype())?;
        let ties = ops::scatter_sum(&hits, &self.index)?.maximum(1.0)?;
        ops::gather(&grad.div(&ties)?, &self.index)?.mul(&hits).map(Some)
    }
}

#[inline]
fn add_into<T: Real>(acc: &mut [T], row: &[T]) {
    acc.iter_mut().zip(row).for_each(|(a, &b)| *a += b);
}

/// `out[e] = x[index[e]]` (rows of `row_len`).
fn gather_rows<T: Real>(x: &[T], index: &[u32], row_len: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; index.len() * row_len];
    for_each_row(&mut out, row_len, |e, row| {
        let s = index[e] as usize * row_len;
        row.copy_from_slice(&x[s..s + row_len]);
    });
    out
}

/// `out[s] = Σ_{index[r] = s} src[r]`, summed in row order.
fn sum_rows<T: Real>(src: &[T], index: &SegmentIndex, row_len: usize) -> Vec<T> {
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
fn extremum_rows<T: Real>(src: &[T], index: &SegmentIndex, row_len: usize, max: bool) -> Vec<T> {
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
