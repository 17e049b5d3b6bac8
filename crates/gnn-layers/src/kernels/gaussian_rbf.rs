//! The Gaussian expansion of [`GaussianBasis`](crate::nn::GaussianBasis) `e[p, k] = exp(c_k (d_p − μ_k)²)` as one vectorised pass, with its
//! derivative in `d` (`Σ_k g[p, k] · e[p, k] · 2c_k (d_p − μ_k)`, the path forces take) as a second
//! fused kernel. Second derivatives (a loss on forces) are composed from Candle's ops.

use super::pointwise::{self, multiversion};
use super::{contiguous, for_each_row, with_float, Real};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor, WithDType};

/// `[edges, n]` Gaussians of `d [edges]` with centres `offsets [n]` and `coefficients [n]` (`c_k`).
pub(crate) fn expand(d: &Tensor, offsets: &Tensor, coefficients: &Tensor) -> Result<Tensor> {
    let basis = Basis::new(offsets, coefficients)?;
    d.contiguous()?.apply_op1(Expansion { basis })
}

/// The centres and coefficients, as tensors (for composed second derivatives) and on the host.
#[derive(Clone)]
struct Basis {
    offsets: Tensor,
    coefficients: Tensor,
    host: Vec<(f64, f64)>,
}

impl Basis {
    fn new(offsets: &Tensor, coefficients: &Tensor) -> Result<Self> {
        let mu = offsets.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let c = coefficients.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let host = mu.into_iter().zip(c).collect();
        Ok(Self { offsets: offsets.detach(), coefficients: coefficients.detach(), host })
    }

    fn len(&self) -> usize {
        self.host.len()
    }

    fn host<T: WithDType>(&self) -> (Vec<T>, Vec<T>) {
        self.host.iter().map(|&(m, c)| (T::from_f64(m), T::from_f64(c))).unzip()
    }

    /// `(e, 2c(d − μ))` as `[edges, n]` tensors, composed from Candle's ops.
    fn composed(&self, d: &Tensor) -> Result<(Tensor, Tensor)> {
        let (mu, c) = (self.offsets.to_dtype(d.dtype())?, self.coefficients.to_dtype(d.dtype())?);
        let diff = d.unsqueeze(1)?.broadcast_sub(&mu)?;
        let e = diff.sqr()?.broadcast_mul(&c)?.exp()?;
        let slope = diff.broadcast_mul(&c)?.affine(2.0, 0.0)?;
        Ok((e, slope))
    }
}

struct Expansion {
    basis: Basis,
}

/// `Σ_k g[p, k] · e[p, k] · 2c_k (d_p − μ_k)`.
struct Slope {
    basis: Basis,
}

impl CustomOp1 for Expansion {
    fn name(&self) -> &'static str {
        "chemgnn-gaussian-rbf"
    }

    fn cpu_fwd(&self, ds: &CpuStorage, dl: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(ds, self.name(), |T| {
            let d = contiguous::<T>(ds, dl, self.name())?;
            let (mu, c) = self.basis.host::<T>();
            T::to_cpu_storage_owned(rows(d, mu.len(), |p, row| T::expand(d[p], &mu, &c, row)))
        });
        Ok((out, (dl.dims()[0], self.basis.len()).into()))
    }

    fn bwd(&self, d: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        grad.contiguous()?.apply_op2(d, Slope { basis: self.basis.clone() }).map(Some)
    }
}

impl CustomOp2 for Slope {
    fn name(&self) -> &'static str {
        "chemgnn-gaussian-rbf-slope"
    }

    fn cpu_fwd(&self, gs: &CpuStorage, gl: &Layout, ds: &CpuStorage, dl: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(ds, self.name(), |T| {
            let g = contiguous::<T>(gs, gl, self.name())?;
            let d = contiguous::<T>(ds, dl, self.name())?;
            let (mu, c) = self.basis.host::<T>();
            let n = mu.len();
            T::to_cpu_storage_owned(rows(d, 1, |p, out| out[0] = T::slope(d[p], &mu, &c, &g[p * n..(p + 1) * n])))
        });
        Ok((out, dl.shape().clone()))
    }

    /// `∂/∂g = G · e · 2c(d − μ)`, `∂/∂d = G · Σ_k g · e · (2c + (2c(d − μ))²)`.
    fn bwd(&self, g: &Tensor, d: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (e, slope) = self.basis.composed(d)?;
        let grad = grad.unsqueeze(1)?;
        let grad_g = e.mul(&slope)?.broadcast_mul(&grad)?;
        let curvature = slope.sqr()?.broadcast_add(&self.basis.coefficients.to_dtype(d.dtype())?.affine(2.0, 0.0)?)?;
        let grad_d = g.mul(&e)?.mul(&curvature)?.sum(1)?.mul(&grad.squeeze(1)?)?;
        Ok((Some(grad_g), Some(grad_d)))
    }
}

/// `[d.len(), width]` rows filled by `fill(p, row)` (in parallel for large outputs).
fn rows<T: Real>(d: &[T], width: usize, fill: impl Fn(usize, &mut [T]) + Sync + Send) -> Vec<T> {
    let mut out = vec![T::ZERO; d.len() * width];
    for_each_row(&mut out, width, fill);
    out
}

/// The per-row kernels, vectorised for `f32`.
trait Gaussians: Real {
    fn expand(d: Self, mu: &[Self], c: &[Self], row: &mut [Self]);
    fn slope(d: Self, mu: &[Self], c: &[Self], g: &[Self]) -> Self;
}

multiversion! {
    fn expand_f32(d: f32, mu: &[f32], c: &[f32], row: &mut [f32]) {
        for ((o, &m), &ck) in row.iter_mut().zip(mu).zip(c) {
            let diff = d - m;
            *o = pointwise::exp(diff * diff * ck);
        }
    }
}

#[inline(always)]
fn slope_body(d: f32, mu: &[f32], c: &[f32], g: &[f32]) -> f32 {
    let mut acc = 0.0f32;
    for ((&m, &ck), &gk) in mu.iter().zip(c).zip(g) {
        let diff = d - m;
        acc += gk * pointwise::exp(diff * diff * ck) * 2.0 * ck * diff;
    }
    acc
}

impl Gaussians for f32 {
    fn expand(d: f32, mu: &[f32], c: &[f32], row: &mut [f32]) {
        expand_f32(d, mu, c, row)
    }

    fn slope(d: f32, mu: &[f32], c: &[f32], g: &[f32]) -> f32 {
        slope_body(d, mu, c, g)
    }
}

impl Gaussians for f64 {
    fn expand(d: f64, mu: &[f64], c: &[f64], row: &mut [f64]) {
        for ((o, &m), &ck) in row.iter_mut().zip(mu).zip(c) {
            *o = ((d - m) * (d - m) * ck).exp();
        }
    }

    fn slope(d: f64, mu: &[f64], c: &[f64], g: &[f64]) -> f64 {
        mu.iter().zip(c).zip(g).map(|((&m, &ck), &gk)| gk * ((d - m) * (d - m) * ck).exp() * 2.0 * ck * (d - m)).sum()
    }
}
