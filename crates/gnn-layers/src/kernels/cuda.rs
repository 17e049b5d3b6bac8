//! CUDA launches of the graph-op kernels (`kernels/graph_ops.cu`, compiled to PTX by `build.rs`):
//! the `cuda_fwd` of each custom op, with the same conventions and summation order as the CPU
//! kernels of this room (one thread per output element walking its segment's rows in order, no
//! atomics: deterministic).

use crate::ops::SegmentIndex;
use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaView, LaunchArgs, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::{CudaDType, WrapErr};
use candle_core::{CudaDevice, CudaStorage, DType, Error, Layout, Result};

const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/graph_ops.ptx"));
const MODULE: &str = "chemgnn_graph_ops";
const THREADS: u32 = 256;
/// A null device pointer, for the kernels' optional index arguments.
const NULL: u64 = 0;

/// A segment index on the GPU: its values and the rows grouped by segment (CSR: offsets into the
/// grouped order, which is absent when the index is sorted).
pub(crate) struct DeviceIndex {
    values: CudaSlice<u32>,
    offsets: CudaSlice<u32>,
    order: Option<CudaSlice<u32>>,
}

impl std::fmt::Debug for DeviceIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIndex").field("grouped", &self.order.is_some()).finish_non_exhaustive()
    }
}

impl DeviceIndex {
    /// Copies the host-side index to `device` (offsets must fit `u32`, as the kernels read them).
    pub(crate) fn new(device: &CudaDevice, values: &[u32], offsets: &[usize], order: Option<&[u32]>) -> Result<Self> {
        let offsets =
            offsets.iter().map(|&o| u32::try_from(o)).collect::<std::result::Result<Vec<u32>, _>>().map_err(|_| {
                Error::Msg(format!("segment index of {} rows: more than 2^32 rows on a GPU", values.len()))
            })?;
        // No zero-byte allocations: an empty index keeps one unused value.
        let values = device.clone_htod(if values.is_empty() { &[0u32][..] } else { values })?;
        let offsets = device.clone_htod(&offsets[..])?;
        let order = order.map(|o| device.clone_htod(o)).transpose()?;
        Ok(Self { values, offsets, order })
    }
}

/// Runs `$body` with `$t` bound to `f32` or `f64` according to the dtype of `$storage`.
macro_rules! with_cuda_float {
    ($storage:expr, $op:expr, |$t:ident| $body:expr) => {
        match $storage.dtype() {
            DType::F32 => {
                type $t = f32;
                $body
            }
            DType::F64 => {
                type $t = f64;
                $body
            }
            other => return Err(Error::Msg(format!("{}: unsupported dtype {other:?} (expected f32 or f64)", $op))),
        }
    };
}

/// The contiguous data of a GPU tensor.
fn input<'a, T: CudaDType>(storage: &'a CudaStorage, layout: &Layout, op: &str) -> Result<CudaView<'a, T>> {
    let (start, end) =
        layout.contiguous_offsets().ok_or_else(|| Error::Msg(format!("{op}: the input must be contiguous")))?;
    Ok(T::as_cuda_slice(storage)?.slice(start..end))
}

fn device_index<'a>(index: &'a SegmentIndex, op: &str) -> Result<&'a DeviceIndex> {
    index.on_cuda().ok_or_else(|| Error::Msg(format!("{op}: the segment index is not on the GPU")))
}

fn push_optional<'a>(args: &mut LaunchArgs<'a>, slice: Option<&'a CudaSlice<u32>>) {
    match slice {
        Some(slice) => args.arg(slice),
        None => args.arg(&NULL),
    };
}

fn config(elements: usize) -> LaunchConfig {
    let blocks = elements.div_ceil(THREADS as usize).clamp(1, 1 << 20) as u32;
    LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 }
}

