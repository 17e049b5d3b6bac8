//! e3nn's `Gate`: scalars go through activations, and each non-scalar irrep is multiplied by an
//! activated scalar gate of its own.
//!
//! The input is `scalars + gates + gated` **sorted** by irrep (e3nn sorts, then simplifies); the
//! output is `act(scalars)` followed by the gated irreps **in the order given** (unsorted). Copy `k`
//! of the gated irreps is multiplied by gate `k`, and takes the parity of the activated gate times
//! its own (an odd gate turns `2e` into `2o`). Activations are e3nn's normalised ones; an odd
//! scalar (`0o`) keeps its parity through an odd activation (tanh) and is refused with one that is
//! neither odd nor even.

use candle_core::{Error, Result, Tensor, D};

use super::irreps::{Irrep, Irreps, MulIr, Parity};
use super::normalized_activation::{activation_parity, normalized};
use crate::nn::Activation;

/// The definition of a [`Gate`] (e3nn's constructor arguments).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GateConfig {
    /// Scalars passed through `act_scalars`.
    pub irreps_scalars: Irreps,
    /// One activation per block of `irreps_scalars`.
    pub act_scalars: Vec<Activation>,
    /// Gates (scalars), one per gated irrep.
    pub irreps_gates: Irreps,
    /// One activation per block of `irreps_gates`.
    pub act_gates: Vec<Activation>,
    /// The irreps multiplied by the gates.
    pub irreps_gated: Irreps,
}

/// e3nn's `Gate` (module docs).
#[derive(Clone, Debug)]
pub struct Gate {
    config: GateConfig,
    irreps_in: Irreps,
    irreps_out: Irreps,
    /// Offset of each block of `scalars + gates + gated` in the (sorted) input.
    offsets: Vec<usize>,
}

impl Gate {
    /// Checks the definition: scalar gates and scalars, one gate per gated irrep, one activation
    /// per block, activations that suit odd scalars.
    pub fn new(config: GateConfig) -> Result<Self> {
        let scalar = |irreps: &Irreps, name: &str| -> Result<()> {
            match irreps.iter().find(|b| b.ir.l != 0) {
                Some(b) => Err(Error::Msg(format!("gate: {name} `{irreps}` must be scalars, not {}", b.ir))),
                None => Ok(()),
            }
        };
        scalar(&config.irreps_scalars, "irreps_scalars")?;
        scalar(&config.irreps_gates, "irreps_gates")?;
        if let Some(b) = config.irreps_gated.iter().find(|b| b.ir.l == 0) {
            return Err(Error::Msg(format!("gate: gated irreps must have l > 0, not {}", b.ir)));
        }
        if config.irreps_gates.num_irreps() != config.irreps_gated.num_irreps() {
            return Err(Error::Msg(format!(
                "gate: {} gates for {} gated irreps",
                config.irreps_gates.num_irreps(),
                config.irreps_gated.num_irreps()
            )));
        }
        let activated = |irreps: &Irreps, acts: &[Activation], name: &str| -> Result<Irreps> {
            if acts.len() != irreps.len() {
                return Err(Error::Msg(format!(
                    "gate: {} activations for the {} blocks of {name}",
                    acts.len(),
                    irreps.len()
                )));
            }
            irreps
                .iter()
                .zip(acts)
                .map(|(b, &act)| {
                    let p = match (b.ir.p, activation_parity(act)) {
                        (Parity::Even, _) => Parity::Even,
                        (Parity::Odd, Some(true)) => Parity::Odd,
                        (Parity::Odd, Some(false)) => Parity::Even,
                        (Parity::Odd, None) => {
                            return Err(Error::Msg(format!(
                                "gate: {act:?} is neither odd nor even, so it cannot act on the odd scalars of {name}"
                            )))
                        }
                    };
                    Ok(MulIr { mul: b.mul, ir: Irrep::new(0, p) })
                })
                .collect::<Result<Vec<_>>>()
                .map(Irreps)
        };
        let scalars_out = activated(&config.irreps_scalars, &config.act_scalars, "irreps_scalars")?;
        let gates_out = activated(&config.irreps_gates, &config.act_gates, "irreps_gates")?;
        // A gated irrep takes the parity of its activated gate: split the (simplified) gated blocks
        // where the gates' parity changes, as e3nn's ElementwiseTensorProduct aligns them.
        let gate_parity: Vec<Parity> = gates_out.iter().flat_map(|b| std::iter::repeat_n(b.ir.p, b.mul)).collect();
        let mut gated_out: Vec<MulIr> = Vec::new();
        let mut copy = 0;
        for b in config.irreps_gated.simplify().iter() {
            let mut run_start = copy;
            for k in copy..copy + b.mul {
                if k + 1 == copy + b.mul || gate_parity[k + 1] != gate_parity[k] {
                    let ir = Irrep::new(b.ir.l, b.ir.p.times(gate_parity[k]));
                    gated_out.push(MulIr { mul: k + 1 - run_start, ir });
                    run_start = k + 1;
                }
            }
            copy += b.mul;
        }
        let all: Vec<MulIr> = [&config.irreps_scalars, &config.irreps_gates, &config.irreps_gated]
            .iter()
            .flat_map(|i| i.0.iter().copied())
            .collect();
        let sorted = Irreps(all.clone()).sort();
        let sorted_offsets: Vec<usize> = sorted.irreps.slices().iter().map(|r| r.start).collect();
        let offsets = (0..all.len()).map(|i| sorted_offsets[sorted.p[i]]).collect();
        let irreps_out = Irreps(scalars_out.0.into_iter().chain(gated_out).collect());
        Ok(Self { irreps_in: sorted.irreps.simplify(), irreps_out, offsets, config })
    }

