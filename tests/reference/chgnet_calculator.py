"""Writes tests/fixtures/potentials/chgnet_0.3.0.json: CHGNet 0.3.0 (from the chgnet 0.4.2 wheel)
through its ASE calculator, `CHGNetCalculator`, on every frame of
tests/fixtures/potentials/structures.extxyz: energy (eV), forces (eV/Å), stress (eV/Å³, ASE's Voigt
order xx, yy, zz, yz, xz, xy, as `atoms.get_stress()` returns it), magnetic moments (μ_B) and
per-atom energies (`return_site_energies=True`: the readout's site energy plus the element's
AtomRef), on the CPU in CHGNet's own dtype (float32).

CHGNet needs a lattice: a structure without periodicity (methane) goes through pymatgen's
`AseAtomsAdaptor` with ASE's zero cell, which CHGNet cannot use, so it is evaluated here in a cubic
20 Å box (no pair reaches across at 6 Å); the fixture records `"boxed": 20.0` for it, and the Rust
test compares its own non-periodic prediction with that.

With `--time`, it also times energy + forces + stress of the supercell frame on one thread.

Run in the potentials environment:  python tests/reference/chgnet_calculator.py [--time]
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from ase.io import read

ROOT = Path(__file__).resolve().parents[1]
STRUCTURES = ROOT / "fixtures" / "potentials" / "structures.extxyz"
OUT = ROOT / "fixtures" / "potentials" / "chgnet_0.3.0.json"
BOX = 20.0


def main():
    torch.set_num_threads(1)
    from chgnet import __version__
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    model = CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False)
    calc = CHGNetCalculator(model=model, use_device="cpu", return_site_energies=True)
    frames = []
    for atoms in read(STRUCTURES, index=":"):
        boxed = None
        if not atoms.pbc.any():
            atoms = atoms.copy()
            atoms.set_cell([BOX, BOX, BOX])
            atoms.center()
            atoms.pbc = True
            boxed = BOX
        atoms.calc = calc
        frame = {
            "name": atoms.info.get("name", ""),
            "energy": float(atoms.get_potential_energy()),
            "forces": atoms.get_forces().tolist(),
            "stress": atoms.get_stress().tolist(),
            "magmoms": np.asarray(calc.results["magmoms"]).tolist(),
            "energies": np.asarray(calc.results["energies"]).tolist(),
        }
        if boxed is not None:
            frame["boxed"] = boxed
            frame["positions"] = atoms.get_positions().tolist()
        frames.append(frame)
    dtype = str(next(model.parameters()).dtype)
    OUT.write_text(json.dumps({"chgnet": __version__, "model": "0.3.0", "dtype": dtype, "device": "cpu",
                               "frames": frames}, indent=None) + "\n")
    print(f"wrote {OUT} ({len(frames)} frames, {dtype})")
    if "--time" in sys.argv:
        atoms = read(STRUCTURES, index=":")[8]
        calc2 = CHGNetCalculator(model=model, use_device="cpu")
        atoms.calc = calc2
        times = []
        for _ in range(6):
            atoms.positions[0, 0] += 1e-4  # a new call each time
            t = time.perf_counter()
            atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
            times.append(time.perf_counter() - t)
        print(f"{len(atoms)} atoms, 1 thread: median {np.median(times[1:]) * 1e3:.1f} ms per call")


if __name__ == "__main__":
    main()
