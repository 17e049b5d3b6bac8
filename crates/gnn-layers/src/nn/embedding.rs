//! `nn.Embedding`, including `padding_idx`.

use super::init::STANDARD_NORMAL;
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
}

impl Module for Embedding {
    /// Rows for the indices in `ids` (any integer tensor; output shape `ids.shape + [dim]`).
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let table = match &self.trained_rows {
            Some(keep) => {
                let trained = self.weight.broadcast_mul(keep)?;
                let frozen = self.weight.detach().broadcast_mul(&keep.affine(-1.0, 1.0)?)?;
                trained.add(&frozen)?
            }
            None => self.weight.clone(),
        };
        let mut dims = ids.dims().to_vec();
        dims.push(self.weight.dim(1)?);
        table.index_select(&ids.flatten_all()?, 0)?.reshape(dims)
    }
}
