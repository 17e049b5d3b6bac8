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
//! The polynomials come from the recursion of the regular solid harmonics
//! (`P_l^m` in `Z` and `r²`, `(X + iY)^m`), evaluated in f64 whatever the tensor's dtype. The
//! gradient is computed by running the same recursion on dual numbers; it is first order (a loss on
//! forces through harmonics is an error, not a silent zero).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Error, Layout, Result, Shape, Tensor, WithDType};

use rayon::prelude::*;

use super::irreps::{Irreps, Parity};
use crate::ops::{contiguous, with_float};

/// Vectors per parallel task.
const ROWS_PER_TASK: usize = 256;

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
/// vectors `x` (`[…, 3]`), as `[…, irreps.dim()]` in the mul_ir layout. Differentiable once in `x`.
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

/// The component-normalised harmonics of degree `l` of the unit vector along `v` (host values).
pub(crate) fn harmonics_of(l: u32, v: [f64; 3]) -> Vec<f64> {
    let length = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let mut all = vec![0.0; ((l + 1) * (l + 1)) as usize];
    Recursion::new(l).eval(v.map(|c| c / length), &mut all);
    all[(l * l) as usize..].to_vec()
}

/// The numbers the recursion runs on: f64, or f64 with its gradient in (x, y, z).
trait Number:
    Copy + Send + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::Mul<Output = Self>
{
    fn constant(v: f64) -> Self;
    fn scale(self, s: f64) -> Self;
}

impl Number for f64 {
    fn constant(v: f64) -> Self {
        v
    }
    fn scale(self, s: f64) -> Self {
        self * s
    }
}

/// `v + ∇v · (dx, dy, dz)`: forward-mode differentiation in the three input coordinates.
#[derive(Clone, Copy, Debug)]
struct Dual {
    v: f64,
    d: [f64; 3],
}

impl std::ops::Add for Dual {
    type Output = Dual;
    fn add(self, o: Dual) -> Dual {
        Dual { v: self.v + o.v, d: std::array::from_fn(|k| self.d[k] + o.d[k]) }
    }
}

impl std::ops::Sub for Dual {
    type Output = Dual;
    fn sub(self, o: Dual) -> Dual {
        Dual { v: self.v - o.v, d: std::array::from_fn(|k| self.d[k] - o.d[k]) }
    }
}

impl std::ops::Mul for Dual {
    type Output = Dual;
    #[allow(clippy::suspicious_arithmetic_impl)] // the product rule
    fn mul(self, o: Dual) -> Dual {
        Dual { v: self.v * o.v, d: std::array::from_fn(|k| self.d[k] * o.v + self.v * o.d[k]) }
    }
}

impl Number for Dual {
    fn constant(v: f64) -> Self {
        Dual { v, d: [0.0; 3] }
    }
    fn scale(self, s: f64) -> Self {
        Dual { v: self.v * s, d: self.d.map(|d| d * s) }
    }
}

/// The recursion for the harmonics of degrees `0..=lmax`: its normalisation factors and reusable
/// buffers, so that evaluating one vector allocates nothing.
struct Recursion<N> {
    lmax: usize,
    /// √(4π) × the orthonormal factor √((2l + 1)/(4π) · (l − m)!/(l + m)!) (× √2 for m ≠ 0), at
    /// `l² + l + m`.
    norms: Vec<f64>,
    /// (X + iY)^m = c[m] + i s[m].
    c: Vec<N>,
    s: Vec<N>,
    /// P_l^m as a solid polynomial in Z and r² (no Condon–Shortley phase), at `l(l + 1)/2 + m`.
    p: Vec<N>,
}

impl<N: Number> Recursion<N> {
    fn new(lmax: u32) -> Self {
        let lmax = lmax as usize;
        let mut norms = Vec::with_capacity((lmax + 1) * (lmax + 1));
        for l in 0..=lmax {
            for mm in -(l as i64)..=(l as i64) {
                let m = mm.unsigned_abs() as usize;
                let ratio: f64 = ((l - m + 1)..=(l + m)).map(|k| k as f64).product::<f64>().recip();
                let sqrt2 = if m != 0 { std::f64::consts::SQRT_2 } else { 1.0 };
                norms.push(((2 * l + 1) as f64 * ratio).sqrt() * sqrt2);
            }
        }
        let zero = N::constant(0.0);
        Self {
            lmax,
            norms,
            c: vec![zero; lmax + 1],
            s: vec![zero; lmax + 1],
            p: vec![zero; (lmax + 1) * (lmax + 2) / 2],
        }
    }

