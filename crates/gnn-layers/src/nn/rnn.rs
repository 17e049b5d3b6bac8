//! Recurrent cells with PyTorch's gate order and parameter names: `nn.GRUCell`
//! (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`), and multi-layer `nn.GRU`/`nn.LSTM`
//! (`weight_ih_l{k}`, …) stepped one time step at a time.

use super::init::uniform_fan_in;
use candle_core::{Result, Tensor, D};
use candle_nn::VarBuilder;

/// The four parameters of one recurrent layer; rows are gate blocks stacked in PyTorch's order.
#[derive(Clone, Debug)]
struct Gates {
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
}

impl Gates {
    fn new(blocks: usize, input: usize, hidden: usize, suffix: &str, vb: &VarBuilder) -> Result<Self> {
        let init = uniform_fan_in(hidden);
        let rows = blocks * hidden;
        Ok(Self {
            weight_ih: vb.get_with_hints((rows, input), &format!("weight_ih{suffix}"), init)?,
            weight_hh: vb.get_with_hints((rows, hidden), &format!("weight_hh{suffix}"), init)?,
            bias_ih: vb.get_with_hints(rows, &format!("bias_ih{suffix}"), init)?,
            bias_hh: vb.get_with_hints(rows, &format!("bias_hh{suffix}"), init)?,
        })
    }

    /// `(x·W_ihᵀ + b_ih, h·W_hhᵀ + b_hh)`.
    fn project(&self, x: &Tensor, h: &Tensor) -> Result<(Tensor, Tensor)> {
        let gi = x.matmul(&self.weight_ih.t()?)?.broadcast_add(&self.bias_ih)?;
        let gh = h.matmul(&self.weight_hh.t()?)?.broadcast_add(&self.bias_hh)?;
        Ok((gi, gh))
    }
}

/// A GRU cell: `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(…)`,
/// `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
#[derive(Clone, Debug)]
pub struct GruCell {
    gates: Gates,
    hidden: usize,
}

impl GruCell {
    /// `nn.GRUCell(input, hidden)`: parameters `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`.
    pub fn new(input: usize, hidden: usize, vb: VarBuilder) -> Result<Self> {
        Self::with_suffix(input, hidden, "", vb)
    }

    fn with_suffix(input: usize, hidden: usize, suffix: &str, vb: VarBuilder) -> Result<Self> {
        Ok(Self { gates: Gates::new(3, input, hidden, suffix, &vb)?, hidden })
    }

    /// One step: input `x [rows, input]`, state `h [rows, hidden]` → new state.
    pub fn step(&self, x: &Tensor, h: &Tensor) -> Result<Tensor> {
        let (gi, gh) = self.gates.project(x, h)?;
        let hd = self.hidden;
        let r = candle_nn::ops::sigmoid(&gi.narrow(1, 0, hd)?.add(&gh.narrow(1, 0, hd)?)?)?;
        let z = candle_nn::ops::sigmoid(&gi.narrow(1, hd, hd)?.add(&gh.narrow(1, hd, hd)?)?)?;
        let n = gi.narrow(1, 2 * hd, hd)?.add(&r.mul(&gh.narrow(1, 2 * hd, hd)?)?)?.tanh()?;
        // h' = n + z ⊙ (h − n)
        n.add(&z.mul(&h.sub(&n)?)?)
    }
}

/// `nn.GRU(input, hidden, num_layers)` for one time step (as used by message-passing updates):
/// parameters `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`.
#[derive(Clone, Debug)]
pub struct Gru {
    layers: Vec<GruCell>,
}

impl Gru {
    /// Builds `num_layers` stacked layers.
    pub fn new(input: usize, hidden: usize, num_layers: usize, vb: VarBuilder) -> Result<Self> {
        let layers = (0..num_layers)
            .map(|k| GruCell::with_suffix(if k == 0 { input } else { hidden }, hidden, &format!("_l{k}"), vb.clone()))
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    /// One time step: `x [rows, input]`, per-layer states `h[k] [rows, hidden]` → new states (the
    /// last one is the output).
    pub fn step(&self, x: &Tensor, h: &[Tensor]) -> Result<Vec<Tensor>> {
        check_layers(h.len(), self.layers.len(), "GRU")?;
        let mut input = x.clone();
        let mut out = Vec::with_capacity(h.len());
        for (cell, h) in self.layers.iter().zip(h) {
            input = cell.step(&input, h)?;
            out.push(input.clone());
        }
        Ok(out)
    }
}

/// State `(h, c)` of one LSTM layer.
#[derive(Clone, Debug)]
pub struct LstmState {
    /// Hidden state `[rows, hidden]`.
    pub h: Tensor,
    /// Cell state `[rows, hidden]`.
    pub c: Tensor,
}

/// `nn.LSTM(input, hidden, num_layers)` for one time step, gates `[i; f; g; o]`:
/// `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')`.
#[derive(Clone, Debug)]
pub struct Lstm {
    layers: Vec<Gates>,
    hidden: usize,
}

impl Lstm {
    /// Builds `num_layers` stacked layers: parameters `weight_ih_l{k}`, `weight_hh_l{k}`,
    /// `bias_ih_l{k}`, `bias_hh_l{k}`.
    pub fn new(input: usize, hidden: usize, num_layers: usize, vb: VarBuilder) -> Result<Self> {
        let layers = (0..num_layers)
            .map(|k| Gates::new(4, if k == 0 { input } else { hidden }, hidden, &format!("_l{k}"), &vb))
            .collect::<Result<_>>()?;
        Ok(Self { layers, hidden })
    }

    /// Number of layers.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Zero states for `rows` sequences.
    pub fn zero_state(&self, rows: usize, like: &Tensor) -> Result<Vec<LstmState>> {
        let zeros = Tensor::zeros((rows, self.hidden), like.dtype(), like.device())?;
        Ok(vec![LstmState { h: zeros.clone(), c: zeros }; self.layers.len()])
    }

    /// One time step: `x [rows, input]` and per-layer states → new states (the last `h` is the
    /// output).
    pub fn step(&self, x: &Tensor, state: &[LstmState]) -> Result<Vec<LstmState>> {
        check_layers(state.len(), self.layers.len(), "LSTM")?;
        let hd = self.hidden;
        let mut input = x.clone();
        let mut out = Vec::with_capacity(state.len());
        for (gates, s) in self.layers.iter().zip(state) {
            let (gi, gh) = gates.project(&input, &s.h)?;
            let g = gi.add(&gh)?;
            let sigmoid = |k: usize| candle_nn::ops::sigmoid(&g.narrow(D::Minus1, k * hd, hd)?);
            let (i, f, o) = (sigmoid(0)?, sigmoid(1)?, sigmoid(3)?);
            let cell = g.narrow(D::Minus1, 2 * hd, hd)?.tanh()?;
            let c = f.mul(&s.c)?.add(&i.mul(&cell)?)?;
            let h = o.mul(&c.tanh()?)?;
            input = h.clone();
            out.push(LstmState { h, c });
        }
        Ok(out)
    }
}

fn check_layers(found: usize, expected: usize, what: &str) -> Result<()> {
    if found != expected {
        candle_core::bail!("{what}: {found} layer states given for {expected} layers");
    }
    Ok(())
}
