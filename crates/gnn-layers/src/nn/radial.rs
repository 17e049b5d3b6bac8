//! Radial bases: expansions of edge lengths `d [edges]` into `[edges, n]` features.

use crate::kernels::gaussian_rbf;
use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;

/// Gaussians `exp(−(d − μ_k)² / (2 σ_k²))` on evenly spaced centres.
///
/// - [`GaussianBasis::pyg`]: PyG's `GaussianSmearing(start, stop, num_gaussians)` (buffer
///   `offset`; `σ` = the spacing, shared).
/// - [`GaussianBasis::schnetpack`]: schnetpack's `GaussianRBF(n_rbf, cutoff, start)` (buffers
///   `offsets`, `widths`; `σ_k` per Gaussian, the spacing by default).
/// - [`GaussianBasis::kgcnn`]: kgcnn's `GaussBasisExpansion.from_bounds(n, low, high, variance)`
///   (coGN, coNGN): centres `linspace(low, high, n + 1)[1:]`, `σ_k = √(spacing_k · variance)` —
///   the *square root* of the spacing, so 32 Gaussians over (0, 8] Å have σ = 0.5 Å. kgcnn keeps
///   both as float32 constants; here they are computed in f64 (no buffers).
///
/// Buffers are read from the `VarBuilder` when present (so checkpoints round-trip exactly) and
/// otherwise computed.
#[derive(Clone, Debug)]
pub struct GaussianBasis {
    offsets: Tensor,
    /// `−1 / (2 σ_k²)`, `[n]`.
    coefficients: Tensor,
}

impl GaussianBasis {
    /// PyG's `GaussianSmearing`: `num` centres from `start` to `stop`.
    pub fn pyg(start: f64, stop: f64, num: usize, vb: VarBuilder) -> Result<Self> {
        let offsets = buffer(&vb, "offset", num, || linspace(start, stop, num))?;
        let spacing = spacing(&offsets)?;
        let coefficients = Tensor::full(-0.5 / (spacing * spacing), num, vb.device())?.to_dtype(vb.dtype())?;
        Ok(Self { offsets, coefficients })
    }

    /// schnetpack's `GaussianRBF`: `n` centres from `start` to `cutoff`.
    pub fn schnetpack(n: usize, cutoff: f64, start: f64, vb: VarBuilder) -> Result<Self> {
        let offsets = buffer(&vb, "offsets", n, || linspace(start, cutoff, n))?;
        let width = spacing(&offsets)?;
        let widths = buffer(&vb, "widths", n, || vec![width; n])?;
        let coefficients = widths.sqr()?.recip()?.affine(-0.5, 0.0)?;
        Ok(Self { offsets, coefficients })
    }

    /// kgcnn's `GaussBasisExpansion.from_bounds(n, low, high, variance)` (see the type's docs).
    pub fn kgcnn(n: usize, low: f64, high: f64, variance: f64, vb: VarBuilder) -> Result<Self> {
        // numpy's linspace: start + k·step, the last point exactly `high`.
        let step = (high - low) / n as f64;
        let mut points: Vec<f64> = (0..=n).map(|k| low + k as f64 * step).collect();
        if let Some(last) = points.last_mut() {
            *last = high;
        }
        let offsets: Vec<f64> = points[1..].to_vec();
        let coefficients: Vec<f64> = points.windows(2).map(|w| -0.5 / ((w[1] - w[0]) * variance)).collect();
        let tensor = |v: Vec<f64>| Tensor::new(v, &Device::Cpu)?.to_dtype(vb.dtype())?.to_device(vb.device());
        Ok(Self { offsets: tensor(offsets)?, coefficients: tensor(coefficients)? })
    }

    /// Number of Gaussians.
    pub fn len(&self) -> usize {
        self.offsets.dim(0).unwrap_or(0)
    }

