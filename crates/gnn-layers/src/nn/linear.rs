//! `nn.Linear`: parameters `weight [out, in]` and `bias [out]`, `y = x·Wᵀ + b`.

use super::activation::Activation;
use super::init::uniform_fan_in;
use crate::ops::dense;
use candle_core::{Result, Tensor};
use candle_nn::{Init, Linear, Module, VarBuilder};

/// A linear layer named and initialised like `torch.nn.Linear(inputs, outputs, bias)`.
pub fn linear(inputs: usize, outputs: usize, bias: bool, vb: VarBuilder) -> Result<Linear> {
    let init = uniform_fan_in(inputs);
    linear_with_init(inputs, outputs, init, bias.then_some(init), vb)
}

/// A linear layer with the given initialisations of the weight and (if any) the bias.
pub fn linear_with_init(
    inputs: usize,
    outputs: usize,
    weight_init: Init,
    bias_init: Option<Init>,
    vb: VarBuilder,
) -> Result<Linear> {
    let weight = vb.get_with_hints((outputs, inputs), "weight", weight_init)?;
    let bias = bias_init.map(|init| vb.get_with_hints(outputs, "bias", init)).transpose()?;
    Ok(Linear::new(weight, bias))
}

/// `activation(layer(x))`: the bias folded into the matrix product ([`dense`]) and the activation
/// a fused pass after it; `x` is `[rows, in]` (other ranks go through `layer` itself).
pub fn linear_activation(layer: &Linear, x: &Tensor, activation: Activation) -> Result<Tensor> {
    if x.rank() != 2 {
        return activation.apply(&layer.forward(x)?);
    }
    let y = dense(x, layer.weight(), layer.bias())?;
    match activation {
        Activation::Identity => Ok(y),
        _ => activation.apply(&y),
    }
}
