//! PyTorch's default parameter initialisations, as Candle [`Init`]s.

use candle_nn::Init;

/// `nn.Linear` weight and bias, and every `nn.GRU`/`nn.LSTM` parameter: `U(−1/√fan_in, 1/√fan_in)`
/// (for a Linear weight this is `kaiming_uniform_(a=√5)`).
pub fn uniform_fan_in(fan_in: usize) -> Init {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform { lo: -bound, up: bound }
}

/// `nn.Embedding` weight: `N(0, 1)`.
pub const STANDARD_NORMAL: Init = Init::Randn { mean: 0.0, stdev: 1.0 };

/// Norm-layer scales.
pub const ONES: Init = Init::Const(1.0);

/// Norm-layer shifts and zero-initialised buffers.
pub const ZEROS: Init = Init::Const(0.0);

/// `torch.nn.init.xavier_uniform_`: `U(−a, a)` with `a = √(6 / (fan_in + fan_out))` (PyG's
/// `reset_parameters` for SchNet's layers).
pub fn xavier_uniform(fan_in: usize, fan_out: usize) -> Init {
    let bound = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    Init::Uniform { lo: -bound, up: bound }
}
