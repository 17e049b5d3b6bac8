"""Writes tests/fixtures/potentials/sevennet_0.json, sevennet_l3i5.json and
sevennet_0_22may2024.json (the first release of SevenNet-0, a sevenn 0.9.1 file with the old
module names and unnormalised harmonics): what sevenn 0.13.0's
`SevenNetCalculator` (fp32 as shipped, CPU) gives on every frame of
tests/fixtures/potentials/structures.extxyz: energy (eV), forces (eV/Å), stress (ASE's Voigt
order xx yy zz yz xz xy, eV/Å³; null for the non-periodic structure) and per-atom energies (eV).

Run in the potentials environment (../shared/reference/setup-potentials.sh):
    python tests/reference/sevenn_calculator.py
"""

import json
from pathlib import Path

import torch
from ase.io import read
from sevenn.calculator import SevenNetCalculator

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "potentials"
MODELS = {"sevennet_0": "7net-0", "sevennet_l3i5": "7net-l3i5", "sevennet_0_22may2024": "7net-0_22may2024"}


def main():
    torch.set_num_threads(1)
    frames = read(ROOT / "structures.extxyz", index=":")
    for out, name in MODELS.items():
        calc = SevenNetCalculator(name, device="cpu")
        results = []
        for atoms in frames:
            atoms.calc = calc
            periodic = bool(atoms.pbc.all())
            results.append({
                "name": atoms.info.get("name", ""),
                "energy": float(atoms.get_potential_energy()),
                "forces": atoms.get_forces().tolist(),
                "stress": atoms.get_stress().tolist() if periodic else None,
                "energies": atoms.get_potential_energies().tolist(),
            })
        doc = {"model": name, "sevenn": "0.13.0", "dtype": "float32", "frames": results}
        (ROOT / f"{out}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(out, [round(r["energy"], 4) for r in results])


if __name__ == "__main__":
    main()
