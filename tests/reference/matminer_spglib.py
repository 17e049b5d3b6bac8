"""Space groups of the matminer 0.4.0 crystals from spglib, and the diagnosis of every structure where
chemgnn (moyo) finds another one. See docs/spglib_comparison.md for the results.

Structures are read as matminer 0.4.0's own loaders read them: `flla_2015.csv` with
`Structure.from_dict(ast.literal_eval(...))`, the other three from their `poscar` column with
`Poscar.from_str` (pandas `read_csv(comment="#")`, which skips the unnamed index column).

    python matminer_spglib.py SOURCE OUT.json [--ours DIR]

SOURCE is `matminer-0.4.0.tar.gz` or a directory with the four CSVs. OUT.json gets
{"versions": {...}, "sets": {set: {material_id: {"formula", "nsites", "spglib": {"1e-05": n,
"0.001": n, "0.01": n}}}}}, spglib's `get_symmetry_dataset(cell, symprec)` number with the default angle
tolerance. With --ours, DIR holds `chemgnn crystal info --json --symprec P` output as
`<set>_<P>.json` for P in 1e-5, 1e-3, 1e-2 (see the doc for the loop); then each structure also gets
"ours": {P: n, "symprec_used": moyo's final tolerance at 1e-3}, and every structure where the numbers
differ at some P gets "diagnosis": {
  "scan": [[symprec, spglib number], ...] where spglib's number changes on a log grid 1e-6 .. 0.3,
  "spglib_symprec_for_ours": the smallest grid symprec above 1e-3 at which spglib gives our number at 1e-3
                             (null if none),
  "spglib_ops": residuals of spglib's operations at 1e-3 (see `residuals`),
  "ours_group_ops": the same for spglib's operations of our group (at spglib_symprec_for_ours),
  "angle": spglib's number at 1e-3 with angle_tolerance 5 degrees ("5deg") and 1e-4 degrees ("tight")}.
A residual is the max over operations and atoms of the distance (Cartesian, nearest periodic image) from
the image of the atom to the nearest atom of the same element: the largest displacement the operations
need.
"""
import argparse
import ast
import io
import json
import pathlib
import tarfile

import numpy as np
import pandas as pd
import pymatgen.core
import spglib
from pymatgen.core import Structure
from pymatgen.io.vasp import Poscar

SETS = ["flla_2015", "elastic_tensor", "dielectric_constant", "piezoelectric_tensor"]
SYMPRECS = [1e-5, 1e-3, 1e-2]
GRID = np.logspace(-6, np.log10(0.3), 121)


def read_csvs(source):
    source = pathlib.Path(source)
    if source.is_dir():
        return {name: (source / f"{name}.csv").read_bytes() for name in SETS}
    out = {}
    with tarfile.open(source) as tar:
        for member in tar.getmembers():
            for name in SETS:
                if member.name.endswith(f"matminer/datasets/{name}.csv"):
                    out[name] = tar.extractfile(member).read()
    return out


def structures(name, data):
    df = pd.read_csv(io.BytesIO(data), comment="#")
    for _, row in df.iterrows():
        if name == "flla_2015":
            s = Structure.from_dict(ast.literal_eval(row["structure"]))
        else:
            s = Poscar.from_str(row["poscar"]).structure
        yield row["material_id"], s


def cell_of(s):
    return (s.lattice.matrix, s.frac_coords, [site.specie.Z for site in s])


def number(cell, symprec, angle=-1.0):
    ds = spglib.get_symmetry_dataset(cell, symprec=symprec, angle_tolerance=angle)
    return None if ds is None else int(ds.number)


SHIFTS = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])


def nearest(lattice, d):
    """The shortest periodic images (fractional) of the difference vectors d."""
    d = d - np.round(d)
    cand = d[:, None, :] + SHIFTS[None]
    k = np.linalg.norm(cand @ lattice, axis=2).argmin(axis=1)
    return cand[np.arange(len(d)), k]


def residuals(cell, symprec):
    """spglib's operations at symprec and how far they move atoms off atoms of the same element (A):
    "refined", each operation's translation shifted by the mean residual (what a refined search needs),
    and "one_pair", the translation fixed so that one atom (the first of the rarest element) maps exactly."""
    lattice, frac, numbers = np.asarray(cell[0]), np.asarray(cell[1]), np.asarray(cell[2])
    ds = spglib.get_symmetry_dataset(cell, symprec=symprec)
    species, counts = np.unique(numbers, return_counts=True)
    anchor = int(np.flatnonzero(numbers == species[counts.argmin()])[0])
    refined = one_pair = 0.0
    for rot, trans in zip(ds.rotations, ds.translations):
        images = frac @ rot.T + trans
        d = np.array([nearest(lattice, y - frac[numbers == numbers[i]])[
            np.linalg.norm(nearest(lattice, y - frac[numbers == numbers[i]]) @ lattice, axis=1).argmin()]
            for i, y in enumerate(images)])
        refined = max(refined, float(np.linalg.norm((d - d.mean(axis=0)) @ lattice, axis=1).max()))
        shifted = images - d[anchor]
        worst = max(
            float(np.linalg.norm(nearest(lattice, y - frac[numbers == numbers[i]]) @ lattice, axis=1).min())
            for i, y in enumerate(shifted)
        )
        one_pair = max(one_pair, worst)
    return {"number": int(ds.number), "operations": len(ds.rotations), "refined": refined, "one_pair": one_pair}


def diagnose(cell, ours):
    scan, last, numbers = [], None, []
    for p in GRID:
        n = number(cell, float(p))
        numbers.append(n)
        if n != last:
            scan.append([float(p), n])
            last = n
    target = ours["0.001"]
    found = next((float(p) for p, n in zip(GRID, numbers) if n == target and p > 1e-3), None)
    return {
        "scan": scan,
        "spglib_symprec_for_ours": found,
        "spglib_ops": residuals(cell, 1e-3),
        "ours_group_ops": None if found is None else residuals(cell, found),
        "angle": {"5deg": number(cell, 1e-3, 5.0), "tight": number(cell, 1e-3, 1e-4)},
    }


def load_ours(directory, name):
    out = {}
    for p in SYMPRECS:
        key = repr(p)
        path = pathlib.Path(directory) / (f"{name}_{p:.0e}".replace("e-0", "e-") + ".json")
        for entry in json.loads(path.read_text()):
            sg = entry["space_group"]
            rec = out.setdefault(entry["name"], {})
            rec[key] = sg["number"]
            if p == 1e-3:
                rec["symprec_used"] = sg["symprec"]
                if "fallback" in sg:
                    rec["fallback"] = sg["fallback"]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--ours")
    args = parser.parse_args()
    csvs = read_csvs(args.source)
    result = {
        "versions": {"spglib": spglib.__version__, "pymatgen": pymatgen.core.__version__},
        "sets": {},
    }
    for name in SETS:
        ours = load_ours(args.ours, name) if args.ours else None
        table = {}
        for mid, s in structures(name, csvs[name]):
            cell = cell_of(s)
            rec = {
                "formula": s.composition.reduced_formula,
                "nsites": len(s),
                "spglib": {repr(p): number(cell, p) for p in SYMPRECS},
            }
            if ours is not None:
                rec["ours"] = ours[mid]
                if any(rec["ours"][repr(p)] != rec["spglib"][repr(p)] for p in SYMPRECS):
                    rec["diagnosis"] = diagnose(cell, rec["ours"])
            table[mid] = rec
        result["sets"][name] = table
        print(name, len(table), flush=True)
    pathlib.Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
