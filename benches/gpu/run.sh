#!/usr/bin/env bash
# GPU figures for SchNet: chemgnn (a binary built with `--features cuda`, see xtask/cuda-env.sh)
# and PyG on the same GPU, on the QM9 sample: training and inference throughput per batch size, and
# the main job (`chemgnn train`) on the GPU. Run from the repository root on the GPU machine:
#
#   benches/gpu/run.sh CHEMGNN OUT_DIR [BATCH ...]
#
# Needs python3 with torch, torch_geometric and safetensors, and the CUDA 13 runtime libraries
# (found in python3's nvidia wheels).
set -uo pipefail
bin=$1
out=$2
shift 2
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(32 128 512)
mkdir -p "$out"
site=$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
libs=$(find "$site/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/device.txt"
"$bin" --version || { echo "the binary does not start"; ldd "$bin"; exit 1; }
work=$(mktemp -d)
for b in "${sizes[@]}"; do
    start=$(date +%s%N)
    timeout 30 "$bin" train --config benches/gpu/schnet_pyg_defaults.toml --device cuda --batch-size "$b" \
        --out "$work/chemgnn-$b" -q > "$out/chemgnn-$b.log" 2>&1
    echo "chemgnn batch $b: rc=$? $(( ($(date +%s%N) - start) / 1000000 )) ms"
    cp "$work/chemgnn-$b/metrics.jsonl" "$out/chemgnn-$b.jsonl" 2>/dev/null && tail -n 1 "$out/chemgnn-$b.jsonl"
done
timeout 120 python3 benches/gpu/pyg_schnet.py "$out/pyg.json" "${sizes[@]}"
echo "pyg: rc=$?"
start=$(date +%s%N)
timeout 90 "$bin" train --device cuda --out "$work/main" > "$out/main.log" 2>&1
echo "main job (chemgnn train --device cuda): rc=$? $(( ($(date +%s%N) - start) / 1000000 )) ms"
tail -n 4 "$out/main.log"
cp "$work/main/summary.json" "$out/main-summary.json" 2>/dev/null
