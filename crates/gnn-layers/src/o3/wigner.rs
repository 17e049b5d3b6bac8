//! Wigner 3j symbols (real Clebsch–Gordan coefficients) with e3nn 0.6's construction and signs,
//! and Wigner D matrices of the real harmonics for tests and data augmentation.
//!
//! `wigner_3j(l1, l2, l3)[i, j, k]` (shape `[2l1+1, 2l2+1, 2l3+1]`, row-major) is built as e3nn
//! builds it: the complex SU(2) Clebsch–Gordan tensor from Racah's formula (Condon–Shortley signs),
//! turned real with e3nn's change of basis `Q_l` (including its factor `(−i)^l`),
//! `C[j,l,m] = Σ Q1[i,j] Q2[k,l] conj(Q3[n,m]) CG[i,k,n]`, and divided by its Frobenius norm
//! (`Σ C² = 1`). A coefficient table from another construction may differ by a sign per triple,
//! which would flip imported weights; this one equals e3nn's to rounding. The tensor is invariant:
//! `C = Σ D¹ ⊗ D² ⊗ D³ C` for every rotation.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use candle_core::{DType, Device, Error, Result, Tensor};

/// A complex number, for the change of basis.
#[derive(Clone, Copy, Debug, Default)]
struct Complex {
    re: f64,
    im: f64,
}

impl Complex {
    fn mul(self, o: Complex) -> Complex {
        Complex { re: self.re * o.re - self.im * o.im, im: self.re * o.im + self.im * o.re }
    }

    fn conj(self) -> Complex {
        Complex { re: self.re, im: -self.im }
    }
}

fn factorial(n: i64) -> f64 {
    (1..=n).map(|k| k as f64).product()
}

/// `⟨l1 m1 l2 m2 | l3 m3⟩` by Racah's formula (e3nn's `_su2_clebsch_gordan_coeff`, integer l).
fn su2_coefficient((l1, m1): (i64, i64), (l2, m2): (i64, i64), (l3, m3): (i64, i64)) -> f64 {
    if m3 != m1 + m2 {
        return 0.0;
    }
    let vmin = (-l1 + l2 + m3).max(-l1 + m1).max(0);
    let vmax = (l2 + l3 + m1).min(l3 - l1 + l2).min(l3 + m3);
    let f = factorial;
    let c = ((2 * l3 + 1) as f64 * (f(l3 + l1 - l2) * f(l3 - l1 + l2) * f(l1 + l2 - l3) * f(l3 + m3) * f(l3 - m3))
        / (f(l1 + l2 + l3 + 1) * f(l1 - m1) * f(l1 + m1) * f(l2 - m2) * f(l2 + m2)))
    .sqrt();
    let sum: f64 = (vmin..=vmax)
        .map(|v| {
            let sign = if (v + l2 + m2).rem_euclid(2) == 0 { 1.0 } else { -1.0 };
            sign * f(l2 + l3 + m1 - v) * f(l1 - m1 + v)
                / (f(v) * f(l3 - l1 + l2 - v) * f(l3 + m3 - v) * f(v + l1 - l2 - m3))
        })
        .sum();
    c * sum
}

/// e3nn's `change_basis_real_to_complex(l)`: `[2l+1, 2l+1]`, row-major.
fn real_to_complex(l: i64) -> Vec<Complex> {
    let n = (2 * l + 1) as usize;
    let mut q = vec![Complex::default(); n * n];
    let at = |r: i64, c: i64| (r * (2 * l + 1) + c) as usize;
    let h = std::f64::consts::FRAC_1_SQRT_2;
    for m in -l..0 {
        q[at(l + m, l - m)] = Complex { re: h, im: 0.0 };
        q[at(l + m, l + m)] = Complex { re: 0.0, im: -h };
    }
    q[at(l, l)] = Complex { re: 1.0, im: 0.0 };
    for m in 1..=l {
        let s = if m % 2 == 0 { 1.0 } else { -1.0 };
        q[at(l + m, l + m)] = Complex { re: s * h, im: 0.0 };
        q[at(l + m, l - m)] = Complex { re: 0.0, im: s * h };
    }
    // × (−i)^l, which makes the coefficients real.
    let phase = match l.rem_euclid(4) {
        0 => Complex { re: 1.0, im: 0.0 },
        1 => Complex { re: 0.0, im: -1.0 },
        2 => Complex { re: -1.0, im: 0.0 },
        _ => Complex { re: 0.0, im: 1.0 },
    };
    q.iter().map(|&z| phase.mul(z)).collect()
}