/// Allocates the `[$n]` output, launches kernel `$name_<dtype>` with the arguments `$push` pushes
/// onto builder `$b` (`$out` is the output; every pushed value must outlive the launch, so sizes are
/// bound to locals first) and wraps the result as a storage of `$dev`.
macro_rules! launch {
    ($dev:expr, $t:ty, $name:expr, $n:expr, |$b:ident, $out:ident| $push:block) => {{
        let out = $dev.alloc_zeros::<$t>($n)?;
        if $n > 0 {
            let name = format!("{}_{}", $name, <$t as candle_core::WithDType>::DTYPE.as_str());
            let func = $dev.get_or_load_custom_func(&name, MODULE, PTX)?;
            let mut $b = func.builder();
            let $out = &out;
            $push
            // SAFETY: the arguments match the kernel's signature in graph_ops.cu, every index they
            // hold was range-checked on the host when its `SegmentIndex` was built, and the output
            // has `$n` elements, the launch's extent.
            unsafe { $b.launch(config($n)) }.w()?;
        }
        Ok(<$t as CudaDType>::wrap_cuda_slice(out, $dev.clone()))
    }};
}

/// `out[e] = x[index[e]]`.
pub(crate) fn gather(x: &CudaStorage, layout: &Layout, index: &SegmentIndex, row_len: usize) -> Result<CudaStorage> {
    const OP: &str = "chemgnn-gather";
    let di = device_index(index, OP)?;
    let (rows, cols) = (index.len(), row_len);
    let device = x.device();
    with_cuda_float!(x, OP, |T| {
        let xv = input::<T>(x, layout, OP)?;
        launch!(device, T, "gather", rows * cols, |b, out| {
            b.arg(&xv).arg(&di.values).arg(out).arg(&rows).arg(&cols);
        })
    })
}

/// `out[s] = Σ_{index[r] = s} src[r]`, or the element-wise maximum (`Some(true)`) or minimum
/// (`Some(false)`).
pub(crate) fn segment_reduce(
    src: &CudaStorage,
    layout: &Layout,
    index: &SegmentIndex,
    row_len: usize,
    extremum: Option<bool>,
) -> Result<CudaStorage> {
    const OP: &str = "chemgnn-segment-reduce";
    let di = device_index(index, OP)?;
    let (segments, cols) = (index.num_segments(), row_len);
    let device = src.device();
    with_cuda_float!(src, OP, |T| {
        let sv = input::<T>(src, layout, OP)?;
        match extremum {
            None => launch!(device, T, "segment_sum", segments * cols, |b, out| {
                b.arg(&sv).arg(&di.offsets);
                push_optional(&mut b, di.order.as_ref());
                b.arg(out).arg(&segments).arg(&cols);
            }),
            Some(max) => {
                let max = i32::from(max);
                launch!(device, T, "segment_extremum", segments * cols, |b, out| {
                    b.arg(&sv).arg(&di.offsets);
                    push_optional(&mut b, di.order.as_ref());
                    b.arg(out).arg(&segments).arg(&cols).arg(&max);
                })
            }
        }
    })
}

/// `out[i] = Σ_{target[e] = i} x[source[e]] ⊙ w[k(e)]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gather_mul_scatter(
    x: &CudaStorage,
    xl: &Layout,
    w: &CudaStorage,
    wl: &Layout,
    source: &SegmentIndex,
    target: &SegmentIndex,
    w_index: Option<&SegmentIndex>,
    row_len: usize,
) -> Result<CudaStorage> {
    const OP: &str = "chemgnn-gather-mul-scatter";
    let (src, dst) = (device_index(source, OP)?, device_index(target, OP)?);
    let k = w_index.map(|k| device_index(k, OP)).transpose()?;
    let (segments, cols) = (target.num_segments(), row_len);
    let device = x.device();
    with_cuda_float!(x, OP, |T| {
        let (xv, wv) = (input::<T>(x, xl, OP)?, input::<T>(w, wl, OP)?);
        launch!(device, T, "gather_mul_scatter", segments * cols, |b, out| {
            b.arg(&xv).arg(&wv).arg(&src.values).arg(&dst.offsets);
            push_optional(&mut b, dst.order.as_ref());
            push_optional(&mut b, k.map(|k| &k.values));
            b.arg(out).arg(&segments).arg(&cols);
        })
    })
}

