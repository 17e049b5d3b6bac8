//! SchNet (Schütt et al. 2017): continuous-filter convolutions over a radius graph, one
//! implementation that reproduces both PyG's `torch_geometric.nn.models.SchNet` and schnetpack 2's
//! `SchNet` + `Atomwise` + `AddOffsets` (choose with [`SchNetFlavor`]).
//!
//! Parameter names are PyG's (schnetpack checkpoints are renamed on import, see
//! [`crate::checkpoint::import`]):
//!
//! | name | shape |
//! |---|---|
//! | `embedding.weight` | `[num_elements, H]` |
//! | `distance_expansion.offset` (PyG) / `.offsets`, `.widths` (schnetpack) | `[G]`, buffers, optional |
//! | `interactions.{t}.mlp.{0,2}.{weight,bias}` | `[F, G]`, `[F, F]` |
//! | `interactions.{t}.conv.lin1.weight` | `[F, H]` |
//! | `interactions.{t}.conv.lin2.{weight,bias}`, `interactions.{t}.lin.{weight,bias}` | `[H, F]`, `[H, H]` |
//! | `lin1.{weight,bias}`, `lin2.{weight,bias}` | `[H/2, H]`, `[1, H/2]` |
//! | `atomref.weight` (with `atomref`) | `[num_elements, 1]` |
//! | `atomic_mass` (dipole), `initial_atomref` | buffers, optional |

use crate::checkpoint::state_dict::Shapes;
use crate::error::{Error, Result};
use crate::models::output_head::{AtomRef, OutputHead};
use crate::models::{
    Architecture, Capabilities, Elements, GraphInputs, GraphModel, Locality, Scaling, SpeciesShifts, TargetScaling,
};
use candle_core::{Tensor, D};
use candle_nn::{Linear, VarBuilder};
use chem_graph::RadiusOptions;
use gnn_layers::nn::init::{xavier_uniform, ZEROS};
use gnn_layers::nn::{linear_activation, linear_with_init, Activation, Embedding, GaussianBasis, InteractionBlock};
use gnn_layers::ops::{gather, scatter_sum};
use gnn_layers::GraphTensors;
use serde::{Deserialize, Serialize};

/// Which reference implementation a [`SchNet`] reproduces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchNetFlavor {
    /// PyG: padding row 0 in the embedding, shifted softplus (ln 2 rounded to f32) everywhere,
    /// per-atom scaling `y_i·std + mean` and atom references before the readout.
    #[default]
    Pyg,
    /// schnetpack 2: no padding row, shifted softplus with ln 2 in f64, SiLU in the readout MLP,
    /// `mean` added per atom after the readout (`n_atoms·mean` for a sum), atom references summed.
    Schnetpack,
}

/// How atom contributions are pooled per structure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Readout {
    /// Sum over atoms (PyG `'add'`, schnetpack `'sum'`).
    #[default]
    Add,
    /// Mean over atoms (PyG `'mean'`, schnetpack `'avg'`).
    Mean,
}

/// SchNet hyperparameters, with PyG's constructor names and defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchNetConfig {
    /// Which implementation's numerics to follow.
    pub flavor: SchNetFlavor,
    /// Atom feature width `H`.
    pub hidden_channels: usize,
    /// Filter width `F`.
    pub num_filters: usize,
    /// Number of interaction blocks `T`.
    pub num_interactions: usize,
    /// Number of Gaussians `G` spread from 0 to the cutoff.
    pub num_gaussians: usize,
    /// Neighbour cutoff in Å.
    pub cutoff: f64,
    /// At most this many neighbours per atom (the nearest ones), PyG's `max_num_neighbors`.
    pub max_num_neighbors: Option<usize>,
    /// Pooling over atoms.
    pub readout: Readout,
    /// Predict the dipole moment's norm from atomic charges (PyG's `dipole`).
    pub dipole: bool,
    /// Target mean (PyG: per atom, with `std`; schnetpack: per atom after the readout).
    pub mean: Option<f64>,
    /// Target standard deviation (PyG).
    pub std: Option<f64>,
    /// Whether the model has a trainable table of atom reference values (`atomref.weight`).
    pub atomref: bool,
    /// Final scale factor (PyG's `scale`, set by `from_qm9_pretrained`).
    pub scale: Option<f64>,
    /// Size of the element embedding (atomic numbers must be below it).
    pub num_elements: usize,
}

impl Default for SchNetConfig {
    fn default() -> Self {
        Self {
            flavor: SchNetFlavor::Pyg,
            hidden_channels: 128,
            num_filters: 128,
            num_interactions: 6,
            num_gaussians: 50,
            cutoff: 10.0,
            max_num_neighbors: Some(32),
            readout: Readout::Add,
            dipole: false,
            mean: None,
            std: None,
            atomref: false,
            scale: None,
            num_elements: 100,
        }
    }
}

