"""Reference timings for `cargo xtask bench --suites crystals`: periodic graphs with pymatgen, ASE,
vesin (radius), pymatgen with sorting (kNN with ties), scipy (kgcnn-style Voronoi, from
tests/reference/voronoi.py), and symmetry with spglib, on the crystals xtask wrote, in the same run.
Edge sets and space groups are compared with chemgnn's.

    python benches/reference/chem_crystal.py --suite crystals [--budget S] MANIFEST.json OUT.json

MANIFEST lists cases {"case", "kind": "radius"|"knn"|"voronoi"|"symmetry"|"parse", "file", "work", "unit"}
plus, per kind, "cutoff"; "k", "tolerance"; "min_area"; "symprec", "ours" ([{number, orbits}] per
crystal); "parse" cases give "format" ("files", "cif" or "matbench"), "files" and "ours" (atoms read
per file, compared with the reference's); graph cases name "edges", chemgnn's edges as `.npy` rows (frame, target i, source j, S).
"file" is a JSON list of crystals {name, lattice (rows, Å), frac (wrapped into [0, 1)), positions
(frac · lattice, as chemgnn computed them), numbers}. Every implementation gets its input objects
built beforehand; only the call is timed. An implementation whose package is missing is skipped.
"""

import json
import pathlib
import sys

import numpy as np

from harness import edge_rows, parse_args, time_median, version

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests" / "reference"))


def load(path):
    crystals = json.load(open(path))
    for c in crystals:
        for key in ("lattice", "frac", "positions"):
            c[key] = np.array(c[key], dtype=float).reshape(-1, 3)
        c["numbers"] = np.array(c["numbers"], dtype=int)
    return crystals


# ---- inputs of each library ------------------------------------------------------------------

def pymatgen_structures(crystals):
    from pymatgen.core import Lattice, Structure

    return [Structure(Lattice(c["lattice"]), c["numbers"].tolist(), c["positions"], coords_are_cartesian=True)
            for c in crystals]


def ase_atoms(crystals):
    from ase import Atoms

    return [Atoms(numbers=c["numbers"], positions=c["positions"], cell=c["lattice"], pbc=True) for c in crystals]


# ---- radius ----------------------------------------------------------------------------------

def radius_implementations(crystals):
    """name → (inputs, call(input, cutoff) → (i, j, S))."""
    out = {}
    try:
        pmg = pymatgen_structures(crystals)
        v = version("pymatgen")

        def neighbor_list(s, r):
            centre, points, images, _distances = s.get_neighbor_list(r)
            return centre, points, images

        def all_neighbors(s, r):
            lists = s.get_all_neighbors(r)
            return flatten_neighbors(lists)

        out[f"pymatgen {v} (Structure.get_neighbor_list)"] = (pmg, neighbor_list)
        out[f"pymatgen {v} (Structure.get_all_neighbors)"] = (pmg, all_neighbors)
    except ImportError:
        pass
    try:
        from ase.neighborlist import neighbor_list as ase_nl

        atoms = ase_atoms(crystals)

        def ase_call(a, r):
            i, j, S, _D, _d = ase_nl("ijSDd", a, r)
            return i, j, S

        out[f"ase {version('ase')} (neighbor_list)"] = (atoms, ase_call)
    except ImportError:
        pass
    try:
        from vesin import NeighborList

        inputs = [(c["positions"], c["lattice"]) for c in crystals]

        def vesin_call(x, r):
            i, j, S, _D, _d = NeighborList(cutoff=r, full_list=True).compute(x[0], x[1], True, quantities="ijSDd")
            return i, j, S

        out[f"vesin {version('vesin')}"] = (inputs, vesin_call)
    except ImportError:
        pass
    return out


def flatten_neighbors(lists):
    """pymatgen's per-site `Neighbor` lists as (i, j, S) arrays."""
    i = np.array([c for c, nbrs in enumerate(lists) for _ in nbrs], dtype=np.int64)
    j = np.array([n.index for nbrs in lists for n in nbrs], dtype=np.int64)
    S = np.array([n.image for nbrs in lists for n in nbrs], dtype=np.int64).reshape(-1, 3)
    return i, j, S


# ---- kNN with ties ---------------------------------------------------------------------------

def knn_with_ties(structure, k, tolerance):
    """The k nearest images of each atom plus every further one within `tolerance` of the k-th
    (kgcnn's `add_knn_bonds` rule), from pymatgen's `get_all_neighbors` with a radius that grows until
    every atom has k neighbours closer than it, each atom's neighbours sorted by distance."""
    radius = (3 * 2 * k * structure.volume / (4 * np.pi * len(structure))) ** (1 / 3)
    while True:
        lists = structure.get_all_neighbors(radius)
        kept = []
        for nbrs in lists:
            nbrs = sorted(nbrs, key=lambda n: n.nn_distance)
            if len(nbrs) < k or nbrs[k - 1].nn_distance + tolerance >= radius:
                break
            limit = nbrs[k - 1].nn_distance + tolerance
            kept.append([n for n in nbrs if n.nn_distance <= limit])
        else:
            return kept
        radius *= 1.5


# ---- Voronoi ---------------------------------------------------------------------------------

def voronoi_qhull_only(lattice, frac):
    """scipy's Qhull on the 3×3×3 block of images, without the ridge areas (a lower bound)."""
    import itertools

    from scipy.spatial import Voronoi

    blocks = np.array(list(itertools.product(range(3), repeat=3)))
    return Voronoi(((frac[None, :, :] + blocks[:, None, :] - 1) @ lattice).reshape(-1, 3))


