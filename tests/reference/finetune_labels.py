"""Writes tests/fixtures/potentials/finetune_{train,held_out}.extxyz: a small labelled set on which
SevenNet-0 is fine-tuned in the tests (tests/finetune_pretrained.rs).

- 8 small oxides (≤ 7 atoms; Li, Mg, Si, Ti, Mn, Fe, Co, Ni, O) from the Materials Project sample
  of the `matminer==0.4.0` sdist (flla_2015.csv);
- each rattled (σ = 0.06 Å) and strained (symmetric, ≤ 3 %) three times, seeded: the first two
  frames of each crystal are the training set, the third the held-out set;
- labelled with energy, forces and stress (eV/Å³, ASE's sign) by CHGNet 0.3.0
  (`chgnet.model.dynamics.CHGNetCalculator`), the "other potential".

Run in the potentials environment (../shared/reference/setup-potentials.sh), which has chgnet,
ase and pymatgen:  python tests/reference/finetune_labels.py [matminer-0.4.0.tar.gz]
(without an argument the sdist is fetched with `pip download --no-deps matminer==0.4.0`).
"""

import sys
from pathlib import Path

import numpy as np
from ase.io import write
from chgnet.model import CHGNet
from chgnet.model.dynamics import CHGNetCalculator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from potential_structures import matminer_rows, to_atoms  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "potentials"
MP_IDS = ["mp-19419", "mp-32686", "mp-390", "mp-510408", "mp-553952", "mp-554635", "mp-715434", "mp-7983"]
FRAMES = 3


def main():
    rng = np.random.default_rng(20261208)
    rows = matminer_rows(sys.argv[1] if len(sys.argv) > 1 else None)
    calc = CHGNetCalculator(CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False), use_device="cpu")
    train, held_out = [], []
    for mp_id in MP_IDS:
        for frame in range(FRAMES):
            atoms = to_atoms(rows[mp_id])
            strain = rng.uniform(-0.03, 0.03, (3, 3))
            strain = (strain + strain.T) / 2
            atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
            atoms.positions += rng.normal(0, 0.06, atoms.positions.shape)
            atoms.calc = calc
            energy, forces, stress = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(voigt=False)
            atoms.calc = None
            atoms.info = {"name": f"{mp_id} frame {frame}", "energy": float(energy),
                          "stress": np.round(stress, 8)}
            atoms.arrays["forces"] = np.round(forces, 6)
            (held_out if frame == FRAMES - 1 else train).append(atoms)
    for name, frames in [("finetune_train.extxyz", train), ("finetune_held_out.extxyz", held_out)]:
        write(OUT / name, frames, format="extxyz")
        print(name, len(frames), "frames")


if __name__ == "__main__":
    main()
