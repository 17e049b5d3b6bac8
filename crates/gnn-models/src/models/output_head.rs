//! [`OutputHead`]: the one layer that turns a network's raw outputs into the target's scale,
//! shared by every model that has target statistics.
//!
//! Per atom ([`Scaling::PerAtom`](super::Scaling), SchNet and L0Net/L1Net):
//!
//! ```text
//! y = pool_i (h_i · std + mean + ref[z_i])         pool = sum or mean over atoms
//! ```
//!
//! (schnetpack's `Atomwise` + `AddOffsets`, PyG's SchNet readout; multiplicity-weighted on
//! asymmetric-unit graphs). Per structure ([`Scaling::PerStructure`](super::Scaling), MPNN and
//! coGN): `y = y_readout · std + mean`, one `(mean, std)` per output.
//!
//! The statistics live in each model's configuration under the names of the framework it
//! reproduces (PyG's `mean`/`std`/`atomref`, kgcnn's scaler); the model hands them to this layer.

use crate::error::Result;
use crate::models::schnet::Readout;
use candle_core::{Device, Tensor};
use gnn_layers::nn::Embedding;
use gnn_layers::GraphTensors;

/// Atom reference values added per atom.
#[derive(Clone, Debug)]
pub enum AtomRef {
    /// A trainable table indexed by atomic number (PyG's `atomref` embedding), looked up with
    /// [`GraphTensors::elements`].
    Learned(Embedding),
    /// Fixed values indexed by atomic number (`[119]`), taken with [`GraphTensors::numbers`].
    Fixed(Tensor),
}

impl AtomRef {
    /// Fixed references from values per atomic number of `elements` (same order).
    pub fn fixed(elements: &[u8], values: &[f64], device: &Device) -> Result<Self> {
        let mut table = vec![0.0; 256];
        for (&z, &v) in elements.iter().zip(values) {
            table[z as usize] = v;
        }
        Ok(AtomRef::Fixed(Tensor::new(table, device)?))
    }

    fn per_atom(&self, g: &GraphTensors, like: &Tensor) -> Result<Tensor> {
        Ok(match self {
            AtomRef::Learned(table) => table.lookup(&g.elements)?,
            AtomRef::Fixed(table) => table.to_dtype(like.dtype())?.index_select(&g.numbers, 0)?.unsqueeze(1)?,
        })
    }
}

/// Target scaling `y·std + mean` (+ atom references), per atom then pooled, or per structure.
#[derive(Clone, Debug)]
pub struct OutputHead {
    /// `(mean, std)` per output (one value shared by all outputs allowed).
    affine: (Option<Vec<f64>>, Option<Vec<f64>>),
    atomref: Option<AtomRef>,
    /// `Some` for a per-atom head: how atoms are pooled.
    pooling: Option<Readout>,
}

impl OutputHead {
    /// A per-atom head: `pool_i (h_i·std + mean + ref[z_i])` (a missing `std` is 1, a missing
    /// `mean` 0).
    pub fn per_atom(mean: Option<f64>, std: Option<f64>, atomref: Option<AtomRef>, pooling: Readout) -> Self {
        Self { affine: (mean.map(|m| vec![m]), std.map(|s| vec![s])), atomref, pooling: Some(pooling) }
    }

    /// A per-structure head: `y·std + mean` with one value per output (or one for all).
    pub fn per_structure(mean: Option<Vec<f64>>, std: Option<Vec<f64>>) -> Self {
        Self { affine: (mean, std), atomref: None, pooling: None }
    }

    /// The targets of the graphs `g` from the network's raw outputs: per atom (`[atoms,
    /// outputs]`) for a per-atom head, per graph (`[graphs, outputs]`) otherwise.
    pub fn forward(&self, g: &GraphTensors, y: &Tensor) -> Result<Tensor> {
        let mut y = self.affine(y)?;
        let Some(pooling) = self.pooling else { return Ok(y) };
        if let Some(atomref) = &self.atomref {
            y = y.broadcast_add(&atomref.per_atom(g, &y)?)?;
        }
        Ok(match pooling {
            Readout::Add => g.sum_nodes(&y)?,
            Readout::Mean => g.mean_nodes(&y)?,
        })
    }

    fn affine(&self, y: &Tensor) -> Result<Tensor> {
        let outputs = y.dim(1)?;
        let row = |v: &[f64]| -> Result<Tensor> {
            let v = if v.len() == 1 { vec![v[0]; outputs] } else { v.to_vec() };
            Ok(Tensor::from_vec(v, (1, outputs), y.device())?.to_dtype(y.dtype())?)
        };
        let y = match &self.affine.1 {
            Some(std) => y.broadcast_mul(&row(std)?)?,
            None => y.clone(),
        };
        Ok(match &self.affine.0 {
            Some(mean) => y.broadcast_add(&row(mean)?)?,
            None => y,
        })
    }
}
