//! Higher-order gradients: forces (−∂E/∂r) that stay differentiable so that a loss on forces can be
//! trained.
//!
//! Candle detaches every gradient during `backward` unless the environment variable
//! `CANDLE_GRAD_DO_NOT_DETACH` is set, and it reads that variable once per thread, on the thread's
//! first backward pass. [`enable_higher_order_gradients`] sets it; [`gradients_with_graph`] and
//! [`forces`] with `create_graph` call it, and so does the trainer before a run with a force loss.
//! It is not set otherwise, on purpose: gradients that keep their graph also keep every
//! intermediate gradient alive until the backward pass ends (a coNGN training step on 64 crystals
//! peaks at 6.6 GB instead of 1.7 GB, and runs 1.5–3× slower). The price: a thread that ran a
//! plain backward pass before its first higher-order one keeps detached gradients;
//! [`gradients_with_graph`] detects that case and returns an error saying what to do, instead of
//! silently wrong (zero) force-loss gradients.

use candle_core::backprop::GradStore;
use candle_core::{Device, Error, Result, Tensor, Var};
use std::cell::Cell;
use std::sync::Once;

const DO_NOT_DETACH: &str = "CANDLE_GRAD_DO_NOT_DETACH";

/// Makes Candle keep the graph of gradients (process-wide, for threads that have not yet run a
/// backward pass). Idempotent and cheap; respects an explicit `CANDLE_GRAD_DO_NOT_DETACH` setting.
pub fn enable_higher_order_gradients() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os(DO_NOT_DETACH).is_none() {
            std::env::set_var(DO_NOT_DETACH, "1");
        }
    });
}

/// Whether higher-order gradients were asked for in this process (the environment variable is
/// set), without setting it: layers that trade the graph of their backward pass for memory
/// ([`PointConvolution`](crate::o3::PointConvolution)) keep it then.
pub(crate) fn higher_order_requested() -> bool {
    std::env::var_os(DO_NOT_DETACH).is_some()
}

thread_local! {
    static ACTIVE: Cell<Option<bool>> = const { Cell::new(None) };
}

/// Whether gradients computed on the current thread carry their own graph (and so can be
/// differentiated again). Calls [`enable_higher_order_gradients`] first.
pub fn higher_order_gradients_active() -> bool {
    enable_higher_order_gradients();
    ACTIVE.with(|active| {
        if let Some(known) = active.get() {
            return known;
        }
        let probe = || -> Result<bool> {
            let x = Var::new(1f32, &Device::Cpu)?;
            // The last op before x has a constant derivative, so x's gradient tracks an op only
            // when the incoming gradient kept its graph.
            let grads = x.as_tensor().affine(3.0, 0.0)?.sqr()?.backward()?;
            Ok(grads.get(x.as_tensor()).is_some_and(|g| g.track_op()))
        };
        let known = probe().unwrap_or(false);
        active.set(Some(known));
        known
    })
}

/// `loss.backward()` with gradients that can be differentiated again. Errors when the current
/// thread already ran a backward pass with detaching gradients before chemgnn was first used.
pub fn gradients_with_graph(loss: &Tensor) -> Result<GradStore> {
    if !higher_order_gradients_active() {
        return Err(Error::Msg(format!(
            "higher-order gradients are unavailable on this thread: a backward pass ran before chemgnn \
             initialised autograd; set {DO_NOT_DETACH}=1 in the environment or call \
             gnn_layers::autograd::enable_higher_order_gradients() at program start"
        )));
    }
    loss.backward()
}

/// Forces `F = −∂(ΣE)/∂r` on the atoms at `positions`, the [`Var`] the energy was computed from.
/// With `create_graph` the forces stay differentiable (for a force loss); without it they are
/// detached.
pub fn forces(energy: &Tensor, positions: &Var, create_graph: bool) -> Result<Tensor> {
    let total = energy.sum_all()?;
    let grads = if create_graph { gradients_with_graph(&total)? } else { total.backward()? };
    let gradient = match grads.get(positions.as_tensor()) {
        Some(g) => g.clone(),
        None => positions.zeros_like()?,
    };
    let forces = gradient.neg()?;
    Ok(if create_graph { forces } else { forces.detach() })
}
