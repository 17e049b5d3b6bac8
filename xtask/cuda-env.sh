#!/usr/bin/env bash
# Makes the CUDA 13.0 toolkit that `cargo build --release --features cuda` needs from the package
# index (no system CUDA, no GPU, no driver needed to build), and prints the environment to build with.
#
#   eval "$(xtask/cuda-env.sh)"            # toolkit in target/cuda13 (made once, then reused)
#   cargo build --release --features cuda
#
# What it makes (see docs/gpu.md): a Python venv with nvcc pinned to 13.0 (PTX from a newer nvcc is
# refused by 580-series drivers) and the runtime libraries; a link directory with the unversioned
# names the linker wants (the wheels ship only SONAME files) and a `libcuda.so` stub made from the
# driver functions cudarc declares (no wheel ships the driver; the stub is for linking only: the
# binary loads the real libcuda.so.1 of the machine it runs on).
# Environment: CUDA_COMPUTE_CAP (default 90: H100/H200), argument 1: the toolkit directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/target/cuda13}
cap=${CUDA_COMPUTE_CAP:-90}
mkdir -p "$dir"
if [ ! -x "$dir/venv/bin/python" ]; then
    python3 -m venv "$dir/venv" >&2
fi
"$dir/venv/bin/pip" install -q --disable-pip-version-check \
    nvidia-cuda-nvcc==13.0.88 'nvidia-nvvm~=13.0.0' 'nvidia-cuda-runtime~=13.0.0' 'nvidia-cuda-crt~=13.0.0' \
    'nvidia-cuda-cccl~=13.0.0' 'nvidia-cuda-nvrtc~=13.0.0' 'nvidia-curand~=10.4.0' 'nvidia-cublas~=13.0.0' >&2
cu=$(ls -d "$dir"/venv/lib/python3*/site-packages/nvidia/cu13)
link=$dir/link
mkdir -p "$link"
for lib in cublas cublasLt cudart nvrtc curand; do
    ln -sf "$(ls "$cu"/lib/lib$lib.so.* | head -n 1)" "$link/lib$lib.so"
done
if [ ! -f "$link/libcuda.so" ]; then
    version=$(sed -n '/^name = "cudarc"$/{n;s/^version = "\(.*\)"$/\1/p}' "$root/Cargo.lock")
    (cd "$root" && cargo fetch -q >&2)
    sys=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-"$version"/src/driver/sys | head -n 1)
    grep -ohE '\bfn cu[A-Za-z0-9_]+\(' "$sys"/*.rs | sort -u | sed 's/^fn \(.*\)($/void \1(void) {}/' > "$link/libcuda_stub.c"
    gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$link/libcuda.so" "$link/libcuda_stub.c" >&2
fi
cat <<ENV
export PATH="$cu/bin:\$PATH"
export NVCC="$cu/bin/nvcc"
export CUDA_COMPUTE_CAP=$cap
export CUDA_ROOT="$link"
export CUDARC_CUDA_VERSION=13000
export LIBRARY_PATH="$link:$cu/lib\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
ENV
