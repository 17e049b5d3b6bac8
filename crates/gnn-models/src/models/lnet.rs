//! L0Net and L1Net (Miller, Geiger, Smidt, Noé 2020, "Relevance of rotationally equivariant
//! convolutions for predicting molecular properties"): one architecture whose features are only
//! scalars (L0Net, e.g. `64x0e`) or scalars and vectors (L1Net, e.g. `32x0e+10x1o`), built from
//! e3nn 0.6's layers (`gnn_layers::o3`).
//!
//! Per structure: the element embedding gives `embedding` scalars per atom; each of `layers`
//! blocks is a point convolution into the input of a [`Gate`] (scalars through SiLU, one sigmoid
//! gate per non-scalar copy), plus the block's input when `residual` and the irreps agree; a last
//! convolution maps to one scalar per atom, which is scaled `y·std + mean` (+ the atom reference of
//! its element) and summed (extensive) or averaged (intensive) — schnetpack's `Atomwise`. With the
//! dipole head ([`LNetHead::Dipole`]) it maps to a latent charge q_i and, when the filters reach l = 1,
//! an atomic dipole p_i (`1x0e+1x1o`), and the network predicts |μ| of
//! μ = std · Σ_i (q_i (r_i − r̄) + p_i), r̄ the centroid (schnetpack's `DipoleMoment`, with the
//! charges made neutral by the centring).
//!
//! A convolution is `linear(Σ_{edges j→i} TP(h_j, Y(r̂_ij), R(|r_ij|)) / √num_neighbors)`: the
//! channel-wise (`uvu`) tensor product of the sender's features with the spherical harmonics of the
//! edge up to `lmax_filter` (component normalisation), its per-edge weights from a radial MLP
//! (`FullyConnectedNet`, SiLU) of `radial_basis` Bessel (or Gaussian, …) functions times e3nn's smooth cutoff, then
//! an `o3::Linear` to the gate's input. With `lmax_filter = 0` and scalar features the network only
//! sees distances (L0Net).
//!
//! Where the paper's code (pre-0.1 e3nn) differs — SO(3) only, its own normalisation constants, a
//! separate self-interaction term — we follow e3nn 0.6 (O(3) irreps, e3nn's normalisations).

use candle_core::{Result, Tensor};
use candle_nn::{Module, VarBuilder};
use gnn_layers::nn::{Activation, Embedding};
use gnn_layers::o3::{
    EdgeEmbedding, EdgeEmbeddingConfig, Envelope, Gate, GateConfig, Irrep, Irreps, MulIr, Parity, PointConvolution,
    PointConvolutionConfig, PointOutput, SoftOneHotBasis,
};
use gnn_layers::ops::{gather, scatter_mean, scatter_sum};
use gnn_layers::GraphTensors;

use crate::models::output_head::{AtomRef, OutputHead};
use crate::models::schnet::Readout;
use crate::models::ElementRows;
use crate::models::{Architecture, Capabilities, Elements, GraphInputs, GraphModel, Locality, Scaling, TargetScaling};
use chem_graph::RadiusOptions;

fn bessel() -> SoftOneHotBasis {
    SoftOneHotBasis::Bessel
}

/// What the network's last convolution predicts per atom.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LNetHead {
    /// One scalar, scaled, shifted and summed or averaged (schnetpack's `Atomwise`).
    #[default]
    Scalar,
    /// A charge and (filters with l ≥ 1) a dipole, giving the molecule's dipole moment; the
    /// network predicts its magnitude (`mean`, `atomref` and `readout` are not used).
    Dipole,
}