/// The real 3j tensor of `(l1, l2, l3)`, computed.
fn compute(l1: u32, l2: u32, l3: u32) -> Vec<f64> {
    let (a, b, c) = (l1 as i64, l2 as i64, l3 as i64);
    let (n1, n2, n3) = ((2 * a + 1) as usize, (2 * b + 1) as usize, (2 * c + 1) as usize);
    let mut cg = vec![0.0; n1 * n2 * n3];
    for m1 in -a..=a {
        for m2 in -b..=b {
            if (m1 + m2).abs() <= c {
                let index = ((a + m1) as usize * n2 + (b + m2) as usize) * n3 + (c + m1 + m2) as usize;
                cg[index] = su2_coefficient((a, m1), (b, m2), (c, m1 + m2));
            }
        }
    }
    let (q1, q2, q3) = (real_to_complex(a), real_to_complex(b), real_to_complex(c));
    let mut out = vec![0.0; n1 * n2 * n3];
    for i in 0..n1 {
        for k in 0..n2 {
            for n in 0..n3 {
                let v = cg[(i * n2 + k) * n3 + n];
                if v == 0.0 {
                    continue;
                }
                for j in 0..n1 {
                    let qj = q1[i * n1 + j];
                    for l in 0..n2 {
                        let qjl = qj.mul(q2[k * n2 + l]);
                        for m in 0..n3 {
                            // Real part of Q1[i,j] Q2[k,l] conj(Q3[n,m]) · CG[i,k,n].
                            out[(j * n2 + l) * n3 + m] += qjl.mul(q3[n * n3 + m].conj()).re * v;
                        }
                    }
                }
            }
        }
    }
    let norm = out.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 0.0 {
        out.iter_mut().for_each(|v| *v /= norm);
    }
    out
}

/// Computed 3j tensors by `(l1, l2, l3)`.
type Cache = HashMap<(u32, u32, u32), Vec<f64>>;

/// The Wigner 3j tensor `[2l1+1, 2l2+1, 2l3+1]` (row-major, f64) of e3nn (module docs); an error
/// unless `|l1 − l2| ≤ l3 ≤ l1 + l2`. Computed once per triple and cached.
pub fn wigner_3j(l1: u32, l2: u32, l3: u32) -> Result<Vec<f64>> {
    if l3 < l1.abs_diff(l2) || l3 > l1 + l2 {
        return Err(Error::Msg(format!(
            "wigner_3j({l1}, {l2}, {l3}): the triangle rule |l1 − l2| ≤ l3 ≤ l1 + l2 fails"
        )));
    }
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().map_err(|e| Error::Msg(e.to_string()))?.get(&(l1, l2, l3)) {
        return Ok(c.clone());
    }
    let c = compute(l1, l2, l3);
    cache.lock().map_err(|e| Error::Msg(e.to_string()))?.insert((l1, l2, l3), c.clone());
    Ok(c)
}

/// [`wigner_3j`] as a tensor of `dtype` on `device`.
pub fn wigner_3j_tensor(l1: u32, l2: u32, l3: u32, dtype: DType, device: &Device) -> Result<Tensor> {
    let shape = (2 * l1 as usize + 1, 2 * l2 as usize + 1, 2 * l3 as usize + 1);
    Tensor::from_vec(wigner_3j(l1, l2, l3)?, shape, device)?.to_dtype(dtype)
}

