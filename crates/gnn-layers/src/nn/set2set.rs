//! PyG's `Set2Set` readout (Vinyals et al. 2015): attention over each graph's nodes driven by an
//! LSTM, `processing_steps` times; the output is `[q ‖ r]`, query first.

use super::rnn::Lstm;
use crate::ops::{scatter_sum, segment_softmax, SegmentIndex, PYG_SOFTMAX_EPS};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// `torch_geometric.nn.aggr.Set2Set(in_channels, processing_steps, num_layers=…)`: parameters
/// `lstm.weight_ih_l{k}` `[4·in, 2·in]` (`[4·in, in]` for `k > 0`), `lstm.weight_hh_l{k}`, biases.
#[derive(Clone, Debug)]
pub struct Set2Set {
    lstm: Lstm,
    channels: usize,
    steps: usize,
}

impl Set2Set {
    /// Builds the readout for `channels`-wide node features.
    pub fn new(channels: usize, steps: usize, num_layers: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { lstm: Lstm::new(2 * channels, channels, num_layers, vb.pp("lstm"))?, channels, steps })
    }

    /// Output width, `2 · channels`.
    pub fn out_channels(&self) -> usize {
        2 * self.channels
    }

    /// Reads out `x [nodes, channels]` per graph (`node_graph` maps nodes to graphs) into
    /// `[graphs, 2·channels]`. Graphs without nodes get `r = 0`.
    pub fn forward(&self, x: &Tensor, node_graph: &SegmentIndex) -> Result<Tensor> {
        let graphs = node_graph.num_segments();
        let mut state = self.lstm.zero_state(graphs, x)?;
        let mut q_star = Tensor::zeros((graphs, 2 * self.channels), x.dtype(), x.device())?;
        for _ in 0..self.steps {
            state = self.lstm.step(&q_star, &state)?;
            let q = &state[state.len() - 1].h;
            let e = x.mul(&crate::ops::gather(q, node_graph)?)?.sum_keepdim(1)?;
            let a = segment_softmax(&e, node_graph, PYG_SOFTMAX_EPS)?;
            let r = scatter_sum(&x.broadcast_mul(&a)?, node_graph)?;
            q_star = Tensor::cat(&[q, &r], 1)?;
        }
        Ok(q_star)
    }
}
