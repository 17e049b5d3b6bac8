#!/usr/bin/env bash
# Builds what benches/gpu/device-check.sh runs on a GPU machine and packs it into .gpu/ (xz, so
# that it fits the 64 MiB a device call may carry): the chemgnn binary and the CUDA test binary
# (crates/gnn-models/tests/cuda.rs), both with `--features cuda`. Needs the toolkit of
# xtask/cuda-env.sh; builds in target/cuda.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(xtask/cuda-env.sh)"
export CARGO_TARGET_DIR=target/cuda
cargo build --release --features cuda --bin chemgnn
tests=$(cargo test --release --features cuda -p gnn-models --test cuda --no-run --message-format=json \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
mkdir -p .gpu
strip -o .gpu/chemgnn target/cuda/release/chemgnn
strip -o .gpu/cuda_tests "$tests"
# A cuRAND stub for machines without libcurand.so.10 (Candle links it for random GPU tensors,
# which chemgnn does not use: weights are initialised on the host). Binaries bind every symbol at
# load time, so the stub defines each cuRAND function they import.
nm -D --undefined-only .gpu/chemgnn .gpu/cuda_tests | awk '/ curand/ {sub(/@.*/, "", $2); print $2}' | sort -u \
    | sed 's/^\(.*\)$/int \1(void) { return 203; }/' > .gpu/curand_stub.c
gcc -shared -fPIC -Wl,-soname,libcurand.so.10 -o .gpu/libcurand.so.10 .gpu/curand_stub.c
xz -f -T2 -6 .gpu/chemgnn .gpu/cuda_tests
pwd > .gpu/built-in
ls -l .gpu
