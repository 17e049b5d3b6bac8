//! SevenNet (Park et al. 2024): the NequIP-type interatomic potential of sevenn 0.13, as
//! `sevenn.model_build.build_E3_equivariant_model` builds it from a checkpoint's `config`, with the
//! `state_dict` names of sevenn 0.13 (SevenNet-0, SevenNet-l3i5;
//! [`import_sevenn`](crate::checkpoint::import::import_sevenn) reads their `.pth` files).
//!
//! Per structure, over every pair closer than `cutoff` (both directions; an edge `j → i` has
//! `r_ij = r_j − r_i`):
//! - **edges**: `bessel_basis_num` functions `2/r_c · sin(c_n r)/r` with learned frequencies `c_n`
//!   (`edge_embedding.basis_function.coeffs`), times the XPLOR switching function or the
//!   polynomial cutoff ([`CutoffFunction`]); spherical harmonics `l ≤ lmax` of `r̂` (of `r` in
//!   old files; component normalisation, all irreps even for `is_parity: false`);
//! - **atoms**: the one-hot encoding of `chemical_species` (in that order) through an `o3.Linear`
//!   into `irreps_manual[0]` (`onehot_to_feature_x`);
//! - **interaction block `t`** into `irreps_manual[t + 1]`: a self-connection `o3.Linear(x →
//!   gate input)` (`{t}_self_connection_intro`), `o3.Linear(x → x)` (`{t}_self_interaction_1`), a
//!   channel-wise (`uvu`) convolution whose per-edge weights come from an e3nn `FullyConnectedNet`
//!   `[basis, weight_nn_hidden_neurons…, W]` (`{t}_convolution.weight_nn`, normalised
//!   `act_radial`), with its paths ordered by output block (sevenn ≥ 0.11), summed at the receiver
//!   and divided by `conv_denominator[t]` (the checkpoint's `{t}_convolution.denominator`, the value
//!   sevenn divides by: 35.99 in both released models, the square root of SevenNet-0's
//!   `avg_num_neigh` 1295.25), an
//!   `o3.Linear` into the gate input (`{t}_self_interaction_2`), plus the self-connection, then an
//!   e3nn `Gate` (`act_scalar`, `act_gate` by parity);
//! - **readout**: `o3.Linear`s to `dim/2 × 0e` and to `1x0e` (`reduce_input_to_hidden`,
//!   `reduce_hidden_to_energy`), times `rescale_atomic_energy.scale[species]` plus
//!   `rescale_atomic_energy.shift[species]`: the atom's energy (eV); summed per structure.
//!
//! Supported: `interaction_type: nequip`, `self_connection_type: linear`, no biases in linears, a
//! Bessel basis, a weight network of equal hidden widths with SiLU (what the released models use).

use crate::error::{Error, Result};
use crate::models::ElementRows;
use crate::models::{
    Architecture, Capabilities, Elements, GraphInputs, GraphModel, Locality, Scaling, SpeciesShifts, TargetScaling,
};
use candle_core::{Tensor, D};
use candle_nn::VarBuilder;
use chem_graph::RadiusOptions;
use gnn_layers::nn::{polynomial_cutoff, Activation};
use gnn_layers::o3::{
    spherical_harmonics, EdgeEmbedding, Gate, GateConfig, Irrep, Irreps, Linear, LinearConfig, MulIr, Parity,
    PointConvolution, PointConvolutionConfig, PointOutput, SphNormalization, TensorProductConfig,
};
use gnn_layers::GraphTensors;

/// The radial basis (`radial_basis` of sevenn's config).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "radial_basis_name", rename_all = "lowercase", deny_unknown_fields)]
pub enum RadialBasis {
    /// `2/r_c · sin(c_n r)/r`, `n = 1…bessel_basis_num`, frequencies learned (initially `nπ/r_c`).
    Bessel {
        /// Number of functions.
        bessel_basis_num: usize,
    },
}

/// The envelope multiplying the radial basis (`cutoff_function` of sevenn's config).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "cutoff_function_name", deny_unknown_fields)]
pub enum CutoffFunction {
    /// XPLOR switching: 1 below `cutoff_on`, then
    /// `(r_c² − r²)²(r_c² + 2r² − 3r_on²)/(r_c² − r_on²)³`.
    #[serde(rename = "XPLOR")]
    Xplor {
        /// `r_on` (Å).
        cutoff_on: f64,
    },
    /// The polynomial envelope of NequIP with exponent `p` ([`polynomial_cutoff`]).
    #[serde(rename = "poly_cut")]
    Polynomial {
        /// `p`.
        poly_cut_p_value: u32,
    },
}

