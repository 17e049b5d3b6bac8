//! Graph operations on Candle tensors: gather rows by index, reduce rows into segments, segment
//! softmax, fused message passing and per-row matrix products.
//!
//! Each op is a custom op with a parallel, deterministic CPU kernel and, with the `cuda` feature, a
//! CUDA kernel (`kernels/graph_ops.cu`: segment reductions over rows grouped by segment, no
//! atomics, the CPU's summation order); its backward is written with these same ops, so gradients
//! can be differentiated again. On other devices (Metal) the ops are compositions of Candle's
//! `index_select`/`index_add`. Candle's `scatter_add` is never used: its backward is
//! wrong whenever the source has more rows than the target.

#[cfg(feature = "cuda")]
mod cuda;
mod dense;
mod index;
mod kernels;
mod message;
mod optim;
pub(crate) mod pointwise;
mod row_matvec;
mod rows;
mod scatter;
mod softmax;

pub use dense::{dense, PARALLEL_MIN_FLOPS};
pub(crate) use dense::{gemm_add, Matrix};
pub use index::SegmentIndex;
pub use kernels::PARALLEL_MIN_ELEMENTS;
pub(crate) use kernels::{contiguous, for_each_row, has_cuda_kernels, with_float, Real};
pub use message::{edge_products, gather_mul_scatter, gather_mul_scatter_indexed};
pub use optim::{adam_step_in_place, fused_adam_available, sum_of_squares, AdamStep};
pub use row_matvec::{
    outer_products, row_matvec, row_matvec_indexed, row_matvec_indexed_transposed, row_matvec_transposed,
};
pub use rows::{column_sums, row_dot, scale_rows};
pub use scatter::{gather, scatter, scatter_max, scatter_mean, scatter_min, scatter_sum, segment_sizes, Reduce};
pub use softmax::{segment_softmax, PYG_SOFTMAX_EPS};
