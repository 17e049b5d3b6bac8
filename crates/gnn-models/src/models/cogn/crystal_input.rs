//! The input block of the crystal graph networks (kgcnn's `CrystalInputBlock` for coGN and coNGN):
//! atoms become `Dense([Embedding(Z), element features])`, edges become
//! `Dense([Gaussians(d), Gaussians(Voronoi face area)])`.
//!
//! | parameter | shape | kgcnn variable |
//! |---|---|---|
//! | `input.atom_embedding.weight` | `[119, U]`, row `Z − 1` for element Z | `atom_embedding/embedding/embeddings` |
//! | `input.atom_dense.{weight,bias}` | `[U, U + F]`, `[U]` | `crystal_input_block/mlp/…/kernel` (transposed) |
//! | `input.edge_dense.{weight,bias}` | `[U_e, G (+ G_A)]`, `[U_e]` | `crystal_input_block/mlp_1/…` |
//!
//! F is the number of element features switched on (up to 18: atomic mass, radius,
//! electronegativity and ionisation energy, z-scored over the periodic table, then 14
//! oxidation-state flags for −4 … +9; [`ELEMENT_FEATURES`]). The Gaussians are kgcnn's
//! `GaussBasisExpansion.from_bounds` ([`GaussianBasis::kgcnn`]), with no smooth cutoff.

use crate::error::{Error, Result};
use crate::models::cogn::element_features::{ELEMENT_FEATURES, ELEMENT_FEATURE_WIDTH};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::{Linear, VarBuilder};
use gnn_layers::nn::init::{xavier_uniform, ZEROS};
use gnn_layers::nn::{linear_with_init, GaussianBasis};
use gnn_layers::GraphTensors;
use serde::{Deserialize, Serialize};

/// Rows of the element embedding (kgcnn: `Embedding(input_dim=119)`, indexed by `Z − 1`).
pub const EMBEDDING_ROWS: usize = 119;
/// The largest atomic number with element features.
pub const MAX_ELEMENT: u8 = 118;

/// Keras' `Embedding` initialiser, `U(−0.05, 0.05)`.
const KERAS_EMBEDDING: candle_nn::Init = candle_nn::Init::Uniform { lo: -0.05, up: 0.05 };

/// Keras' `Dense` initialisation (kgcnn's default): Glorot-uniform kernel, zero bias.
pub fn keras_init(fan_in: usize, fan_out: usize) -> (candle_nn::Init, candle_nn::Init) {
    (xavier_uniform(fan_in, fan_out), ZEROS)
}

fn keras_dense(inputs: usize, outputs: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
    let (weight, bias) = keras_init(inputs, outputs);
    linear_with_init(inputs, outputs, weight, Some(bias), vb)
}

/// A Gaussian expansion `GaussBasisExpansion.from_bounds(bins, 0, max, variance = width)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussianExpansion {
    /// Number of Gaussians.
    pub bins: usize,
    /// Last centre (centres are `max·k/bins`, k = 1…bins).
    pub max: f64,
    /// Factor on the squared width: `σ_k² = spacing·width` (kgcnn's `gaussian_width_*`).
    #[serde(default = "one")]
    pub width: f64,
}

fn one() -> f64 {
    1.0
}

impl GaussianExpansion {
    /// `bins` Gaussians up to `max` with kgcnn's default width.
    pub fn new(bins: usize, max: f64) -> Self {
        Self { bins, max, width: 1.0 }
    }

    /// The basis in `dtype` on `device`; errors for non-positive bins, bounds or widths.
    pub fn basis(&self, device: &Device, dtype: DType) -> Result<GaussianBasis> {
        if self.bins == 0 || !(self.max > 0.0 && self.max.is_finite()) || !(self.width > 0.0 && self.width.is_finite())
        {
            return Err(Error::Input(format!("invalid Gaussian expansion {self:?}")));
        }
        let vb = VarBuilder::zeros(dtype, device);
        Ok(GaussianBasis::kgcnn(self.bins, 0.0, self.max, self.width, vb)?)
    }
}

/// Which element properties the atom embedding appends (kgcnn's `AtomEmbedding` switches).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElementFeatures {
    /// z-scored atomic mass.
    pub atomic_mass: bool,
    /// z-scored atomic radius.
    pub atomic_radius: bool,
    /// z-scored electronegativity.
    pub electronegativity: bool,
    /// z-scored first ionisation energy.
    pub ionization_energy: bool,
    /// 14 flags for the common oxidation states −4 … +9.
    pub oxidation_states: bool,
}