/// An activation by parity of its scalars (`act_scalar`, `act_gate` of sevenn's config), by
/// sevenn's names (`silu`, `tanh`, `sigmoid`, `relu`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParityActivations {
    /// For even scalars.
    pub e: String,
    /// For odd scalars.
    pub o: String,
}

/// The architecture of a SevenNet model, under the names of sevenn's checkpoint `config` (module
/// docs); the energy shifts and scales are parameters of the checkpoint, not of the config.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SevenNetConfig {
    /// Element symbols in the order of the one-hot encoding (sevenn's: alphabetical).
    pub chemical_species: Vec<String>,
    /// Pair cutoff (Å).
    pub cutoff: f64,
    /// Node irreps: the embedding's, then each interaction block's output.
    pub irreps_manual: Vec<Irreps>,
    /// Degree of the spherical harmonics (`lmax`, or `lmax_edge` where sevenn's config sets one).
    pub lmax: u32,
    /// Odd irreps (parity) or rotations only.
    pub is_parity: bool,
    /// Harmonics of the unit vector `r̂` (sevenn's `_normalize_sph`), or of `r` itself (polynomials
    /// `|r|^l·Y(r̂)`, files before sevenn 0.9.3 such as SevenNet-0 of 22 May 2024).
    #[serde(rename = "_normalize_sph")]
    pub normalize_sph: bool,
    /// Interaction blocks.
    pub num_convolution_layer: usize,
    /// The radial basis.
    pub radial_basis: RadialBasis,
    /// Its envelope.
    pub cutoff_function: CutoffFunction,
    /// Hidden widths of each convolution's weight network.
    pub weight_nn_hidden_neurons: Vec<usize>,
    /// Activation of the weight network.
    pub act_radial: String,
    /// Activations of the gates' scalars.
    pub act_scalar: ParityActivations,
    /// Activations of the gates' gates.
    pub act_gate: ParityActivations,
    /// Divisor of each block's summed messages.
    pub conv_denominator: Vec<f64>,
}

fn activation(name: &str, what: &str) -> Result<Activation> {
    Ok(match name {
        "silu" => Activation::Silu,
        "tanh" => Activation::Tanh,
        "sigmoid" => Activation::Sigmoid,
        "relu" => Activation::Relu,
        other => return Err(Error::config("model", format!("SevenNet: {what} `{other}` is not supported"))),
    })
}

impl ParityActivations {
    fn get(&self, p: Parity, what: &str) -> Result<Activation> {
        activation(if p == Parity::Even { &self.e } else { &self.o }, what)
    }
}

impl SevenNetConfig {
    /// The atomic numbers of `chemical_species`, in order.
    pub fn elements(&self) -> Result<Vec<u8>> {
        self.chemical_species
            .iter()
            .map(|s| {
                chem_graph::element::by_symbol(s)
                    .map(|e| e.z)
                    .ok_or_else(|| Error::config("model", format!("SevenNet: `{s}` is not an element symbol")))
            })
            .collect()
    }

    /// Irreps of the spherical harmonics.
    fn irreps_sh(&self) -> Irreps {
        if self.is_parity {
            Irreps::spherical_harmonics(self.lmax, Parity::Odd)
        } else {
            Irreps((0..=self.lmax).map(|l| MulIr { mul: 1, ir: Irrep::new(l, Parity::Even) }).collect())
        }
    }

    /// Checks the lengths of the per-block lists and what this implementation supports.
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::config("model", format!("SevenNet: {m}")));
        let t = self.num_convolution_layer;
        if self.irreps_manual.len() != t + 1 || self.conv_denominator.len() != t {
            return bad(format!(
                "{t} interaction blocks need {} irreps_manual and {t} conv_denominator entries, not {} and {}",
                t + 1,
                self.irreps_manual.len(),
                self.conv_denominator.len()
            ));
        }
        if let Some(d) = self.conv_denominator.iter().find(|d| !(d.is_finite() && **d > 0.0)) {
            return bad(format!("conv_denominator {d} must be positive"));
        }
        let hidden = &self.weight_nn_hidden_neurons;
        if hidden.is_empty() || hidden.iter().any(|&h| h != hidden[0]) {
            return bad(format!("weight_nn_hidden_neurons {hidden:?}: only equal hidden widths are supported"));
        }
        if activation(&self.act_radial, "act_radial")? != Activation::Silu {
            return bad(format!("act_radial `{}`: only silu is supported", self.act_radial));
        }
        if !(self.cutoff.is_finite() && self.cutoff > 0.0) {
            return bad(format!("cutoff {} must be positive", self.cutoff));
        }
        if let CutoffFunction::Xplor { cutoff_on } = self.cutoff_function {
            if !(0.0..self.cutoff).contains(&cutoff_on) {
                return bad(format!("XPLOR cutoff_on {cutoff_on} must lie below the cutoff {}", self.cutoff));
            }
        }
        self.elements()?;
        Ok(())
    }

    fn basis_len(&self) -> usize {
        match self.radial_basis {
            RadialBasis::Bessel { bessel_basis_num } => bessel_basis_num,
        }
    }
}

