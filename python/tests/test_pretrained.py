"""The pretrained potentials through chemgnn's ASE calculator: SevenNet-0 and CHGNet 0.3.0,
imported by name with the `chemgnn` binary (`chemgnn import --from sevenn sevennet-0`: the pinned
wheel's checkpoint, fetched into the repository's data/cache), against the original calculators'
energies, forces and stress (fixtures of tests/reference/sevenn_calculator.py and
chgnet_calculator.py on tests/fixtures/potentials/structures.extxyz), per-atom energies, and a short
NVE run.
"""

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest
from ase.io import read

from chemgnn.ase import Calculator

ROOT = pathlib.Path(__file__).resolve().parents[2]
POTENTIALS = ROOT / "tests" / "fixtures" / "potentials"
MODELS = [("sevenn", "sevennet-0", "sevennet_0.json"), ("chgnet", "chgnet-0.3.0", "chgnet_0.3.0.json")]


@pytest.fixture(scope="module", params=MODELS, ids=[m[1] for m in MODELS])
def imported(request, tmp_path_factory):
    source, name, fixture = request.param
    out = tmp_path_factory.mktemp("pretrained") / name
    binary = os.environ.get("CHEMGNN", str(ROOT / "target" / "debug" / "chemgnn"))
    env = dict(os.environ, CHEMGNN_DATA_DIR=str(ROOT / "data" / "cache"))
    subprocess.run([binary, "import", "--from", source, name, "--out", str(out)], check=True, capture_output=True,
                   env=env)
    return out, json.loads((POTENTIALS / fixture).read_text())


def relative(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300)


def test_ase_calculator_reproduces_the_original(imported):
    checkpoint, expected = imported
    frames = read(POTENTIALS / "structures.extxyz", index=":")
    calc = Calculator(checkpoint, dtype="f32")
    for atoms, want in list(zip(frames, expected["frames"]))[:9]:  # the periodic crystals
        atoms.calc = calc
        assert abs(atoms.get_potential_energy() - want["energy"]) <= 1e-5 * abs(want["energy"])
        assert relative(atoms.get_forces(), want["forces"]) <= 1e-4
        assert relative(atoms.get_stress(), want["stress"]) <= 1e-4
        assert abs(atoms.get_potential_energies().sum() - want["energy"]) <= 1e-5 * abs(want["energy"])


def test_nve_with_a_pretrained_potential_conserves_energy(imported):
    from ase import units
    from ase.build import bulk
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    checkpoint, _ = imported
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat((2, 2, 2))
    atoms.calc = Calculator(checkpoint, dtype="f64")
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    start = atoms.get_total_energy()
    VelocityVerlet(atoms, timestep=1.0 * units.fs).run(20)
    assert abs(atoms.get_total_energy() - start) < 5e-4 * len(atoms)
    assert atoms.get_temperature() > 50
