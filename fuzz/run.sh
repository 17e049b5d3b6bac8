#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS (default 600), and prints each one's
# final libFuzzer statistics. Usage: fuzz/run.sh [SECONDS] [TARGET...] (default: every target).
# New corpus inputs go to fuzz/corpus/<target>, crashes to fuzz/artifacts/<target>, logs to
# fuzz/logs/<target>.log (all git-ignored).
set -uo pipefail
cd "$(dirname "$0")"
F=$PWD
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(sed -n 's/^name = "\(.*\)"/\1/p' Cargo.toml | tail -n +2))
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    [ -f "$t.dict" ] && args+=(-dict="$F/$t.dict")
    case $t in safetensors|qm9_tar) args+=(-max_len=65536) ;; *) args+=(-max_len=8192) ;; esac
    start=$(date +%s)
    RUSTC_BOOTSTRAP=1 cargo fuzz run -a --target-dir /tmp/target-fuzz "$t" "corpus/$t" "seeds/$t" -- "${args[@]}" \
        > "logs/$t.log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
    echo "$t: rc=$rc executions=${runs:-?} seconds=$(( $(date +%s) - start )) corpus=$(ls "corpus/$t" | wc -l)"
done
