//! Fused message passing with element-wise edge weights, `out[i] = Σ_{j→i} x[j] ⊙ w[k(j→i)]`, and
//! its weight gradient (per-edge or summed products): the ops behind [`ops::gather_mul_scatter`]
//! and [`ops::edge_products`], each the other's derivative.

use super::{contiguous, for_each_row, row_len, with_float, with_rows, Real};
use crate::ops::{self, message, SegmentIndex};
use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor, WithDType};

pub(crate) struct GatherMulScatter {
    pub(crate) source: SegmentIndex,
    pub(crate) target: SegmentIndex,
    pub(crate) w_index: Option<SegmentIndex>,
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
            T::to_cpu_storage_owned(gather_mul_scatter_rows(x, w, src, dst, k, row_len(xl)))
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
    /// swapped) and `∂w[k] = Σ_{k(e) = k} x[source[e]] ⊙ g[target[e]]` ([`ops::edge_products`]).
    fn bwd(&self, x: &Tensor, w: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let k = self.w_index.as_ref();
        let grad_x = x.track_op().then(|| message::apply_gms(grad, w, &self.target, &self.source, k)).transpose()?;
        let grad_w = w.track_op().then(|| ops::edge_products(x, grad, &self.source, &self.target, k)).transpose()?;
        Ok((grad_x, grad_w))
    }
}

pub(crate) struct EdgeProducts {
    pub(crate) a_index: SegmentIndex,
    pub(crate) b_index: SegmentIndex,
    pub(crate) out_index: Option<SegmentIndex>,
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
            T::to_cpu_storage_owned(edge_product_rows(a, b, ai, bi, oi, row_len(al)))
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
        let grad_a = a.track_op().then(|| message::apply_gms(b, grad, &self.b_index, &self.a_index, o)).transpose()?;
        let grad_b = b.track_op().then(|| message::apply_gms(a, grad, &self.a_index, &self.b_index, o)).transpose()?;
        Ok((grad_a, grad_b))
    }
}

/// `out[i] = Σ_{dst[e] = i} x[src[e]] ⊙ w[k(e)]` with `k(e) = w_index[e]` (or `e`): a gather, an
/// element-wise product with per-row weights and a segment sum, without materialising the gathered
/// rows.
fn gather_mul_scatter_rows<T: Real>(
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
/// `e`: the weight gradient of [`gather_mul_scatter_rows`] in one pass.
fn edge_product_rows<T: Real>(
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
