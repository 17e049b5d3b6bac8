//! Stress of periodic structures: the derivative of the energy with respect to a homogeneous strain
//! ε applied to positions and cell (`r → r(I + ε)`, `L → L(I + ε)`, row vectors), divided by the
//! cell's volume — ASE's convention: `σ = (1/V) ∂E/∂ε`, in energy unit per Å³, negative under
//! compression; returned in Voigt order `xx, yy, zz, yz, xz, xy`.
//!
//! The strain is a zero [`Var`] per graph through which the model's inputs are computed
//! (`strain`), so one backward pass gives forces (∂E/∂r) and stress (∂E/∂ε) together
//! ([`derivatives`]); with higher-order gradients both stay differentiable in the parameters, for
//! training on forces and stress.

use crate::error::{Error, Result};
use crate::models::Network;
use candle_core::{DType, Tensor, Var};
use chem_graph::structure::determinant;
use chem_graph::GraphBatch;
use gnn_layers::autograd::{forces, gradients_with_graph};
use gnn_layers::ops::{row_matvec_indexed, SegmentIndex};
use gnn_layers::GraphTensors;

/// A network's predictions with their derivatives ([`derivatives`]).
#[derive(Clone, Debug)]
pub struct Derivatives {
    /// Predictions `[graphs, outputs]`.
    pub energy: Tensor,
    /// Forces `−∂E/∂r`, `[atoms, 3]`, when asked for.
    pub forces: Option<Tensor>,
    /// Stress `(1/V) ∂E/∂ε`, `[graphs, 6]` in Voigt order, when asked for.
    pub stress: Option<Tensor>,
}

/// `network`'s predictions for `batch` (as tensors `g`), with forces when `with_forces` and the
/// stress of periodic graphs when `with_stress` (which implies forces: one backward pass gives
/// both). With `create_graph`, forces and stress stay differentiable in the parameters, so a loss
/// on them can be trained (higher-order gradients, [`gnn_layers::autograd`]); otherwise they are
/// detached (and the stress is computed in f64).
pub fn derivatives(
    network: &Network,
    batch: &GraphBatch,
    g: &GraphTensors,
    with_forces: bool,
    with_stress: bool,
    create_graph: bool,
) -> Result<Derivatives> {
    if !with_forces && !with_stress {
        return Ok(Derivatives { energy: network.forward(g, &g.positions)?, forces: None, stress: None });
    }
    let positions = Var::from_tensor(&g.positions)?;
    if !with_stress {
        let energy = network.forward(g, positions.as_tensor())?;
        let forces = forces(&energy, &positions, create_graph)?;
        return Ok(Derivatives { energy, forces: Some(forces), stress: None });
    }
    let strained = strain(batch, g, positions.as_tensor())?;
    let energy = network.forward(&strained.graphs, &strained.positions)?;
    let total = energy.sum_all()?;
    let grads = if create_graph { gradients_with_graph(&total)? } else { total.backward()? };
    let gradient = |v: &Var| -> Result<Tensor> {
        let g = grads.get(v.as_tensor()).map_or_else(|| v.zeros_like(), |g| Ok(g.clone()))?;
        Ok(if create_graph { g } else { g.detach().to_dtype(DType::F64)? })
    };
    let forces = gradient(&positions)?.neg()?.to_dtype(energy.dtype())?;
    let stress = voigt_stress(&gradient(&strained.strain)?, &strained.volumes)?;
    Ok(Derivatives { energy, forces: Some(forces), stress: Some(stress) })
}

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

/// Stress per graph, `[graphs, 6]` in Voigt order, from `∂E/∂ε` (`[graphs, 9]`): symmetrised and
/// divided by the graphs' `volumes` (differentiable).
fn voigt_stress(gradient: &Tensor, volumes: &[f64]) -> Result<Tensor> {
    let device = gradient.device();
    // Row-major 3 × 3 indices of xx, yy, zz, yz, xz, xy and of their transposes.
    let upper = Tensor::new(&[0u32, 4, 8, 5, 2, 1], device)?;
    let lower = Tensor::new(&[0u32, 4, 8, 7, 6, 3], device)?;
    let sum = (gradient.index_select(&upper, 1)? + gradient.index_select(&lower, 1)?)?;
    let scale: Vec<f64> = volumes.iter().map(|v| 0.5 / v).collect();
    let scale = Tensor::from_vec(scale, (volumes.len(), 1), device)?.to_dtype(gradient.dtype())?;
    Ok(sum.broadcast_mul(&scale)?)
}
