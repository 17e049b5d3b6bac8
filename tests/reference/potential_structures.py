"""Writes tests/fixtures/potentials/structures.extxyz: the structures on which the pretrained
potentials (SevenNet, CHGNet) are compared with their original calculators.

- 8 Materials Project crystals of many elements from the `matminer==0.4.0` sdist (flla_2015.csv),
  each rattled (σ = 0.03 Å) and strained (symmetric, ≤ 2 %), seeded;
- a 2×2×2 supercell of one of them (rattled);
- molecules in boxes: water and ethanol in a 10 Å periodic box, and methane without periodicity;
- a Cu(111) slab, 2×2×4, with 8 Å of vacuum (periodic in all three directions, as MD codes run it).

Run in the potentials environment (../shared/reference/setup-potentials.sh), which has ase and
pymatgen:  python tests/reference/potential_structures.py [matminer-0.4.0.tar.gz]
(without an argument the sdist is fetched with `pip download --no-deps matminer==0.4.0`).
"""

import ast
import csv
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import fcc111, molecule
from ase.io import write

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "potentials" / "structures.extxyz"
MP_IDS = ["mp-10000", "mp-10010", "mp-10074", "mp-10101", "mp-10105", "mp-10113", "mp-10161", "mp-1019"]


def matminer_rows(sdist):
    if sdist is None:
        tmp = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "matminer==0.4.0", "-d", tmp,
                        "-q"], check=True)
        sdist = next(Path(tmp).glob("matminer-0.4.0.tar.gz"))
    with tarfile.open(sdist) as tar:
        member = tar.extractfile("matminer-0.4.0/matminer/datasets/flla_2015.csv")
        text = io.TextIOWrapper(member, encoding="utf-8")
        text.readline()  # the "# ref:" line
        return {row["material_id"]: row for row in csv.DictReader(text)}


def to_atoms(row):
    d = ast.literal_eval(row["structure"])
    cell = np.array(d["lattice"]["matrix"])
    symbols = [s["species"][0]["element"] for s in d["sites"]]
    frac = np.array([s["abc"] for s in d["sites"]])
    return Atoms(symbols=symbols, scaled_positions=frac, cell=cell, pbc=True)


def main():
    rng = np.random.default_rng(20261207)
    rows = matminer_rows(sys.argv[1] if len(sys.argv) > 1 else None)
    frames = []
    for mp_id in MP_IDS:
        atoms = to_atoms(rows[mp_id])
        strain = rng.uniform(-0.02, 0.02, (3, 3))
        strain = (strain + strain.T) / 2
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
        atoms.positions += rng.normal(0, 0.03, atoms.positions.shape)
        atoms.info["name"] = f"{mp_id} rattled+strained"
        frames.append(atoms)
    supercell = to_atoms(rows[MP_IDS[0]]).repeat((2, 2, 2))
    supercell.positions += rng.normal(0, 0.03, supercell.positions.shape)
    supercell.info["name"] = f"{MP_IDS[0]} 2x2x2 rattled"
    frames.append(supercell)
    for name in ["H2O", "CH3CH2OH"]:
        mol = molecule(name)
        mol.set_cell([10.0, 10.0, 10.0])
        mol.center()
        mol.pbc = True
        mol.positions += rng.normal(0, 0.02, mol.positions.shape)
        mol.info["name"] = f"{name} in a 10 Å box"
        frames.append(mol)
    methane = molecule("CH4")
    methane.positions += rng.normal(0, 0.02, methane.positions.shape)
    methane.info["name"] = "CH4 without periodicity"
    frames.append(methane)
    slab = fcc111("Cu", size=(2, 2, 4), vacuum=8.0, periodic=True)
    slab.positions += rng.normal(0, 0.03, slab.positions.shape)
    slab.info["name"] = "Cu(111) slab 2x2x4, 8 Å vacuum"
    frames.append(slab)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write(OUT, frames, format="extxyz")
    for f in frames:
        print(f.info["name"], f.get_chemical_formula(), len(f))


if __name__ == "__main__":
    main()
