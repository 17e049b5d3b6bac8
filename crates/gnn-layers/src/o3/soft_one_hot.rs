//! e3nn's radial embeddings: `soft_one_hot_linspace` with all five bases, the soft unit step and
//! the smooth cutoff of `gate_points_2101`, composed of Candle ops (differentiable to any order).

use candle_core::{Result, Tensor, D};

/// The basis of [`soft_one_hot_linspace`] (e3nn's `basis` argument).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftOneHotBasis {
    /// `exp(−d²)/1.12` with `d` the distance to each centre in units of their spacing.
    Gaussian,
    /// `cos(πd/2)` for `|d| < 1`.
    Cosine,
    /// `1.14136 e² · s(d + 1) · s(1 − d)` with the soft unit step `s`.
    SmoothFinite,
    /// `cos(π i x̃)/√(0.25 + N/2)`, `i = 0…N−1` (with cutoff: `sin(π i x̃)`, `i = 1…N`, zero outside
    /// `0 < x̃ < 1`), `x̃ = (x − start)/(end − start)`.
    Fourier,
    /// `√(2/c) sin(nπx'/c)/x'`, `x' = x − start`, `c = end − start`, `n = 1…N` (not finite at
    /// `x' = 0`, as in e3nn).
    Bessel,
}

/// `exp(−1/x)` for `x > 0`, else 0 (e3nn's `soft_unit_step`).
pub fn soft_unit_step(x: &Tensor) -> Result<Tensor> {
    let positive = x.gt(0.0)?;
    // Where x ≤ 0, evaluate at 1 instead (finite, with a zero gradient after masking).
    let safe = positive.where_cond(x, &x.ones_like()?)?;
    safe.recip()?.neg()?.exp()?.mul(&positive.to_dtype(x.dtype())?)
}

/// `torch.linspace(start, end, count)` bit for bit: the first half counted from `start`, the second
/// from `end` (so that centres on a boundary fall exactly where e3nn's do).
fn linspace(start: f64, end: f64, count: usize) -> Vec<f64> {
    if count == 1 {
        return vec![start];
    }
    let step = (end - start) / (count - 1) as f64;
    let half = count / 2;
    (0..count).map(|i| if i < half { start + step * i as f64 } else { end - step * (count - 1 - i) as f64 }).collect()
}

/// `number` smooth one-hot features of `x` (`[…]` → `[…, number]`) with centres spread over
/// `[start, end]` (e3nn's `soft_one_hot_linspace`). With `cutoff` the centres exclude both ends and
/// the finite bases vanish outside `(start, end)`.
pub fn soft_one_hot_linspace(
    x: &Tensor,
    start: f64,
    end: f64,
    number: usize,
    basis: SoftOneHotBasis,
    cutoff: bool,
) -> Result<Tensor> {
    let (dtype, device) = (x.dtype(), x.device());
    let count = if cutoff { number + 2 } else { number };
    let all = linspace(start, end, count);
    // e3nn: the spacing is values[1] − values[0], and distances are divided by it.
    let step = if count > 1 { all[1] - all[0] } else { 1.0 };
    let centres = if cutoff { all[1..count - 1].to_vec() } else { all };
    let x = x.unsqueeze(D::Minus1)?;
    let constant = |values: Vec<f64>| -> Result<Tensor> {
        let n = values.len();
        Tensor::from_vec(values, n, device)?.to_dtype(dtype)
    };
    let mask = |t: &Tensor| t.to_dtype(dtype);
    match basis {
        SoftOneHotBasis::Gaussian | SoftOneHotBasis::Cosine | SoftOneHotBasis::SmoothFinite => {
            let step = Tensor::new(step, device)?.to_dtype(dtype)?;
            let d = x.broadcast_sub(&constant(centres)?)?.broadcast_div(&step)?;
            match basis {
                SoftOneHotBasis::Gaussian => d.sqr()?.neg()?.exp()?.affine(1.0 / 1.12, 0.0),
                SoftOneHotBasis::Cosine => {
                    let inside = mask(&d.lt(1.0)?)?.mul(&mask(&d.gt(-1.0)?)?)?;
                    d.affine(std::f64::consts::FRAC_PI_2, 0.0)?.cos()?.mul(&inside)
                }
                _ => {
                    let scale = 1.14136 * 2f64.exp();
                    soft_unit_step(&d.affine(1.0, 1.0)?)?
                        .mul(&soft_unit_step(&d.affine(-1.0, 1.0)?)?)?
                        .affine(scale, 0.0)
                }
            }
        }
        SoftOneHotBasis::Fourier => {
            let t = x.affine(1.0 / (end - start), -start / (end - start))?;
            let norm = 1.0 / (0.25 + number as f64 / 2.0).sqrt();
            if cutoff {
                let i = constant((1..=number).map(|i| i as f64 * std::f64::consts::PI).collect())?;
                let inside = mask(&t.gt(0.0)?)?.mul(&mask(&t.lt(1.0)?)?)?;
                t.broadcast_mul(&i)?.sin()?.affine(norm, 0.0)?.broadcast_mul(&inside)
            } else {
                let i = constant((0..number).map(|i| i as f64 * std::f64::consts::PI).collect())?;
                t.broadcast_mul(&i)?.cos()?.affine(norm, 0.0)
            }
        }
        SoftOneHotBasis::Bessel => {
            let c = end - start;
            let shifted = x.affine(1.0, -start)?;
            // e3nn's order of operations: √(2/c) · sin((nπ · x') / c) / x'.
            let roots = constant((1..=number).map(|n| n as f64 * std::f64::consts::PI).collect())?;
            let c_tensor = Tensor::new(c, device)?.to_dtype(dtype)?;
            let angle = shifted.broadcast_mul(&roots)?.broadcast_div(&c_tensor)?;
            let out = angle.sin()?.affine((2.0 / c).sqrt(), 0.0)?.broadcast_div(&shifted)?;
            if cutoff {
                let inside = mask(&shifted.lt(c)?)?.mul(&mask(&shifted.gt(0.0)?)?)?;
                out.broadcast_mul(&inside)
            } else {
                Ok(out)
            }
        }
    }
}

/// `gate_points_2101`'s smooth cutoff of `x = r / r_max`: 1 below 0.5, `(1 − cos(2π(x − 1)))/2`
/// between 0.5 and 1, 0 above.
pub fn smooth_cutoff(x: &Tensor) -> Result<Tensor> {
    let u = x.affine(2.0, -2.0)?;
    let y = u.affine(std::f64::consts::PI, 0.0)?.cos()?.neg()?.affine(0.5, 0.5)?;
    let (ones, zeros) = (x.ones_like()?, x.zeros_like()?);
    let y = u.gt(0.0)?.where_cond(&zeros, &y)?;
    u.lt(-1.0)?.where_cond(&ones, &y)
}
