//! e3nn's `o3.Linear`: an equivariant linear map, `mul_in → mul_out` mixing per pair of equal
//! irreps, with optional biases on the scalar (`0e`) outputs.
//!
//! Paths `(i_in, i_out)` default to every pair of blocks with the same irrep, in nested loop order.
//! Path `(i_in, i_out)` has weights `[mul_in, mul_out]` (row-major, concatenated in path order into
//! `weight`) and the coefficient `1/√(Σ mul_in over the paths into i_out)` (`element`
//! normalisation; `path`: `mul_in` of this path × their number). Biases (`bias`, one value per
//! output component of each biased block) are added unscaled. Parameters: `weight` (`N(0, 1)`
//! initialisation) and `bias` (zeros).

use candle_core::{Error, Result, Tensor, D};
use candle_nn::{Init, VarBuilder};

use super::irreps::Irreps;
use super::tensor_product::PathNormalization;
use crate::ops::dense;

/// The definition of a [`Linear`] (e3nn's constructor arguments).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearConfig {
    /// Input.
    pub irreps_in: Irreps,
    /// Output.
    pub irreps_out: Irreps,
    /// Paths `(i_in, i_out)` (default: all pairs of equal irreps).
    #[serde(default)]
    pub instructions: Option<Vec<(usize, usize)>>,
    /// A bias on every scalar output block.
    #[serde(default)]
    pub biases: bool,
    /// `element` (default) or `path`; `none` is not an option of e3nn's Linear.
    #[serde(default)]
    pub path_normalization: PathNormalization,
}

/// e3nn's `o3.Linear` (module docs).
#[derive(Clone, Debug)]
pub struct Linear {
    config: LinearConfig,
    /// `(i_in, i_out, coefficient, weight offset)`.
    paths: Vec<(usize, usize, f64, usize)>,
    weight: Option<Tensor>,
    /// Biased output blocks and the offset of their values in `bias`.
    biased: Vec<(usize, usize)>,
    bias: Option<Tensor>,
}

impl Linear {
    /// Builds the map from `vb` (`weight`, `bias`).
    pub fn new(config: LinearConfig, vb: VarBuilder) -> Result<Self> {
        let (i, o) = (&config.irreps_in, &config.irreps_out);
        let instructions = config.instructions.clone().unwrap_or_else(|| {
            let mut pairs = Vec::new();
            for (a, x) in i.iter().enumerate() {
                for (b, y) in o.iter().enumerate() {
                    if x.ir == y.ir {
                        pairs.push((a, b));
                    }
                }
            }
            pairs
        });
        for &(a, b) in &instructions {
            match (i.0.get(a), o.0.get(b)) {
                (Some(x), Some(y)) if x.ir == y.ir => {}
                _ => {
                    return Err(Error::Msg(format!(
                        "o3 linear: path ({a}, {b}) does not join equal irreps of `{i}` and `{o}`"
                    )))
                }
            }
        }
        if config.path_normalization == PathNormalization::None {
            return Err(Error::Msg("o3 linear: path normalisation must be element or path".into()));
        }
        let mut paths = Vec::new();
        let mut offset = 0;
        for &(a, b) in &instructions {
            let into: Vec<usize> = instructions.iter().filter(|p| p.1 == b).map(|p| p.0).collect();
            let x: usize = match config.path_normalization {
                PathNormalization::Path => i.0[a].mul * into.len(),
                _ => into.iter().map(|&k| i.0[k].mul).sum(),
            };
            let coefficient = if x == 0 { 1.0 } else { 1.0 / (x as f64).sqrt() };
            let numel = i.0[a].mul * o.0[b].mul;
            if numel > 0 {
                paths.push((a, b, coefficient, offset));
                offset += numel;
            }
        }
        let weight = (offset > 0)
            .then(|| vb.get_with_hints(offset, "weight", Init::Randn { mean: 0.0, stdev: 1.0 }))
            .transpose()?;
        let mut biased = Vec::new();
        let mut bias_numel = 0;
        if config.biases {
            for (b, y) in o.iter().enumerate() {
                if y.ir.is_scalar() {
                    biased.push((b, bias_numel));
                    bias_numel += y.dim();
                }
            }
        }
        let bias = (bias_numel > 0).then(|| vb.get_with_hints(bias_numel, "bias", Init::Const(0.0))).transpose()?;
        Ok(Self { config, paths, weight, biased, bias })
    }

    /// `[batch, irreps_in.dim()] → [batch, irreps_out.dim()]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (i, o) = (&self.config.irreps_in, &self.config.irreps_out);
        let (batch, dim) = x.dims2()?;
        if dim != i.dim() {
            return Err(Error::Msg(format!("o3 linear: input {:?}, expected [batch, {}] (`{i}`)", x.dims(), i.dim())));
        }
        let slices = i.slices();
        let mut out: Vec<Option<Tensor>> = vec![None; o.len()];
        for &(a, b, coefficient, offset) in &self.paths {
            let (x_block, y_block) = (i.0[a], o.0[b]);
            let w = self.weight.as_ref().expect("paths have weights").narrow(0, offset, x_block.mul * y_block.mul)?;
            // One [batch · ir_dim, mul_in] × [mul_in, mul_out] product (not a batched matmul, which
            // would materialise the weight matrix once per row).
            let w = w.reshape((x_block.mul, y_block.mul))?.t()?.affine(coefficient, 0.0)?;
            let d = x_block.ir.dim();
            let xb = x.narrow(1, slices[a].start, x_block.dim())?;
            let y = if d == 1 {
                dense(&xb, &w, None)?
            } else {
                let rows = xb.reshape((batch, x_block.mul, d))?.transpose(1, 2)?.reshape((batch * d, x_block.mul))?;
                let y = dense(&rows, &w, None)?.reshape((batch, d, y_block.mul))?.transpose(1, 2)?;
                y.reshape((batch, y_block.dim()))?
            };
            out[b] = Some(match out[b].take() {
                Some(sum) => sum.add(&y)?,
                None => y,
            });
        }
        for &(b, offset) in &self.biased {
            let bias =
                self.bias.as_ref().expect("biased blocks have biases").narrow(0, offset, o.0[b].dim())?.unsqueeze(0)?;
            out[b] = Some(match out[b].take() {
                Some(sum) => sum.broadcast_add(&bias)?,
                None => bias.broadcast_as((batch, o.0[b].dim()))?.contiguous()?,
            });
        }
        let blocks = o
            .iter()
            .zip(out)
            .map(|(block, t)| t.map_or_else(|| Tensor::zeros((batch, block.dim()), x.dtype(), x.device()), Ok))
            .collect::<Result<Vec<_>>>()?;
        if blocks.is_empty() {
            return Tensor::zeros((batch, 0), x.dtype(), x.device());
        }
        Tensor::cat(&blocks, D::Minus1)
    }
}
