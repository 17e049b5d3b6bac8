"""Reference side of the `potentials` suite: the original calculators (sevenn's SevenNetCalculator,
chgnet's CHGNetCalculator) and chemgnn's ASE calculator (when the `chemgnn` wheel is installed in
this environment) on the same structures, energy + forces + stress per call, at 1 and 2 threads;
and, for the manifest's `memory` entries, the peak resident memory of one such call.

Each (implementation, threads) runs in a fresh subprocess, so that thread pools start with the
count under test (RAYON_NUM_THREADS, OMP_NUM_THREADS, torch.set_num_threads) and peak memory is
the call's own. Run by `cargo xtask bench --suites potentials` in the environment of
`../shared/reference/setup-potentials.sh` ($CHEMGNN_POT_PYTHON).
"""

import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import parse_args, time_median, version  # noqa: E402


def calculator(implementation, entry):
    """The ASE calculator `implementation` (`original` or `chemgnn`) for the entry's model."""
    if implementation == "chemgnn":
        from chemgnn.ase import Calculator

        return Calculator(entry["checkpoint"], dtype="f32")
    if entry["model"].startswith("sevennet"):
        from sevenn.calculator import SevenNetCalculator

        name = {"sevennet-0": "7net-0", "sevennet-l3i5": "7net-l3i5"}[entry["model"]]
        return SevenNetCalculator(model=name, device="cpu")
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    return CHGNetCalculator(model=CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False),
                            use_device="cpu")


def label(implementation, entry, threads):
    if implementation == "binary":
        return f"chemgnn predict --stress, f32 (whole process, {threads} threads)"
    if implementation == "chemgnn":
        return f"chemgnn ASE calculator, f32 ({threads} threads)"
    package = "sevenn" if entry["model"].startswith("sevennet") else "chgnet"
    return f"{package} {version(package)} / torch {version('torch')} ({threads} threads)"


def one_run(implementation, entry_json, threads, budget, memory):
    """In the subprocess: time (or measure the memory of) one implementation on one entry."""
    entry = json.loads(entry_json)
    if implementation == "binary":
        out = os.path.join(os.path.dirname(entry["file"]), "memory.json")
        subprocess.run([entry["binary"], "predict", "--stress", "--model", entry["checkpoint"], entry["file"],
                        "--output", out], check=True, capture_output=True)
        print(json.dumps({"peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))
        return
    import torch
    from ase.calculators.calculator import all_changes
    from ase.io import read

    torch.set_num_threads(threads)
    atoms = read(entry["file"])
    calc = calculator(implementation, entry)
    properties = ["energy", "forces", "stress"]

    def call():
        calc.calculate(atoms, properties, all_changes)

    if memory:
        # The machine's memory minus a margin: a reference that needs more fails here (reported as
        # "did not fit") instead of taking the machine down.
        limit = int(os.environ.get("CHEMGNN_BENCH_MEMORY_LIMIT", 16 * 2**30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            call()
        except (MemoryError, RuntimeError) as e:
            print(json.dumps({"peak_rss_bytes": None, "error": str(e)[:200]}))
            return
        print(json.dumps({"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
    elif len(atoms) > 1000:
        # Tens of seconds per call for the originals: one warm-up, then one timed call.
        call()
        start = time.perf_counter()
        call()
        print(json.dumps({"seconds": time.perf_counter() - start, "energy": float(calc.results["energy"])}))
    else:
        print(json.dumps({"seconds": time_median(budget, call), "energy": float(calc.results["energy"])}))


def available(implementation):
    module = "chemgnn.ase" if implementation == "chemgnn" else "ase"
    return subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True).returncode == 0


def spawn(implementation, entry, threads, budget, memory=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), RAYON_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    args = [sys.executable, __file__, "--child", implementation, json.dumps(entry), str(threads), str(budget),
            "memory" if memory else "time"]
    out = subprocess.run(args, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-3000:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, implementation, entry_json, threads, budget, mode = sys.argv
        one_run(implementation, entry_json, int(threads), float(budget), mode == "memory")
        return
    args = parse_args()
    with open(args.manifest) as f:
        manifest = json.load(f)
    implementations = [i for i in ("original", "chemgnn") if available(i)]
    results, memory = [], []
    for entry in manifest:
        for implementation in implementations:
            if entry.get("memory"):
                continue
            for threads in (1, 2):
                r = spawn(implementation, entry, threads, args.budget)
                if r is None:
                    continue
                # Same energy as chemgnn's in-process run: the originals agree to f32 rounding.
                same = abs(r["energy"] - entry["energy"]) <= 1e-4 * max(1.0, abs(entry["energy"]))
                results.append({"suite": args.suite, "case": entry["case"], "seconds": r["seconds"],
                                "implementation": label(implementation, entry, threads), "work": entry["atoms"],
                                "unit": "atoms", "identical": same})
    for entry in (e for e in manifest if e.get("memory")):
        for implementation in ["binary", *implementations]:
            r = spawn(implementation, entry, 2, args.budget, memory=True)
            if r is not None:
                memory.append({"case": entry["case"], "implementation": label(implementation, entry, 2),
                               "peak_rss_bytes": r["peak_rss_bytes"], "error": r.get("error")})
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    # Peak memory is not a timing: beside the measurements, for the suite's own table.
    with open(args.out.replace(".json", ".memory.json"), "w") as f:
        json.dump(memory, f, indent=1)


if __name__ == "__main__":
    main()
