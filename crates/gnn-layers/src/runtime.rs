//! The CPU runtime policy, chosen by measurement (docs/benchmarks.md, `models` and `ops` suites):
//! which thread pool runs what, and how large buffers are recycled.
//!
//! - **Threads.** chemgnn's kernels (graph ops, fused activations, radial bases, dense layers) and
//!   Candle's matmul run on the rayon pool (`RAYON_NUM_THREADS`, default: one thread per core).
//!   Candle also keeps a second pool of spinning workers for its own element-wise ops above 64 K
//!   elements; on a machine with few cores they compete with rayon's threads for the same cores (a
//!   2-core training step ran 2× slower on 2 threads than on 1). [`init`] switches that pool off
//!   (`CANDLE_NUM_THREADS=1`) unless the user set `CANDLE_NUM_THREADS`. Kernels stay on the calling
//!   thread below [`PARALLEL_MIN_ELEMENTS`](crate::ops::PARALLEL_MIN_ELEMENTS) output elements, dense
//!   products below [`PARALLEL_MIN_FLOPS`](crate::ops::PARALLEL_MIN_FLOPS) multiply–adds.
//! - **Allocation** (Linux with glibc). Every tensor op allocates its output; glibc serves the
//!   `[edges, features]` buffers of a message-passing layer (MBs each) with fresh `mmap`s and returns
//!   them on free, so every pass paid page faults on all of its output (40 % of a SchNet force
//!   evaluation). [`init`] raises glibc's mmap threshold to 32 MiB and turns trimming off, so
//!   that freed buffers are reused from the heap, unless `MALLOC_MMAP_THRESHOLD_`,
//!   `MALLOC_TRIM_THRESHOLD_` or `CHEMGNN_KEEP_MALLOC` is set in the environment.
//! - **Huge buffers.** Above 32 MiB glibc still maps fresh memory for every buffer (the threshold
//!   cannot go higher). Systems of tens of thousands of atoms (an MD engine's domain with its ghost
//!   atoms: `[pairs, filters]` tensors of hundreds of MB) then spent two thirds of a force evaluation
//!   in page faults. [`HugePageAllocator`], the global allocator of chemgnn's binary, C library and
//!   Python module, asks for transparent huge pages on such blocks (one fault per 2 MiB instead of
//!   per 4 KiB): a 36,000-atom SchNet evaluation went from 8.9 to 0.17 million page faults.

use std::sync::Once;

const CANDLE_NUM_THREADS: &str = "CANDLE_NUM_THREADS";

/// Applies the runtime policy (module docs) to the process: sets `CANDLE_NUM_THREADS=1` unless the
/// user set it, and tunes glibc's allocator. Idempotent.
///
/// Nothing in the library calls it: it changes the environment and the allocator of the whole
/// process, which is the program's decision, not a constructor's. Call it once at start, before
/// other threads exist (setting an environment variable while another thread reads the
/// environment is a data race in glibc) and before Candle's first element-wise op on more than
/// 64 K elements, which creates Candle's pool. chemgnn's own entry points do: the `chemgnn` binary,
/// `cargo xtask`, `gnn_train::train`, the Python module on import and the C library's
/// `chemgnn_model_load`. Without it everything still works, with Candle's pool competing with rayon
/// for the cores.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os(CANDLE_NUM_THREADS).is_none() {
            std::env::set_var(CANDLE_NUM_THREADS, "1");
        }
        keep_freed_buffers();
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_buffers() {
    let user_set = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "CHEMGNN_KEEP_MALLOC"]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    if !user_set {
        // SAFETY: mallopt only changes glibc's tuning parameters; any values are valid.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_buffers() {}

/// The system allocator, with transparent huge pages requested (`madvise(MADV_HUGEPAGE)`, Linux) for
/// blocks of [`HUGE_PAGE_MIN_BYTES`] and more, which glibc maps fresh for each allocation (see the
/// module docs). Declare it as the `#[global_allocator]` of a final artifact; elsewhere it is the
/// system allocator.
pub struct HugePageAllocator;

/// Blocks from this size up get huge pages (glibc's largest mmap threshold: smaller blocks are
/// recycled from the heap).
pub const HUGE_PAGE_MIN_BYTES: usize = 32 << 20;

// SAFETY: every call is forwarded to `System` unchanged; `advise_huge_pages` only gives the kernel a
// hint about memory the block owns.
unsafe impl std::alloc::GlobalAlloc for HugePageAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        advise_huge_pages(unsafe { std::alloc::System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        advise_huge_pages(unsafe { std::alloc::System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        advise_huge_pages(unsafe { std::alloc::System.realloc(ptr, layout, new_size) }, new_size)
    }
}

/// Asks for huge pages on the whole 4 KiB pages inside `[ptr, ptr + size)` of a large block.
fn advise_huge_pages(ptr: *mut u8, size: usize) -> *mut u8 {
    #[cfg(target_os = "linux")]
    if !ptr.is_null() && size >= HUGE_PAGE_MIN_BYTES {
        const PAGE: usize = 4096;
        let start = (ptr as usize).next_multiple_of(PAGE);
        let end = (ptr as usize + size) / PAGE * PAGE;
        // SAFETY: the range lies inside the block just allocated; MADV_HUGEPAGE changes no contents
        // and a failure (no THP support) is harmless.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
    ptr
}

/// CUDA GPU `ordinal` as a Candle device, set up for chemgnn's use of it: one stream, so Candle's
/// per-tensor CUDA events (recorded and waited on at every launch, to order work across streams)
/// are switched off. Errors without the `cuda` feature or without a GPU.
pub fn cuda_device(ordinal: usize) -> candle_core::Result<candle_core::Device> {
    let device = candle_core::Device::new_cuda(ordinal)?;
    #[cfg(feature = "cuda")]
    if let candle_core::Device::Cuda(gpu) = &device {
        // SAFETY: called before any tensor exists on this device, and every chemgnn operation on it
        // runs on the device's single stream, in order; no tensor is shared with another stream.
        unsafe { gpu.disable_event_tracking() };
    }
    Ok(device)
}
