#!/usr/bin/env bash
# Everything issue #18 runs on a lent GPU machine, in one go (that machine has Python with torch +
# PyG but no Rust toolchain): the CUDA test suite, the aggregation kernels' bandwidth, and
# benches/gpu/run.sh (chemgnn against PyG on the same GPU, and the main job). Prepare here with
#
#   benches/gpu/prepare.sh        # builds and packs .gpu/ (chemgnn + the CUDA test binary, xz)
#
# then run from the repository root on the GPU machine, carrying .gpu:
#
#   benches/gpu/device-check.sh OUT_DIR [BATCH ...]
set -uo pipefail
out=$1
shift
mkdir -p "$out" /tmp/chemgnn-gpu
python3 - <<'PY'
import lzma, os, shutil
for name in os.listdir(".gpu"):
    if name.endswith(".xz"):
        target = "/tmp/chemgnn-gpu/" + name[:-3]
        with lzma.open(".gpu/" + name) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.chmod(target, 0o755)
PY
site=$(python3 -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
libs=$(find "$site/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ldd /tmp/chemgnn-gpu/chemgnn | grep -q 'libcurand.so.10 => not found'; then
    # The stub from prepare.sh (every cuRAND call fails with an error status; chemgnn makes none).
    echo "no libcurand.so.10 here: using the stub" | tee "$out/curand.txt"
    cp .gpu/libcurand.so.10 /tmp/chemgnn-gpu/
    export LD_LIBRARY_PATH=/tmp/chemgnn-gpu:$LD_LIBRARY_PATH
fi
ldd /tmp/chemgnn-gpu/chemgnn | grep -E 'cu|not found' | tee "$out/ldd.txt"
# The test binary finds its fixtures through the path of the checkout it was built in.
built_in=$(cat .gpu/built-in 2>/dev/null || echo /work/main)
[ -e "$built_in" ] || { mkdir -p "$(dirname "$built_in")" && ln -s "$PWD" "$built_in"; }
start=$(date +%s)
timeout 240 /tmp/chemgnn-gpu/cuda_tests --test-threads 2 2>&1 | tee "$out/tests.txt" | tail -n 30
echo "cuda tests: rc=${PIPESTATUS[0]} in $(( $(date +%s) - start )) s"
timeout 90 /tmp/chemgnn-gpu/cuda_tests --ignored --nocapture aggregation_throughput 2>&1 | tee "$out/throughput.txt" | grep -v '^$'
benches/gpu/run.sh /tmp/chemgnn-gpu/chemgnn "$out" "$@"
