//! `x·Wᵀ + b` with the bias folded into one gemm call (the op behind [`dense`](crate::ops::dense)), and the
//! strided gemm wrapper the tensor-product kernel shares.

use super::{contiguous, with_float};
use crate::ops::column_sums;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, WithDType};

/// Products below this many multiply–adds run on the calling thread: splitting them costs more
/// than it saves (tens of µs per call with 2 threads).
pub const PARALLEL_MIN_FLOPS: usize = 1 << 18;

pub(crate) struct Linear;

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "chemgnn-linear"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (rows, inputs) = (xl.dims()[0], xl.dims()[1]);
        let outputs = wl.dims()[0];
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let w = contiguous::<T>(ws, wl, self.name())?;
            let b = contiguous::<T>(bs, bl, self.name())?;
            let mut y = Vec::with_capacity(rows * outputs);
            for _ in 0..rows {
                y.extend_from_slice(b);
            }
            product(&mut y, x, w, rows, inputs, outputs);
            T::to_cpu_storage_owned(y)
        });
        Ok((out, (rows, outputs).into()))
    }

    /// `∂x = g·W`, `∂W = gᵀ·x`, `∂b = Σ_rows g`, each only when that input takes part in the graph.
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _out: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad_x = x.track_op().then(|| grad.matmul(w)).transpose()?;
        let grad_w = w.track_op().then(|| grad.t()?.matmul(x)).transpose()?;
        let grad_b = b.track_op().then(|| column_sums(grad)).transpose()?;
        Ok((grad_x, grad_w, grad_b))
    }
}

/// `y += x·wᵀ` with row-major `y [rows, outputs]`, `x [rows, inputs]`, `w [outputs, inputs]`.
fn product<T: WithDType>(y: &mut [T], x: &[T], w: &[T], rows: usize, inputs: usize, outputs: usize) {
    let (i, o) = (inputs as isize, outputs as isize);
    gemm_add(
        Matrix::new(y, rows, outputs, o, 1),
        Matrix::new(x, rows, inputs, i, 1),
        Matrix::new(w, inputs, outputs, 1, i),
        1.0,
    );
}

/// A strided matrix view: `data[r·row_stride + c·col_stride]` for `r < rows`, `c < cols`.
pub(crate) struct Matrix<S> {
    data: S,
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<S> Matrix<S> {
    /// A view of `data`; [`gemm_add`] checks that it stays inside `data`.
    pub(crate) fn new(data: S, rows: usize, cols: usize, row_stride: isize, col_stride: isize) -> Self {
        Self { data, rows, cols, row_stride, col_stride }
    }

    /// Whether every element lies inside a buffer of `len` (non-negative strides only).
    fn fits(&self, len: usize) -> bool {
        self.row_stride >= 0
            && self.col_stride >= 0
            && (self.rows == 0
                || self.cols == 0
                || (self.rows - 1) * self.row_stride as usize + (self.cols - 1) * (self.col_stride as usize) < len)
    }
}

/// `dst += scale · lhs · rhs` with gemm (its AVX-512 kernels), on the rayon pool when large.
///
/// # Panics
/// When the shapes do not chain or a view leaves its buffer (a bug in the caller).
pub(crate) fn gemm_add<T: WithDType>(dst: Matrix<&mut [T]>, lhs: Matrix<&[T]>, rhs: Matrix<&[T]>, scale: f64) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    assert!(lhs.rows == m && rhs.rows == k && rhs.cols == n, "gemm_add: shapes do not chain");
    assert!(
        dst.fits(dst.data.len()) && lhs.fits(lhs.data.len()) && rhs.fits(rhs.data.len()),
        "gemm_add: view out of bounds"
    );
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 && m * n * k >= PARALLEL_MIN_FLOPS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: every view was checked to stay inside its buffer; `dst` does not alias the inputs
    // (a `&mut` borrow); `T` is f32 or f64 (the callers dispatch with `with_float!`), which gemm
    // supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst.col_stride,
            dst.row_stride,
            true,
            lhs.data.as_ptr(),
            lhs.col_stride,
            lhs.row_stride,
            rhs.data.as_ptr(),
            rhs.col_stride,
            rhs.row_stride,
            T::from_f64(1.0),
            T::from_f64(scale),
            false,
            false,
            false,
            parallelism,
        )
    }
}