/// The Wigner D matrix `[2l+1, 2l+1]` (row-major) of the rotation `r` (a proper rotation matrix,
/// acting on column vectors) on the degree-`l` real harmonics: `Y^l(r·v) = D Y^l(v)`, so that
/// `D¹ = r` in e3nn's basis. Solved by least squares from the harmonics at `4l + 4` directions.
pub fn wigner_d(l: u32, r: [[f64; 3]; 3]) -> Vec<f64> {
    let n = 2 * l as usize + 1;
    let count = 2 * n + 2;
    // Well-spread directions: a golden-angle spiral.
    let points: Vec<[f64; 3]> = (0..count)
        .map(|k| {
            let t = (k as f64 + 0.5) / count as f64;
            let (polar, azimuth) = ((1.0 - 2.0 * t).acos(), k as f64 * 2.399_963_229_728_653);
            [polar.sin() * azimuth.cos(), polar.cos(), polar.sin() * azimuth.sin()]
        })
        .collect();
    let rotate = |v: [f64; 3]| -> [f64; 3] { std::array::from_fn(|i| (0..3).map(|j| r[i][j] * v[j]).sum()) };
    let harmonics = crate::kernels::spherical_harmonics::harmonics_of;
    let a: Vec<Vec<f64>> = points.iter().map(|&p| harmonics(l, p)).collect();
    let b: Vec<Vec<f64>> = points.iter().map(|&p| harmonics(l, rotate(p))).collect();
    // Each row of D solves Σ_j Y_j(p) D_ij = Y_i(R p) over the points: normal equations
    // (AᵀA) D_iᵀ = Aᵀ B_i, one Gauss–Jordan elimination for all rows at once.
    let mut m: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            let mut row: Vec<f64> = (0..n).map(|k| a.iter().map(|ap| ap[j] * ap[k]).sum()).collect();
            row.extend((0..n).map(|i| a.iter().zip(&b).map(|(ap, bp)| ap[j] * bp[i]).sum::<f64>()));
            row
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs())).unwrap_or(col);
        m.swap(col, pivot);
        let pivot_row = m[col].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != col {
                let f = row[col] / pivot_row[col];
                row.iter_mut().zip(&pivot_row).for_each(|(v, &p)| *v -= f * p);
            }
        }
    }
    let mut d = vec![0.0; n * n];
    for (j, row) in m.iter().enumerate() {
        for i in 0..n {
            d[i * n + j] = row[n + i] / row[j];
        }
    }
    d
}

