//! e3nn's normalised activations: `f̃(x) = c·f(x)` with `c = E[f(z)²]^(−1/2)`, `z ~ N(0, 1)`
//! (`e3nn.math.normalize2mom`), so that unit-variance inputs give unit second moments.
//!
//! e3nn estimates `c` by Monte Carlo (10⁶ samples of `torch.randn`, generator seeded 0, f64, CPU)
//! when a module is built, and does not store it; the estimate differs from the exact value by about
//! 1e-3, far above f32 tolerance. The constants here are e3nn's estimates, copied from e3nn 0.6.0
//! (`normalize2mom(f).cst`), so imported models give e3nn's numbers (a model built by e3nn on a CUDA
//! default device would have other values).

use candle_core::{Error, Result, Tensor};

use crate::nn::Activation;

/// e3nn's `normalize2mom` constant of `activation` (module docs); activations e3nn users do not
/// normalise this way (PyG's f32-rounded shifted softplus) are an error.
pub fn normalize2mom(activation: Activation) -> Result<f64> {
    Ok(match activation {
        Activation::Silu => 1.6791767923989418,
        Activation::Tanh => 1.5937334472592695,
        Activation::Sigmoid => 1.8467055342154763,
        Activation::Relu => 1.4163393446331365,
        Activation::Softplus => 1.0426436590527184,
        Activation::ShiftedSoftplus => 1.878204668541552,
        // E[z²] = 1 exactly, but e3nn's estimate is not within its 1e-4 skip threshold.
        Activation::Identity => 1.001110600838467,
        Activation::ShiftedSoftplusPyg => {
            return Err(Error::Msg("e3nn has no normalize2mom constant for PyG's shifted softplus".into()))
        }
    })
}

/// Whether `f(−x) = −f(x)` (`Some(true)`), `f(−x) = f(x)` (`Some(false)`), or neither (`None`) —
/// what e3nn's `Activation` checks to decide the parity of activated odd scalars.
pub fn activation_parity(activation: Activation) -> Option<bool> {
    match activation {
        Activation::Tanh | Activation::Identity => Some(true),
        _ => None,
    }
}

/// `c·f(x)` (module docs).
pub fn normalized(activation: Activation, x: &Tensor) -> Result<Tensor> {
    activation.apply(x)?.affine(normalize2mom(activation)?, 0.0)
}
