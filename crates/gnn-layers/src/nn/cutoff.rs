//! Smooth cutoff functions of the edge length `d`, going from 1 at `d = 0` to 0 at `r_c`.

use candle_core::{Result, Tensor};

/// `(cos(π d / r_c) + 1) / 2`; with `mask`, multiplied by `[d < r_c]` (schnetpack's
/// `CosineCutoff`); without, as PyG's `CFConv`, which relies on the neighbour list.
pub fn cosine_cutoff(d: &Tensor, cutoff: f64, mask: bool) -> Result<Tensor> {
    let c = d.affine(std::f64::consts::PI / cutoff, 0.0)?.cos()?.affine(0.5, 0.5)?;
    if mask {
        c.mul(&d.lt(cutoff)?.to_dtype(d.dtype())?)
    } else {
        Ok(c)
    }
}

/// The polynomial envelope of DimeNet/NequIP with exponent `p`, `u = d / r_c`:
/// `1 − (p+1)(p+2)/2 · u^p + p(p+2) · u^(p+1) − p(p+1)/2 · u^(p+2)` for `u < 1`, else 0. Its value
/// and first two derivatives vanish at `r_c`. (PyG's DimeNet `Envelope(exponent)` is this divided by
/// `u`, with `p = exponent + 1`.)
pub fn polynomial_cutoff(d: &Tensor, cutoff: f64, p: u32) -> Result<Tensor> {
    let pf = p as f64;
    let u = d.affine(1.0 / cutoff, 0.0)?;
    let up = u.powf(pf)?;
    let poly = up
        .affine(-(pf + 1.0) * (pf + 2.0) / 2.0, 1.0)?
        .add(&up.mul(&u)?.affine(pf * (pf + 2.0), 0.0)?)?
        .add(&up.mul(&u.sqr()?)?.affine(-pf * (pf + 1.0) / 2.0, 0.0)?)?;
    poly.mul(&u.lt(1.0)?.to_dtype(d.dtype())?)
}