/// `out[s] = Σ_{out_index[e] = s} a[a_index[e]] ⊙ b[b_index[e]]`, or per edge without `out_index`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn edge_products(
    a: &CudaStorage,
    al: &Layout,
    b: &CudaStorage,
    bl: &Layout,
    a_index: &SegmentIndex,
    b_index: &SegmentIndex,
    out_index: Option<&SegmentIndex>,
    row_len: usize,
) -> Result<CudaStorage> {
    const OP: &str = "chemgnn-edge-products";
    let (ai, bi) = (device_index(a_index, OP)?, device_index(b_index, OP)?);
    let oi = out_index.map(|o| device_index(o, OP)).transpose()?;
    let (rows, cols) = (out_index.map_or(a_index.len(), SegmentIndex::num_segments), row_len);
    let device = a.device();
    with_cuda_float!(a, OP, |T| {
        let (av, bv) = (input::<T>(a, al, OP)?, input::<T>(b, bl, OP)?);
        launch!(device, T, "edge_products", rows * cols, |args, out| {
            args.arg(&av).arg(&bv).arg(&ai.values).arg(&bi.values);
            push_optional(&mut args, oi.map(|o| &o.offsets));
            push_optional(&mut args, oi.and_then(|o| o.order.as_ref()));
            args.arg(out).arg(&rows).arg(&cols);
        })
    })
}

/// Per-row matrix–vector products `x[e]·w[m(e)]` (or `w[m(e)]·x[e]` with `transpose`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn row_matvec(
    x: &CudaStorage,
    xl: &Layout,
    w: &CudaStorage,
    wl: &Layout,
    index: Option<&SegmentIndex>,
    inputs: usize,
    outputs: usize,
    transpose: bool,
) -> Result<CudaStorage> {
    const OP: &str = "chemgnn-row-matvec";
    let mi = index.map(|i| device_index(i, OP)).transpose()?;
    let rows = xl.dims()[0];
    let out_len = if transpose { inputs } else { outputs };
    let transpose = i32::from(transpose);
    let device = x.device();
    with_cuda_float!(x, OP, |T| {
        let (xv, wv) = (input::<T>(x, xl, OP)?, input::<T>(w, wl, OP)?);
        launch!(device, T, "row_matvec", rows * out_len, |b, out| {
            b.arg(&xv).arg(&wv);
            push_optional(&mut b, mi.map(|m| &m.values));
            b.arg(out).arg(&rows).arg(&inputs).arg(&outputs).arg(&transpose);
        })
    })
}

/// `out[s] = Σ_{index[e] = s} a[e] ⊗ b[e]`, or one outer product per row without an index.
pub(crate) fn outer_products(
    a: &CudaStorage,
    al: &Layout,
    b: &CudaStorage,
    bl: &Layout,
    index: Option<&SegmentIndex>,
) -> Result<CudaStorage> {
    const OP: &str = "chemgnn-outer-products";
    let oi = index.map(|i| device_index(i, OP)).transpose()?;
    let (a_len, b_len) = (al.dims()[1], bl.dims()[1]);
    let rows = index.map_or(al.dims()[0], SegmentIndex::num_segments);
    let device = a.device();
    with_cuda_float!(a, OP, |T| {
        let (av, bv) = (input::<T>(a, al, OP)?, input::<T>(b, bl, OP)?);
        launch!(device, T, "outer_products", rows * a_len * b_len, |args, out| {
            args.arg(&av).arg(&bv);
            push_optional(&mut args, oi.map(|o| &o.offsets));
            push_optional(&mut args, oi.and_then(|o| o.order.as_ref()));
            args.arg(out).arg(&rows).arg(&a_len).arg(&b_len);
        })
    })
}