    /// Whether the basis is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[edges, n]` features of the lengths `d [edges]` (a fused kernel on the CPU, differentiable in
    /// `d` to any order).
    pub fn forward(&self, d: &Tensor) -> Result<Tensor> {
        if d.device().is_cpu() && d.rank() == 1 {
            return gaussian_rbf::expand(d, &self.offsets, &self.coefficients);
        }
        self.forward_unfused(d)
    }

    /// [`GaussianBasis::forward`] with Candle's element-wise ops.
    fn forward_unfused(&self, d: &Tensor) -> Result<Tensor> {
        let diff = d.unsqueeze(1)?.broadcast_sub(&self.offsets)?;
        diff.sqr()?.broadcast_mul(&self.coefficients)?.exp()
    }
}

/// schnetpack's `BesselRBF(n_rbf, cutoff)`: `sin(k π d / r_c) / d` for `k = 1…n` (and
/// `sin(…)/1` at `d = 0`); buffer `freqs`.
#[derive(Clone, Debug)]
pub struct BesselBasis {
    frequencies: Tensor,
}

impl BesselBasis {
    /// Builds the basis.
    pub fn new(n: usize, cutoff: f64, vb: VarBuilder) -> Result<Self> {
        let f = std::f64::consts::PI / cutoff;
        Ok(Self { frequencies: buffer(&vb, "freqs", n, || (1..=n).map(|k| k as f64 * f).collect())? })
    }

    /// `[edges, n]` features of the lengths `d [edges]`.
    pub fn forward(&self, d: &Tensor) -> Result<Tensor> {
        let sin = d.unsqueeze(1)?.broadcast_mul(&self.frequencies)?.sin()?;
        let norm = d.eq(0.0)?.where_cond(&d.ones_like()?, d)?;
        sin.broadcast_div(&norm.unsqueeze(1)?)
    }
}

/// `num` evenly spaced values from `start` to `stop` (both included), like `torch.linspace`.
pub fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    match num {
        0 => vec![],
        1 => vec![start],
        _ => {
            let step = (stop - start) / (num - 1) as f64;
            let half = num / 2;
            // torch.linspace fills the first half from `start` and the second half from `stop`.
            (0..num)
                .map(|k| if k < half { start + step * k as f64 } else { stop - step * (num - 1 - k) as f64 })
                .collect()
        }
    }
}

/// A non-trainable buffer of `len` values: read when the `VarBuilder` holds it, computed otherwise
/// (and then kept out of the variable map, so that optimisers leave it alone).
fn buffer(vb: &VarBuilder, name: &str, len: usize, compute: impl FnOnce() -> Vec<f64>) -> Result<Tensor> {
    if vb.contains_tensor(name) {
        Ok(vb.get(len, name)?.detach())
    } else {
        Tensor::new(compute(), &Device::Cpu)?.to_dtype(vb.dtype())?.to_device(vb.device())
    }
}

fn spacing(offsets: &Tensor) -> Result<f64> {
    let values = offsets.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    Ok(if values.len() > 1 { values[1] - values[0] } else { 1.0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    #[test]
    fn kgcnn_gaussians_have_the_root_of_the_spacing_as_width() {
        let vb = VarBuilder::from_varmap(&VarMap::new(), DType::F64, &Device::Cpu);
        let basis = GaussianBasis::kgcnn(32, 0.0, 8.0, 1.0, vb).unwrap();
        assert_eq!(basis.len(), 32);
        let d = Tensor::new(&[0.0f64, 0.3, 2.25, 7.9][..], &Device::Cpu).unwrap();
        let out = basis.forward(&d).unwrap().to_vec2::<f64>().unwrap();
        for (row, &d) in out.iter().zip(&[0.0, 0.3, 2.25, 7.9]) {
            for (k, &v) in row.iter().enumerate() {
                // Centres 0.25, 0.5, …, 8; σ = √0.25 = 0.5.
                let mu = 0.25 * (k + 1) as f64;
                let expected = (-(d - mu) * (d - mu) / (2.0 * 0.25)).exp();
                assert!((v - expected).abs() < 1e-14, "d {d}, k {k}: {v} vs {expected}");
            }
        }
    }
}
