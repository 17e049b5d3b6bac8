//! The architectures, one file each, and the one registry that enumerates them.
//!
//! A model is a configuration type implementing [`Architecture`] (how to build the network from a
//! `VarBuilder`, which graphs it reads, what it can compute, how fitted target statistics enter it)
//! and a network type implementing [`GraphModel`] (its forward pass). `registry!` turns one line
//! per model kind into everything that enumerates the kinds: [`ModelConfig`] (the `kind`-tagged
//! JSON of `config.json`), [`Network`], [`ModelConfig::kind`], the presets and help texts of
//! [`KINDS`] that the command line lists. Adding a model is its file plus one line in the
//! `registry!` call below (docs/architecture.md walks through it).

pub mod chgnet;
pub mod cogn;
mod element_rows;
pub mod gate_points;
pub mod lnet;
pub mod mpnn;
pub mod output_head;
#[macro_use]
mod registry;
pub mod schnet;
pub mod sevennet;

use crate::checkpoint::state_dict::Shapes;
use crate::error::{Error, Result};
use candle_core::Tensor;
use candle_nn::VarBuilder;
use chem_graph::{RadiusOptions, Structure};
pub(crate) use element_rows::ElementRows;
use gnn_layers::GraphTensors;

use chgnet::ChgnetConfig;
use cogn::CoGnConfig;
use gate_points::GatePointsModelConfig;
use lnet::LNetConfig;
use mpnn::MpnnConfig;
use schnet::SchNetConfig;
use sevennet::SevenNetConfig;

registry! {
    /// SchNet: PyG's `SchNet` or schnetpack 2's SchNet + Atomwise ([`schnet`]).
    Schnet("schnet", SchNetConfig) = Some(SchNetConfig::default()),
        "SchNet (Schütt et al. 2017): continuous-filter convolutions; PyG's and schnetpack's";
    /// Gilmer et al.'s MPNN; PyG's QM9 example as the preset ([`mpnn`]).
    Mpnn("mpnn", MpnnConfig) = Some(MpnnConfig::pyg_qm9()),
        "MPNN (Gilmer et al. 2017): PyG's QM9 example, NNConv + GRU + Set2Set";
    /// coGN: kgcnn's crystal graph network without nested blocks ([`cogn`]).
    Cogn("cogn", CoGnConfig) = Some(CoGnConfig::cogn(128)),
        "coGN (Ruff et al. 2023): kgcnn's model_default, kNN-24 crystal graphs, width 128";
    /// coNGN: coGN with nested line-graph blocks ([`cogn`]).
    Congn("congn", CoGnConfig) = Some(CoGnConfig::congn(160)),
        "coNGN (Ruff et al. 2023): kgcnn's model_default_nested, Voronoi graphs and line graph, width 160";
    /// e3nn's `gate_points_2101.Network` ([`gate_points`]); imported, not trained.
    GatePoints("gate-points-2101", GatePointsModelConfig) = None,
        "e3nn's gate_points_2101.Network: an E(3)-equivariant point convolution network (import only)";
    /// L0Net: [`lnet`] with scalar features only.
    L0net("l0net", LNetConfig) = Some(LNetConfig::l0net()),
        "L0Net (Miller et al. 2020): equivariant convolutions, scalar features only, 64x0e";
    /// L1Net: [`lnet`] with scalar and l = 1 features.
    L1net("l1net", LNetConfig) = Some(LNetConfig::l1net()),
        "L1Net (Miller et al. 2020): scalar and l = 1 features, 32x0e+10x1o";
    /// CHGNet, chgnet's pretrained universal potential ([`chgnet`]); imported, then fine-tuned.
    Chgnet("chgnet", ChgnetConfig) = None,
        "CHGNet (Deng et al. 2023): chgnet 0.3.0's universal potential, atom + bond graphs (import only)";
    /// SevenNet: sevenn 0.13's NequIP-type potential ([`sevennet`]); imported, then fine-tuned.
    Sevennet("sevennet", SevenNetConfig) = None,
        "SevenNet (Park et al. 2024): sevenn's NequIP-type universal potential (import only: SevenNet-0, -l3i5)";
}

/// A model kind of the registry: its name in `config.json` and on the command line, a one-line
/// description ([`ModelConfig::preset`] gives its preset configuration, if it has one).
#[derive(Clone, Copy, Debug)]
pub struct KindInfo {
    /// `kind` in `config.json`, `--model` on the command line.
    pub name: &'static str,
    /// One line for help texts.
    pub help: &'static str,
}

