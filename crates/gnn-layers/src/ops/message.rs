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
use super::kernels::{self, contiguous, has_kernels, with_float};
use super::scatter::{check, gather, row_len, scatter_sum, with_rows};
use candle_core::{CpuStorage, CustomOp2, Error, Layout, Result, Shape, Tensor, WithDType};

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

fn apply_gms(
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

struct GatherMulScatter {
    source: SegmentIndex,
    target: SegmentIndex,
    w_index: Option<SegmentIndex>,
}

impl CustomOp2 for GatherMulScatter {
    fn name(&self) -> &'static str {
        "chemgnn-gather-mul-scatter"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ws: &CpuStorage, wl: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let w = contiguous::<T>(ws, wl, self.name())?;
            let (src, dst, k) = (&self.source, &self.target, self.w_index.as_ref());
            T::to_cpu_storage_owned(kernels::gather_mul_scatter(x, w, src, dst, k, row_len(xl)))
        });
        Ok((out, with_rows(xl, self.target.num_segments())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        xs: &candle_core::CudaStorage,
        xl: &Layout,
        ws: &candle_core::CudaStorage,
        wl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (src, dst, k) = (&self.source, &self.target, self.w_index.as_ref());
        let out = super::cuda::gather_mul_scatter(xs, xl, ws, wl, src, dst, k, row_len(xl))?;
        Ok((out, with_rows(xl, self.target.num_segments())))
    }

    /// `∂x[j] = Σ_{source[e] = j} g[target[e]] ⊙ w[k(e)]` (the same op with the roles of the indices
    /// swapped) and `∂w[k] = Σ_{k(e) = k} x[source[e]] ⊙ g[target[e]]` ([`edge_products`]).
    fn bwd(&self, x: &Tensor, w: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let k = self.w_index.as_ref();
        let grad_x = x.track_op().then(|| apply_gms(grad, w, &self.target, &self.source, k)).transpose()?;
        let grad_w = w.track_op().then(|| edge_products(x, grad, &self.source, &self.target, k)).transpose()?;
        Ok((grad_x, grad_w))
    }
}

struct EdgeProducts {
    a_index: SegmentIndex,
    b_index: SegmentIndex,
    out_index: Option<SegmentIndex>,
}

impl EdgeProducts {
    /// Output rows: one per segment of `out_index`, or one per edge.
    fn rows(&self) -> usize {
        self.out_index.as_ref().map_or(self.a_index.len(), SegmentIndex::num_segments)
    }
}

impl CustomOp2 for EdgeProducts {
    fn name(&self) -> &'static str {
        "chemgnn-edge-products"
    }

    fn cpu_fwd(&self, as_: &CpuStorage, al: &Layout, bs: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(as_, self.name(), |T| {
            let a = contiguous::<T>(as_, al, self.name())?;
            let b = contiguous::<T>(bs, bl, self.name())?;
            let (ai, bi, oi) = (&self.a_index, &self.b_index, self.out_index.as_ref());
            T::to_cpu_storage_owned(kernels::edge_products(a, b, ai, bi, oi, row_len(al)))
        });
        Ok((out, with_rows(al, self.rows())))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        as_: &candle_core::CudaStorage,
        al: &Layout,
        bs: &candle_core::CudaStorage,
        bl: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (ai, bi, oi) = (&self.a_index, &self.b_index, self.out_index.as_ref());
        let out = super::cuda::edge_products(as_, al, bs, bl, ai, bi, oi, row_len(al))?;
        Ok((out, with_rows(al, self.rows())))
    }

    /// `∂a[j] = Σ_{a_index[e] = j} b[b_index[e]] ⊙ g[out(e)]` and the same for `b`: gather–multiply–
    /// scatter with the output rows as shared weights.
    fn bwd(&self, a: &Tensor, b: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let o = self.out_index.as_ref();
        let grad_a = a.track_op().then(|| apply_gms(b, grad, &self.b_index, &self.a_index, o)).transpose()?;
        let grad_b = b.track_op().then(|| apply_gms(a, grad, &self.a_index, &self.b_index, o)).transpose()?;
        Ok((grad_a, grad_b))
    }
}
