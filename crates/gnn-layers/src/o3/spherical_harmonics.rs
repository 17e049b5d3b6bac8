//! Real spherical harmonics with e3nn 0.6's conventions, any degree, with exact gradients.
//!
//! **Axes.** The input `(x, y, z)` is used as is and **y is the polar axis**: the `m = 0`
//! component of every degree is symmetric about ŷ, and `Y¹ = √3 (x, y, z)` (component
//! normalisation), so that the l = 1 block transforms with the rotation matrix itself. e3nn's
//! functions are the textbook real harmonics `Y_lm(X, Y, Z)` (Wikipedia's table, no Condon–Shortley
//! phase) evaluated at `(X, Y, Z) = (z, x, y)`; component `m` of degree `l` is stored at offset
//! `l + m`, `m = −l … l`.
//!
//! **Normalisation** ([`SphNormalization`]): `Component` (`‖Y^l(n̂)‖² = 2l + 1`, what e3nn's models
//! use), `Norm` (`‖Y^l(n̂)‖ = 1`) or `Integral` (orthonormal on the sphere, e3nn's function default).
//! With `normalize` the input is first scaled to unit length (a zero vector gives `Y⁰` and zeros);
//! without, `Y^l` is a homogeneous polynomial of degree `l` in the input.
//!
//! The polynomials come from the recursion (the kernel: `kernels/spherical_harmonics.rs`) of the regular solid harmonics
//! (`P_l^m` in `Z` and `r²`, `(X + iY)^m`), evaluated in f64 whatever the tensor's dtype. The
//! gradient is computed by running the same recursion on dual numbers; it is first order (a loss on
//! forces through harmonics is an error, not a silent zero).

use candle_core::{Error, Result, Tensor};

use super::irreps::{Irreps, Parity};
use crate::kernels::spherical_harmonics::Harmonics;

/// How each degree is scaled (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SphNormalization {
    /// `‖Y^l(n̂)‖² = 2l + 1` (e3nn's models).
    #[default]
    Component,
    /// `‖Y^l(n̂)‖ = 1`.
    Norm,
    /// `∫ Y_lm² dΩ = 1`.
    Integral,
}

