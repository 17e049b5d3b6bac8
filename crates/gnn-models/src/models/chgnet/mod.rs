//! CHGNet (Deng et al. 2023, "CHGNet as a pretrained universal neural network potential for
//! charge-informed atomistic modelling"), as chgnet 0.4.2 builds its pretrained model 0.3.0
//! (`chgnet/model/{model,layers,basis,encoders,functions}.py`); imported, then fine-tuned (`--init`).
//!
//! Per structure, on the radius graph to `atom_graph_cutoff` (6 Å) over periodic images:
//! - **Bonds** are the unordered pairs of the graph (an edge and its reverse, [`EdgePairs`]): bond
//!   features `Linear(rbf_ag)` and the weights `Linear(rbf_ag)`, `Linear(rbf_bg)`, where `rbf_*` are
//!   `num_radial` Bessel functions `√(2/r_c)·sin(f_k d/r_c)/d` with learned `f_k`, times the
//!   polynomial cutoff (p = `cutoff_coeff`), to 6 Å (`ag`) and to `bond_graph_cutoff` = 3 Å (`bg`).
//! - **Angles** ([`graph::BondGraph`]): at every atom, every ordered pair of distinct edges into it
//!   shorter than 3 Å; θ = acos(0.999999·cos) of the two edge vectors, expanded in a Fourier basis
//!   `[1/√2, sin(f_k θ), cos(f_k θ)]/√π` of order (`num_angular` − 1)/2 with learned `f_k`.
//! - **Atoms**: an embedding of Z − 1 (94 rows); `n_conv` AtomConv blocks (a gated MLP on
//!   `[h_i, b_ij, h_j]` — SiLU(LayerNorm(core)) · σ(LayerNorm(gate)) — times the bond weight, summed
//!   over the edges into i, a bias-free Linear, plus h_i), after each but the last a BondConv (the
//!   gated MLP on `[b_ij, b_ik, a_jik, h_i]` times both bonds' 3 Å weights, summed on the first
//!   bond, Linear, plus b) and an AngleUpdate (the gated MLP, plus a).
//! - **Readout**: LayerNorm, an MLP to one energy per atom, plus the element's fixed AtomRef, summed
//!   (CHGNet averages over atoms and its calculator multiplies by the atom count: the same total).
//! - **Magnetic moments** (μ_B): `|Linear(h)|` after the second-to-last AtomConv
//!   ([`Chgnet::magmoms`]).
//!
//! Forces and stress come from the edge vectors (positions and strain enter only there), so the
//! 3 Å bond graph is built here from the 6 Å graph's edges and differentiates with them.

mod basis;
mod graph;

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use gnn_layers::nn::{linear, linear_activation, Activation, LayerNorm, NORM_EPS};
use gnn_layers::ops::{dense, gather, scatter_sum, SegmentIndex};
use gnn_layers::{EdgePairs, GraphTensors};

use crate::models::{
    Architecture, Capabilities, Elements, GraphInputs, GraphModel, Locality, Scaling, SpeciesShifts, TargetScaling,
};
use chem_graph::RadiusOptions;
pub use graph::BondGraph;

/// Rows of the element embedding and the AtomRef table (atomic numbers 1…94).
pub const ELEMENTS: usize = 94;

/// The hyperparameters of CHGNet, under chgnet's `model_args` names (module docs). Hidden widths
/// are lists (chgnet's integer `h` is `[h]`, its `0` is `[]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChgnetConfig {
    /// Width of the atom features.
    pub atom_fea_dim: usize,
    /// Width of the bond features.
    pub bond_fea_dim: usize,
    /// Width of the angle features.
    pub angle_fea_dim: usize,
    /// Bessel functions per bond.
    pub num_radial: usize,
    /// Fourier functions per angle (odd).
    pub num_angular: usize,
    /// AtomConv blocks (BondConv and AngleUpdate blocks: one fewer).
    pub n_conv: usize,
    /// Hidden widths of the AtomConv gated MLPs.
    pub atom_conv_hidden_dim: Vec<usize>,
    /// Hidden widths of the BondConv gated MLPs.
    pub bond_conv_hidden_dim: Vec<usize>,
    /// Hidden widths of the AngleUpdate gated MLPs.
    pub angle_layer_hidden_dim: Vec<usize>,
    /// Hidden widths of the readout MLP.
    pub mlp_hidden_dims: Vec<usize>,
    /// Radius of the atom graph (Å).
    pub atom_graph_cutoff: f64,
    /// Bonds shorter than this (Å) form angles.
    pub bond_graph_cutoff: f64,
    /// Exponent p of the polynomial cutoff.
    pub cutoff_coeff: u32,
    /// Whether the AtomConv/BondConv output Linears have biases (chgnet's `mlp_out_bias`).
    pub mlp_out_bias: bool,
}

