//! PyG's `NNConv` (Gilmer et al.'s edge network): each edge gets its own `[in, out]` matrix from a
//! network of its features; messages `x_j · W_e` are aggregated at the target, then the root term
//! `lin(x_i)` and a bias are added.

use super::init::uniform_fan_in;
use super::linear::linear;
use super::sequential::{Mlp, MlpConfig};
use crate::ops::{gather, row_matvec, scatter, Reduce, SegmentIndex};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// `torch_geometric.nn.NNConv(in, out, nn, aggr, root_weight=True, bias=True)` with `nn` an MLP:
/// parameters `nn.{k}.*`, `lin.weight [out, in]` (no bias) and `bias [out]`.
#[derive(Clone, Debug)]
pub struct NnConv {
    nn: Mlp,
    lin: Option<Linear>,
    bias: Option<Tensor>,
    inputs: usize,
    outputs: usize,
    aggregation: Reduce,
}

impl NnConv {
    /// Builds the layer; `edge_network` must map edge features to `inputs · outputs` values.
    pub fn new(
        inputs: usize,
        outputs: usize,
        edge_network: &MlpConfig,
        aggregation: Reduce,
        root_weight: bool,
        bias: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        if edge_network.widths.last() != Some(&(inputs * outputs)) {
            candle_core::bail!("NNConv: the edge network must end in {inputs}×{outputs} = {} values", inputs * outputs);
        }
        let nn = Mlp::new(edge_network, vb.pp("nn"))?;
        let lin = root_weight.then(|| linear(inputs, outputs, false, vb.pp("lin"))).transpose()?;
        let bias = bias.then(|| vb.get_with_hints(outputs, "bias", uniform_fan_in(inputs))).transpose()?;
        Ok(Self { nn, lin, bias, inputs, outputs, aggregation })
    }

    /// The per-edge matrices `[edges, in · out]` (row-major `[in, out]`) for `edge_attr`; compute them
    /// once when several steps share the edges and weights.
    pub fn edge_weights(&self, edge_attr: &Tensor) -> Result<Tensor> {
        self.nn.forward(edge_attr)
    }

    /// `out_i = agg_{j→i} x_j · W(e_ji) + lin(x_i) + bias`.
    pub fn forward(
        &self,
        x: &Tensor,
        edge_attr: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
    ) -> Result<Tensor> {
        self.forward_with_weights(x, &self.edge_weights(edge_attr)?, source, target)
    }

    /// [`NnConv::forward`] with the matrices from [`NnConv::edge_weights`].
    pub fn forward_with_weights(
        &self,
        x: &Tensor,
        weights: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
    ) -> Result<Tensor> {
        let messages = row_matvec(&gather(x, source)?, weights, self.inputs, self.outputs)?;
        let mut out = scatter(&messages, target, self.aggregation)?;
        if let Some(lin) = &self.lin {
            out = out.add(&lin.forward(x)?)?;
        }
        match &self.bias {
            Some(bias) => out.broadcast_add(bias),
            None => Ok(out),
        }
    }
}
