"""What the reference benchmark scripts share: xtask's command line and its timing rule."""

import argparse
import time


def parse_args():
    """`SCRIPT --suite SUITE [--budget S] MANIFEST.json OUT.json`, as xtask calls every script."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("manifest")
    ap.add_argument("out")
    return ap.parse_args()


def time_median(budget, fn):
    """Median seconds of fn(): one warm-up, then at least 3 runs and until `budget` seconds have
    passed (at most 100 runs) — the same rule as xtask's `time_median`."""
    fn()
    start, times = time.perf_counter(), []
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 100):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]