def voronoi_rows(crystals, min_area):
    from voronoi import voronoi_edges

    lists = []
    for c in crystals:
        edges = [(t, s, sh) for t, s, sh, area, _d in voronoi_edges(c["lattice"], c["frac"]) if area > min_area]
        i = np.array([e[0] for e in edges], dtype=np.int64)
        j = np.array([e[1] for e in edges], dtype=np.int64)
        S = np.array([e[2] for e in edges], dtype=np.int64).reshape(-1, 3)
        lists.append((i, j, S))
    return edge_rows(lists)


# ---- parsing ---------------------------------------------------------------------------------

def parse_implementations(kind):
    """name → call(path) → number of atoms read."""
    out = {}
    try:
        import warnings

        from pymatgen.core import Structure
        from pymatgen.io.cif import CifParser
        from pymatgen.io.vasp import Poscar

        v = version("pymatgen")

        def pmg(path):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if path.endswith(".cif"):
                    return sum(len(s) for s in CifParser(path).parse_structures(primitive=False))
                if path.endswith(".json"):
                    table = json.load(open(path))
                    return sum(len(Structure.from_dict(row[0])) for row in table["data"])
                return len(Poscar.from_file(path).structure)

        what = "json.load + Structure.from_dict" if kind == "matbench" else "CifParser / Poscar"
        out[f"pymatgen {v} ({what})"] = pmg
    except ImportError:
        pass
    if kind != "matbench":
        try:
            import ase.io

            def ase_read(path):
                fmt = None if path.endswith(".cif") else "vasp"
                return sum(len(a) for a in ase.io.read(path, index=":", format=fmt))

            out[f"ase {version('ase')} (ase.io.read)"] = ase_read
        except ImportError:
            pass
    return out


# ---- comparison ------------------------------------------------------------------------------

def same(case, name, rows, ours):
    equal = bool(np.array_equal(rows, ours))
    if not equal:
        print(f"  {name}: {len(rows)} edges against chemgnn's {len(ours)} on {case['case']}")
    return equal


def main():
    args = parse_args()
    cases = json.load(open(args.manifest))
    out = []

    def record(case, impl, seconds, identical=None):
        out.append(dict(suite=args.suite, case=case["case"], implementation=impl, seconds=seconds,
                        work=float(case["work"]), unit=case["unit"], identical=identical))
        print(f"  {case['case'][:90]:<90} {impl:<50} {seconds * 1e3:12.3f} ms")

    for case in cases:
        kind = case["kind"]
        if kind == "parse":
            files = [str(p) for p in case["files"]]
            for name, fn in parse_implementations(case["format"]).items():
                try:
                    counts = [fn(p) for p in files]
                except Exception as e:  # a reader that cannot read one of the files is not timed
                    print(f"  {name} cannot read all of {case['case']}: {type(e).__name__}: {e}"[:200])
                    continue
                if counts != case["ours"]:
                    print(f"  {name}: atoms per file {counts} against chemgnn's {case['ours']}"[:300])
                seconds = time_median(args.budget, lambda: [fn(p) for p in files])
                record(case, name, seconds, counts == case["ours"])
            continue
        crystals = load(case["file"])
        if kind == "symmetry":
            try:
                import spglib
            except ImportError:
                continue
            cells = [(c["lattice"], c["frac"], c["numbers"]) for c in crystals]
            symprec = case["symprec"]
            datasets = [spglib.get_symmetry_dataset(cell, symprec=symprec) for cell in cells]
            mismatches = [c["name"] for c, d, o in zip(crystals, datasets, case["ours"])
                          if d is None or d.number != o["number"]
                          or list(d.crystallographic_orbits) != o["orbits"]]
            for name in mismatches:
                print(f"  spglib and chemgnn differ on {name}")
            seconds = time_median(args.budget, lambda: [spglib.get_symmetry_dataset(c, symprec=symprec) for c in cells])
            record(case, f"spglib {version('spglib')} (get_symmetry_dataset)", seconds, not mismatches)
            continue
        ours = np.load(case["edges"])
        if kind == "radius":
            r = case["cutoff"]
            for name, (inputs, fn) in radius_implementations(crystals).items():
                rows = edge_rows([fn(x, r) for x in inputs])
                seconds = time_median(args.budget, lambda: [fn(x, r) for x in inputs])
                record(case, name, seconds, same(case, name, rows, ours))
        elif kind == "knn":
            try:
                pmg = pymatgen_structures(crystals)
            except ImportError:
                continue
            k, tol = case["k"], case["tolerance"]
            name = f"pymatgen {version('pymatgen')} (get_all_neighbors, sorted: kNN with ties)"
            rows = edge_rows([flatten_neighbors(knn_with_ties(s, k, tol)) for s in pmg])
            seconds = time_median(args.budget, lambda: [knn_with_ties(s, k, tol) for s in pmg])
            record(case, name, seconds, same(case, name, rows, ours))
        elif kind == "voronoi":
            try:
                import scipy
                from voronoi import voronoi_edges
            except ImportError:
                continue
            name = f"scipy {version('scipy')} (kgcnn-style: Qhull on 3×3×3 images, ridge areas)"
            rows = voronoi_rows(crystals, case["min_area"])
            seconds = time_median(args.budget, lambda: [voronoi_edges(c["lattice"], c["frac"]) for c in crystals])
            record(case, name, seconds, same(case, name, rows, ours))
            seconds = time_median(args.budget, lambda: [voronoi_qhull_only(c["lattice"], c["frac"]) for c in crystals])
            record(case, f"scipy {version('scipy')} (Qhull on 3×3×3 images only, no edges or areas)", seconds)
    json.dump(out, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
