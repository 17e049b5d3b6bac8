//! Multi-layer perceptrons laid out like `torch.nn.Sequential`: modules are numbered in order, so
//! `Sequential(Linear, ReLU, Linear)` has parameters `0.weight`, `0.bias`, `2.weight`, `2.bias`.

use super::activation::Activation;
use super::init::uniform_fan_in;
use super::linear::{linear_activation, linear_with_init};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Init, Linear, VarBuilder};

/// The architecture of an [`Mlp`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpConfig {
    /// Widths from input to output: `[in, hidden…, out]` (at least two entries).
    pub widths: Vec<usize>,
    /// Activation between linear layers.
    pub activation: Activation,
    /// Whether the activation also follows the last linear layer.
    #[serde(default)]
    pub activate_last: bool,
    /// Whether the linear layers have biases.
    #[serde(default = "yes")]
    pub bias: bool,
}

fn yes() -> bool {
    true
}

impl MlpConfig {
    /// Linear layers of the given widths with `activation` between them (not after the last).
    pub fn new(widths: &[usize], activation: Activation) -> Self {
        Self { widths: widths.to_vec(), activation, activate_last: false, bias: true }
    }
}

/// A stack of [`Linear`] layers and activations, with `nn.Sequential` numbering.
#[derive(Clone, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    activation: Activation,
    activate_last: bool,
}

impl Mlp {
    /// Builds the MLP with PyTorch's default initialisation; parameters are `{k}.weight`/`{k}.bias`
    /// where `k` counts linear layers and activations alike.
    pub fn new(config: &MlpConfig, vb: VarBuilder) -> Result<Self> {
        Self::with_init(config, vb, |fan_in, _| (uniform_fan_in(fan_in), uniform_fan_in(fan_in)))
    }

    /// [`Mlp::new`] with `init(fan_in, fan_out) = (weight init, bias init)` for each linear layer.
    pub fn with_init(config: &MlpConfig, vb: VarBuilder, init: impl Fn(usize, usize) -> (Init, Init)) -> Result<Self> {
        if config.widths.len() < 2 {
            candle_core::bail!("an MLP needs at least an input and an output width, got {:?}", config.widths);
        }
        let layers = config
            .widths
            .windows(2)
            .enumerate()
            .map(|(k, w)| {
                let (weight, bias) = init(w[0], w[1]);
                linear_with_init(w[0], w[1], weight, config.bias.then_some(bias), vb.pp(2 * k))
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers, activation: config.activation, activate_last: config.activate_last })
    }

    /// The linear layers, in order.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// Whether an activation (other than the identity) follows the last linear layer; when not, the
    /// output is affine in [`Mlp::forward_hidden`].
    pub fn activates_last(&self) -> bool {
        self.activate_last && self.activation != Activation::Identity
    }

    /// The output of the MLP given `first`, the first linear layer's output before its activation
    /// (for callers that compute the first layer their own way, e.g. factorised over a concatenation).
    pub fn forward_after_first(&self, first: &Tensor) -> Result<Tensor> {
        let last = self.layers.len() - 1;
        let activation_of =
            |k: usize| if k < last || self.activate_last { self.activation } else { Activation::Identity };
        let mut h = activation_of(0).apply(first)?;
        for (k, layer) in self.layers.iter().enumerate().skip(1) {
            h = linear_activation(layer, &h, activation_of(k))?;
        }
        Ok(h)
    }

    /// The input of the last linear layer: `x` through all the other layers and their activations.
    pub fn forward_hidden(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for layer in &self.layers[..self.layers.len() - 1] {
            h = linear_activation(layer, &h, self.activation)?;
        }
        Ok(h)
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let last = self.layers.last().expect("an MLP has at least one layer");
        let activation = if self.activate_last { self.activation } else { Activation::Identity };
        linear_activation(last, &self.forward_hidden(x)?, activation)
    }
}
