//! Row-wise kernels on `[rows, …]` tensors: scaling `out[r] = x[r] · s[r]` and its companion, dot
//! products `out[r] = x[r] · y[r]` (each is the other's derivative, so a per-edge factor such as a
//! cutoff multiplies `[edges, features]` rows in one pass, forward and backward, to any order), and
//! deterministic parallel column sums (bias gradients).

use crate::kernels::rows::{ColumnSums, RowDot, ScaleRows};
use crate::kernels::standardize::Standardize;
use candle_core::{Error, Result, Tensor, D};

/// `out[r, …] = x[r, …] · s[r]` for `x [rows, …]` and `s [rows]`.
pub fn scale_rows(x: &Tensor, s: &Tensor) -> Result<Tensor> {
    check(x, s, "scale_rows")?;
    if !x.device().is_cpu() {
        let mut dims = vec![1; x.rank()];
        dims[0] = s.dim(0)?;
        return x.broadcast_mul(&s.reshape(dims)?);
    }
    x.contiguous()?.apply_op2(&s.contiguous()?, ScaleRows)
}

/// `out[r] = Σ_c x[r, c] · y[r, c]` for `x, y [rows, …]`.
pub fn row_dot(x: &Tensor, y: &Tensor) -> Result<Tensor> {
    if x.dims() != y.dims() || x.rank() == 0 || x.dtype() != y.dtype() {
        return Err(Error::Msg(format!("row_dot: x {:?} and y {:?} differ", x.dims(), y.dims())));
    }
    if !x.device().is_cpu() {
        return x.mul(y)?.flatten_from(1)?.sum(1);
    }
    x.contiguous()?.apply_op2(&y.contiguous()?, RowDot)
}

fn check(x: &Tensor, s: &Tensor, op: &str) -> Result<()> {
    if x.rank() == 0 || s.dims() != [x.dim(0)?] || x.dtype() != s.dtype() {
        return Err(Error::Msg(format!("{op}: x {:?} and s {:?} do not fit", x.dims(), s.dims())));
    }
    Ok(())
}

/// `out[c] = Σ_r x[r, c]` for `x [rows, columns]` (the gradient of a bias): blocks of rows summed in
/// parallel, then the block sums in order. Differentiable to any order.
pub fn column_sums(x: &Tensor) -> Result<Tensor> {
    x.dims2()?;
    if !x.device().is_cpu() {
        return x.sum(0);
    }
    x.contiguous()?.apply_op1(ColumnSums)
}

/// `(x − mean) / √(var + eps)` over the last dimension (biased variance): the normalisation of a
/// layer norm, one fused pass on the CPU, differentiable to any order.
pub fn standardize_rows(x: &Tensor, eps: f64) -> Result<Tensor> {
    if x.rank() == 0 || !matches!(x.dtype(), candle_core::DType::F32 | candle_core::DType::F64) {
        return Err(Error::Msg(format!(
            "standardize_rows: x is {:?} of {:?}, expected f32 or f64 rows",
            x.dims(),
            x.dtype()
        )));
    }
    if !x.device().is_cpu() {
        let centred = x.broadcast_sub(&x.mean_keepdim(D::Minus1)?)?;
        let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
        return centred.broadcast_div(&variance.affine(1.0, eps)?.sqrt()?);
    }
    x.contiguous()?.apply_op1(Standardize { eps })
}
