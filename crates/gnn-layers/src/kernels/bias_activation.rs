//! `act(x + b)` in one pass (the op behind [`ops::bias_activation`](crate::ops::bias_activation)): the bias of a linear layer fused with the activation that follows it
//! (shifted softplus, softplus, SiLU, sigmoid, ReLU, identity), vectorised for `f32` and split over
//! rayon threads for large inputs.
//!
//! The backward pass is the same kind of fused kernel, `g ⊙ act'(x + b)`, and so is its own
//! derivative (`g ⊙ act''(x + b)`, up to the third derivative), so forces and losses on forces stay
//! on fused kernels.

use super::pointwise::{self, multiversion};
use super::{contiguous, with_float, PARALLEL_MIN_ELEMENTS};
use crate::nn::{Activation, PYG_SSP_SHIFT, SOFTPLUS_THRESHOLD};
use crate::ops::column_sums;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Error, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The activations with a fused kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    /// `softplus(z) − shift`.
    Softplus {
        shift: f64,
    },
    Silu,
    Sigmoid,
    Relu,
    Identity,
}

impl Kind {
    pub(crate) fn of(activation: Activation) -> Option<Self> {
        Some(match activation {
            Activation::ShiftedSoftplus => Kind::Softplus { shift: std::f64::consts::LN_2 },
            Activation::ShiftedSoftplusPyg => Kind::Softplus { shift: PYG_SSP_SHIFT },
            Activation::Softplus => Kind::Softplus { shift: 0.0 },
            Activation::Silu => Kind::Silu,
            Activation::Sigmoid => Kind::Sigmoid,
            Activation::Relu => Kind::Relu,
            Activation::Identity => Kind::Identity,
            Activation::Tanh => return None,
        })
    }
}

/// Highest derivative the kernels compute (enough for a loss on forces and its gradient check).
const MAX_ORDER: u8 = 3;

pub(crate) struct BiasActivation {
    pub(crate) kind: Kind,
}

/// `g ⊙ act⁽ᵒʳᵈᵉʳ⁾(x + b)`.
struct Derivative {
    kind: Kind,
    order: u8,
}

impl CustomOp2 for BiasActivation {
    fn name(&self) -> &'static str {
        "chemgnn-bias-activation"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout, bs: &CpuStorage, bl: &Layout) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let b = contiguous::<T>(bs, bl, self.name())?;
            T::to_cpu_storage_owned(evaluate(self.kind, 0, x, b, None))
        });
        Ok((out, xl.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, b: &Tensor, _out: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad_x = derivative(self.kind, 1, grad, x, b)?;
        let grad_b = bias_gradient(&grad_x, b)?;
        Ok((Some(grad_x), grad_b))
    }
}

impl CustomOp3 for Derivative {
    fn name(&self) -> &'static str {
        "chemgnn-bias-activation-derivative"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        xs: &CpuStorage,
        xl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(xs, self.name(), |T| {
            let g = contiguous::<T>(gs, gl, self.name())?;
            let x = contiguous::<T>(xs, xl, self.name())?;
            let b = contiguous::<T>(bs, bl, self.name())?;
            T::to_cpu_storage_owned(evaluate(self.kind, self.order, x, b, Some(g)))
        });
        Ok((out, xl.shape().clone()))
    }

    /// `∂/∂g = G ⊙ act⁽ᵏ⁾`, `∂/∂x = G ⊙ g ⊙ act⁽ᵏ⁺¹⁾`, `∂/∂b` the column sums of `∂/∂x`.
    fn bwd(
        &self,
        g: &Tensor,
        x: &Tensor,
        b: &Tensor,
        _out: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad_g = derivative(self.kind, self.order, grad, x, b)?;
        if !(x.track_op() || b.track_op()) {
            return Ok((Some(grad_g), None, None));
        }
        let grad_x = derivative(self.kind, self.order + 1, &grad.mul(g)?, x, b)?;
        let grad_b = bias_gradient(&grad_x, b)?;
        Ok((Some(grad_g), Some(grad_x), grad_b))
    }
}

fn derivative(kind: Kind, order: u8, g: &Tensor, x: &Tensor, b: &Tensor) -> Result<Tensor> {
    if order > MAX_ORDER {
        return Err(Error::Msg(format!("bias_activation: derivatives beyond order {MAX_ORDER} are not implemented")));
    }
    g.contiguous()?.apply_op3(x, b, Derivative { kind, order })
}

/// The bias gradient (column sums of `grad_x`), when the bias takes part in the graph.
fn bias_gradient(grad_x: &Tensor, b: &Tensor) -> Result<Option<Tensor>> {
    if !b.track_op() {
        return Ok(None);
    }
    let width = b.dim(0)?;
    column_sums(&grad_x.reshape((grad_x.elem_count() / width.max(1), width))?).map(Some)
}

/// The scalar functions of the fused kernels.
pub(crate) trait Scalar: super::Real + std::ops::Sub<Output = Self> + std::ops::Neg<Output = Self> {
    fn sigmoid(self) -> Self;
    fn softplus(self) -> Self;
    fn constant(v: f64) -> Self;
}

impl Scalar for f32 {
    #[inline(always)]
    fn sigmoid(self) -> Self {
        pointwise::sigmoid(self)
    }
    #[inline(always)]
    fn softplus(self) -> Self {
        pointwise::softplus(self)
    }
    #[inline(always)]
    fn constant(v: f64) -> Self {
        v as f32
    }
}

impl Scalar for f64 {
    #[inline(always)]
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    #[inline(always)]
    fn softplus(self) -> Self {
        if self > SOFTPLUS_THRESHOLD {
            self
        } else {
            self.exp().ln_1p()
        }
    }
    #[inline(always)]
    fn constant(v: f64) -> Self {
        v
    }
}