    /// The harmonics of one vector, component-normalised, `(lmax + 1)²` values into `out`
    /// (`l² + l + m` for degree `l`, order `m`). `(x, y, z)` are the (already normalised, if asked)
    /// coordinates.
    fn eval(&mut self, [x, y, z]: [N; 3], out: &mut [N]) {
        // Textbook axes: X = z, Y = x, polar Z = y.
        let (cx, cy, cz) = (z, x, y);
        let r2 = cx * cx + cy * cy + cz * cz;
        let lmax = self.lmax;
        let (c, s, p) = (&mut self.c, &mut self.s, &mut self.p);
        c[0] = N::constant(1.0);
        s[0] = N::constant(0.0);
        for m in 0..lmax {
            c[m + 1] = cx * c[m] - cy * s[m];
            s[m + 1] = cx * s[m] + cy * c[m];
        }
        let at = |l: usize, m: usize| l * (l + 1) / 2 + m;
        let mut double_factorial = 1.0;
        for l in 0..=lmax {
            for m in 0..=l {
                p[at(l, m)] = if m == l {
                    // (2l − 1)!!
                    N::constant(double_factorial)
                } else if m + 1 == l {
                    (cz * p[at(l - 1, m)]).scale((2 * m + 1) as f64)
                } else {
                    let a = (cz * p[at(l - 1, m)]).scale((2 * l - 1) as f64);
                    let b = (r2 * p[at(l - 2, m)]).scale((l + m - 1) as f64);
                    (a - b).scale(1.0 / (l - m) as f64)
                };
            }
            double_factorial *= (2 * l + 1) as f64;
        }
        let mut k = 0;
        for l in 0..=lmax {
            for mm in -(l as i64)..=(l as i64) {
                let m = mm.unsigned_abs() as usize;
                let legendre = p[at(l, m)];
                let value = match mm {
                    0 => legendre,
                    _ if mm > 0 => legendre * c[m],
                    _ => legendre * s[m],
                };
                out[k] = value.scale(self.norms[k]);
                k += 1;
            }
        }
    }
}

/// The forward kernel: `[rows, 3] → [rows, Σ (2l + 1)]`.
#[derive(Clone)]
struct Harmonics {
    /// Degree of each output block, in order (repeated for multiplicities).
    degrees: Vec<u32>,
    normalize: bool,
    normalization: SphNormalization,
}

impl Harmonics {
    fn width(&self) -> usize {
        self.degrees.iter().map(|&l| 2 * l as usize + 1).sum()
    }

    fn lmax(&self) -> u32 {
        self.degrees.iter().copied().max().unwrap_or(0)
    }

    /// Output scale of degree `l` relative to component normalisation.
    fn factor(&self, l: u32) -> f64 {
        match self.normalization {
            SphNormalization::Component => 1.0,
            SphNormalization::Norm => 1.0 / ((2 * l + 1) as f64).sqrt(),
            SphNormalization::Integral => 1.0 / (4.0 * std::f64::consts::PI).sqrt(),
        }
    }

    /// The input vector as numbers, unit-normalised when asked.
    fn input<N: Number>(&self, v: [N; 3], length: f64) -> [N; 3] {
        if !self.normalize {
            return v;
        }
        let inv = 1.0 / length.max(1e-12);
        v.map(|c| c.scale(inv))
    }

    /// Writes the selected degrees of `all` (component-normalised) into `row`.
    fn select<N: Number>(&self, all: &[N], row: &mut [N]) {
        let mut k = 0;
        for &l in &self.degrees {
            let start = (l * l) as usize;
            let f = self.factor(l);
            for j in 0..2 * l as usize + 1 {
                row[k] = all[start + j].scale(f);
                k += 1;
            }
        }
    }
}

