//! The fused Adam/AdamW step as an in-place op on CUDA GPUs (the op behind
//! [`ops::adam_step_in_place`](crate::ops::adam_step_in_place)).

use crate::ops::AdamStep;
use candle_core::{CpuStorage, Error, InplaceOp3, Layout, Result, Tensor};

// Read by the CUDA kernel only.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
pub(crate) struct FusedAdam {
    pub(crate) grad: Tensor,
    pub(crate) step: AdamStep,
}

impl InplaceOp3 for FusedAdam {
    fn name(&self) -> &'static str {
        "chemgnn-adam-step"
    }

    fn cpu_fwd(
        &self,
        _: &mut CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<()> {
        Err(Error::Msg("adam_step: the fused step runs on CUDA GPUs only".into()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        param: &mut candle_core::CudaStorage,
        pl: &Layout,
        m: &candle_core::CudaStorage,
        ml: &Layout,
        v: &candle_core::CudaStorage,
        vl: &Layout,
    ) -> Result<()> {
        let (grad, gl) = self.grad.storage_and_layout();
        let candle_core::Storage::Cuda(grad) = &*grad else {
            return Err(Error::Msg("adam_step: the gradient is not on the GPU".into()));
        };
        super::cuda::adam_step(param, pl, m, ml, v, vl, grad, gl, &self.step)
    }
}
