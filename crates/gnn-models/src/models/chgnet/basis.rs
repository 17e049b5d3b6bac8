//! CHGNet's radial and angular bases (`chgnet/model/basis.py`) and the `acos` they need.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use candle_nn::VarBuilder;
use gnn_layers::nn::polynomial_cutoff;

/// `RadialBessel`: `√(2/r_c)·sin(f_k d/r_c)/d · cutoff(d)` with learned frequencies `f_k`
/// (parameter `frequencies`, imported) and the polynomial cutoff of exponent `p`.
#[derive(Clone, Debug)]
pub(super) struct RadialBessel {
    frequencies: Tensor,
    cutoff: f64,
    p: u32,
}

impl RadialBessel {
    pub(super) fn new(n: usize, cutoff: f64, p: u32, vb: VarBuilder) -> Result<Self> {
        let init = candle_nn::Init::Const(std::f64::consts::PI);
        Ok(Self { frequencies: vb.get_with_hints(n, "frequencies", init)?, cutoff, p })
    }

    /// `[bonds, n]` from the lengths `d [bonds]`.
    pub(super) fn forward(&self, d: &Tensor) -> Result<Tensor> {
        let d1 = d.unsqueeze(1)?;
        let sin = d1.affine(1.0 / self.cutoff, 0.0)?.broadcast_mul(&self.frequencies)?.sin()?;
        let envelope = polynomial_cutoff(d, self.cutoff, self.p)?.div(d)?.affine((2.0 / self.cutoff).sqrt(), 0.0)?;
        sin.broadcast_mul(&envelope.unsqueeze(1)?)
    }
}

/// `Fourier`: `[1/√2, sin(f_k θ)…, cos(f_k θ)…] / √π` with learned frequencies `f_k` (parameter
/// `frequencies`, imported).
#[derive(Clone, Debug)]
pub(super) struct Fourier {
    frequencies: Tensor,
}

impl Fourier {
    pub(super) fn new(order: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { frequencies: vb.get_with_hints(order, "frequencies", candle_nn::Init::Const(1.0))? })
    }

    /// `[angles, 2·order + 1]` from `theta [angles]`.
    pub(super) fn forward(&self, theta: &Tensor) -> Result<Tensor> {
        let scale = 1.0 / std::f64::consts::PI.sqrt();
        let phases = theta.unsqueeze(1)?.broadcast_mul(&self.frequencies)?;
        let constant = Tensor::full(std::f64::consts::FRAC_1_SQRT_2 * scale, (theta.dim(0)?, 1), theta.device())?
            .to_dtype(theta.dtype())?;
        Tensor::cat(&[constant, phases.sin()?.affine(scale, 0.0)?, phases.cos()?.affine(scale, 0.0)?], 1)
    }
}

/// `acos(x)` element-wise for `|x| < 1`, differentiable (to any order on the CPU; the derivative
/// `−1/√(1 − x²)` is composed from Candle's ops). On other devices the value is computed on the
/// CPU and the first derivative attached.
pub(super) fn acos(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() {
        return x.contiguous()?.apply_op1(Acos);
    }
    let value = x.detach().to_device(&candle_core::Device::Cpu)?.apply_op1(Acos)?.to_device(x.device())?;
    value.add(&x.sub(&x.detach())?.mul(&slope(&x.detach())?)?)
}

/// `d acos(x)/dx = −1/√(1 − x²)`.
fn slope(x: &Tensor) -> Result<Tensor> {
    x.sqr()?.affine(-1.0, 1.0)?.sqrt()?.recip()?.neg()
}

struct Acos;

impl CustomOp1 for Acos {
    fn name(&self) -> &'static str {
        "chemgnn-acos"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let range =
            layout.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg("acos: not contiguous".into()))?;
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(v[range.0..range.1].iter().map(|x| x.acos()).collect()),
            CpuStorage::F64(v) => CpuStorage::F64(v[range.0..range.1].iter().map(|x| x.acos()).collect()),
            _ => candle_core::bail!("acos: only f32 and f64 are supported"),
        };
        Ok((out, layout.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.mul(&slope(x)?)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn acos_and_its_derivative() {
        let x = Var::new(&[-0.9f64, -0.3, 0.0, 0.5, 0.99], &Device::Cpu).unwrap();
        let y = acos(x.as_tensor()).unwrap();
        let values = y.to_vec1::<f64>().unwrap();
        for (v, x) in values.iter().zip([-0.9f64, -0.3, 0.0, 0.5, 0.99]) {
            assert!((v - x.acos()).abs() < 1e-15);
        }
        let grads = y.sum_all().unwrap().backward().unwrap();
        let d = grads.get(x.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
        for (d, x) in d.iter().zip([-0.9f64, -0.3, 0.0, 0.5, 0.99]) {
            assert!((d + 1.0 / (1.0 - x * x).sqrt()).abs() < 1e-12);
        }
    }
}
