"""A pretrained potential in ASE through chemgnn: relax a crystal (positions and cell), then run NVE
molecular dynamics, and write the relaxed crystal for the LAMMPS example.

    python examples/potentials/ase_relax_md.py MODEL_DIR [--steps 200] [--out relaxed.extxyz]

MODEL_DIR is a chemgnn checkpoint, e.g. from `chemgnn import --from sevenn sevennet-0 --out MODEL_DIR`
(or `--from chgnet chgnet-0.3.0`). Needs the chemgnn wheel and ase (README, "Python and ASE").
"""

import argparse
import time

import numpy as np
from ase import units
from ase.build import bulk
from ase.filters import FrechetCellFilter
from ase.io import write
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

from chemgnn.ase import Calculator


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--out", default="relaxed.extxyz")
    args = ap.parse_args()

    # Rock-salt MgO, 64 atoms, a little too large and rattled.
    atoms = bulk("MgO", "rocksalt", a=4.3, cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=1)
    atoms.calc = Calculator(args.model, dtype="f32")
    print(f"start: a = {atoms.cell.lengths()[0] / 2:.4f} Å, E = {atoms.get_potential_energy():.4f} eV")
    t = time.perf_counter()
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=0.01, steps=300)
    print(f"relaxed in {time.perf_counter() - t:.1f} s: a = {atoms.cell.lengths()[0] / 2:.4f} Å, "
          f"E = {atoms.get_potential_energy():.4f} eV, max |F| = {np.abs(atoms.get_forces()).max():.4f} eV/Å")
    write(args.out, atoms)

    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
    start = atoms.get_total_energy()
    worst = 0.0
    t = time.perf_counter()
    for step in range(args.steps // 10):
        dyn.run(10)
        worst = max(worst, abs(atoms.get_total_energy() - start))
    elapsed = time.perf_counter() - t
    print(f"NVE: {args.steps} steps of 1 fs in {elapsed:.1f} s ({args.steps * len(atoms) / elapsed:.0f} atom-steps/s), "
          f"T = {atoms.get_temperature():.0f} K, largest total-energy change {worst * 1e3:.2f} meV")


if __name__ == "__main__":
    main()
