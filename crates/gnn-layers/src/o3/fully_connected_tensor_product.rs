//! e3nn's `FullyConnectedTensorProduct` with internal weights: every path `in1 ⊗ in2 → out` with
//! one shared weight per multiplicity triple (`uvw`), the weights a parameter `weight`. e3nn models
//! use it to mix node features with node attributes (gate_points' `sc`, `lin1`, `lin2`; NequIP's
//! self-connection).

use candle_core::{Result, Tensor};
use candle_nn::{Init, VarBuilder};

use super::{Irreps, TensorProduct, TensorProductConfig};

/// A fully connected tensor product with its weights (`{prefix}.weight`, `[weight_numel]`, drawn from
/// N(0, 1) like e3nn's when the builder creates them).
#[derive(Clone, Debug)]
pub struct FullyConnectedTensorProduct {
    tp: TensorProduct,
    weight: Tensor,
}

impl FullyConnectedTensorProduct {
    /// `in1 ⊗ in2 → out` with weights from `vb`.
    pub fn new(in1: &Irreps, in2: &Irreps, out: &Irreps, vb: VarBuilder) -> Result<Self> {
        let tp = TensorProduct::new(TensorProductConfig::fully_connected(in1.clone(), in2.clone(), out.clone()))?;
        let weight = vb.get_with_hints(tp.weight_numel(), "weight", Init::Randn { mean: 0.0, stdev: 1.0 })?;
        Ok(Self { tp, weight })
    }

    /// The product of `x1` (`[…, in1.dim()]`) and `x2` (`[…, in2.dim()]`).
    pub fn forward(&self, x1: &Tensor, x2: &Tensor) -> Result<Tensor> {
        self.tp.forward(x1, x2, &self.weight)
    }

    /// The tensor product (its paths and irreps).
    pub fn tensor_product(&self) -> &TensorProduct {
        &self.tp
    }
}