/// The forward pass of a built network.
pub trait GraphModel {
    /// Predictions `[graphs, outputs]` for the graphs `g`, differentiable in `positions` (the
    /// tensor forces are taken with respect to; usually `g.positions`) where the model has forces.
    fn forward(&self, g: &GraphTensors, positions: &Tensor) -> Result<Tensor>;
}

/// A model architecture: implemented by each model's configuration type.
pub trait Architecture {
    /// The network this configuration builds.
    type Network: GraphModel;

    /// Builds the network from `vb`, under the parameter names of the checkpoints it reproduces.
    fn build(&self, vb: VarBuilder) -> Result<Self::Network>;

    /// Number of values predicted per structure.
    fn outputs(&self) -> usize;

    /// The graphs the model reads.
    fn inputs(&self) -> GraphInputs;

    /// What the model can compute.
    fn capabilities(&self) -> Capabilities;

    /// Buffers a checkpoint may hold besides the parameters (names and shapes), e.g. PyG's
    /// `distance_expansion.offset`.
    fn buffers(&self) -> Shapes {
        Shapes::new()
    }

    /// The irreps of an equivariant model's output vector (e3nn's component order), for outputs
    /// that are not plain scalars.
    fn output_irreps(&self) -> Option<String> {
        None
    }

    /// Writes target statistics fitted on training data into the configuration (a model whose
    /// [`Capabilities::scaling`] is [`Scaling::None`] refuses).
    fn set_target_scaling(&mut self, scaling: &TargetScaling) -> Result<()>;

    /// The parameter tensor of per-element energy shifts, when the model has one that enters its
    /// (first) output additively ([`SpeciesShifts`]); fine-tuning refits it on new data.
    fn species_shifts(&self) -> Option<SpeciesShifts> {
        None
    }
}

/// Per-element energy shifts held in one parameter tensor (SchNet's `atomref.weight`, SevenNet's
/// per-species shift, CHGNet's AtomRef): adding `δ` to the row of element `z` adds `δ` to the
/// energy of every atom of element `z`, so a structure's output changes by `Σ_z n_z·δ_z`, or by
/// `Σ_z n_z·δ_z / n` when `mean` (a mean readout).
#[derive(Clone, Debug, PartialEq)]
pub struct SpeciesShifts {
    /// The tensor's name; it holds one value per row, any shape of that many elements (`[rows]`,
    /// `[rows, 1]`, `[1, rows]`).
    pub tensor: String,
    /// The atomic number of each row (row `k` is element `elements[k]`), e.g. `0..n` for a table
    /// indexed by atomic number, `1..=94` for one indexed by `Z − 1`, a model's species order.
    pub elements: Vec<u8>,
    /// Whether the output is the mean over atoms (intensive) rather than the sum.
    pub mean: bool,
}

/// The graphs a model reads for a structure.
#[derive(Clone, Debug, PartialEq)]
pub enum GraphInputs {
    /// A radius graph (SchNet, gate_points, L0Net/L1Net).
    Radius(RadiusOptions),
    /// A featurised molecular graph (MPNN).
    Molecular {
        /// How atoms and bonds are featurised.
        features: crate::inputs::featurize::MpnnFeatures,
        /// The atom and edge feature widths the model reads (graphs given with their own
        /// features, as a PyG batch, may have any featurisation of these widths).
        widths: (usize, usize),
    },
    /// A periodic crystal graph of a connectivity, text form of
    /// `chem_crystal::graphs::Connectivity` (coGN/coNGN); with the line graph when `line_graph`.
    Crystal {
        /// e.g. `knn:24`, `voronoi:1e-6`.
        connectivity: String,
        /// Whether the model reads the line graph of the crystal graph.
        line_graph: bool,
    },
}

impl GraphInputs {
    /// The radius graph options, for models that read radius graphs.
    pub fn radius(&self) -> Option<&RadiusOptions> {
        match self {
            GraphInputs::Radius(options) => Some(options),
            _ => None,
        }
    }

    /// Whether the model's graphs carry a line graph ([`chem_graph::GraphBatch::with_line_graph`]).
    pub fn line_graph(&self) -> bool {
        matches!(self, GraphInputs::Crystal { line_graph: true, .. })
    }
}

