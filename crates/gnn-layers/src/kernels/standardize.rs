//! Row standardisation `y = (x − mean(x)) / √(var(x) + ε)` over the last dimension (the core of a
//! layer norm) in one pass, and the row factor `1 / √(var(x) + ε)`: the ops behind
//! [`ops::standardize_rows`]. Both backward passes are written with differentiable ops (one
//! standardisation, one factor and element-wise Candle ops), so gradients can be differentiated
//! again.

use super::{contiguous, for_each_row, with_float, Real};
use crate::ops;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor, WithDType, D};

/// `(x − mean) · rstd` per row.
pub(crate) struct Standardize {
    pub eps: f64,
}

/// `rstd = 1 / √(var + ε)` per row, `[rows, 1]`.
pub(crate) struct RowRstd {
    pub eps: f64,
}

/// Mean and `1 / √(var + ε)` of one row (accumulated in f64).
fn moments<T: Real>(row: &[T], eps: f64) -> (T, T) {
    let n = row.len().max(1) as f64;
    let mean = row.iter().map(|v| v.to_f64()).sum::<f64>() / n;
    let var = row.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / n;
    (T::from_f64(mean), T::from_f64(1.0 / (var + eps).sqrt()))
}

impl CustomOp1 for Standardize {
    fn name(&self) -> &'static str {
        "chemgnn-standardize-rows"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let width = *xl.dims().last().unwrap_or(&1);
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let mut out = vec![T::ZERO; x.len()];
            for_each_row(&mut out, width, |r, o| {
                let row = &x[r * width..(r + 1) * width];
                let (mean, rstd) = moments(row, self.eps);
                o.iter_mut().zip(row).for_each(|(o, &v)| *o = (v - mean) * rstd);
            });
            T::to_cpu_storage_owned(out)
        });
        Ok((out, xl.shape().clone()))
    }

    /// `∂x = rstd · (g − mean(g) − y · mean(g·y))` (the Jacobian is symmetric).
    fn bwd(&self, x: &Tensor, y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let rstd = x.apply_op1(RowRstd { eps: self.eps })?;
        let centred = grad.broadcast_sub(&grad.mean_keepdim(D::Minus1)?)?;
        let along = y.broadcast_mul(&grad.mul(y)?.mean_keepdim(D::Minus1)?)?;
        Ok(Some(centred.sub(&along)?.broadcast_mul(&rstd)?))
    }
}

impl CustomOp1 for RowRstd {
    fn name(&self) -> &'static str {
        "chemgnn-row-rstd"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let width = *xl.dims().last().unwrap_or(&1);
        let rows = xl.shape().elem_count().checked_div(width).unwrap_or(0);
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let mut out = vec![T::ZERO; rows];
            for_each_row(&mut out, 1, |r, o| o[0] = moments(&x[r * width..(r + 1) * width], self.eps).1);
            T::to_cpu_storage_owned(out)
        });
        let mut dims = xl.dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = 1;
        }
        Ok((out, Shape::from(dims)))
    }

    /// `∂rstd/∂x = −rstd² · y / n` with `y` the standardised row.
    fn bwd(&self, x: &Tensor, rstd: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let n = x.dim(D::Minus1)? as f64;
        let factor = grad.mul(&rstd.sqr()?)?.affine(-1.0 / n, 0.0)?;
        Ok(Some(ops::standardize_rows(x, self.eps)?.broadcast_mul(&factor)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{max_abs_diff, tensor};
    use candle_core::Var;

    fn composed(x: &Tensor, eps: f64) -> Tensor {
        let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1).unwrap()).unwrap();
        let variance = centred.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
        centred.broadcast_div(&variance.affine(1.0, eps).unwrap().sqrt().unwrap()).unwrap()
    }

    /// `∂(Σ y ⊙ c)/∂x` for fixed pseudo-random `c`.
    fn grad(y: &Tensor, x: &Var) -> Tensor {
        let loss = y.mul(&tensor(y.dims(), 9)).unwrap().sum_all().unwrap();
        loss.backward().unwrap().get(x.as_tensor()).unwrap().clone()
    }

    #[test]
    fn fused_standardisation_equals_the_composition_to_second_order() {
        crate::autograd::enable_higher_order_gradients();
        for shape in [[7usize, 5], [40, 64], [600, 33]] {
            let x = Var::from_tensor(&tensor(&shape, 3).affine(3.0, 0.5).unwrap()).unwrap();
            let (fused, reference) = (ops::standardize_rows(&x, 1e-5).unwrap(), composed(&x, 1e-5));
            assert!(max_abs_diff(&fused, &reference) < 1e-12, "{shape:?}: values");
            let (gf, gc) = (grad(&fused, &x), grad(&reference, &x));
            assert!(max_abs_diff(&gf, &gc) < 1e-12, "{shape:?}: first derivatives");
            let (hf, hc) = (grad(&gf.sqr().unwrap(), &x), grad(&gc.sqr().unwrap(), &x));
            let scale = hc.abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
            assert!(scale > 0.0 && max_abs_diff(&hf, &hc) < 1e-10 * scale.max(1.0), "{shape:?}: second order");
        }
        let f32 = ops::standardize_rows(&tensor(&[3, 4], 1).to_dtype(candle_core::DType::F32).unwrap(), 1e-5);
        assert!(
            max_abs_diff(
                &f32.unwrap().to_dtype(candle_core::DType::F64).unwrap(),
                &composed(&tensor(&[3, 4], 1), 1e-5)
            ) < 1e-6
        );
        assert!(ops::standardize_rows(&Tensor::new(1u32, &candle_core::Device::Cpu).unwrap(), 1e-5).is_err());
    }
}