/// One Adam step in place: `param`, `m` and `v` are updated from `grad` (see `ops/adam.rs`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn adam_step(
    param: &mut CudaStorage,
    pl: &Layout,
    m: &CudaStorage,
    ml: &Layout,
    v: &CudaStorage,
    vl: &Layout,
    grad: &CudaStorage,
    gl: &Layout,
    step: &crate::ops::AdamStep,
) -> Result<()> {
    const OP: &str = "chemgnn-adam-step";
    let n = pl.shape().elem_count();
    let device = param.device().clone();
    macro_rules! run {
        ($t:ty) => {{
            let s = |x: f64| x as $t;
            let scalars = [
                s(step.beta1),
                s(1.0 - step.beta1),
                s(step.beta2),
                s(1.0 - step.beta2),
                s(step.step_size),
                s(step.inv_sqrt_bias2),
                s(step.eps),
                s(step.l2),
                s(step.decay),
            ];
            let (mv, vv, gv) = (input::<$t>(m, ml, OP)?, input::<$t>(v, vl, OP)?, input::<$t>(grad, gl, OP)?);
            let (start, end) =
                pl.contiguous_offsets().ok_or_else(|| Error::Msg(format!("{OP}: the parameter must be contiguous")))?;
            let mut pv = <$t as CudaDType>::as_cuda_slice_mut(param)?.slice_mut(start..end);
            if n > 0 {
                let name = format!("adam_step_{}", <$t as candle_core::WithDType>::DTYPE.as_str());
                let func = device.get_or_load_custom_func(&name, MODULE, PTX)?;
                let mut b = func.builder();
                b.arg(&mut pv).arg(&mv).arg(&vv).arg(&gv).arg(&n);
                for x in &scalars {
                    b.arg(x);
                }
                // SAFETY: the arguments match `adam_step` in graph_ops.cu; all four buffers hold
                // `n` elements (checked by `adam_step_in_place`). The kernel also writes `m` and
                // `v`, which Candle lends as read-only: Candle checked that they do not share the
                // parameter's storage, and the optimiser owns them, each in its own allocation.
                unsafe { b.launch(config(n)) }.w()?;
            }
            Ok(())
        }};
    }
    match param.dtype() {
        DType::F32 => run!(f32),
        DType::F64 => run!(f64),
        other => Err(Error::Msg(format!("{OP}: unsupported dtype {other:?} (expected f32 or f64)"))),
    }
}

/// `Σ x²` of all contiguous `tensors` (one dtype, one GPU), in one launch: one block per tensor.
pub(crate) fn sum_squares(tensors: &[candle_core::Tensor]) -> Result<f64> {
    use candle_core::cuda_backend::cudarc::driver::DevicePtr;
    const OP: &str = "chemgnn-sum-squares";
    let Some(first) = tensors.first() else { return Ok(0.0) };
    let device = first.device().as_cuda_device()?.clone();
    let stream = device.cuda_stream();
    let (mut ptrs, mut lens) = (Vec::with_capacity(tensors.len()), Vec::with_capacity(tensors.len()));
    for t in tensors {
        let (storage, layout) = t.storage_and_layout();
        let candle_core::Storage::Cuda(storage) = &*storage else {
            return Err(Error::Msg(format!("{OP}: a tensor is not on the GPU")));
        };
        let ptr = with_cuda_float!(storage, OP, |T| {
            let view = input::<T>(storage, layout, OP)?;
            // The pointer outlives its guard: every tensor is alive until this function returns,
            // and all work on the device runs on its one stream, in order.
            let (ptr, _guard) = view.device_ptr(&stream);
            ptr
        });
        ptrs.push(ptr);
        lens.push(layout.shape().elem_count() as u64);
    }
    let count = tensors.len();
    let (ptrs, lens) = (device.clone_htod(&ptrs[..])?, device.clone_htod(&lens[..])?);
    let out = device.alloc_zeros::<f64>(count)?;
    let name = format!("sum_squares_{}", first.dtype().as_str());
    let func = device.get_or_load_custom_func(&name, MODULE, PTX)?;
    let mut b = func.builder();
    b.arg(&ptrs).arg(&lens).arg(&count).arg(&out);
    let blocks = count.clamp(1, 65_535) as u32;
    let config = LaunchConfig { grid_dim: (blocks, 1, 1), block_dim: (THREADS, 1, 1), shared_mem_bytes: 0 };
    // SAFETY: `ptrs`/`lens` describe `count` live contiguous tensors of the kernel's dtype; the
    // kernel's shared buffer is sized for THREADS (256) threads per block.
    unsafe { b.launch(config) }.w()?;
    Ok(device.clone_dtoh(&out)?.iter().sum())
}
