//! The kernels room: every Candle custom op of the crate (`CustomOp1/2/3`, `InplaceOp3`) with its
//! CPU loops and, with the `cuda` feature, its CUDA launch (`cuda.rs`, `kernels/graph_ops.cu`). The
//! public, checked entry points are functions in [`ops`](crate::ops) (and the layers of
//! [`nn`](crate::nn) and [`o3`](crate::o3) built on them); nothing here is public.
//!
//! One file per family: [`segment`] (gather, segment sum/max/min), [`message`] (fused
//! gather–multiply–scatter), [`row_matvec`] (per-row matrix products), [`rows`] (row scaling, row
//! dots, column sums), [`dense`] (`x·Wᵀ + b` through gemm), [`bias_activation`] (fused bias +
//! activation), [`summed_messages`] (a GN edge MLP summed at the receiver), [`gaussian_rbf`],
//! [`spherical_harmonics`], [`standardize`] (layer-norm rows), [`tensor_product`] (with [`dense_paths`]) and [`optim`] (the fused Adam
//! step); [`pointwise`] holds the vectorised scalar math they share.
//!
//! Work is split over output rows, so every kernel is deterministic and needs no atomics; below
//! [`PARALLEL_MIN_ELEMENTS`] output elements it runs on the calling thread, because rayon's fork/join
//! costs more than the work. Backward passes are written with the public ops, so gradients can be
//! differentiated again where the family says so.

pub(crate) mod bias_activation;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
pub(crate) mod dense;
mod dense_paths;
pub(crate) mod gaussian_rbf;
pub(crate) mod message;
pub(crate) mod optim;
pub(crate) mod pointwise;
pub(crate) mod row_matvec;
pub(crate) mod rows;
pub(crate) mod segment;
pub(crate) mod spherical_harmonics;
pub(crate) mod standardize;
pub(crate) mod summed_messages;
pub(crate) mod tensor_product;

use candle_core::{CpuStorage, Error, Layout, Result, Shape, WithDType};
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

/// Elements per row (all dimensions after the first).
pub(crate) fn row_len(layout: &Layout) -> usize {
    layout.dims()[1..].iter().product()
}

/// The layout's shape with `rows` rows.
pub(crate) fn with_rows(layout: &Layout, rows: usize) -> Shape {
    let mut dims = layout.dims().to_vec();
    dims[0] = rows;
    Shape::from(dims)
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
