//! Gather rows by index and reduce rows into segments (sum, mean, max, min), with backward passes
//! that are themselves differentiable: gather and sum are each other's derivative, so they can be
//! differentiated any number of times (forces, then a loss on forces).

use super::index::SegmentIndex;
use crate::kernels::has_kernels;
use crate::kernels::segment::{Gather, ScatterExtremum, ScatterSum};
use candle_core::{DType, Error, Result, Tensor};

/// How rows are combined into a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduce {
    /// Sum of the rows (0 for an empty segment).
    Sum,
    /// Mean of the rows (0 for an empty segment).
    Mean,
    /// Element-wise maximum (0 for an empty segment).
    Max,
    /// Element-wise minimum (0 for an empty segment).
    Min,
}

impl std::str::FromStr for Reduce {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "sum" | "add" => Ok(Reduce::Sum),
            "mean" => Ok(Reduce::Mean),
            "max" => Ok(Reduce::Max),
            "min" => Ok(Reduce::Min),
            other => Err(Error::Msg(format!("unknown reduction '{other}' (expected sum, mean, max or min)"))),
        }
    }
}

/// Reduces the rows of `src` (`[len, …]`) into `[num_segments, …]` with `reduce`.
pub fn scatter(src: &Tensor, index: &SegmentIndex, reduce: Reduce) -> Result<Tensor> {
    match reduce {
        Reduce::Sum => scatter_sum(src, index),
        Reduce::Mean => scatter_mean(src, index),
        Reduce::Max => scatter_max(src, index),
        Reduce::Min => scatter_min(src, index),
    }
}

/// `out[e] = x[index[e]]`: rows of `x` (`[num_segments, …]`) gathered to `[len, …]` (e.g. node
/// features to the edges' source nodes).
pub fn gather(x: &Tensor, index: &SegmentIndex) -> Result<Tensor> {
    check(x, index.num_segments(), index, "gather", "x")?;
    if has_kernels(x.device()) {
        x.contiguous()?.apply_op1(Gather { index: index.clone() })
    } else {
        x.index_select(index.tensor(), 0)
    }
}

/// `out[s] = Σ_{index[r] = s} src[r]`: rows of `src` (`[len, …]`) summed into `[num_segments, …]`.
pub fn scatter_sum(src: &Tensor, index: &SegmentIndex) -> Result<Tensor> {
    check(src, index.len(), index, "scatter_sum", "src")?;
    if has_kernels(src.device()) {
        src.contiguous()?.apply_op1(ScatterSum { index: index.clone() })
    } else {
        let mut dims = src.dims().to_vec();
        dims[0] = index.num_segments();
        Tensor::zeros(dims, src.dtype(), src.device())?.index_add(index.tensor(), src, 0)
    }
}

/// Mean of the rows of each segment (0 for an empty segment).
pub fn scatter_mean(src: &Tensor, index: &SegmentIndex) -> Result<Tensor> {
    let sum = scatter_sum(src, index)?;
    sum.broadcast_div(&segment_sizes(index, src.dtype(), src.rank())?)
}

/// Element-wise maximum of the rows of each segment (0 for an empty segment). The gradient goes to
/// the rows holding the maximum, shared equally between ties (as `torch.scatter_reduce`).
pub fn scatter_max(src: &Tensor, index: &SegmentIndex) -> Result<Tensor> {
    scatter_extremum(src, index, true)
}

/// Element-wise minimum of the rows of each segment (0 for an empty segment); gradients as
/// [`scatter_max`].
pub fn scatter_min(src: &Tensor, index: &SegmentIndex) -> Result<Tensor> {
    scatter_extremum(src, index, false)
}

/// Rows per segment, at least 1, shaped `[num_segments, 1, …]` to broadcast against `rank`-D rows.
pub fn segment_sizes(index: &SegmentIndex, dtype: DType, rank: usize) -> Result<Tensor> {
    let counts: Vec<f64> = index.counts().into_iter().map(|c| c.max(1) as f64).collect();
    let mut dims = vec![1usize; rank.max(1)];
    dims[0] = index.num_segments();
    Tensor::from_vec(counts, dims, index.device())?.to_dtype(dtype)
}

fn scatter_extremum(src: &Tensor, index: &SegmentIndex, max: bool) -> Result<Tensor> {
    let op = if max { "scatter_max" } else { "scatter_min" };
    check(src, index.len(), index, op, "src")?;
    if !has_kernels(src.device()) {
        return Err(Error::Msg(format!("{op} is implemented on the CPU and CUDA GPUs only")));
    }
    src.contiguous()?.apply_op1(ScatterExtremum { index: index.clone(), max })
}

/// Checks that `t` has `rows` rows, a float dtype and the index's device.
pub(crate) fn check(t: &Tensor, rows: usize, index: &SegmentIndex, op: &str, name: &str) -> Result<()> {
    if t.rank() == 0 || t.dim(0)? != rows {
        return Err(Error::Msg(format!("{op}: {name} has shape {:?}, expected {rows} rows", t.dims())));
    }
    if !t.device().same_device(index.device()) {
        return Err(Error::Msg(format!("{op}: {name} and the index are on different devices")));
    }
    if !t.dtype().is_float() {
        return Err(Error::Msg(format!("{op}: {name} has dtype {:?}, expected a float", t.dtype())));
    }
    Ok(())
}