impl CustomOp1 for Harmonics {
    fn name(&self) -> &'static str {
        "chemgnn-spherical-harmonics"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let rows = layout.dims()[0];
        let width = self.width();
        let out = with_float!(storage, self.name(), |T| {
            let x = contiguous::<T>(storage, layout, self.name())?;
            let mut out = vec![T::from_f64(0.0); rows * width];
            let all_len = ((self.lmax() + 1) * (self.lmax() + 1)) as usize;
            let tasks = out.par_chunks_mut(width.max(1) * ROWS_PER_TASK).zip(x.par_chunks(3 * ROWS_PER_TASK));
            tasks.for_each_init(
                || (Recursion::new(self.lmax()), vec![0.0; all_len], vec![0.0; width]),
                |(recursion, all, row), (out, x)| {
                    for (v, o) in x.chunks_exact(3).zip(out.chunks_exact_mut(width.max(1))) {
                        let v = [v[0].to_f64(), v[1].to_f64(), v[2].to_f64()];
                        let length = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                        recursion.eval(self.input(v, length), all);
                        self.select(all, row);
                        o.iter_mut().zip(row.iter()).for_each(|(o, &r)| *o = T::from_f64(r));
                    }
                },
            );
            T::to_cpu_storage_owned(out)
        });
        Ok((out, (rows, width).into()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2(&grad.contiguous()?, HarmonicsGradient(self.clone()))?))
    }
}

/// The backward kernel: `(x [rows, 3], ∂L/∂Y [rows, width]) → ∂L/∂x [rows, 3]`.
struct HarmonicsGradient(Harmonics);

impl CustomOp2 for HarmonicsGradient {
    fn name(&self) -> &'static str {
        "chemgnn-spherical-harmonics-gradient"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, gs: &CpuStorage, gl: &Layout) -> Result<(CpuStorage, Shape)> {
        let h = &self.0;
        let (rows, width) = (xl.dims()[0], h.width());
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let g = contiguous::<T>(gs, gl, self.name())?;
            let mut out = vec![T::from_f64(0.0); rows * 3];
            let zero = Dual::constant(0.0);
            let all_len = ((h.lmax() + 1) * (h.lmax() + 1)) as usize;
            let tasks = out
                .par_chunks_mut(3 * ROWS_PER_TASK)
                .zip(x.par_chunks(3 * ROWS_PER_TASK))
                .zip(g.par_chunks(width.max(1) * ROWS_PER_TASK));
            tasks.for_each_init(
                || (Recursion::new(h.lmax()), vec![zero; all_len], vec![zero; width]),
                |(recursion, all, row), ((out, x), g)| {
                    for ((v, gr), o) in x.chunks_exact(3).zip(g.chunks_exact(width.max(1))).zip(out.chunks_exact_mut(3))
                    {
                        let v = [v[0].to_f64(), v[1].to_f64(), v[2].to_f64()];
                        let length = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                        let seeded: [Dual; 3] = std::array::from_fn(|k| {
                            let mut d = [0.0; 3];
                            d[k] = 1.0;
                            Dual { v: v[k], d }
                        });
                        // Normalisation inside the duals: x/|x| with |x| itself a dual.
                        let input = if h.normalize && length > 1e-12 {
                            let inv = 1.0 / length;
                            let inv_dual = Dual { v: inv, d: std::array::from_fn(|k| -v[k] * inv * inv * inv) };
                            seeded.map(|c| c * inv_dual)
                        } else {
                            h.input(seeded, length)
                        };
                        recursion.eval(input, all);
                        h.select(all, row);
                        let mut acc = [0.0; 3];
                        for (y, &gv) in row.iter().zip(gr) {
                            let gv = gv.to_f64();
                            acc.iter_mut().zip(y.d).for_each(|(a, d)| *a += gv * d);
                        }
                        o.iter_mut().zip(acc).for_each(|(o, a)| *o = T::from_f64(a));
                    }
                },
            );
            T::to_cpu_storage_owned(out)
        });
        Ok((out, (rows, 3).into()))
    }
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

    #[test]
    fn a_second_derivative_is_an_error() {
        let x = Var::new(&[[0.3, -0.5, 0.8]], &Device::Cpu).unwrap();
        let irreps = Irreps::spherical_harmonics(2, Parity::Odd);
        let y = spherical_harmonics(&irreps, x.as_tensor(), true, SphNormalization::Component).unwrap();
        let grads = crate::autograd::gradients_with_graph(&y.sqr().unwrap().sum_all().unwrap()).unwrap();
        let err = grads.get(x.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap_err();
        assert!(err.to_string().contains("spherical-harmonics-gradient"), "{err}");
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
