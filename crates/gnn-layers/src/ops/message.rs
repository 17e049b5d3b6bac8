//! Fused message passing with element-wise edge weights: `out[i] = Σ_{j→i} x[j] ⊙ w[j→i]`, the
//! inner loop of continuous-filter convolutions (SchNet's CFConv), without materialising the
//! `[edges, features]` gathered rows in the forward pass.

use super::index::SegmentIndex;
use super::kernels::{self, contiguous, with_float};
use super::scatter::{check, gather, scatter_sum};
use candle_core::{CpuStorage, CustomOp2, Error, Layout, Result, Shape, Tensor, WithDType};

/// `out[i] = Σ_{e : target[e] = i} x[source[e]] ⊙ w[e]` for node rows `x` (`[nodes, …]`) and edge
/// rows `w` (`[edges, …]`, same trailing shape); the result has `target.num_segments()` rows.
///
/// Equal to `scatter_sum(gather(x, source) * w, target)` to rounding, and differentiable to any
/// order in both `x` and `w`.
pub fn gather_mul_scatter(x: &Tensor, w: &Tensor, source: &SegmentIndex, target: &SegmentIndex) -> Result<Tensor> {
    const OP: &str = "gather_mul_scatter";
    check(x, source.num_segments(), source, OP, "x")?;
    check(w, target.len(), target, OP, "w")?;
    if source.len() != target.len() || x.dims()[1..] != w.dims()[1..] || x.dtype() != w.dtype() {
        return Err(Error::Msg(format!(
            "{OP}: x {:?} {:?} and w {:?} {:?} do not match over {} source and {} target indices",
            x.dims(),
            x.dtype(),
            w.dims(),
            w.dtype(),
            source.len(),
            target.len()
        )));
    }
    if x.device().is_cpu() {
        x.contiguous()?.apply_op2(&w.contiguous()?, GatherMulScatter { source: source.clone(), target: target.clone() })
    } else {
        scatter_sum(&gather(x, source)?.mul(w)?, target)
    }
}

struct GatherMulScatter {
    source: SegmentIndex,
    target: SegmentIndex,
}

impl CustomOp2 for GatherMulScatter {
    fn name(&self) -> &'static str {
        "chemgnn-gather-mul-scatter"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, ws: &CpuStorage, wl: &Layout) -> Result<(CpuStorage, Shape)> {
        let row_len: usize = xl.dims()[1..].iter().product();
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let w = contiguous::<T>(ws, wl, self.name())?;
            T::to_cpu_storage_owned(kernels::gather_mul_scatter(x, w, &self.source, &self.target, row_len))
        });
        let mut dims = xl.dims().to_vec();
        dims[0] = self.target.num_segments();
        Ok((out, dims.into()))
    }

    /// `∂x[j] = Σ_{source[e] = j} g[target[e]] ⊙ w[e]` (the same op with the roles of the indices
    /// swapped) and `∂w[e] = x[source[e]] ⊙ g[target[e]]`.
    fn bwd(&self, x: &Tensor, w: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_x = gather_mul_scatter(grad, w, &self.target, &self.source)?;
        let grad_w = gather(x, &self.source)?.mul(&gather(grad, &self.target)?)?;
        Ok((Some(grad_x), Some(grad_w)))
    }
}
