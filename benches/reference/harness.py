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


def run_torch_suite(script, cases, work=lambda entry: (1.0, "passes")):
    """The main of a PyTorch reference script: for each manifest entry and 1 and 2 threads, time every
    `(case, fn)` of `cases(entry)`; `work(entry)` gives the work units of one pass. Writes the
    measurements (or [] when torch / torch_geometric is missing) to the output file."""
    import json

    args = parse_args()
    results = []
    try:
        import torch
        import torch_geometric
    except ImportError as err:
        print(f"{script}: {err}; no PyTorch timings")
        json.dump(results, open(args.out, "w"))
        return
    label = f"PyG {torch_geometric.__version__} / torch {torch.__version__.split('+')[0]}"
    for entry in json.load(open(args.manifest)):
        amount, unit = work(entry)
        for threads in [1, 2]:
            torch.set_num_threads(threads)
            for case, run in cases(entry):
                seconds = time_median(args.budget, run)
                results.append({
                    "suite": args.suite, "case": case,
                    "implementation": f"{label} ({threads} thread{'s' if threads > 1 else ''})",
                    "seconds": seconds, "work": amount, "unit": unit, "identical": None,
                })
                print(f"  {case:<100} {threads} thr {seconds * 1e3:10.3f} ms")
    json.dump(results, open(args.out, "w"), indent=1)
