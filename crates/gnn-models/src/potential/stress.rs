//! Stress of periodic structures: the derivative of the energy with respect to a homogeneous strain
//! ε applied to positions and cell (`r → r(I + ε)`, `L → L(I + ε)`, row vectors), divided by the
//! cell's volume — ASE's convention: `σ = (1/V) ∂E/∂ε`, in energy unit per Å³, negative under
//! compression; returned in Voigt order `xx, yy, zz, yz, xz, xy`.
//!
//! The strain is a zero [`Var`] per graph through which the model's inputs are computed
//! ([`strain`]), so one backward pass gives forces (∂E/∂r) and stress (∂E/∂ε) together.

use crate::error::{Error, Result};
use candle_core::{Tensor, Var};
use chem_graph::structure::determinant;
use chem_graph::GraphBatch;
use gnn_layers::ops::{row_matvec_indexed, SegmentIndex};
use gnn_layers::GraphTensors;

/// The model inputs under a zero strain per graph.
pub(crate) struct Strained {
    /// The graphs with offsets (image displacements) and cells that depend on the strain.
    pub graphs: GraphTensors,
    /// `r(I + ε)`.
    pub positions: Tensor,
    /// ε per graph, `[graphs, 9]` (row-major 3 × 3), zero.
    pub strain: Var,
    /// The cells' volumes in Å³.
    pub volumes: Vec<f64>,
}

/// Makes `positions` (a variable of `g`'s atoms) and `g`'s image offsets and cells depend on a zero
/// strain per graph. Errors for graphs without a cell volume (molecules) and for graphs reduced to
/// an asymmetric unit.
pub(crate) fn strain(batch: &GraphBatch, g: &GraphTensors, positions: &Tensor) -> Result<Strained> {
    if batch.node_weights.is_some() {
        return Err(Error::Input("stress of graphs reduced to the asymmetric unit is not supported".into()));
    }
    let volumes: Vec<f64> = batch.cells.iter().map(|c| determinant(c).abs()).collect();
    if let Some(k) = volumes.iter().position(|&v| v <= 0.0 || !v.is_finite()) {
        return Err(Error::Input(format!("stress needs a periodic cell with a volume (structure {k} has none)")));
    }
    let graphs = batch.num_graphs();
    let (dtype, device) = (positions.dtype(), positions.device());
    let strain = Var::zeros((graphs, 9), dtype, device)?;
    let edge_graph: Vec<u32> = batch.edges.target.iter().map(|&i| batch.node_graph[i as usize]).collect();
    let edge_graph = SegmentIndex::new(edge_graph, graphs, device)?;
    let deform = |x: &Tensor, index: &SegmentIndex| -> Result<Tensor> {
        Ok(x.add(&row_matvec_indexed(x, &strain, index, 3, 3)?)?)
    };
    let mut strained = g.clone();
    strained.offsets = deform(&g.offsets.to_dtype(dtype)?, &edge_graph)?;
    let cells = g.cells.to_dtype(dtype)?;
    strained.cells = cells.add(&cells.matmul(&strain.reshape((graphs, 3, 3))?)?)?;
    let positions = deform(positions, &g.node_graph)?;
    Ok(Strained { graphs: strained, positions, strain, volumes })
}

/// Stress per graph in Voigt order from `∂E/∂ε` (`[graphs, 9]`), symmetrised, divided by the
/// graphs' `volumes`.
pub(crate) fn voigt_stress(gradient: &Tensor, volumes: &[f64]) -> Result<Vec<[f64; 6]>> {
    let gradient = gradient.to_dtype(candle_core::DType::F64)?.to_vec2::<f64>()?;
    Ok(gradient
        .iter()
        .zip(volumes)
        .map(|(d, volume)| {
            let s = |i: usize, j: usize| 0.5 * (d[3 * i + j] + d[3 * j + i]) / *volume;
            [s(0, 0), s(1, 1), s(2, 2), s(1, 2), s(0, 2), s(0, 1)]
        })
        .collect())
}
