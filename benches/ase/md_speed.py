"""MD steps per second through ASE: chemgnn's calculator (`chemgnn.ase.Calculator`, the installed wheel)
against schnetpack's `SpkCalculator` on the same SchNet weights (tests/fixtures/models/
schnetpack_stress_f64, f64, forces and stress every step), 2 threads each, on a 20-atom QM9 molecule, a
64-atom rock-salt crystal and a 1,000-atom rock-salt box; writes docs/benchmarks_ase.md.

    python benches/ase/md_speed.py CHECKPOINT_DIR     # a checkpoint of the fixture: `chemgnn import --from schnetpack …`
"""

import datetime
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "2")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from ase import Atoms, units  # noqa: E402
from ase.build import bulk  # noqa: E402
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution  # noqa: E402
from ase.md.verlet import VelocityVerlet  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from spk_model import spk_calculator  # noqa: E402

import chemgnn  # noqa: E402
from chemgnn.ase import Calculator  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
torch.set_num_threads(2)


def qm9_molecule(atoms_wanted=20):
    t = load_file(str(ROOT / "crates" / "chem-graph" / "data" / "qm9_sample.safetensors"))
    off = t["atom_offsets"]
    k = next(k for k in range(len(off) - 1) if off[k + 1] - off[k] == atoms_wanted)
    a, b = off[k], off[k + 1]
    return Atoms(numbers=t["numbers"][a:b], positions=t["positions"][a:b].astype(np.float64))


def systems():
    rocksalt = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    return [("20-atom QM9 molecule", qm9_molecule(), 200),
            ("64-atom rock-salt crystal", rocksalt.repeat(2), 100),
            ("1,000-atom rock-salt box", rocksalt.repeat(5), 10)]


def steps_per_second(atoms, calc, steps):
    atoms = atoms.copy()
    atoms.calc = calc
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    if atoms.pbc.any():
        dyn.attach(atoms.get_stress, interval=1)  # the stress every step, as an NPT run would need
    dyn.run(2)
    start = time.perf_counter()
    dyn.run(steps)
    return steps / (time.perf_counter() - start)


def main():
    checkpoint = sys.argv[1]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for skin in (0.0, 1.0):
            for name, atoms, steps in systems():
                # Fresh calculators per system: schnetpack's skin list cannot follow a change of system.
                ours, spk = Calculator(checkpoint, skin=skin), spk_calculator(tmp, skin)
                a, b = steps_per_second(atoms, ours, steps), steps_per_second(atoms, spk, steps)
                rows.append((name, skin, a, b))
                print(f"{name}, skin {skin} Å: chemgnn {a:.1f} steps/s, SpkCalculator {b:.1f} steps/s, {a / b:.2f}×",
                      flush=True)
    import schnetpack
    md = ("\n## ASE molecular dynamics (chemgnn.ase vs schnetpack's SpkCalculator)\n\n"
          f"Command: `python benches/ase/md_speed.py CHECKPOINT` — {datetime.date.today()} — "
          f"{platform.processor() or platform.machine()}, 2 threads each (`RAYON_NUM_THREADS=2`, "
          f"`torch.set_num_threads(2)`) — chemgnn {chemgnn.__version__} wheel, schnetpack {schnetpack.__version__} / "
          f"torch {torch.__version__}\n\n"
          "Velocity Verlet through ASE, 0.5 fs, energy, forces and (periodic) stress every step, f64, the same "
          "SchNet weights (3 interactions, 32 features, 5 Å cutoff). Skin 0: both search neighbours every step "
          "(ASE's list for schnetpack); skin 1 Å: chemgnn's Verlet list and schnetpack's `SkinNeighborList`. "
          "For the molecule chemgnn computes no stress, while schnetpack's calculator, with stress activated, "
          "runs its strain derivative for every structure. Steps per second after two warm-up steps; one run each.\n\n"
          "| system | skin (Å) | chemgnn (steps/s) | SpkCalculator (steps/s) | speed-up |\n|---|---|---|---|---|\n")
    md += "".join(f"| {n} | {skin:g} | {a:.1f} | {b:.1f} | {a / b:.2f}× |\n" for n, skin, a, b in rows)
    (ROOT / "docs" / "benchmarks_ase.md").write_text(md)


if __name__ == "__main__":
    main()
