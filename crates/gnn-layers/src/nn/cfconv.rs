//! SchNet's continuous-filter convolution and interaction block, with PyG's parameter names and
//! initialisation (`torch_geometric.nn.models.schnet.{CFConv, InteractionBlock}`).

use super::activation::Activation;
use super::cutoff::cosine_cutoff;
use super::init::{xavier_uniform, ZEROS};
use super::linear::{linear_activation, linear_with_init};
use super::sequential::{Mlp, MlpConfig};
use crate::ops::{gather_mul_scatter, gather_mul_scatter_indexed, scale_rows, SegmentIndex};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// PyG's `CFConv`: `x_i' = lin2(Σ_{j→i} lin1(x)_j ⊙ nn(e_ji) · C(d_ji))` with the cosine cutoff
/// `C(d) = (cos(πd/r_c) + 1)/2` (not masked: the neighbour list enforces `d < r_c`).
/// Parameters: `lin1.weight [filters, in]` (no bias), `lin2.weight [out, filters]`, `lin2.bias`;
/// the filter network is passed in (PyG's `nn`, shared with the interaction block's `mlp`).
#[derive(Clone, Debug)]
pub struct CfConv {
    lin1: Linear,
    lin2: Linear,
    cutoff: f64,
}

impl CfConv {
    /// Builds the convolution, initialised as PyG's `reset_parameters` (Xavier weights, zero bias).
    pub fn new(inputs: usize, outputs: usize, filters: usize, cutoff: f64, vb: VarBuilder) -> Result<Self> {
        let lin1 = linear_with_init(inputs, filters, xavier_uniform(inputs, filters), None, vb.pp("lin1"))?;
        let lin2 = xavier_linear(filters, outputs, vb.pp("lin2"))?;
        Ok(Self { lin1, lin2, cutoff })
    }

    /// Applies the convolution with filters `filter [edges, filters]` (the filter network's output)
    /// over edges of length `distance [edges]`.
    pub fn forward(
        &self,
        x: &Tensor,
        filter: &Tensor,
        distance: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
    ) -> Result<Tensor> {
        self.forward_shared(x, filter, distance, source, target, None)
    }

    /// [`CfConv::forward`] with filter rows shared between edges: `filter` and `distance` have one
    /// row per group of `row_of_edge` (e.g. [`EdgePairs::pair_of_edge`](crate::EdgePairs)), or one per
    /// edge without it.
    pub fn forward_shared(
        &self,
        x: &Tensor,
        filter: &Tensor,
        distance: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
        row_of_edge: Option<&SegmentIndex>,
    ) -> Result<Tensor> {
        let w = scale_rows(filter, &cosine_cutoff(distance, self.cutoff, false)?)?;
        let x = linear_activation(&self.lin1, x, Activation::Identity)?;
        let messages = match row_of_edge {
            Some(rows) => gather_mul_scatter_indexed(&x, &w, source, target, rows)?,
            None => gather_mul_scatter(&x, &w, source, target)?,
        };
        linear_activation(&self.lin2, &messages, Activation::Identity)
    }
}

/// PyG's SchNet `InteractionBlock`: `mlp` (filter network `Linear(G, F)`, shifted softplus,
/// `Linear(F, F)`), `conv` ([`CfConv`]), shifted softplus, `lin`. Returns the update `v` that SchNet
/// adds to `h`.
#[derive(Clone, Debug)]
pub struct InteractionBlock {
    mlp: Mlp,
    conv: CfConv,
    activation: Activation,
    lin: Linear,
}

impl InteractionBlock {
    /// Builds the block with PyG's names (`mlp.0`, `mlp.2`, `conv.lin1`, `conv.lin2`, `lin`) and
    /// initialisation; `activation` is [`Activation::ShiftedSoftplusPyg`] for PyG parity.
    pub fn new(
        hidden: usize,
        gaussians: usize,
        filters: usize,
        cutoff: f64,
        activation: Activation,
        vb: VarBuilder,
    ) -> Result<Self> {
        let config = MlpConfig::new(&[gaussians, filters, filters], activation);
        let mlp = Mlp::with_init(&config, vb.pp("mlp"), |fan_in, fan_out| (xavier_uniform(fan_in, fan_out), ZEROS))?;
        let conv = CfConv::new(hidden, hidden, filters, cutoff, vb.pp("conv"))?;
        let lin = xavier_linear(hidden, hidden, vb.pp("lin"))?;
        Ok(Self { mlp, conv, activation, lin })
    }

    /// The update for node features `h [nodes, hidden]` from the radial basis `rbf [edges, G]` of
    /// edges of length `distance [edges]`.
    pub fn forward(
        &self,
        h: &Tensor,
        rbf: &Tensor,
        distance: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
    ) -> Result<Tensor> {
        self.forward_shared(h, rbf, distance, source, target, None)
    }

    /// [`InteractionBlock::forward`] with `rbf` and `distance` given once per group of edges
    /// (`row_of_edge`, e.g. the pairs of a symmetric graph): the filter network runs once per group.
    pub fn forward_shared(
        &self,
        h: &Tensor,
        rbf: &Tensor,
        distance: &Tensor,
        source: &SegmentIndex,
        target: &SegmentIndex,
        row_of_edge: Option<&SegmentIndex>,
    ) -> Result<Tensor> {
        let filter = self.mlp.forward(rbf)?;
        let x = self.conv.forward_shared(h, &filter, distance, source, target, row_of_edge)?;
        linear_activation(&self.lin, &self.activation.apply(&x)?, Activation::Identity)
    }
}

fn xavier_linear(inputs: usize, outputs: usize, vb: VarBuilder) -> Result<Linear> {
    linear_with_init(inputs, outputs, xavier_uniform(inputs, outputs), Some(ZEROS), vb)
}
