//! Graph operations on Candle tensors: gather rows by index, reduce rows into segments, segment
//! softmax, fused message passing and per-row matrix products.
//!
//! This room holds the functional API: each function checks its arguments and dispatches to a
//! custom op of the `kernels` room (a parallel, deterministic CPU kernel and, with
//! the `cuda` feature, a CUDA kernel: `kernels/graph_ops.cu`, segment reductions over rows grouped
//! by segment, no atomics, the CPU's summation order), whose backward is written with these same
//! functions, so gradients can be differentiated again. On other devices (Metal) the ops are
//! compositions of Candle's `index_select`/`index_add`. Candle's `scatter_add` is never used: its
//! backward is wrong whenever the source has more rows than the target.

mod bias_activation;
mod dense;
mod index;
pub(crate) mod message;
mod optim;
pub(crate) mod row_matvec;
mod rows;
mod scatter;
mod softmax;
mod summed_messages;

pub use crate::kernels::dense::PARALLEL_MIN_FLOPS;
pub use crate::kernels::PARALLEL_MIN_ELEMENTS;
pub use bias_activation::bias_activation;
pub use dense::dense;
pub use index::SegmentIndex;
pub use message::{edge_products, gather_mul_scatter, gather_mul_scatter_indexed};
pub use optim::{adam_step_in_place, fused_adam_available, sum_of_squares, AdamStep};
pub use row_matvec::{
    outer_products, row_matvec, row_matvec_indexed, row_matvec_indexed_transposed, row_matvec_transposed,
};
pub use rows::{column_sums, row_dot, scale_rows, standardize_rows};
pub use scatter::{gather, scatter, scatter_max, scatter_mean, scatter_min, scatter_sum, segment_sizes, Reduce};
pub use softmax::{segment_softmax, PYG_SOFTMAX_EPS};
pub use summed_messages::{summed_mlp_messages, SplitMlp};