impl ChgnetConfig {
    /// The architecture of the pretrained CHGNet 0.3.0.
    pub fn v0_3_0() -> Self {
        Self {
            atom_fea_dim: 64,
            bond_fea_dim: 64,
            angle_fea_dim: 64,
            num_radial: 31,
            num_angular: 31,
            n_conv: 4,
            atom_conv_hidden_dim: vec![64],
            bond_conv_hidden_dim: vec![64],
            angle_layer_hidden_dim: vec![],
            mlp_hidden_dims: vec![64, 64, 64],
            atom_graph_cutoff: 6.0,
            bond_graph_cutoff: 3.0,
            cutoff_coeff: 8,
            mlp_out_bias: false,
        }
    }
}

/// chgnet's `MLP`: `Linear, act` per hidden width, then (after a dropout, which numbers a module)
/// the output Linear: parameters `layers.{0,2,…}` and `layers.{2·hidden + 1}`.
#[derive(Clone, Debug)]
struct ChgMlp {
    layers: Vec<Linear>,
}

impl ChgMlp {
    fn new(input: usize, hidden: &[usize], output: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("layers");
        let mut layers = Vec::with_capacity(hidden.len() + 1);
        let mut width = input;
        for (k, &h) in hidden.iter().enumerate() {
            layers.push(linear(width, h, bias, vb.pp(2 * k))?);
            width = h;
        }
        layers.push(linear(width, output, bias, vb.pp(2 * hidden.len() + 1))?);
        Ok(Self { layers })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_after_first(&self.layers[0].forward(x)?)
    }

    /// The output given the first Linear's output `first` (before its activation).
    fn forward_after_first(&self, first: &Tensor) -> Result<Tensor> {
        let last = self.layers.len() - 1;
        let activation = |k: usize| if k < last { Activation::Silu } else { Activation::Identity };
        let mut h = activation(0).apply(first)?;
        for (k, layer) in self.layers.iter().enumerate().skip(1) {
            h = linear_activation(layer, &h, activation(k))?;
        }
        Ok(h)
    }
}

/// The input of BondConv and AngleUpdate per angle: `[b_first, b_second, a, h_center]`.
fn angle_input<'a>(bonds: &'a Tensor, angles: &'a Tensor, h: &'a Tensor, graph: &'a BondGraph) -> [Part<'a>; 4] {
    [(bonds, Some(&graph.first_bond)), (bonds, Some(&graph.second_bond)), (angles, None), (h, Some(&graph.center))]
}

/// One block of a gated MLP's input: rows of `features`, gathered by `index` when given.
type Part<'a> = (&'a Tensor, Option<&'a SegmentIndex>);

/// chgnet's `GatedMLP` with layer norms: `SiLU(bn1(core(x))) · σ(bn2(gate(x)))`.
#[derive(Clone, Debug)]
struct GatedMlp {
    core: ChgMlp,
    gate: ChgMlp,
    bn1: LayerNorm,
    bn2: LayerNorm,
}

