"""What the reference benchmark scripts share: xtask's command line, its timing rule, package
versions and edge lists in chemgnn's `.npy` row layout."""

import argparse
import time
from importlib.metadata import version as package_version

import numpy as np


def parse_args():
    """`SCRIPT --suite SUITE [--budget S] MANIFEST.json OUT.json`, as xtask calls every script."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("manifest")
    ap.add_argument("out")
    return ap.parse_args()


def version(package):
    """The installed version of `package` (a distribution name such as "pymatgen")."""
    return package_version(package)


def edge_rows(lists):
    """(frame, i, j, S) rows of per-frame (i, j, S, …) arrays (extra arrays ignored), sorted like
    chemgnn's `.npy` edge lists, so the two can be compared with `np.array_equal`."""
    rows = []
    for f, (i, j, S, *_) in enumerate(lists):
        r = np.empty((len(i), 6), dtype=np.int64)
        r[:, 0], r[:, 1], r[:, 2], r[:, 3:] = f, i, j, np.asarray(S).reshape(-1, 3)
        rows.append(r)
    rows = np.concatenate(rows) if rows else np.zeros((0, 6), dtype=np.int64)
    return rows[np.lexsort(rows.T[::-1])]


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


def run_torch_suite(script, cases, work=lambda entry: (1.0, "passes"), package="torch_geometric", name="PyG"):
    """The main of a PyTorch reference script: for each manifest entry and 1 and 2 threads, time every
    `(case, fn)` of `cases(entry)`; `work(entry)` gives the work units of one pass. The implementation
    is labelled `{name} {package version} / torch {version}`. Writes the measurements (or [] when
    torch or `package` is missing) to the output file. A case may be `(case, fn, identical)`."""
    import importlib
    import json

    args = parse_args()
    results = []
    try:
        import torch
        reference = importlib.import_module(package)
    except ImportError as err:
        print(f"{script}: {err}; no PyTorch timings")
        json.dump(results, open(args.out, "w"))
        return
    label = f"{name} {reference.__version__} / torch {torch.__version__.split('+')[0]}"
    for entry in json.load(open(args.manifest)):
        amount, unit = work(entry)
        for threads in [1, 2]:
            torch.set_num_threads(threads)
            for case, run, *identical in cases(entry):
                seconds = time_median(args.budget, run)
                results.append({
                    "suite": args.suite, "case": case,
                    "implementation": f"{label} ({threads} thread{'s' if threads > 1 else ''})",
                    "seconds": seconds, "work": amount, "unit": unit, "identical": identical[0] if identical else None,
                })
                print(f"  {case:<100} {threads} thr {seconds * 1e3:10.3f} ms")
    json.dump(results, open(args.out, "w"), indent=1)