impl SchNetConfig {
    /// Checks that the hyperparameters make a model.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |m: &str| Err(Error::config(origin, m));
        if self.hidden_channels < 2 || self.num_filters == 0 || self.num_gaussians == 0 || self.num_elements == 0 {
            return bad("SchNet widths must be positive (hidden_channels at least 2)");
        }
        if !(self.cutoff.is_finite() && self.cutoff > 0.0) {
            return bad("SchNet cutoff must be finite and positive");
        }
        if self.max_num_neighbors == Some(0) {
            return bad("max_num_neighbors must be at least 1");
        }
        if self.dipole && self.flavor == SchNetFlavor::Schnetpack {
            return bad("the dipole variant exists in PyG's SchNet only");
        }
        Ok(())
    }

    fn interaction_activation(&self) -> Activation {
        match self.flavor {
            SchNetFlavor::Pyg => Activation::ShiftedSoftplusPyg,
            SchNetFlavor::Schnetpack => Activation::ShiftedSoftplus,
        }
    }

    /// Buffers a checkpoint may hold in addition to the parameters, with their shapes.
    pub fn buffers(&self) -> Shapes {
        let g = vec![self.num_gaussians];
        let mut shapes = Shapes::new();
        match self.flavor {
            SchNetFlavor::Pyg => {
                shapes.insert("distance_expansion.offset".into(), g);
                shapes.insert("initial_atomref".into(), vec![self.num_elements, 1]);
                shapes.insert("atomic_mass".into(), vec![119]);
            }
            SchNetFlavor::Schnetpack => {
                shapes.insert("distance_expansion.offsets".into(), g.clone());
                shapes.insert("distance_expansion.widths".into(), g);
            }
        }
        shapes
    }
}

/// A SchNet model; see the module documentation for its parameters.
#[derive(Clone, Debug)]
pub struct SchNet {
    config: SchNetConfig,
    embedding: Embedding,
    distance_expansion: GaussianBasis,
    interactions: Vec<InteractionBlock>,
    lin1: Linear,
    lin2: Linear,
    readout_activation: Activation,
    head: OutputHead,
    atomic_mass: Option<Tensor>,
}