impl GatedMlp {
    fn new(input: usize, hidden: &[usize], output: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            core: ChgMlp::new(input, hidden, output, true, vb.pp("mlp_core"))?,
            gate: ChgMlp::new(input, hidden, output, true, vb.pp("mlp_gate"))?,
            bn1: LayerNorm::new(output, NORM_EPS, vb.pp("bn1"))?,
            bn2: LayerNorm::new(output, NORM_EPS, vb.pp("bn2"))?,
        })
    }

    /// The output for the input `concat(parts)` (columns in order). The first Linears of core and
    /// gate are applied to each part before it is gathered (`W·[x_1; x_2] = W_1·x_1 + W_2·x_2`), so
    /// features shared by many rows (atoms, bonds) are multiplied once.
    fn forward(&self, parts: &[Part]) -> Result<Tensor> {
        let (core, gate) = (&self.core.layers[0], &self.gate.layers[0]);
        let weight = Tensor::cat(&[core.weight(), gate.weight()], 0)?;
        let mut first: Option<Tensor> = None;
        let mut column = 0;
        for (features, index) in parts {
            let width = features.dim(1)?;
            let slice = weight.narrow(1, column, width)?.contiguous()?;
            column += width;
            let projected = dense(features, &slice, None)?;
            let projected = match index {
                Some(index) => gather(&projected, index)?,
                None => projected,
            };
            first = Some(match first {
                Some(sum) => sum.add(&projected)?,
                None => projected,
            });
        }
        let first = first.ok_or_else(|| candle_core::Error::Msg("CHGNet: a gated MLP without input".into()))?;
        let bias = match (core.bias(), gate.bias()) {
            (Some(c), Some(g)) => Tensor::cat(&[c, g], 0)?,
            _ => candle_core::bail!("CHGNet: gated MLPs have biases"),
        };
        let first = first.broadcast_add(&bias)?;
        let width = core.weight().dim(0)?;
        let core = self.core.forward_after_first(&first.narrow(1, 0, width)?)?;
        let gate = self.gate.forward_after_first(&first.narrow(1, width, first.dim(1)? - width)?)?;
        let core = Activation::Silu.apply(&self.bn1.forward(&core)?)?;
        let gate = Activation::Sigmoid.apply(&self.bn2.forward(&gate)?)?;
        core.mul(&gate)
    }
}

/// An AtomConv or BondConv block: the gated MLP and the output Linear (an AngleUpdate is its
/// gated MLP alone).
#[derive(Clone, Debug)]
struct Block {
    mlp: GatedMlp,
    out: Linear,
}

impl Block {
    fn new(input: usize, hidden: &[usize], output: usize, out_bias: bool, name: &str, vb: VarBuilder) -> Result<Self> {
        let mlp = GatedMlp::new(input, hidden, output, vb.pp(name))?;
        let out = linear(output, output, out_bias, vb.pp("mlp_out").pp("layers").pp(1))?;
        Ok(Self { mlp, out })
    }

    /// `residual + out(Σ_rows→segments mlp(input) · weight)`.
    fn aggregate(&self, input: &[Part], weight: &Tensor, into: &SegmentIndex, residual: &Tensor) -> Result<Tensor> {
        let messages = self.mlp.forward(input)?.mul(weight)?;
        self.out.forward(&scatter_sum(&messages, into)?)?.add(residual)
    }
}

/// The values [`Chgnet::compute`] returns per atom.
struct AtomOutputs {
    /// Energy per atom (readout plus AtomRef), `[atoms]`.
    energies: Tensor,
    /// Magnetic moments, `[atoms]`.
    magmoms: Tensor,
}

/// CHGNet (module docs).
#[derive(Clone, Debug)]
pub struct Chgnet {
    config: ChgnetConfig,
    embedding: Tensor,
    atom_ref: Tensor,
    rbf_ag: basis::RadialBessel,
    rbf_bg: basis::RadialBessel,
    fourier: basis::Fourier,
    bond_embedding: Linear,
    bond_weights_ag: Linear,
    bond_weights_bg: Linear,
    angle_embedding: Linear,
    atom_convs: Vec<Block>,
    bond_convs: Vec<Block>,
    angle_updates: Vec<GatedMlp>,
    site_wise: Linear,
    readout_norm: LayerNorm,
    mlp: ChgMlp,
}

