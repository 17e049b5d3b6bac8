"""Reference timings for `cargo xtask bench` (chem-graph suites): ASE, vesin and matscipy on the
inputs that xtask wrote, in the same run. Neighbour lists are compared with chemgnn's edge sets.

    python benches/reference/chem_graph.py --suite SUITE [--budget S] MANIFEST.json OUT.json

MANIFEST lists cases: {"case", "kind": "parse"|"qm9pack"|"neighbors", "file", "cutoff", "edges", "work", "unit"}.
Neighbour lists are asked for i, j, S, vectors D and distances d: what chemgnn produces.
OUT receives a list of measurements in xtask's schema. Needs numpy and ase; vesin and matscipy
are timed when importable (../shared/reference/setup.sh installs them).
"""

import json

import ase.io
import numpy as np

from harness import edge_rows, parse_args, time_median


def read_qm9pack_tables(wheel):
    """What `qm9pack.get_data()` does (minus the polarizability merge), reading from the wheel:
    the three CSV tables into one DataFrame; coordinates stay unparsed strings."""
    import zipfile

    import pandas as pd

    with zipfile.ZipFile(wheel) as z:
        parts = sorted(n for n in z.namelist() if "qm9_part" in n and n.endswith(".csv"))
        return pd.concat([pd.read_csv(z.open(n)) for n in parts], ignore_index=True)


def ase_nl(atoms, cutoff):
    from ase.neighborlist import neighbor_list

    return neighbor_list("ijSDd", atoms, cutoff)


def vesin_nl(atoms, cutoff):
    from vesin import NeighborList

    periodic = bool(atoms.pbc.any())
    box = atoms.cell.array if periodic else np.zeros((3, 3))
    return NeighborList(cutoff=cutoff, full_list=True).compute(atoms.positions, box, periodic, quantities="ijSDd")


def matscipy_nl(atoms, cutoff):
    from matscipy.neighbours import neighbour_list

    if not atoms.pbc.any():
        # matscipy needs a cell even without periodicity: a box enclosing the molecule.
        atoms = atoms.copy()
        atoms.center(vacuum=cutoff)
    return neighbour_list("ijSDd", atoms, cutoff)


def available():
    impls = {"ase": ase_nl}
    for name, fn, module in [("vesin", vesin_nl, "vesin"), ("matscipy", matscipy_nl, "matscipy")]:
        try:
            __import__(module)
            impls[name] = fn
        except ImportError:
            pass
    return impls


def main():
    args = parse_args()
    cases = json.load(open(args.manifest))
    out = []

    def record(case, impl, seconds, identical=None):
        out.append(dict(suite=args.suite, case=case["case"], implementation=impl, seconds=seconds,
                        work=float(case["work"]), unit=case["unit"], identical=identical))

    for case in cases:
        if case["kind"] == "parse":
            record(case, f"ase {ase.__version__} (ase.io.read)",
                   time_median(args.budget, lambda: ase.io.read(case["file"], index=":")))
            continue
        if case["kind"] == "qm9pack":
            import pandas as pd

            record(case, f"pandas {pd.__version__} (read_csv, as qm9pack.get_data)",
                   time_median(args.budget, lambda: read_qm9pack_tables(case["file"])))
            continue
        frames = ase.io.read(case["file"], index=":")
        ours = np.load(case["edges"])
        for name, fn in available().items():
            lists = [fn(a, case["cutoff"]) for a in frames]
            same = bool(np.array_equal(edge_rows(lists), ours))
            seconds = time_median(args.budget, lambda: [fn(a, case["cutoff"]) for a in frames])
            version = __import__(name).__version__
            record(case, f"{name} {version}", seconds, same)
    json.dump(out, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