/// The hyperparameters of L0Net / L1Net (module docs).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LNetConfig {
    /// Atomic numbers of the embedding's rows.
    pub elements: Vec<u8>,
    /// Scalars per atom from the embedding.
    pub embedding: usize,
    /// Features after each gated block: `64x0e` (L0Net) or e.g. `32x0e+10x1o` (L1Net).
    pub features: Irreps,
    /// Gated blocks.
    pub layers: usize,
    /// Degree of the filters' spherical harmonics (0: distances only).
    pub lmax_filter: u32,
    /// Cutoff radius (Å).
    pub cutoff: f64,
    /// Functions of the distance in the radial basis.
    pub radial_basis: usize,
    /// Their kind: Bessel (the paper's default; also when absent) or e.g. Gaussian, all with
    /// e3nn's cutoff variant of `soft_one_hot_linspace`.
    #[serde(default = "bessel")]
    pub basis: SoftOneHotBasis,
    /// Width of the radial MLP's hidden layers.
    pub radial_neurons: usize,
    /// Hidden layers of the radial MLP.
    pub radial_layers: usize,
    /// Add each block's input to its output where their irreps agree.
    pub residual: bool,
    /// Typical number of neighbours (messages are divided by its square root).
    pub num_neighbors: f64,
    /// Sum (extensive targets) or mean (intensive) over atoms.
    pub readout: Readout,
    /// Added to every atom's scaled output.
    pub mean: f64,
    /// Scale of every atom's output.
    pub std: f64,
    /// Per-element reference values (`atomref`), same order as `elements`.
    pub atomref: Option<Vec<f64>>,
    /// The output: a scalar per atom (default) or the dipole moment.
    #[serde(default)]
    pub head: LNetHead,
}

impl LNetConfig {
    /// The paper's L0Net at its March-2020 defaults: H, C, N, O, F embedded in 64 scalars, 4
    /// blocks of `64x0e`, distance-only filters, 50 Bessel functions to 10 Å, a radial MLP with
    /// two hidden layers of 64, residual connections; ~17 neighbours per QM9 atom at 10 Å.
    pub fn l0net() -> Self {
        Self {
            elements: vec![1, 6, 7, 8, 9],
            embedding: 64,
            features: Irreps(vec![MulIr { mul: 64, ir: Irrep::new(0, Parity::Even) }]),
            layers: 4,
            lmax_filter: 0,
            cutoff: 10.0,
            radial_basis: 50,
            basis: SoftOneHotBasis::Bessel,
            radial_neurons: 64,
            radial_layers: 2,
            residual: true,
            num_neighbors: 17.0,
            readout: Readout::Add,
            mean: 0.0,
            std: 1.0,
            atomref: None,
            head: LNetHead::Scalar,
        }
    }

    /// The paper's L1Net at the same depth and nearly the same width: `32x0e+10x1o` (62
    /// components against L0Net's 64), filters up to l = 1; otherwise as [`Self::l0net`].
    pub fn l1net() -> Self {
        Self {
            features: Irreps(vec![
                MulIr { mul: 32, ir: Irrep::new(0, Parity::Even) },
                MulIr { mul: 10, ir: Irrep::new(1, Parity::Odd) },
            ]),
            lmax_filter: 1,
            ..Self::l0net()
        }
    }
}

/// One point convolution (module docs): radial MLP `radial`, mixing `linear`.
fn convolution(
    irreps_in: &Irreps,
    edge: &Irreps,
    irreps_out: &Irreps,
    c: &LNetConfig,
    vb: VarBuilder,
) -> Result<PointConvolution> {
    let config = PointConvolutionConfig {
        irreps_in: irreps_in.clone(),
        irreps_edge: edge.clone(),
        irreps_out: irreps_out.clone(),
        radial_basis: c.radial_basis,
        radial_neurons: c.radial_neurons,
        radial_layers: c.radial_layers,
        divisor: c.num_neighbors.sqrt(),
        paths_by_output: false,
        output: PointOutput::Linear,
    };
    PointConvolution::new(&config, vb.pp("radial"), vb.pp("linear"))
}

/// L0Net / L1Net (module docs).
#[derive(Clone, Debug)]
pub struct LNet {
    config: LNetConfig,
    embedding: Embedding,
    /// The embedding row of each element.
    rows: ElementRows,
    blocks: Vec<(PointConvolution, Gate, bool)>,
    output: PointConvolution,
    edge_irreps: Irreps,
    head: OutputHead,
}

