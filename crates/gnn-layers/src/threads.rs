//! The CPU thread policy, chosen by measurement (docs/benchmarks.md, `models` and `ops` suites).
//!
//! chemgnn's kernels (graph ops, fused activations, radial bases) and Candle's matmul both run on
//! the rayon pool (`RAYON_NUM_THREADS`, default: one thread per core). Candle also keeps a second pool
//! of spinning workers for its own element-wise ops above 64 K elements; on a machine with few cores
//! those workers compete with rayon's for the same cores (a 2-core training step ran 2× slower on
//! 2 threads than on 1). [`configure_cpu_threads`] switches that second pool off
//! (`CANDLE_NUM_THREADS=1`: Candle's remaining element-wise ops run on the calling thread), unless the
//! user set `CANDLE_NUM_THREADS` themselves. Kernels stay on the calling thread below
//! [`PARALLEL_MIN_ELEMENTS`](crate::ops::PARALLEL_MIN_ELEMENTS) output elements.

use std::sync::Once;

const CANDLE_NUM_THREADS: &str = "CANDLE_NUM_THREADS";

/// Applies the thread policy (process-wide; idempotent). Must run before Candle's first large
/// element-wise op, which creates its pool: the library calls it whenever a
/// [`GraphTensors`](crate::GraphTensors) is built, and the `chemgnn` binary at start.
pub fn configure_cpu_threads() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os(CANDLE_NUM_THREADS).is_none() {
            std::env::set_var(CANDLE_NUM_THREADS, "1");
        }
    });
}
