//! With the `cuda` feature, compiles the graph-op kernels (`kernels/graph_ops.cu`) to PTX with
//! `nvcc` (`$NVCC`, else the one on `PATH`; see `xtask/cuda-env.sh`) for the virtual architecture
//! `compute_$CUDA_COMPUTE_CAP` (default 80), which the driver JIT-compiles for the GPU it runs on.
//! Without the feature nothing is built and no CUDA toolkit is needed.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=kernels/graph_ops.cu");
    println!("cargo::rerun-if-env-changed=NVCC");
    println!("cargo::rerun-if-env-changed=CUDA_COMPUTE_CAP");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    let nvcc = std::env::var("NVCC").unwrap_or_else(|_| "nvcc".into());
    let cap: String = std::env::var("CUDA_COMPUTE_CAP")
        .unwrap_or_else(|_| "80".into())
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("graph_ops.ptx");
    let status = Command::new(&nvcc)
        .args(["--ptx", "-O3", "-std=c++17", &format!("-arch=compute_{cap}"), "-o"])
        .arg(&out)
        .arg("kernels/graph_ops.cu")
        .status()
        .unwrap_or_else(|e| panic!("cannot run `{nvcc}` to compile the CUDA kernels ({e}); see xtask/cuda-env.sh"));
    assert!(status.success(), "`{nvcc}` failed to compile kernels/graph_ops.cu ({status})");
}