impl SchNet {
    /// Builds the model (PyG's initialisation for fresh parameters).
    pub fn new(config: &SchNetConfig, vb: VarBuilder) -> Result<Self> {
        config.validate("SchNet")?;
        let (h, f, g) = (config.hidden_channels, config.num_filters, config.num_gaussians);
        let padding = (config.flavor == SchNetFlavor::Pyg).then_some(0);
        let embedding = Embedding::new(config.num_elements, h, padding, vb.pp("embedding"))?;
        let expansion_vb = vb.pp("distance_expansion");
        let distance_expansion = match config.flavor {
            SchNetFlavor::Pyg => GaussianBasis::pyg(0.0, config.cutoff, g, expansion_vb)?,
            SchNetFlavor::Schnetpack => GaussianBasis::schnetpack(g, config.cutoff, 0.0, expansion_vb)?,
        };
        let activation = config.interaction_activation();
        let interactions = (0..config.num_interactions)
            .map(|t| InteractionBlock::new(h, g, f, config.cutoff, activation, vb.pp(format!("interactions.{t}"))))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let xavier = |i, o, vb| linear_with_init(i, o, xavier_uniform(i, o), Some(ZEROS), vb);
        let lin1 = xavier(h, h / 2, vb.pp("lin1"))?;
        let lin2 = xavier(h / 2, 1, vb.pp("lin2"))?;
        let readout_activation = match config.flavor {
            SchNetFlavor::Pyg => Activation::ShiftedSoftplusPyg,
            SchNetFlavor::Schnetpack => Activation::Silu,
        };
        let atomref = config
            .atomref
            .then(|| {
                let vb = vb.pp("atomref");
                // A fresh table starts at zero (PyG copies `initial_atomref`, zeros when unset).
                vb.get_with_hints((config.num_elements, 1), "weight", ZEROS)?;
                Embedding::new(config.num_elements, 1, None, vb)
            })
            .transpose()?;
        let atomic_mass = config.dipole.then(|| atomic_masses(&vb)).transpose()?;
        // PyG scales each atom by `std` and shifts by `mean` when both are set; schnetpack shifts
        // by `mean` (per atom of a sum) and has no `std`.
        let (mean, std) = match (config.flavor, config.mean, config.std) {
            (SchNetFlavor::Pyg, Some(mean), Some(std)) => (Some(mean), Some(std)),
            (SchNetFlavor::Pyg, _, _) => (None, None),
            (SchNetFlavor::Schnetpack, mean, _) => (mean, None),
        };
        let head = OutputHead::per_atom(mean, std, atomref.map(AtomRef::Learned), config.readout);
        Ok(Self {
            config: config.clone(),
            embedding,
            distance_expansion,
            interactions,
            lin1,
            lin2,
            readout_activation,
            head,
            atomic_mass,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SchNetConfig {
        &self.config
    }

    /// PyG's dipole variant: charges `y_i` times positions relative to the centre of mass, summed,
    /// and the norm taken.
    fn dipole_norm(&self, g: &GraphTensors, positions: &Tensor, y: &Tensor, masses: &Tensor) -> Result<Tensor> {
        if g.node_weights.is_some() {
            return Err(Error::Input(
                "a dipole is a vector: it cannot be read out from an asymmetric-unit graph".into(),
            ));
        }
        let mass = masses.index_select(&g.numbers, 0)?.unsqueeze(1)?;
        let total = scatter_sum(&mass, &g.node_graph)?;
        let centre = scatter_sum(&positions.broadcast_mul(&mass)?, &g.node_graph)?.broadcast_div(&total)?;
        let relative = positions.sub(&gather(&centre, &g.node_graph)?)?;
        let moment = scatter_sum(&relative.broadcast_mul(y)?, &g.node_graph)?;
        Ok(moment.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?)
    }
}

/// The `atomic_mass` buffer when present, else the standard atomic masses (index = Z, as ASE's
/// `atomic_masses`, which PyG copies).
fn atomic_masses(vb: &VarBuilder) -> Result<Tensor> {
    if vb.contains_tensor("atomic_mass") {
        return Ok(vb.get(119, "atomic_mass")?.detach());
    }
    let masses: Vec<f64> =
        (0..119u8).map(|z| chem_graph::element::by_number(z).map(|e| e.mass).unwrap_or(1.0)).collect();
    Ok(Tensor::new(masses, vb.device())?.to_dtype(vb.dtype())?)
}

impl GraphModel for SchNet {
    /// Predictions `[graphs, 1]` for the graphs `g` with atoms at `positions [nodes, 3]` (pass the
    /// variable that forces are taken with respect to; usually `g.positions`).
    fn forward(&self, g: &GraphTensors, positions: &Tensor) -> Result<Tensor> {
        let distance = GraphTensors::edge_lengths(&g.edge_vectors(positions)?)?;
        // Filters depend on the distance only: one per pair of opposite edges when the graph has them.
        let (distance, row_of_edge) = match &g.pairs {
            Some(pairs) => (gather(&distance, &pairs.representative)?, Some(&pairs.pair_of_edge)),
            None => (distance, None),
        };
        let rbf = self.distance_expansion.forward(&distance)?;
        let mut h = self.embedding.lookup(&g.elements)?;
        for block in &self.interactions {
            h = h.add(&block.forward_shared(&h, &rbf, &distance, &g.source, &g.target, row_of_edge)?)?;
        }
        let hidden = linear_activation(&self.lin1, &h, self.readout_activation)?;
        let y = linear_activation(&self.lin2, &hidden, Activation::Identity)?;
        let out = match &self.atomic_mass {
            Some(masses) => self.dipole_norm(g, positions, &y, masses)?,
            None => self.head.forward(g, &y)?,
        };
        Ok(match self.config.scale {
            Some(s) => out.affine(s, 0.0)?,
            None => out,
        })
    }
}

impl Architecture for SchNetConfig {
    type Network = SchNet;

    fn build(&self, vb: VarBuilder) -> Result<SchNet> {
        SchNet::new(self, vb)
    }

    fn outputs(&self) -> usize {
        1
    }

    /// A radius graph, with PyG's neighbour cap when the model has one.
    fn inputs(&self) -> GraphInputs {
        GraphInputs::Radius(RadiusOptions { max_neighbors: self.max_num_neighbors, ..RadiusOptions::new(self.cutoff) })
    }

    fn capabilities(&self) -> Capabilities {
        let atom_energies = if self.dipole {
            Err("it predicts a dipole moment".into())
        } else if self.readout != Readout::Add {
            Err("its readout averages over atoms (per-atom energies need a sum)".into())
        } else {
            Ok(Locality { cutoff: self.cutoff, layers: self.num_interactions })
        };
        Capabilities {
            forces: true,
            force_training: true,
            atom_energies,
            elements: Elements::Below(self.num_elements),
            scaling: Scaling::PerAtom,
        }
    }

    fn buffers(&self) -> Shapes {
        SchNetConfig::buffers(self)
    }

    /// `mean`, `std` (when standardised), `atomref`, and a mean readout for an intensive target.
    fn set_target_scaling(&mut self, scaling: &TargetScaling) -> Result<()> {
        let (standardize, extensive) = scaling.single("SchNet")?;
        if let Some((mean, std)) = standardize {
            (self.mean, self.std) = (Some(mean), Some(std));
        }
        self.atomref = scaling.atomref.is_some();
        if !extensive {
            self.readout = Readout::Mean;
        }
        Ok(())
    }

    /// `atomref.weight` (`[num_elements, 1]`, row = atomic number), unless a dipole head or a
    /// final `scale` keeps the table from entering the energy as is.
    fn species_shifts(&self) -> Option<SpeciesShifts> {
        (self.atomref && !self.dipole && self.scale.is_none()).then(|| SpeciesShifts {
            tensor: "atomref.weight".into(),
            elements: (0..self.num_elements.min(256)).map(|z| z as u8).collect(),
            mean: self.readout == Readout::Mean,
        })
    }
}
