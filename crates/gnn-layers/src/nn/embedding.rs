//! `nn.Embedding`, including `padding_idx`.

use super::init::STANDARD_NORMAL;
use crate::kernels::has_cuda_kernels;
use crate::ops::{gather, SegmentIndex};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// A lookup table `weight [num_embeddings, dim]`, like `torch.nn.Embedding`. With a padding index,
/// that row starts at zero and receives no gradient (its stored value is still returned).
#[derive(Clone, Debug)]
pub struct Embedding {
    weight: Tensor,
    /// `[num_embeddings, 1]`: 1 for rows that train, 0 for the padding row (with a padding index).
    trained_rows: Option<Tensor>,
}

impl Embedding {
    /// Builds the table (`weight`, initialised `N(0, 1)` with the padding row zeroed).
    pub fn new(num_embeddings: usize, dim: usize, padding_idx: Option<usize>, vb: VarBuilder) -> Result<Self> {
        if padding_idx.is_some_and(|p| p >= num_embeddings) {
            candle_core::bail!("padding_idx {padding_idx:?} is out of range for {num_embeddings} embeddings");
        }
        // (Shape-only builders hand out tensors that are not variables: nothing to zero.)
        let fresh = !vb.contains_tensor("weight");
        let weight = vb.get_with_hints((num_embeddings, dim), "weight", STANDARD_NORMAL)?;
        if let (true, true, Some(p)) = (fresh, weight.is_variable(), padding_idx) {
            // A freshly initialised table is a variable we own: zero its padding row in place.
            weight.slice_set(&Tensor::zeros((1, dim), weight.dtype(), weight.device())?, 0, p)?;
        }
        let trained_rows = padding_idx
            .map(|p| {
                let (dtype, device) = (weight.dtype(), weight.device());
                Tensor::ones(num_embeddings, dtype, device)?
                    .slice_scatter0(&Tensor::zeros(1, dtype, device)?, p)?
                    .unsqueeze(1)
            })
            .transpose()?;
        Ok(Self { weight, trained_rows })
    }

    /// The table.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// Rows for the atoms of a batch, given grouped by element (`elements`: atom → atomic number,
    /// e.g. [`GraphTensors::elements`](crate::GraphTensors)): `[atoms, dim]`. Unlike
    /// [`Module::forward`] on an id tensor, nothing is copied back from a GPU.
    pub fn lookup(&self, elements: &SegmentIndex) -> Result<Tensor> {
        let (table, rows) = (self.table()?, self.weight.dim(0)?);
        if elements.num_segments() > rows {
            candle_core::bail!("atomic number {} is beyond the embedding's {rows} rows", elements.num_segments() - 1);
        }
        if has_cuda_kernels(elements.device()) {
            return gather(&table.narrow(0, 0, elements.num_segments())?, elements);
        }
        table.index_select(elements.tensor(), 0)
    }

    /// The table as used: the padding row without gradient.
    fn table(&self) -> Result<Tensor> {
        Ok(match &self.trained_rows {
            Some(keep) => {
                let trained = self.weight.broadcast_mul(keep)?;
                let frozen = self.weight.detach().broadcast_mul(&keep.affine(-1.0, 1.0)?)?;
                trained.add(&frozen)?
            }
            None => self.weight.clone(),
        })
    }
}

impl Module for Embedding {
    /// Rows for the indices in `ids` (any integer tensor; output shape `ids.shape + [dim]`).
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let table = self.table()?;
        let mut dims = ids.dims().to_vec();
        dims.push(self.weight.dim(1)?);
        let ids = ids.flatten_all()?;
        if has_cuda_kernels(ids.device()) {
            // Candle's CUDA `index_select` backward (`index_add`) walks all rows serially per column;
            // the gather kernel's backward is a segment sum. Costs one copy of the ids to the host.
            let index = SegmentIndex::from_tensor(&ids, table.dim(0)?)?;
            return gather(&table, &index)?.reshape(dims);
        }
        table.index_select(&ids, 0)?.reshape(dims)
    }
}