    /// The input irreps (sorted and simplified).
    pub fn irreps_in(&self) -> &Irreps {
        &self.irreps_in
    }

    /// The output irreps: activated scalars, then the gated irreps in the order given (with the
    /// gates' parities).
    pub fn irreps_out(&self) -> &Irreps {
        &self.irreps_out
    }

    /// `[batch, irreps_in.dim()] → [batch, irreps_out.dim()]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (batch, dim) = x.dims2()?;
        if dim != self.irreps_in.dim() {
            return Err(Error::Msg(format!(
                "gate: input {:?}, expected [batch, {}] (`{}`)",
                x.dims(),
                self.irreps_in.dim(),
                self.irreps_in
            )));
        }
        let c = &self.config;
        let (ns, ng) = (c.irreps_scalars.len(), c.irreps_gates.len());
        let block = |i: usize, b: &MulIr| x.narrow(1, self.offsets[i], b.dim());
        let mut out = Vec::with_capacity(ns + c.irreps_gated.len());
        for (i, (b, &act)) in c.irreps_scalars.iter().zip(&c.act_scalars).enumerate() {
            out.push(normalized(act, &block(i, b)?)?);
        }
        let gates = c
            .irreps_gates
            .iter()
            .zip(&c.act_gates)
            .enumerate()
            .map(|(i, (b, &act))| normalized(act, &block(ns + i, b)?))
            .collect::<Result<Vec<_>>>()?;
        if !gates.is_empty() {
            let gates = Tensor::cat(&gates, D::Minus1)?;
            let mut next = 0;
            for (i, b) in c.irreps_gated.iter().enumerate() {
                let gated = block(ns + ng + i, b)?.reshape((batch, b.mul, b.ir.dim()))?;
                let g = gates.narrow(1, next, b.mul)?.unsqueeze(2)?;
                out.push(gated.broadcast_mul(&g)?.reshape((batch, b.dim()))?);
                next += b.mul;
            }
        }
        if out.is_empty() {
            return x.narrow(1, 0, 0);
        }
        Tensor::cat(&out, D::Minus1)
    }
}