impl super::Irreps {
    /// The block-diagonal representation `[dim, dim]` (row-major) of the orthogonal matrix `r`:
    /// for `det r = −1`, `p · D^l(−r)` per block (e3nn's `D_from_matrix`), so odd irreps flip
    /// under inversion.
    pub fn d_from_matrix(&self, r: [[f64; 3]; 3]) -> Vec<f64> {
        let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
            + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
        let (proper, inverted) = if det < 0.0 { (r.map(|row| row.map(|v| -v)), true) } else { (r, false) };
        let dim = self.dim();
        let mut out = vec![0.0; dim * dim];
        let mut start = 0;
        for block in self.iter() {
            let n = block.ir.dim();
            let sign = if inverted { block.ir.p.sign() as f64 } else { 1.0 };
            let d = wigner_d(block.ir.l, proper);
            for _ in 0..block.mul {
                for i in 0..n {
                    for j in 0..n {
                        out[(start + i) * dim + start + j] = sign * d[i * n + j];
                    }
                }
                start += n;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(c: &[f64], dims: (usize, usize, usize), i: usize, j: usize, k: usize) -> f64 {
        c[(i * dims.1 + j) * dims.2 + k]
    }

    #[test]
    fn closed_forms_and_sign_fingerprints_match_e3nn() {
        // C(1,1,0) = δ/√3, C(0,l,l) = δ/√(2l+1), C(1,1,1) = ε/√6 (ε_xyz = +1).
        let c = wigner_3j(1, 1, 0).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let expected = if i == j { 1.0 / 3f64.sqrt() } else { 0.0 };
                assert!((at(&c, (3, 3, 1), i, j, 0) - expected).abs() < 1e-14);
            }
        }
        let c = wigner_3j(0, 2, 2).unwrap();
        assert!((at(&c, (1, 5, 5), 0, 3, 3) - 1.0 / 5f64.sqrt()).abs() < 1e-14);
        let c = wigner_3j(1, 1, 1).unwrap();
        assert!((at(&c, (3, 3, 3), 0, 1, 2) - 1.0 / 6f64.sqrt()).abs() < 1e-14);
        assert!((at(&c, (3, 3, 3), 1, 0, 2) + 1.0 / 6f64.sqrt()).abs() < 1e-14);
        // First non-zero entry of each triple, row-major (e3nn 0.6; notes/e3nn.md §1).
        for ((l1, l2, l3), value) in [
            ((1, 1, 2), -0.1825741858),
            ((1, 2, 2), -0.1825741858),
            ((1, 2, 3), -0.0690065559),
            ((1, 3, 3), -0.1336306210),
            ((2, 2, 2), -0.2390457219),
            ((2, 2, 3), 0.1889822365),
            ((2, 3, 3), -0.1091089451),
            ((3, 3, 3), 0.1543033500),
        ] {
            let c = wigner_3j(l1, l2, l3).unwrap();
            let first = *c.iter().find(|v| v.abs() > 1e-12).unwrap();
            assert!((first - value).abs() < 1e-9, "({l1},{l2},{l3}): {first} vs {value}");
            assert!((c.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert!(wigner_3j(1, 1, 3).unwrap_err().to_string().contains("triangle"));
    }

    /// A rotation from an axis and an angle (Rodrigues).
    fn rotation(axis: [f64; 3], angle: f64) -> [[f64; 3]; 3] {
        let n = (axis.iter().map(|v| v * v).sum::<f64>()).sqrt();
        let [x, y, z] = axis.map(|v| v / n);
        let (s, c) = angle.sin_cos();
        let t = 1.0 - c;
        [
            [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
            [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
            [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
        ]
    }

    #[test]
    fn d1_is_the_rotation_and_3j_tensors_are_invariant() {
        let r = rotation([0.3, -1.0, 0.5], 1.1);
        let d1 = wigner_d(1, r);
        for i in 0..3 {
            for j in 0..3 {
                assert!((d1[i * 3 + j] - r[i][j]).abs() < 1e-12, "D¹ ≠ R at ({i}, {j})");
            }
        }
        for (l1, l2, l3) in [(1, 1, 2), (1, 2, 3), (2, 2, 2), (2, 3, 4), (3, 3, 6)] {
            let c = wigner_3j(l1, l2, l3).unwrap();
            let (d1, d2, d3) = (wigner_d(l1, r), wigner_d(l2, r), wigner_d(l3, r));
            let (n1, n2, n3) = (2 * l1 as usize + 1, 2 * l2 as usize + 1, 2 * l3 as usize + 1);
            let mut worst: f64 = 0.0;
            for i in 0..n1 {
                for j in 0..n2 {
                    for k in 0..n3 {
                        let mut v = 0.0;
                        for a in 0..n1 {
                            for b in 0..n2 {
                                for e in 0..n3 {
                                    v += d1[i * n1 + a] * d2[j * n2 + b] * d3[k * n3 + e] * c[(a * n2 + b) * n3 + e];
                                }
                            }
                        }
                        worst = worst.max((v - c[(i * n2 + j) * n3 + k]).abs());
                    }
                }
            }
            assert!(worst < 1e-11, "({l1},{l2},{l3}) is not invariant: {worst}");
        }
    }
}