/// The `order`-th derivative of the activation at `z`.
#[inline(always)]
fn value<T: Scalar>(kind: Kind, order: u8, z: T) -> T {
    let one = T::constant(1.0);
    let zero = T::ZERO;
    match kind {
        Kind::Softplus { shift } => {
            if order == 0 {
                return z.softplus() - T::constant(shift);
            }
            let s = z.sigmoid();
            let d = match order {
                1 => s,
                2 => s * (one - s),
                _ => s * (one - s) * (one - T::constant(2.0) * s),
            };
            let linear = z > T::constant(SOFTPLUS_THRESHOLD);
            match (linear, order) {
                (true, 1) => one,
                (true, _) => zero,
                (false, _) => d,
            }
        }
        Kind::Sigmoid => {
            let s = z.sigmoid();
            let ds = s * (one - s);
            match order {
                0 => s,
                1 => ds,
                2 => ds * (one - T::constant(2.0) * s),
                _ => ds * (one - T::constant(6.0) * s + T::constant(6.0) * s * s),
            }
        }
        Kind::Silu => {
            let s = z.sigmoid();
            let ds = s * (one - s);
            let u = one - T::constant(2.0) * s;
            match order {
                0 => z * s,
                1 => s + z * ds,
                2 => ds * (T::constant(2.0) + z * u),
                _ => ds * (u * (T::constant(3.0) + z * u) - T::constant(2.0) * z * ds),
            }
        }
        Kind::Relu => match order {
            0 if z > zero => z,
            1 if z > zero => one,
            _ => zero,
        },
        Kind::Identity => match order {
            0 => z,
            1 => one,
            _ => zero,
        },
    }
}

/// One block of rows: `out = f(x + b)`, times `g` when given.
#[inline(always)]
fn block_with<T: Scalar>(x: &[T], b: &[T], g: Option<&[T]>, out: &mut [MaybeUninit<T>], f: impl Fn(T) -> T) {
    let width = b.len();
    match g {
        None => {
            for (xr, or) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
                for ((o, &xv), &bv) in or.iter_mut().zip(xr).zip(b) {
                    o.write(f(xv + bv));
                }
            }
        }
        Some(g) => {
            for ((xr, gr), or) in x.chunks_exact(width).zip(g.chunks_exact(width)).zip(out.chunks_exact_mut(width)) {
                for (((o, &xv), &gv), &bv) in or.iter_mut().zip(xr).zip(gr).zip(b) {
                    o.write(gv * f(xv + bv));
                }
            }
        }
    }
}

/// Runs [`block_with`] with the activation and derivative order fixed at compile time in each arm,
/// so that every loop is specialised (and vectorised) on its own.
#[inline(always)]
fn block<T: Scalar>(kind: Kind, order: u8, x: &[T], b: &[T], g: Option<&[T]>, out: &mut [MaybeUninit<T>]) {
    macro_rules! orders {
        ($kind:expr) => {
            match order {
                0 => block_with(x, b, g, out, |z| value($kind, 0, z)),
                1 => block_with(x, b, g, out, |z| value($kind, 1, z)),
                2 => block_with(x, b, g, out, |z| value($kind, 2, z)),
                _ => block_with(x, b, g, out, |z| value($kind, 3, z)),
            }
        };
    }
    match kind {
        Kind::Softplus { shift } => orders!(Kind::Softplus { shift }),
        Kind::Silu => orders!(Kind::Silu),
        Kind::Sigmoid => orders!(Kind::Sigmoid),
        Kind::Relu => orders!(Kind::Relu),
        Kind::Identity => orders!(Kind::Identity),
    }
}

multiversion! {
    fn block_f32(kind: Kind, order: u8, x: &[f32], b: &[f32], g: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        block(kind, order, x, b, g, out)
    }
}

pub(crate) trait Block: Scalar {
    fn block(kind: Kind, order: u8, x: &[Self], b: &[Self], g: Option<&[Self]>, out: &mut [MaybeUninit<Self>]);
}

impl Block for f32 {
    fn block(kind: Kind, order: u8, x: &[f32], b: &[f32], g: Option<&[f32]>, out: &mut [MaybeUninit<f32>]) {
        block_f32(kind, order, x, b, g, out)
    }
}

impl Block for f64 {
    fn block(kind: Kind, order: u8, x: &[f64], b: &[f64], g: Option<&[f64]>, out: &mut [MaybeUninit<f64>]) {
        block(kind, order, x, b, g, out)
    }
}

/// Evaluates the kernel over all rows, in parallel blocks of whole rows for large inputs. The output
/// is written once, without zero-initialising it first.
fn evaluate<T: Block>(kind: Kind, order: u8, x: &[T], b: &[T], g: Option<&[T]>) -> Vec<T> {
    let width = b.len();
    if width == 0 || x.is_empty() {
        return vec![T::ZERO; x.len()];
    }
    let mut out = Vec::with_capacity(x.len());
    let spare = &mut out.spare_capacity_mut()[..x.len()];
    if x.len() < PARALLEL_MIN_ELEMENTS {
        T::block(kind, order, x, b, g, spare);
    } else {
        let chunk = (PARALLEL_MIN_ELEMENTS / width).max(1) * width;
        spare.par_chunks_mut(chunk).enumerate().for_each(|(task, o)| {
            let range = task * chunk..task * chunk + o.len();
            T::block(kind, order, &x[range.clone()], b, g.map(|g| &g[range]), o);
        });
    }
    // SAFETY: `block` wrote every element of the first `x.len()` (whole rows: `x.len()` is a
    // multiple of `width`, and each chunk is).
    unsafe { out.set_len(x.len()) };
    out
}
