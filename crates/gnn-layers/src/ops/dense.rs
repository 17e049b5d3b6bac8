//! `y = x·Wᵀ + b` (PyTorch's `nn.Linear`) as one call into gemm with the bias folded into the
//! product (the output starts as the bias rows and gemm accumulates into it), instead of a matmul
//! followed by a broadcast add; and a backward pass that only computes the gradients some input
//! needs (forces through a frozen model skip the weight gradients, a third of the work).

use super::kernels::{contiguous, with_float};
use super::rows::column_sums;
use candle_core::{CpuStorage, CustomOp3, DType, Error, Layout, Result, Shape, Tensor, WithDType};

/// Products below this many multiply–adds run on the calling thread: splitting them costs more
/// than it saves (tens of µs per call with 2 threads).
pub const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// `x·Wᵀ + b` for `x [rows, in]`, `weight [out, in]`, `bias [out]`; differentiable to any order.
pub fn dense(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (_, inputs) = x.dims2()?;
    let (outputs, weight_inputs) = weight.dims2()?;
    if inputs != weight_inputs || bias.is_some_and(|b| b.dims() != [outputs]) {
        return Err(Error::Msg(format!(
            "dense: x {:?}, weight {:?} and bias {:?} do not fit",
            x.dims(),
            weight.dims(),
            bias.map(|b| b.dims().to_vec())
        )));
    }
    if !x.device().is_cpu() || !matches!(x.dtype(), DType::F32 | DType::F64) {
        let y = x.matmul(&weight.t()?)?;
        return match bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        };
    }
    let bias = match bias {
        Some(b) => b.contiguous()?,
        None => Tensor::zeros(outputs, x.dtype(), x.device())?,
    };
    x.contiguous()?.apply_op3(&weight.contiguous()?, &bias, Linear)
}

struct Linear;

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
    if rows == 0 || outputs == 0 || inputs == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 && rows * inputs * outputs >= PARALLEL_MIN_FLOPS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let (inputs_i, outputs_i) = (inputs as isize, outputs as isize);
    // SAFETY: the pointers cover `rows × outputs`, `rows × inputs` and `outputs × inputs` elements
    // with the strides given; `T` is f32 or f64 (checked by `with_float!`), which gemm supports.
    unsafe {
        gemm::gemm(
            rows,
            outputs,
            inputs,
            y.as_mut_ptr(),
            1,
            outputs_i,
            true,
            x.as_ptr(),
            1,
            inputs_i,
            w.as_ptr(),
            inputs_i,
            1,
            T::from_f64(1.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            parallelism,
        )
    }
}