/// What a model can compute beyond its predictions.
#[derive(Clone, Debug, PartialEq)]
pub struct Capabilities {
    /// Predictions are differentiable in the positions: forces, and the stress of periodic
    /// structures.
    pub forces: bool,
    /// A loss on forces can be trained (second derivatives through the network).
    pub force_training: bool,
    /// Per-atom energies on an MD engine's pair lists ([`crate::PairPotential`]), or why not.
    pub atom_energies: std::result::Result<Locality, String>,
    /// The atomic numbers the model has parameters for.
    pub elements: Elements,
    /// How fitted target statistics enter the model.
    pub scaling: Scaling,
}

/// How far a model looks: `layers` message-passing steps over pairs closer than `cutoff` Å.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Locality {
    /// Pair cutoff (Å).
    pub cutoff: f64,
    /// Message-passing steps.
    pub layers: usize,
}

/// How target statistics enter a model ([`output_head::OutputHead`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// Per atom before pooling: `Σ_i (h_i·std + mean + ref[z_i])` (SchNet, L0Net/L1Net).
    PerAtom,
    /// Per structure after the readout: `y·std + mean` (MPNN, coGN).
    PerStructure,
    /// Not trainable here (imported models such as gate_points).
    None,
}

/// Target statistics fitted on training data, handed to [`Architecture::set_target_scaling`].
#[derive(Clone, Debug, PartialEq)]
pub struct TargetScaling {
    /// Per target: `(mean, std)` (per atom for extensive targets of per-atom models); `None`
    /// without standardisation.
    pub standardize: Option<(Vec<f64>, Vec<f64>)>,
    /// Per target: extensive (summed over atoms) or intensive.
    pub extensive: Vec<bool>,
    /// Reference value per atomic number (index = Z) for a single target, when fitted.
    pub atomref: Option<Vec<f64>>,
}

impl TargetScaling {
    /// Number of targets.
    pub fn targets(&self) -> usize {
        self.extensive.len()
    }

    /// The only target of a one-output model: `(mean, std)` when standardised, and whether it is
    /// extensive; an error naming `model` for several targets.
    pub fn single(&self, model: &str) -> Result<(Option<(f64, f64)>, bool)> {
        match self.extensive.as_slice() {
            [extensive] => Ok((self.standardize.as_ref().map(|(m, s)| (m[0], s[0])), *extensive)),
            _ => Err(Error::config("model", format!("{model} predicts one target; train one model per target"))),
        }
    }
}

/// The atomic numbers a model has parameters for.
#[derive(Clone, Debug, PartialEq)]
pub enum Elements {
    /// Every atomic number below this (an embedding table indexed by Z).
    Below(usize),
    /// Atomic numbers 1 to this (a table of element properties).
    UpTo(u8),
    /// These atomic numbers (the rows of an embedding or one-hot encoding, in order).
    Listed(Vec<u8>),
    /// Any element the model's featurisation accepts (it checks them itself).
    Any,
}

impl Elements {
    /// Whether the model knows atomic number `z`.
    pub fn contains(&self, z: u8) -> bool {
        match self {
            Elements::Below(n) => (z as usize) < *n,
            Elements::UpTo(max) => (1..=*max).contains(&z),
            Elements::Listed(list) => list.contains(&z),
            Elements::Any => true,
        }
    }

    /// Size of a table indexed by atomic number that covers every element (atom references).
    pub fn table_len(&self) -> usize {
        match self {
            Elements::Below(n) => *n,
            Elements::UpTo(_) | Elements::Listed(_) | Elements::Any => 119,
        }
    }

    /// Rejects the first atom of `structures` whose element the model does not know, naming the
    /// structure, the atom and the elements the model knows.
    pub fn check(&self, structures: &[Structure]) -> Result<()> {
        let known = match self {
            Elements::Below(n) => format!("but the model knows elements below {n}"),
            Elements::UpTo(max) => format!("outside the element table (1…{max})"),
            Elements::Listed(list) => format!("not one of the model's elements {list:?}"),
            Elements::Any => return Ok(()),
        };
        for s in structures {
            if let Some(a) = s.numbers.iter().position(|&z| !self.contains(z)) {
                return Err(Error::Input(format!(
                    "{}: atom {a} has atomic number {}, {known}",
                    s.label(),
                    s.numbers[a]
                )));
            }
        }
        Ok(())
    }
}