/// One interaction block (module docs).
#[derive(Clone, Debug)]
struct Block {
    self_connection: Linear,
    self_interaction: Linear,
    convolution: PointConvolution,
    gate: Gate,
}

/// An `o3.Linear` without biases under `{prefix}.linear`.
fn linear(irreps_in: &Irreps, irreps_out: &Irreps, vb: VarBuilder) -> candle_core::Result<Linear> {
    let config = LinearConfig {
        irreps_in: irreps_in.clone(),
        irreps_out: irreps_out.clone(),
        instructions: None,
        biases: false,
        path_normalization: Default::default(),
    };
    Linear::new(config, vb.pp("linear"))
}

/// The irreps of `a ⊗ b` with `l ≤ lmax` (even ones only when `even`): the targets sevenn's
/// convolution keeps (`util.infer_irreps_out`).
fn product_targets(a: &Irreps, b: &Irreps, lmax: u32, even: bool) -> Vec<Irrep> {
    let mut out: Vec<Irrep> = Vec::new();
    for x in a.iter() {
        for y in b.iter() {
            for ir in x.ir.times(y.ir) {
                if ir.l <= lmax && (!even || ir.p == Parity::Even) && !out.contains(&ir) {
                    out.push(ir);
                }
            }
        }
    }
    out
}

impl SevenNetConfig {
    /// The gate of block `t` (its input is what the block's linears produce).
    fn gate(&self, t: usize) -> Result<Gate> {
        let irreps_out = &self.irreps_manual[t + 1];
        let scalars = Irreps(irreps_out.iter().filter(|b| b.ir.l == 0).copied().collect());
        let gated = Irreps(irreps_out.iter().filter(|b| b.ir.l > 0).copied().collect());
        let even = Irrep::new(0, Parity::Even);
        let gate_parity = if scalars.iter().any(|b| b.ir == even) { Parity::Even } else { Parity::Odd };
        let gates = Irreps(gated.iter().map(|b| MulIr { mul: b.mul, ir: Irrep::new(0, gate_parity) }).collect());
        Ok(Gate::new(GateConfig {
            act_scalars: scalars.iter().map(|b| self.act_scalar.get(b.ir.p, "act_scalar")).collect::<Result<_>>()?,
            act_gates: gates.iter().map(|b| self.act_gate.get(b.ir.p, "act_gate")).collect::<Result<_>>()?,
            irreps_scalars: scalars,
            irreps_gates: gates,
            irreps_gated: gated,
        })?)
    }

    /// The paths of block `t`'s convolution in creation order (the weight layout of sevenn < 0.11;
    /// the network orders them by output block).
    pub(crate) fn convolution_paths(&self, t: usize) -> Result<TensorProductConfig> {
        self.check()?;
        let gate = self.gate(t)?;
        Ok(TensorProductConfig::channelwise(self.irreps_manual[t].clone(), self.irreps_sh(), gate.irreps_in()))
    }
}

