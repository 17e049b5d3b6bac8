//! Softmax over segments (attention over a node's incoming edges, Set2Set over a graph's nodes).

use super::index::SegmentIndex;
use super::scatter::{gather, scatter_max, scatter_sum};
use candle_core::{Result, Tensor};

/// PyG's constant added to the denominator of `torch_geometric.utils.softmax`.
pub const PYG_SOFTMAX_EPS: f64 = 1e-16;

/// `out[r] = exp(src[r] − m_s) / (Σ_{index[r'] = s} exp(src[r'] − m_s) + eps)` with `s = index[r]`
/// and `m_s` the segment maximum (taken without gradient, which leaves the result unchanged):
/// numerically stable for any magnitude. `eps = 0` gives the exact softmax;
/// [`PYG_SOFTMAX_EPS`] reproduces PyG bit for bit. Works element-wise over trailing dimensions
/// (e.g. attention heads).
pub fn segment_softmax(src: &Tensor, index: &SegmentIndex, eps: f64) -> Result<Tensor> {
    let max = scatter_max(&src.detach(), index)?;
    let exp = src.sub(&gather(&max, index)?)?.exp()?;
    let sum = scatter_sum(&exp, index)?;
    let sum = if eps == 0.0 { sum } else { sum.affine(1.0, eps)? };
    exp.div(&gather(&sum, index)?)
}