/// The spherical harmonics of `irreps` (blocks `mul x l` with the harmonics' parity `(−1)^l`, or
/// all even for a pseudovector input; e.g. `Irreps::spherical_harmonics(3, Parity::Odd)`) of the
/// vectors `x` (`[…, 3]`), as `[…, irreps.dim()]` in the mul_ir layout. Differentiable twice in `x`
/// (forces, and the parameter gradients of a force loss); a third derivative is an error.
pub fn spherical_harmonics(
    irreps: &Irreps,
    x: &Tensor,
    normalize: bool,
    normalization: SphNormalization,
) -> Result<Tensor> {
    let odd = irreps.iter().all(|b| b.ir.p == Parity::of_harmonics(b.ir.l));
    let even = irreps.iter().all(|b| b.ir.p == Parity::Even);
    if !(odd || even) {
        return Err(Error::Msg(format!(
            "spherical harmonics of irreps `{irreps}`: every parity must be (−1)^l (vector input) or every one even (pseudovector)"
        )));
    }
    let dims = x.dims();
    if dims.last() != Some(&3) {
        return Err(Error::Msg(format!("spherical harmonics: the input {dims:?} must end with 3 (x, y, z)")));
    }
    let rows = x.elem_count() / 3;
    let degrees: Vec<u32> = irreps.iter().flat_map(|b| std::iter::repeat_n(b.ir.l, b.mul)).collect();
    let op = Harmonics { degrees, normalize, normalization };
    let device = x.device().clone();
    let flat = x.reshape((rows, 3))?;
    let flat = if device.is_cpu() { flat } else { flat.to_device(&candle_core::Device::Cpu)? };
    let out = flat.contiguous()?.apply_op1(op)?;
    let mut shape = dims[..dims.len() - 1].to_vec();
    shape.push(irreps.dim());
    out.to_device(&device)?.reshape(shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    fn harmonics(lmax: u32, v: [f64; 3], normalize: bool, normalization: SphNormalization) -> Vec<f64> {
        let x = Tensor::new(&[v], &Device::Cpu).unwrap();
        let irreps = Irreps::spherical_harmonics(lmax, Parity::Odd);
        spherical_harmonics(&irreps, &x, normalize, normalization).unwrap().flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn low_degrees_match_e3nn_closed_forms_and_normalisations() {
        // e3nn 0.6: n̂ = (0.3, −0.5, 0.8)/‖·‖, component normalisation, l ≤ 3 (notes/e3nn.md §1).
        let expected = [
            1.0,
            0.52489066,
            -0.87481777,
            1.39970842,
            0.94848572,
            -0.59280357,
            -0.26239573,
            -1.58080953,
            1.08680655,
            1.18364716,
            -1.26746735,
            0.13527282,
            1.15222321,
            0.36072753,
            -1.45230634,
            0.63817770,
        ];
        let y = harmonics(3, [0.3, -0.5, 0.8], true, SphNormalization::Component);
        for (k, (a, b)) in y.iter().zip(expected).enumerate() {
            assert!((a - b).abs() < 1e-8, "component {k}: {a} vs {b}");
        }
        // Along ŷ only the m = 0 components survive; Y² = (0, 0, √5, 0, 0).
        let axis = harmonics(2, [0.0, 2.0, 0.0], true, SphNormalization::Component);
        let five = 5f64.sqrt();
        assert!(axis
            .iter()
            .zip([1.0, 0.0, 3f64.sqrt(), 0.0, 0.0, 0.0, five, 0.0, 0.0])
            .all(|(a, b)| (a - b).abs() < 1e-12));
        // Norm: ‖Y^l‖ = 1 per degree; integral: component/√(4π); without normalisation, degree-l homogeneous.
        let v = [0.3, -0.5, 0.8];
        let norm = harmonics(4, v, true, SphNormalization::Norm);
        for l in 0..=4usize {
            let block = &norm[l * l..(l + 1) * (l + 1)];
            assert!((block.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12, "degree {l}");
        }
        let integral = harmonics(4, v, true, SphNormalization::Integral);
        let component = harmonics(4, v, true, SphNormalization::Component);
        let four_pi = (4.0 * std::f64::consts::PI).sqrt();
        assert!(integral.iter().zip(&component).all(|(a, b)| (a * four_pi - b).abs() < 1e-12));
        let scaled = harmonics(4, v.map(|c| 2.0 * c), false, SphNormalization::Component);
        let unit = harmonics(4, v, false, SphNormalization::Component);
        for l in 0..=4usize {
            for k in l * l..(l + 1) * (l + 1) {
                assert!((scaled[k] - 2f64.powi(l as i32) * unit[k]).abs() < 1e-12);
            }
        }
        // A zero vector with normalisation: Y⁰ and zeros, never NaN.
        let zero = harmonics(3, [0.0; 3], true, SphNormalization::Component);
        assert_eq!(zero[0], 1.0);
        assert!(zero[1..].iter().all(|&v| v == 0.0));
    }

    /// `L = Σ c ⊙ ∂E/∂x` for `E = Σ w ⊙ Y(x) + Σ Y(x)²/10`, and its gradients in `x` and `w`
    /// through the backward pass of the gradient.
    fn force_like_loss(x: &[f64], w: &[f64], dim: usize, normalize: bool) -> (f64, Vec<f64>, Vec<f64>) {
        let irreps: Irreps = "0e+2x1o+2e+3o".parse().unwrap();
        let xv = Var::from_tensor(&Tensor::from_slice(x, (2, 3), &Device::Cpu).unwrap()).unwrap();
        let wv = Var::from_tensor(&Tensor::from_slice(w, (2, dim), &Device::Cpu).unwrap()).unwrap();
        let y = spherical_harmonics(&irreps, xv.as_tensor(), normalize, SphNormalization::Component).unwrap();
        let e =
            (y.mul(wv.as_tensor()).unwrap().sum_all().unwrap() + y.sqr().unwrap().sum_all().unwrap() * 0.1).unwrap();
        let grads = crate::autograd::gradients_with_graph(&e).unwrap();
        let c = Tensor::new(&[[0.3, -1.1, 0.7], [0.9, 0.2, -0.4]], &Device::Cpu).unwrap();
        let loss = grads.get(xv.as_tensor()).unwrap().mul(&c).unwrap().sum_all().unwrap();
        let second = loss.backward().unwrap();
        let flat = |t: &Var| second.get(t.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        (loss.to_scalar().unwrap(), flat(&xv), flat(&wv))
    }

    #[test]
    fn second_derivatives_match_finite_differences_and_a_third_is_an_error() {
        let dim = 1 + 6 + 5 + 7;
        let x = [0.3, -0.5, 0.8, 1.2, 0.1, -0.4];
        let w: Vec<f64> = (0..2 * dim).map(|k| ((k * 7 % 11) as f64 - 5.0) / 4.0).collect();
        for normalize in [true, false] {
            let (_, gx, gw) = force_like_loss(&x, &w, dim, normalize);
            let h = 1e-6;
            for k in 0..x.len() {
                let at = |d: f64| {
                    let mut x = x;
                    x[k] += d;
                    force_like_loss(&x, &w, dim, normalize).0
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                assert!((fd - gx[k]).abs() < 1e-6 * (1.0 + fd.abs()), "x[{k}] ({normalize}): {fd} vs {}", gx[k]);
            }
            for k in 0..w.len() {
                let at = |d: f64| {
                    let mut w = w.clone();
                    w[k] += d;
                    force_like_loss(&x, &w, dim, normalize).0
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                assert!((fd - gw[k]).abs() < 1e-6 * (1.0 + fd.abs()), "w[{k}] ({normalize}): {fd} vs {}", gw[k]);
            }
        }
        // A third derivative is an error naming the kernel.
        let v = Var::new(&[[0.3, -0.5, 0.8]], &Device::Cpu).unwrap();
        let irreps = Irreps::spherical_harmonics(2, Parity::Odd);
        let y = spherical_harmonics(&irreps, v.as_tensor(), true, SphNormalization::Component).unwrap();
        let grads = crate::autograd::gradients_with_graph(&y.sqr().unwrap().sum_all().unwrap()).unwrap();
        let f = grads.get(v.as_tensor()).unwrap().sqr().unwrap().sum_all().unwrap();
        let hessian = crate::autograd::gradients_with_graph(&f).unwrap();
        let err = hessian.get(v.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap_err();
        assert!(err.to_string().contains("spherical-harmonics-second-derivative"), "{err}");
    }

    #[test]
    fn gradients_match_finite_differences_and_bad_irreps_are_errors() {
        let irreps: Irreps = "0e+2x1o+2e+3o+6e".parse().unwrap();
        let points = [[0.3, -0.5, 0.8], [1.2, 0.1, -0.4], [-0.2, 0.9, 0.05]];
        let weights = Tensor::randn(0f64, 1.0, (3, irreps.dim()), &Device::Cpu).unwrap();
        for normalize in [true, false] {
            let loss = |x: &Tensor| {
                spherical_harmonics(&irreps, x, normalize, SphNormalization::Component)?.mul(&weights)?.sum_all()
            };
            let x = Var::new(&points, &Device::Cpu).unwrap();
            let grad = loss(x.as_tensor()).unwrap().backward().unwrap();
            let analytic: Vec<f64> = grad.get(x.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let flat: Vec<f64> = points.iter().flatten().copied().collect();
            for (k, a) in analytic.iter().enumerate() {
                let at = |delta: f64| {
                    let mut v = flat.clone();
                    v[k] += delta;
                    let t = Tensor::from_vec(v, (3, 3), &Device::Cpu).unwrap();
                    loss(&t).unwrap().to_scalar::<f64>().unwrap()
                };
                let numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
                assert!(
                    (a - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "normalize={normalize} x[{k}]: {a} vs {numeric}"
                );
            }
        }
        let f32_out = spherical_harmonics(
            &irreps,
            &Tensor::new(&points, &Device::Cpu).unwrap().to_dtype(DType::F32).unwrap(),
            true,
            SphNormalization::Component,
        )
        .unwrap();
        assert_eq!(f32_out.dims(), [3, irreps.dim()]);
        let mixed: Irreps = "0e+1e+2e+3o".parse().unwrap();
        let x = Tensor::new(&points, &Device::Cpu).unwrap();
        assert!(spherical_harmonics(&mixed, &x, true, SphNormalization::Component)
            .unwrap_err()
            .to_string()
            .contains("parity"));
        assert!(spherical_harmonics(&irreps, &x.narrow(1, 0, 2).unwrap(), true, SphNormalization::Component).is_err());
    }
}