impl Block {
    fn new(c: &SevenNetConfig, t: usize, irreps_x: &Irreps, sh: &Irreps, vb: &VarBuilder) -> Result<Self> {
        let irreps_out = &c.irreps_manual[t + 1];
        let gate = c.gate(t)?;
        let gate_in = gate.irreps_in().clone();
        // sevenn filters the convolution's paths by `irreps_out_tp`; the shared convolution filters
        // by the gate input: the same irreps for the released models, checked here.
        let last = t + 1 == c.num_convolution_layer;
        let lmax_out = irreps_out.iter().map(|b| b.ir.l).max().unwrap_or(0);
        let mut targets = product_targets(irreps_x, sh, if last { 0 } else { lmax_out }, last);
        let mut reached: Vec<Irrep> = product_targets(irreps_x, sh, u32::MAX, false);
        reached.retain(|ir| gate_in.iter().any(|b| b.ir == *ir));
        targets.sort();
        reached.sort();
        if targets != reached {
            return Err(Error::config(
                "model",
                format!("SevenNet block {t}: irreps `{irreps_out}` from `{irreps_x}` are not supported (the convolution's irreps differ from the gate's)"),
            ));
        }
        let convolution = PointConvolution::new(
            &PointConvolutionConfig {
                irreps_in: irreps_x.clone(),
                irreps_edge: sh.clone(),
                irreps_out: gate_in.clone(),
                radial_basis: c.basis_len(),
                radial_neurons: c.weight_nn_hidden_neurons[0],
                radial_layers: c.weight_nn_hidden_neurons.len(),
                divisor: c.conv_denominator[t],
                paths_by_output: true,
                output: PointOutput::Linear,
            },
            vb.pp(format!("{t}_convolution.weight_nn")),
            vb.pp(format!("{t}_self_interaction_2.linear")),
        )?;
        Ok(Self {
            self_connection: linear(irreps_x, &gate_in, vb.pp(format!("{t}_self_connection_intro")))?,
            self_interaction: linear(irreps_x, irreps_x, vb.pp(format!("{t}_self_interaction_1")))?,
            convolution,
            gate,
        })
    }

    fn forward(&self, x: &Tensor, edges: &EdgeEmbedding) -> candle_core::Result<Tensor> {
        let s = self.self_connection.forward(x)?;
        let h = self.convolution.forward(&self.self_interaction.forward(x)?, None, edges)?;
        self.gate.forward(&h.add(&s)?)
    }
}

/// A SevenNet network (module docs).
#[derive(Clone, Debug)]
pub struct SevenNet {
    config: SevenNetConfig,
    /// The one-hot row of each species.
    rows: ElementRows,
    coeffs: Tensor,
    embedding: Linear,
    blocks: Vec<Block>,
    to_hidden: Linear,
    to_energy: Linear,
    shift: Tensor,
    scale: Tensor,
}

impl SevenNet {
    /// Builds the network from `vb` (sevenn 0.13's `state_dict` names).
    pub fn new(config: &SevenNetConfig, vb: VarBuilder) -> Result<Self> {
        config.check()?;
        let c = config;
        let elements = c.elements()?;
        let rows = ElementRows::new(&elements);
        let species = elements.len();
        let coeffs = vb.get_with_hints(
            c.basis_len(),
            "edge_embedding.basis_function.coeffs",
            candle_nn::Init::Const(std::f64::consts::PI / c.cutoff),
        )?;
        let one_hot: Irreps = format!("{species}x0e").parse()?;
        let embedding = linear(&one_hot, &c.irreps_manual[0], vb.pp("onehot_to_feature_x"))?;
        let sh = c.irreps_sh();
        let mut blocks = Vec::with_capacity(c.num_convolution_layer);
        for t in 0..c.num_convolution_layer {
            blocks.push(Block::new(c, t, &c.irreps_manual[t], &sh, &vb)?);
        }
        let last = &c.irreps_manual[c.num_convolution_layer];
        if let Some(b) = last.iter().find(|b| b.ir != Irrep::new(0, Parity::Even)) {
            return Err(Error::config(
                "model",
                format!("SevenNet: the last block's irreps `{last}` hold {}, not only 0e", b.ir),
            ));
        }
        let hidden: Irreps = format!("{}x0e", last.dim() / 2).parse()?;
        let to_hidden = linear(last, &hidden, vb.pp("reduce_input_to_hidden"))?;
        let to_energy = linear(&hidden, &"1x0e".parse()?, vb.pp("reduce_hidden_to_energy"))?;
        let shift = vb.get_with_hints(species, "rescale_atomic_energy.shift", candle_nn::Init::Const(0.0))?;
        let scale = vb.get_with_hints(species, "rescale_atomic_energy.scale", candle_nn::Init::Const(1.0))?;
        Ok(Self { config: c.clone(), rows, coeffs, embedding, blocks, to_hidden, to_energy, shift, scale })
    }

    /// The configuration.
    pub fn config(&self) -> &SevenNetConfig {
        &self.config
    }