impl Default for ElementFeatures {
    fn default() -> Self {
        Self {
            atomic_mass: true,
            atomic_radius: true,
            electronegativity: true,
            ionization_energy: true,
            oxidation_states: true,
        }
    }
}

impl ElementFeatures {
    /// Columns of [`ELEMENT_FEATURES`] switched on, in kgcnn's order.
    pub fn columns(&self) -> Vec<usize> {
        let scalars = [self.atomic_mass, self.atomic_radius, self.electronegativity, self.ionization_energy];
        let mut columns: Vec<usize> = (0..4).filter(|&c| scalars[c]).collect();
        if self.oxidation_states {
            columns.extend(4..ELEMENT_FEATURE_WIDTH);
        }
        columns
    }
}

/// The architecture of a [`CrystalInput`] block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrystalInputConfig {
    /// Node width U after the block.
    pub node_size: usize,
    /// Edge width after the block.
    pub edge_size: usize,
    /// Element properties appended to the embedding.
    #[serde(default)]
    pub element_features: ElementFeatures,
    /// Expansion of edge lengths (Å).
    pub distance: GaussianExpansion,
    /// Expansion of Voronoi face areas (Å², coNGN), read from the graph's edge features.
    #[serde(default)]
    pub voronoi_area: Option<GaussianExpansion>,
}

/// Element embedding plus features and edge expansions, each followed by a linear layer.
#[derive(Clone, Debug)]
pub struct CrystalInput {
    embedding: Tensor,
    element_features: Tensor,
    atom_dense: Linear,
    distance: GaussianBasis,
    voronoi_area: Option<GaussianBasis>,
    edge_dense: Linear,
}

impl CrystalInput {
    /// Builds the block (parameters under `vb`, e.g. `input.*`).
    pub fn new(config: &CrystalInputConfig, vb: VarBuilder) -> Result<Self> {
        let (device, dtype) = (vb.device().clone(), vb.dtype());
        let columns = config.element_features.columns();
        let table: Vec<f64> = ELEMENT_FEATURES.iter().flat_map(|row| columns.iter().map(move |&c| row[c])).collect();
        let element_features =
            Tensor::from_vec(table, (MAX_ELEMENT as usize, columns.len()), &device)?.to_dtype(dtype)?;
        let u = config.node_size;
        let edge_inputs = config.distance.bins + config.voronoi_area.map_or(0, |v| v.bins);
        Ok(Self {
            embedding: vb.pp("atom_embedding").get_with_hints((EMBEDDING_ROWS, u), "weight", KERAS_EMBEDDING)?,
            element_features,
            atom_dense: keras_dense(u + columns.len(), u, vb.pp("atom_dense"))?,
            distance: config.distance.basis(&device, dtype)?,
            voronoi_area: config.voronoi_area.map(|v| v.basis(&device, dtype)).transpose()?,
            edge_dense: keras_dense(edge_inputs, config.edge_size, vb.pp("edge_dense"))?,
        })
    }

    /// Node features `[N, U]` from the atomic numbers (1…118, checked when graphs are built).
    pub fn nodes(&self, g: &GraphTensors) -> Result<Tensor> {
        let index = g.numbers.sub(&g.numbers.ones_like()?)?;
        let embedded = self.embedding.index_select(&index, 0)?;
        let features = self.element_features.index_select(&index, 0)?;
        Ok(self.atom_dense.forward(&Tensor::cat(&[&embedded, &features], D::Minus1)?)?)
    }

    /// Edge features `[E, U_e]` from the edge lengths `[E]` and, with a Voronoi expansion, the
    /// face areas in the graph's edge features.
    pub fn edges(&self, g: &GraphTensors, distances: &Tensor) -> Result<Tensor> {
        let mut parts = vec![self.distance.forward(distances)?];
        if let Some(basis) = &self.voronoi_area {
            let area = match &g.edge_features {
                Some(f) if f.dim(1)? == 1 => f.squeeze(1)?.to_dtype(distances.dtype())?,
                _ => {
                    return Err(Error::Input(
                        "the model reads Voronoi face areas, but the graphs have no width-1 edge features \
                         (build them with Voronoi connectivity)"
                            .into(),
                    ))
                }
            };
            parts.push(basis.forward(&area)?);
        }
        Ok(self.edge_dense.forward(&Tensor::cat(&parts, D::Minus1)?)?)
    }
}