impl LNet {
    /// Builds the network from `vb` (`embedding.weight`, `layers.{k}.{radial,linear}.…`,
    /// `output.…`).
    pub fn new(config: &LNetConfig, vb: VarBuilder) -> Result<Self> {
        if config.elements.is_empty() || config.layers == 0 {
            candle_core::bail!("L0Net/L1Net: at least one element and one layer are needed");
        }
        if let Some(b) = config.features.iter().find(|b| b.ir.l > 0 && b.ir.p != Parity::of_harmonics(b.ir.l)) {
            candle_core::bail!(
                "L0Net/L1Net: feature {} is unreachable from vectors (use (−1)^l parities: 1o, 2e, …)",
                b.ir
            );
        }
        let edge_irreps = Irreps::spherical_harmonics(config.lmax_filter, Parity::Odd);
        let embedding = Embedding::new(config.elements.len(), config.embedding, None, vb.pp("embedding"))?;
        let rows = ElementRows::new(&config.elements);
        let even = Irrep::new(0, Parity::Even);
        let mut irreps: Irreps = format!("{}x0e", config.embedding).parse()?;
        let mut blocks = Vec::with_capacity(config.layers);
        for k in 0..config.layers {
            let scalars = Irreps(config.features.iter().filter(|b| b.ir.l == 0).copied().collect());
            let gated = Irreps(config.features.iter().filter(|b| b.ir.l > 0).copied().collect());
            let gate = Gate::new(GateConfig {
                act_scalars: vec![Activation::Silu; scalars.len()],
                act_gates: vec![Activation::Sigmoid; gated.len()],
                irreps_gates: Irreps(gated.iter().map(|b| MulIr { mul: b.mul, ir: even }).collect()),
                irreps_scalars: scalars,
                irreps_gated: gated,
            })?;
            let conv = convolution(&irreps, &edge_irreps, gate.irreps_in(), config, vb.pp(format!("layers.{k}")))?;
            let residual = config.residual && &irreps == gate.irreps_out();
            irreps = gate.irreps_out().clone();
            blocks.push((conv, gate, residual));
        }
        let outputs = match config.head {
            LNetHead::Dipole if config.lmax_filter >= 1 => "1x0e+1x1o",
            LNetHead::Scalar | LNetHead::Dipole => "1x0e",
        };
        let output = convolution(&irreps, &edge_irreps, &outputs.parse()?, config, vb.pp("output"))?;
        let atomref = config
            .atomref
            .as_ref()
            .map(|values| AtomRef::fixed(&config.elements, values, vb.device()))
            .transpose()
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let head = OutputHead::per_atom(Some(config.mean), Some(config.std), atomref, config.readout);
        Ok(Self { config: config.clone(), embedding, rows, blocks, output, edge_irreps, head })
    }

    /// The configuration.
    pub fn config(&self) -> &LNetConfig {
        &self.config
    }

    /// The dipole moment of each graph (`[graphs, 3]`, in the target's unit per Å of `positions`)
    /// from the dipole head's charges and atomic dipoles (module docs); an error for a scalar head.
    pub fn dipole(&self, g: &GraphTensors, positions: &Tensor) -> crate::Result<Tensor> {
        if self.config.head != LNetHead::Dipole {
            return Err(crate::Error::Input("L0Net/L1Net: dipole moments need head = \"dipole\"".into()));
        }
        let out = self.atom_outputs(g, positions)?;
        let out = out.affine(self.config.std, 0.0)?;
        let centred = positions.sub(&gather(&scatter_mean(positions, &g.node_graph)?, &g.node_graph)?)?;
        let mut atoms = centred.broadcast_mul(&out.narrow(1, 0, 1)?)?;
        if out.dim(1)? == 4 {
            atoms = atoms.add(&out.narrow(1, 1, 3)?)?;
        }
        Ok(scatter_sum(&atoms, &g.node_graph)?)
    }