    /// The radial input of the weight networks, `[edges, basis]`, of the edge lengths `r`.
    fn radial(&self, r: &Tensor) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let r1 = r.unsqueeze(1)?;
        let basis = r1.broadcast_mul(&self.coeffs)?.sin()?.broadcast_div(&r1)?.affine(2.0 / c.cutoff, 0.0)?;
        let envelope = match c.cutoff_function {
            CutoffFunction::Xplor { cutoff_on } => {
                let (rc2, ron2) = (c.cutoff * c.cutoff, cutoff_on * cutoff_on);
                let r2 = r.sqr()?;
                let switched = r2
                    .affine(-1.0, rc2)?
                    .sqr()?
                    .mul(&r2.affine(2.0, rc2 - 3.0 * ron2)?)?
                    .affine(1.0 / (rc2 - ron2).powi(3), 0.0)?;
                r.lt(cutoff_on)?.where_cond(&r.ones_like()?, &switched)?
            }
            CutoffFunction::Polynomial { poly_cut_p_value } => polynomial_cutoff(r, c.cutoff, poly_cut_p_value)?,
        };
        basis.broadcast_mul(&envelope.unsqueeze(1)?)
    }

    /// Every atom's energy (eV, `[atoms, 1]`) given the edge vectors `r_ij` (`[edges, 3]`) of `g`'s
    /// edges; differentiable in `vectors`.
    pub fn atom_energies(&self, g: &GraphTensors, vectors: &Tensor) -> Result<Tensor> {
        let numbers = g.numbers.to_vec1::<u32>()?;
        let ids = self.rows.of(&numbers, "SevenNet")?;
        let (device, dtype) = (vectors.device(), vectors.dtype());
        let ids = Tensor::new(ids.as_slice(), device)?;
        let species = self.config.chemical_species.len();
        let one_hot = candle_nn::encoding::one_hot(ids.clone(), species, 1f32, 0f32)?.to_dtype(dtype)?;
        let r = vectors.sqr()?.sum(D::Minus1)?.sqrt()?;
        let edges = EdgeEmbedding {
            source: g.source.clone(),
            target: g.target.clone(),
            attributes: spherical_harmonics(
                &self.config.irreps_sh(),
                vectors,
                self.config.normalize_sph,
                SphNormalization::Component,
            )?,
            radial: self.radial(&r)?,
        };
        let mut x = self.embedding.forward(&one_hot)?;
        for block in &self.blocks {
            x = block.forward(&x, &edges)?;
        }
        let y = self.to_energy.forward(&self.to_hidden.forward(&x)?)?;
        let scale = self.scale.to_dtype(dtype)?.index_select(&ids, 0)?.unsqueeze(1)?;
        let shift = self.shift.to_dtype(dtype)?.index_select(&ids, 0)?.unsqueeze(1)?;
        Ok(y.mul(&scale)?.add(&shift)?)
    }
}

impl GraphModel for SevenNet {
    /// The total energy of each graph of `g` (`[graphs, 1]`, eV), differentiable in `positions`.
    fn forward(&self, g: &GraphTensors, positions: &Tensor) -> Result<Tensor> {
        let energies = self.atom_energies(g, &g.edge_vectors(positions)?)?;
        Ok(g.sum_nodes(&energies)?)
    }
}

impl Architecture for SevenNetConfig {
    type Network = SevenNet;

    fn build(&self, vb: VarBuilder) -> Result<SevenNet> {
        SevenNet::new(self, vb)
    }

    fn outputs(&self) -> usize {
        1
    }

    /// Every pair closer than the cutoff, without a neighbour cap.
    fn inputs(&self) -> GraphInputs {
        GraphInputs::Radius(RadiusOptions::new(self.cutoff))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            forces: true,
            force_training: true,
            atom_energies: Ok(Locality { cutoff: self.cutoff, layers: self.num_convolution_layer }),
            elements: Elements::Listed(self.elements().unwrap_or_default()),
            scaling: Scaling::None,
        }
    }

    /// The per-species shifts `rescale_atomic_energy.shift` (row k = `chemical_species[k]`): each
    /// enters the total energy once per atom of its species.
    fn species_shifts(&self) -> Option<SpeciesShifts> {
        Some(SpeciesShifts {
            tensor: "rescale_atomic_energy.shift".into(),
            elements: self.elements().ok()?,
            mean: false,
        })
    }

    /// SevenNet has no preset to train from scratch: it is imported (`chemgnn import --from
    /// sevenn`) and fine-tuned from there (`chemgnn train --init`), keeping its own scaling.
    fn set_target_scaling(&mut self, _scaling: &TargetScaling) -> Result<()> {
        Err(Error::config(
            "model",
            "SevenNet is imported (chemgnn import --from sevenn) and fine-tuned with `chemgnn train --init DIR`, not trained from scratch",
        ))
    }
}
