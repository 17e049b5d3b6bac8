//! The real spherical harmonics of [`o3::spherical_harmonics`](crate::o3::spherical_harmonics)
//! (conventions there): the recursion of the regular solid harmonics in f64, whatever the tensor's
//! dtype, its gradient by the same recursion on dual numbers (first order), and the backward pass
//! of that gradient (for force losses) on second-order dual numbers; third derivatives are an
//! error.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, WithDType};

use rayon::prelude::*;

use super::{contiguous, with_float};
use crate::o3::SphNormalization;

/// Vectors per parallel task.
const ROWS_PER_TASK: usize = 256;

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

/// `v + ∇v · δ + ½ δᵀ H δ`: second-order forward-mode differentiation in the three input
/// coordinates.
#[derive(Clone, Copy, Debug)]
struct Dual2 {
    v: f64,
    d: [f64; 3],
    h: [[f64; 3]; 3],
}

impl std::ops::Add for Dual2 {
    type Output = Dual2;
    fn add(self, o: Dual2) -> Dual2 {
        Dual2 {
            v: self.v + o.v,
            d: std::array::from_fn(|a| self.d[a] + o.d[a]),
            h: std::array::from_fn(|a| std::array::from_fn(|b| self.h[a][b] + o.h[a][b])),
        }
    }
}

impl std::ops::Sub for Dual2 {
    type Output = Dual2;
    fn sub(self, o: Dual2) -> Dual2 {
        self + o.scale(-1.0)
    }
}

impl std::ops::Mul for Dual2 {
    type Output = Dual2;
    #[allow(clippy::suspicious_arithmetic_impl)] // the product rule, twice
    fn mul(self, o: Dual2) -> Dual2 {
        Dual2 {
            v: self.v * o.v,
            d: std::array::from_fn(|a| self.d[a] * o.v + self.v * o.d[a]),
            h: std::array::from_fn(|a| {
                std::array::from_fn(|b| {
                    self.h[a][b] * o.v + self.v * o.h[a][b] + self.d[a] * o.d[b] + self.d[b] * o.d[a]
                })
            }),
        }
    }
}

impl Number for Dual2 {
    fn constant(v: f64) -> Self {
        Dual2 { v, d: [0.0; 3], h: [[0.0; 3]; 3] }
    }
    fn scale(self, s: f64) -> Self {
        Dual2 { v: self.v * s, d: self.d.map(|d| d * s), h: self.h.map(|row| row.map(|h| h * s)) }
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
pub(crate) struct Harmonics {
    /// Degree of each output block, in order (repeated for multiplicities).
    pub(crate) degrees: Vec<u32>,
    pub(crate) normalize: bool,
    pub(crate) normalization: SphNormalization,
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

    /// With `u = ∂L/∂(∂L/∂x)`: `∂L/∂x = Σ_j g_j H_j u` and `∂L/∂g_j = ∇Y_j · u`
    /// ([`HarmonicsSecond`]).
    fn bwd(&self, x: &Tensor, g: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let both = x.apply_op3(&g.contiguous()?, &grad.contiguous()?, HarmonicsSecond(self.0.clone()))?;
        Ok((Some(both.narrow(1, 0, 3)?), Some(both.narrow(1, 3, self.0.width())?)))
    }
}

/// The backward kernel of [`HarmonicsGradient`]: `(x [rows, 3], g [rows, width], u [rows, 3]) →
/// [rows, 3 + width]`, `Σ_j g_j H_j(x) u` then `∇Y_j(x) · u` per row (H_j: the Hessian of
/// harmonic j). Not differentiable itself.
struct HarmonicsSecond(Harmonics);

impl CustomOp3 for HarmonicsSecond {
    fn name(&self) -> &'static str {
        "chemgnn-spherical-harmonics-second-derivative"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
        us: &CpuStorage,
        ul: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let h = &self.0;
        let (rows, width) = (xl.dims()[0], h.width());
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let g = contiguous::<T>(gs, gl, self.name())?;
            let u = contiguous::<T>(us, ul, self.name())?;
            let mut out = vec![T::from_f64(0.0); rows * (3 + width)];
            let zero = Dual2::constant(0.0);
            let all_len = ((h.lmax() + 1) * (h.lmax() + 1)) as usize;
            let tasks = out
                .par_chunks_mut((3 + width) * ROWS_PER_TASK)
                .zip(x.par_chunks(3 * ROWS_PER_TASK))
                .zip(g.par_chunks(width.max(1) * ROWS_PER_TASK))
                .zip(u.par_chunks(3 * ROWS_PER_TASK));
            tasks.for_each_init(
                || (Recursion::new(h.lmax()), vec![zero; all_len], vec![zero; width]),
                |(recursion, all, row), (((out, x), g), u)| {
                    let rows = x.chunks_exact(3).zip(g.chunks_exact(width.max(1))).zip(u.chunks_exact(3));
                    for (((v, gr), ur), o) in rows.zip(out.chunks_exact_mut(3 + width)) {
                        let v = [v[0].to_f64(), v[1].to_f64(), v[2].to_f64()];
                        let ur = [ur[0].to_f64(), ur[1].to_f64(), ur[2].to_f64()];
                        let length = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
                        let seeded: [Dual2; 3] = std::array::from_fn(|k| {
                            let mut d = [0.0; 3];
                            d[k] = 1.0;
                            Dual2 { v: v[k], d, h: [[0.0; 3]; 3] }
                        });
                        // 1/|x| with its gradient −x/|x|³ and Hessian (3 x xᵀ/|x|² − I)/|x|³.
                        let input = if h.normalize && length > 1e-12 {
                            let inv = 1.0 / length;
                            let inv3 = inv * inv * inv;
                            let inv_dual = Dual2 {
                                v: inv,
                                d: std::array::from_fn(|a| -v[a] * inv3),
                                h: std::array::from_fn(|a| {
                                    std::array::from_fn(|b| {
                                        3.0 * v[a] * v[b] * inv3 * inv * inv - if a == b { inv3 } else { 0.0 }
                                    })
                                }),
                            };
                            seeded.map(|c| c * inv_dual)
                        } else {
                            h.input(seeded, length)
                        };
                        recursion.eval(input, all);
                        h.select(all, row);
                        let (ox, og) = o.split_at_mut(3);
                        let mut acc = [0.0; 3];
                        for ((y, &gv), og) in row.iter().zip(gr).zip(og.iter_mut()) {
                            let gv = gv.to_f64();
                            for (a, acc) in acc.iter_mut().enumerate() {
                                *acc += gv * (0..3).map(|b| y.h[a][b] * ur[b]).sum::<f64>();
                            }
                            *og = T::from_f64((0..3).map(|b| y.d[b] * ur[b]).sum::<f64>());
                        }
                        ox.iter_mut().zip(acc).for_each(|(o, a)| *o = T::from_f64(a));
                    }
                },
            );
            T::to_cpu_storage_owned(out)
        });
        Ok((out, (rows, 3 + width).into()))
    }
}