impl Chgnet {
    /// Builds the network from `vb` under chgnet's state-dict names.
    pub fn new(c: &ChgnetConfig, vb: VarBuilder) -> Result<Self> {
        if c.n_conv == 0 || c.num_angular % 2 != 1 || c.num_radial == 0 {
            candle_core::bail!("CHGNet: n_conv ≥ 1, num_radial ≥ 1 and an odd num_angular are needed");
        }
        let (a, b, g) = (c.atom_fea_dim, c.bond_fea_dim, c.angle_fea_dim);
        let bases = vb.pp("bond_basis_expansion");
        let atom_convs = (0..c.n_conv)
            .map(|k| {
                let vb = vb.pp("atom_conv_layers").pp(k);
                Block::new(2 * a + b, &c.atom_conv_hidden_dim, a, c.mlp_out_bias, "twoBody_atom", vb)
            })
            .collect::<Result<_>>()?;
        let bond_convs = (0..c.n_conv - 1)
            .map(|k| {
                let vb = vb.pp("bond_conv_layers").pp(k);
                Block::new(a + 2 * b + g, &c.bond_conv_hidden_dim, b, c.mlp_out_bias, "twoBody_bond", vb)
            })
            .collect::<Result<_>>()?;
        let angle_updates = (0..c.n_conv - 1)
            .map(|k| {
                let vb = vb.pp("angle_layers").pp(k).pp("twoBody_bond");
                GatedMlp::new(a + 2 * b + g, &c.angle_layer_hidden_dim, g, vb)
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config: c.clone(),
            embedding: vb.pp("atom_embedding").pp("embedding").get((ELEMENTS, a), "weight")?,
            atom_ref: vb.pp("composition_model").pp("fc").get((1, ELEMENTS), "weight")?,
            rbf_ag: basis::RadialBessel::new(
                c.num_radial,
                c.atom_graph_cutoff,
                c.cutoff_coeff,
                bases.pp("rbf_expansion_ag"),
            )?,
            rbf_bg: basis::RadialBessel::new(
                c.num_radial,
                c.bond_graph_cutoff,
                c.cutoff_coeff,
                bases.pp("rbf_expansion_bg"),
            )?,
            fourier: basis::Fourier::new(
                (c.num_angular - 1) / 2,
                vb.pp("angle_basis_expansion").pp("fourier_expansion"),
            )?,
            bond_embedding: linear(c.num_radial, b, false, vb.pp("bond_embedding"))?,
            bond_weights_ag: linear(c.num_radial, a, false, vb.pp("bond_weights_ag"))?,
            bond_weights_bg: linear(c.num_radial, b, false, vb.pp("bond_weights_bg"))?,
            angle_embedding: linear(c.num_angular, g, false, vb.pp("angle_embedding"))?,
            atom_convs,
            bond_convs,
            angle_updates,
            site_wise: linear(a, 1, true, vb.pp("site_wise"))?,
            readout_norm: LayerNorm::new(a, NORM_EPS, vb.pp("readout_norm"))?,
            mlp: ChgMlp::new(a, &c.mlp_hidden_dims, 1, true, vb.pp("mlp"))?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ChgnetConfig {
        &self.config
    }

    /// Magnetic moments per atom (μ_B, `[atoms]`) of the graphs `g` at `positions`.
    pub fn magmoms(&self, g: &GraphTensors, positions: &Tensor) -> crate::Result<Tensor> {
        Ok(self.compute(g, positions)?.magmoms)
    }

    fn compute(&self, g: &GraphTensors, positions: &Tensor) -> crate::Result<AtomOutputs> {
        let c = &self.config;
        let (dtype, device) = (positions.dtype(), positions.device());
        let numbers = g.numbers.to_vec1::<u32>()?;
        if let Some(a) = numbers.iter().position(|&z| z == 0 || z as usize > ELEMENTS) {
            return Err(crate::Error::Input(format!(
                "CHGNet: atom {a} has atomic number {}, outside its element table (1…{ELEMENTS})",
                numbers[a]
            )));
        }
        let rows = SegmentIndex::new(numbers.iter().map(|&z| z - 1).collect(), ELEMENTS, device)?;
        let vectors = g.edge_vectors(positions)?;
        let lengths = GraphTensors::edge_lengths(&vectors)?;
        let pairs = match &g.pairs {
            Some(pairs) => pairs.clone(),
            None => {
                // No edge has its reverse: every edge is a bond of its own.
                let edges: Vec<u32> = (0..g.num_edges() as u32).collect();
                EdgePairs {
                    pair_of_edge: SegmentIndex::new(edges.clone(), edges.len(), device)?,
                    representative: SegmentIndex::new(edges, g.num_edges(), device)?,
                }
            }
        };
        let bond_lengths = gather(&lengths, &pairs.representative)?;
        let rbf_ag = self.rbf_ag.forward(&bond_lengths)?;
        let rbf_bg = self.rbf_bg.forward(&bond_lengths)?;
        let mut bonds = self.bond_embedding.forward(&rbf_ag)?;
        let weights_ag = gather(&self.bond_weights_ag.forward(&rbf_ag)?, &pairs.pair_of_edge)?;
        let weights_bg = self.bond_weights_bg.forward(&rbf_bg)?;
        let host_lengths = lengths.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let bond_graph =
            BondGraph::new(g.target.values(), g.num_nodes(), &host_lengths, c.bond_graph_cutoff, &pairs, device)?;
        let mut angles = if bond_graph.is_empty() {
            None
        } else {
            let units = vectors.broadcast_div(&lengths.unsqueeze(1)?)?;
            let cosines =
                gather(&units, &bond_graph.first_edge)?.mul(&gather(&units, &bond_graph.second_edge)?)?.sum(1)?;
            let theta = basis::acos(&cosines.affine(1.0 - 1e-6, 0.0)?)?;
            let bond_weights =
                gather(&weights_bg, &bond_graph.first_bond)?.mul(&gather(&weights_bg, &bond_graph.second_bond)?)?;
            Some((self.angle_embedding.forward(&self.fourier.forward(&theta)?)?, bond_weights))
        };
        let mut h = gather(&self.embedding.to_dtype(dtype)?, &rows)?;
        let mut magmoms = None;
        for k in 0..c.n_conv {
            let messages = [(&h, Some(&g.target)), (&bonds, Some(&pairs.pair_of_edge)), (&h, Some(&g.source))];
            h = self.atom_convs[k].aggregate(&messages, &weights_ag, &g.target, &h)?;
            if k + 1 == c.n_conv {
                break;
            }
            if let Some((angle_feas, bond_weights)) = &mut angles {
                bonds = self.bond_convs[k].aggregate(
                    &angle_input(&bonds, angle_feas, &h, &bond_graph),
                    bond_weights,
                    &bond_graph.first_bond,
                    &bonds,
                )?;
                *angle_feas = self.angle_updates[k]
                    .forward(&angle_input(&bonds, angle_feas, &h, &bond_graph))?
                    .add(angle_feas)?;
            }
            if k + 2 == c.n_conv {
                magmoms = Some(self.site_wise.forward(&h)?.abs()?.squeeze(1)?);
            }
        }
        let site = self.mlp.forward(&self.readout_norm.forward(&h)?)?.squeeze(1)?;
        let reference = gather(&self.atom_ref.to_dtype(dtype)?.squeeze(0)?.unsqueeze(1)?, &rows)?.squeeze(1)?;
        let energies = site.add(&reference)?;
        let magmoms = match magmoms {
            Some(m) => m,
            None => Tensor::zeros(numbers.len(), dtype, device)?,
        };
        Ok(AtomOutputs { energies, magmoms })
    }
}

impl GraphModel for Chgnet {
    /// The total energy of each graph in eV (`[graphs, 1]`), differentiable in `positions`.
    fn forward(&self, g: &GraphTensors, positions: &Tensor) -> crate::Result<Tensor> {
        let energies = self.compute(g, positions)?.energies;
        Ok(g.sum_nodes(&energies.unsqueeze(1)?)?)
    }
}

impl Architecture for ChgnetConfig {
    type Network = Chgnet;

    fn build(&self, vb: VarBuilder) -> crate::Result<Chgnet> {
        Ok(Chgnet::new(self, vb)?)
    }

    fn outputs(&self) -> usize {
        1
    }

    fn inputs(&self) -> GraphInputs {
        GraphInputs::Radius(RadiusOptions::new(self.atom_graph_cutoff))
    }

    fn capabilities(&self) -> Capabilities {
        // After AtomConv k an atom sees `k · atom_graph_cutoff` Å; a bond (< 3 Å) updated after it
        // sees `bond_graph_cutoff` further (its ends, their short bonds and angles), which the next
        // AtomConv's step covers when the bond graph is not longer than the atom graph: `n_conv`
        // steps of the atom graph's cutoff bound everything.
        let reach = if self.bond_graph_cutoff <= self.atom_graph_cutoff {
            Ok(Locality { cutoff: self.atom_graph_cutoff, layers: self.n_conv })
        } else {
            Err(format!(
                "its bond graph ({} Å) reaches further than its atom graph ({} Å)",
                self.bond_graph_cutoff, self.atom_graph_cutoff
            ))
        };
        Capabilities {
            forces: true,
            force_training: true,
            atom_energies: reach,
            elements: Elements::UpTo(ELEMENTS as u8),
            scaling: Scaling::None,
        }
    }

    /// The AtomRef table `composition_model.fc.weight` (`[1, 94]`, column k = element k + 1): it
    /// enters the total energy once per atom.
    fn species_shifts(&self) -> Option<SpeciesShifts> {
        Some(SpeciesShifts {
            tensor: "composition_model.fc.weight".into(),
            elements: (1..=ELEMENTS as u8).collect(),
            mean: false,
        })
    }

    fn set_target_scaling(&mut self, _scaling: &TargetScaling) -> crate::Result<()> {
        Err(crate::Error::config(
            "model",
            "CHGNet is imported (chemgnn import --from chgnet) and fine-tuned with `chemgnn train --init DIR`, not trained from scratch",
        ))
    }
}