    /// The last convolution's output per atom (`[atoms, 1]`, or `[atoms, 4]` for a dipole head
    /// with l = 1 filters).
    fn atom_outputs(&self, g: &GraphTensors, positions: &Tensor) -> crate::Result<Tensor> {
        let c = &self.config;
        let numbers = g.numbers.to_vec1::<u32>()?;
        let ids = self.rows.of(&numbers, "L0Net/L1Net")?;
        let ids = Tensor::new(ids.as_slice(), positions.device())?;
        let embedding = EdgeEmbeddingConfig {
            irreps_sh: self.edge_irreps.clone(),
            max_radius: c.cutoff,
            number_of_basis: c.radial_basis,
            basis: c.basis,
            basis_cutoff: true,
            basis_scale: 1.0,
            envelope: Envelope::Basis,
        };
        let edges = EdgeEmbedding::new(&g.edge_vectors(positions)?, &g.source, &g.target, &embedding)?;
        let mut h = self.embedding.forward(&ids)?;
        for (conv, gate, residual) in &self.blocks {
            let out = gate.forward(&conv.forward(&h, None, &edges)?)?;
            h = if *residual { h.add(&out)? } else { out };
        }
        Ok(self.output.forward(&h, None, &edges)?)
    }
}

impl GraphModel for LNet {
    /// One value per graph of `g` (`[graphs, 1]`), differentiable in `positions`: the target, or
    /// |μ| with the dipole head.
    fn forward(&self, g: &GraphTensors, positions: &Tensor) -> crate::Result<Tensor> {
        let c = &self.config;
        if c.head == LNetHead::Dipole {
            // √(|μ|² + ε): the magnitude stays differentiable at μ = 0 (ε = 1e-12, in the target's unit²).
            return Ok(self.dipole(g, positions)?.sqr()?.sum_keepdim(1)?.affine(1.0, 1e-12)?.sqrt()?);
        }
        let out = self.atom_outputs(g, positions)?;
        self.head.forward(g, &out)
    }
}

impl Architecture for LNetConfig {
    type Network = LNet;

    fn build(&self, vb: VarBuilder) -> crate::Result<LNet> {
        Ok(LNet::new(self, vb)?)
    }

    fn outputs(&self) -> usize {
        1
    }

    fn inputs(&self) -> GraphInputs {
        GraphInputs::Radius(RadiusOptions::new(self.cutoff))
    }

    fn capabilities(&self) -> Capabilities {
        let atom_energies = if self.head != LNetHead::Scalar {
            Err("it predicts a dipole moment".into())
        } else if self.readout != Readout::Add {
            Err("its readout averages over atoms (per-atom energies need a sum)".into())
        } else {
            // The blocks and the final convolution to the output each pass messages.
            Ok(Locality { cutoff: self.cutoff, layers: self.layers + 1 })
        };
        Capabilities {
            forces: true,
            force_training: false,
            atom_energies,
            elements: Elements::Listed(self.elements.clone()),
            scaling: Scaling::PerAtom,
        }
    }

    /// `mean`, `std` (when standardised), the atom references of the model's elements and the
    /// readout of the target; a dipole head takes the target's spread as its scale only.
    fn set_target_scaling(&mut self, scaling: &TargetScaling) -> crate::Result<()> {
        let (standardize, extensive) = scaling.single("L0Net/L1Net")?;
        if self.head == LNetHead::Dipole {
            // A magnitude: no shift or references, the target's spread as the scale.
            (self.mean, self.std, self.atomref) = (0.0, standardize.map_or(1.0, |(_, std)| std), None);
            return Ok(());
        }
        if let Some((mean, std)) = standardize {
            (self.mean, self.std) = (mean, std);
        }
        self.atomref = scaling
            .atomref
            .as_ref()
            .map(|a| self.elements.iter().map(|&z| a.get(z as usize).copied().unwrap_or(0.0)).collect());
        self.readout = if extensive { Readout::Add } else { Readout::Mean };
        Ok(())
    }
}
