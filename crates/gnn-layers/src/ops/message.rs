//! Fused message passing with element-wise edge weights: `out[i] = Σ_{j→i} x[j] ⊙ w[j→i]`, the
//! inner loop of continuous-filter convolutions (SchNet's CFConv), without materialising the
//! `[edges, features]` gathered rows, forward or backward.
//!
//! The weights may be shared between edges through an index (`w[k(e)]`): SchNet's filter depends
//! only on the distance, so both directions of a pair can use one row (see
//! [`EdgePairs`](crate::EdgePairs)). The two ops here, [`gather_mul_scatter_indexed`] and
//! [`edge_products`], are each other's derivatives, so the pair is closed under differentiation:
//! gradients of any order stay on these kernels.

use super::index::SegmentIndex;
use super::scatter::{check, gather, scatter_sum};
use crate::kernels::has_kernels;
use crate::kernels::message::{EdgeProducts, GatherMulScatter};
use candle_core::{Error, Result, Tensor};

/// `out[i] = Σ_{e : target[e] = i} x[source[e]] ⊙ w[e]` for node rows `x` (`[nodes, …]`) and edge
/// rows `w` (`[edges, …]`, same trailing shape); the result has `target.num_segments()` rows.
///
/// Equal to `scatter_sum(gather(x, source) * w, target)` to rounding, and differentiable to any
/// order in both `x` and `w`.
pub fn gather_mul_scatter(x: &Tensor, w: &Tensor, source: &SegmentIndex, target: &SegmentIndex) -> Result<Tensor> {
    apply_gms(x, w, source, target, None)
}

/// [`gather_mul_scatter`] with weight rows shared between edges: `out[i] = Σ_{target[e] = i}
/// x[source[e]] ⊙ w[w_index[e]]`, where `w` has `w_index.num_segments()` rows.
pub fn gather_mul_scatter_indexed(
    x: &Tensor,
    w: &Tensor,
    source: &SegmentIndex,
    target: &SegmentIndex,
    w_index: &SegmentIndex,
) -> Result<Tensor> {
    apply_gms(x, w, source, target, Some(w_index))
}

/// `out[s] = Σ_{e : out_index[e] = s} a[a_index[e]] ⊙ b[b_index[e]]` (`[out_index.num_segments(), …]`),
/// or without `out_index` the per-edge products `a[a_index[e]] ⊙ b[b_index[e]]` (`[edges, …]`).
/// Differentiable to any order in `a` and `b`.
pub fn edge_products(
    a: &Tensor,
    b: &Tensor,
    a_index: &SegmentIndex,
    b_index: &SegmentIndex,
    out_index: Option<&SegmentIndex>,
) -> Result<Tensor> {
    const OP: &str = "edge_products";
    check(a, a_index.num_segments(), a_index, OP, "a")?;
    check(b, b_index.num_segments(), b_index, OP, "b")?;
    let edges = a_index.len();
    if b_index.len() != edges || out_index.is_some_and(|o| o.len() != edges) || a.dims()[1..] != b.dims()[1..] {
        return Err(Error::Msg(format!("{OP}: a {:?} and b {:?} or the indices do not match", a.dims(), b.dims())));
    }
    if has_kernels(a.device()) {
        let op = EdgeProducts { a_index: a_index.clone(), b_index: b_index.clone(), out_index: out_index.cloned() };
        a.contiguous()?.apply_op2(&b.contiguous()?, op)
    } else {
        let products = gather(a, a_index)?.mul(&gather(b, b_index)?)?;
        match out_index {
            Some(index) => scatter_sum(&products, index),
            None => Ok(products),
        }
    }
}

/// [`gather_mul_scatter`] with optional shared weight rows (the backward passes use both forms).
pub(crate) fn apply_gms(
    x: &Tensor,
    w: &Tensor,
    source: &SegmentIndex,
    target: &SegmentIndex,
    w_index: Option<&SegmentIndex>,
) -> Result<Tensor> {
    const OP: &str = "gather_mul_scatter";
    check(x, source.num_segments(), source, OP, "x")?;
    let w_rows = w_index.map_or(target.len(), SegmentIndex::num_segments);
    check(w, w_rows, target, OP, "w")?;
    let edges = target.len();
    if source.len() != edges
        || w_index.is_some_and(|k| k.len() != edges)
        || x.dims()[1..] != w.dims()[1..]
        || x.dtype() != w.dtype()
    {
        return Err(Error::Msg(format!(
            "{OP}: x {:?} {:?} and w {:?} {:?} do not match over {} source and {edges} target indices",
            x.dims(),
            x.dtype(),
            w.dims(),
            w.dtype(),
            source.len(),
        )));
    }
    if has_kernels(x.device()) {
        let op = GatherMulScatter { source: source.clone(), target: target.clone(), w_index: w_index.cloned() };
        x.contiguous()?.apply_op2(&w.contiguous()?, op)
    } else {
        let w = match w_index {
            Some(index) => gather(w, index)?,
            None => w.clone(),
        };
        scatter_sum(&gather(x, source)?.mul(&w)?, target)
    }
}
