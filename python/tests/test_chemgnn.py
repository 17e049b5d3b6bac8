"""chemgnn's Python package: Model.compute against schnetpack's energies, forces and stress (the
fixture of tests/reference/schnetpack_stress.py), the ASE calculator, NVE energy conservation, a cell
relaxation through the stress, and errors as exceptions.

Needs the wheel installed, numpy, ase and safetensors, and the `chemgnn` binary to import the weights
(`$CHEMGNN`, default ../target/debug/chemgnn). Run from python/: `pytest tests`.
"""

import os
import pathlib
import subprocess

import numpy as np
import pytest
from safetensors.numpy import load_file

import chemgnn

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "models" / "schnetpack_stress_f64"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "schnet"
    binary = os.environ.get("CHEMGNN", str(ROOT / "target" / "debug" / "chemgnn"))
    subprocess.run([binary, "import", "--from", "schnetpack", "--model", "schnet", "--config",
                    str(FIXTURE / "args.json"), str(FIXTURE / "state_dict.safetensors"), "--out", str(out)],
                   check=True, capture_output=True)
    return out


def crystals():
    t = load_file(str(FIXTURE / "crystals.safetensors"))
    off = t["atom_offsets"]
    return [(t["numbers"][a:b], t["positions"][a:b], t["cells"][k]) for k, (a, b) in enumerate(zip(off[:-1], off[1:]))]


def voigt(s):
    return np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])


def relative(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / max(np.max(np.abs(b)), 1e-300)


def test_compute_reproduces_schnetpack(checkpoint):
    model = chemgnn.Model.load(str(checkpoint))
    expected = load_file(str(FIXTURE / "expected.safetensors"))
    outputs = [model.compute(z.astype(np.int64), pos, cell, [True] * 3) for z, pos, cell in crystals()]
    assert all(isinstance(out["energy"], float) for out in outputs)
    assert relative([out["energy"] for out in outputs], expected["energy"]) <= 1e-10
    # Compared over all crystals at once: rock salt's forces vanish by symmetry.
    assert relative(np.concatenate([out["forces"] for out in outputs]), expected["forces"]) <= 1e-10
    stress = [voigt(s) for s in expected["stress"]]
    assert relative(np.concatenate([out["stress"] for out in outputs]), np.concatenate(stress)) <= 1e-10


def test_single_precision_agrees_with_schnetpack_to_f32_rounding(checkpoint):
    model = chemgnn.Model.load(str(checkpoint), dtype="f32")
    expected = load_file(str(FIXTURE / "expected.safetensors"))
    outputs = [model.compute(z.astype(np.int64), pos, cell, [True] * 3) for z, pos, cell in crystals()]
    assert relative([out["energy"] for out in outputs], expected["energy"]) <= 1e-5
    assert relative(np.concatenate([out["forces"] for out in outputs]), expected["forces"]) <= 1e-4
    stress = np.concatenate([voigt(s) for s in expected["stress"]])
    assert relative(np.concatenate([out["stress"] for out in outputs]), stress) <= 1e-4
    # Not f64 in disguise: single-precision rounding shows.
    assert relative([out["energy"] for out in outputs], expected["energy"]) > 1e-12
    with pytest.raises(ValueError, match="dtype"):
        chemgnn.Model.load(str(checkpoint), dtype="f16")


def test_ase_calculator_energy_forces_stress(checkpoint):
    from ase import Atoms
    from chemgnn.ase import Calculator

    z, pos, cell = crystals()[1]
    atoms = Atoms(numbers=z, positions=pos, cell=cell, pbc=True)
    atoms.calc = Calculator(checkpoint)
    out = chemgnn.Model.load(str(checkpoint)).compute(z.astype(np.int64), pos, cell, [True] * 3)
    assert atoms.get_potential_energy() == pytest.approx(out["energy"], rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), out["forces"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(atoms.get_stress(), out["stress"], rtol=1e-12, atol=1e-14)
    # Forces are −∂E/∂r: a small displacement changes the energy accordingly.
    f = atoms.get_forces()
    e0, h = atoms.get_potential_energy(), 1e-5
    moved = atoms.copy()
    moved.calc = atoms.calc
    moved.positions[0, 0] += h
    assert (moved.get_potential_energy() - e0) / h == pytest.approx(-f[0, 0], rel=1e-3, abs=1e-6)


def nve(start, calculator, temperature_k, dt_fs, duration_fs, seed):
    """Velocity Verlet from `start` with Maxwell–Boltzmann velocities: the total energy's spread (eV)
    and its drift (eV/ns, slope of a linear fit)."""
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    atoms = start.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_k, rng=np.random.default_rng(seed))
    dyn = VelocityVerlet(atoms, timestep=dt_fs * units.fs)
    energies = []
    dyn.attach(lambda: energies.append(atoms.get_total_energy()), interval=1)
    dyn.run(int(duration_fs / dt_fs))
    drift = np.polyfit(np.arange(len(energies)) * dt_fs * 1e-6, energies, 1)[0]
    return max(energies) - min(energies), drift


def test_nve_md_conserves_energy(checkpoint):
    """Velocity Verlet's energy error is O(dt²): halving the step divides the spread by ~4 (forces
    consistent with the energy); the drift per ns is printed."""
    from ase import Atoms
    from chemgnn.ase import Calculator

    z, pos, cell = crystals()[0]
    atoms = Atoms(numbers=z, positions=pos, cell=cell, pbc=True).repeat((2, 2, 2))
    spreads = []
    for dt in (0.5, 0.25):
        spread, drift = nve(atoms, Calculator(checkpoint), 100, dt, 100, seed=0)
        spreads.append(spread)
        print(f"NVE rock salt, {len(atoms)} atoms, dt {dt} fs, 100 fs: spread {spread:.2e} eV, drift {drift:.2e} eV/ns")
    assert 3.0 < spreads[0] / spreads[1] < 5.0
    assert spreads[1] < 1e-3


SMALL_SCHNET = """
epochs = 3
batch_size = 32
[split]
train = 1000
val = 100
test = 100
[model]
kind = "schnet"
hidden_channels = 32
num_filters = 32
num_interactions = 3
num_gaussians = 25
cutoff = 5.0
max_num_neighbors = 64
"""


@pytest.fixture(scope="module")
def qm9_model(tmp_path_factory):
    """A small SchNet trained by chemgnn for 3 epochs on the embedded QM9 sample's U0 (2 s): unlike
    the random weights of the schnetpack fixture, it holds a molecule together."""
    out = tmp_path_factory.mktemp("qm9")
    (out / "small.toml").write_text(SMALL_SCHNET)
    binary = os.environ.get("CHEMGNN", str(ROOT / "target" / "debug" / "chemgnn"))
    subprocess.run([binary, "train", "--config", str(out / "small.toml"), "--out", str(out / "run")],
                   check=True, capture_output=True)
    return out / "run" / "best"


def test_nve_md_of_a_qm9_molecule(qm9_model):
    """NVE of a 20-atom QM9 molecule (embedded sample, relaxed, 300 K) for 1 ps: the energy error
    shrinks as dt² and the drift per ns is printed."""
    from ase import Atoms
    from ase.optimize import FIRE
    from chemgnn.ase import Calculator

    t = load_file(str(ROOT / "crates" / "chem-graph" / "data" / "qm9_sample.safetensors"))
    off = t["atom_offsets"]
    k = next(k for k in range(len(off) - 1) if off[k + 1] - off[k] == 20)
    molecule = Atoms(numbers=t["numbers"][off[k]:off[k + 1]],
                     positions=t["positions"][off[k]:off[k + 1]].astype(np.float64))
    molecule.calc = Calculator(qm9_model)
    FIRE(molecule, logfile=None).run(fmax=0.01, steps=500)
    spreads = []
    for dt in (0.5, 0.25):
        spread, drift = nve(molecule, Calculator(qm9_model), 300, dt, 1000, seed=1)
        spreads.append(spread)
        print(f"NVE QM9 molecule, 20 atoms, 300 K, dt {dt} fs, 1 ps: spread {spread:.2e} eV, drift {drift:.2e} eV/ns")
    assert 2.0 < spreads[0] / spreads[1] < 5.0
    assert spreads[1] < 2e-3


def test_neighbour_list_is_kept_between_steps(checkpoint):
    """The calculator's Verlet list searches pairs a few times in 40 MD steps, and gives exactly the
    energies, forces and stress of a model that searches every step."""
    from ase import Atoms, units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet
    from chemgnn.ase import Calculator

    z, pos, cell = crystals()[0]
    atoms = Atoms(numbers=z, positions=pos, cell=cell, pbc=True).repeat((2, 2, 2))
    atoms.calc = Calculator(checkpoint, skin=0.5)
    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=np.random.default_rng(2))
    fresh = chemgnn.Model.load(str(checkpoint), skin=0.0)
    assert fresh.neighbour_searches is None
    dyn = VelocityVerlet(atoms, timestep=2.0 * units.fs)
    for _ in range(40):
        dyn.run(1)
        kept = atoms.calc.results
        again = fresh.compute(atoms.numbers.astype(np.int64), atoms.positions, atoms.cell.array, [True] * 3)
        assert kept["energy"] == again["energy"]
        assert np.array_equal(kept["forces"], again["forces"])
        assert np.array_equal(kept["stress"], again["stress"])
    searches = atoms.calc.model.neighbour_searches
    print(f"Verlet list, skin 0.5 Å, 600 K, 40 steps of 2 fs: {searches} neighbour searches")
    assert 1 < searches < 30


def test_per_atom_energies_sum_to_the_energy(checkpoint):
    from ase import Atoms
    from chemgnn.ase import Calculator

    z, pos, cell = crystals()[0]
    atoms = Atoms(numbers=z, positions=pos, cell=cell, pbc=True)
    atoms.calc = Calculator(checkpoint)
    energies = atoms.get_potential_energies()
    assert energies.shape == (len(atoms),)
    assert abs(energies.sum() - atoms.get_potential_energy()) <= 1e-10 * abs(atoms.get_potential_energy())
    assert np.ptp(energies) > 1e-6


def test_ipi_client_under_ase_socketio_follows_the_same_trajectory(checkpoint, tmp_path):
    """ASE's SocketIOCalculator (an i-PI server) driving `chemgnn serve --ipi`: 20 NVE steps of a
    16-atom crystal, the same trajectory as the in-process calculator."""
    from ase import Atoms, units
    from ase.calculators.socketio import SocketIOCalculator
    from ase.io import write
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet
    from chemgnn.ase import Calculator

    z, pos, cell = crystals()[0]
    start = Atoms(numbers=z, positions=pos, cell=cell, pbc=True).repeat((2, 2, 2))
    MaxwellBoltzmannDistribution(start, temperature_K=300, rng=np.random.default_rng(3))
    write(tmp_path / "start.extxyz", start)
    binary = os.environ.get("CHEMGNN", str(ROOT / "target" / "debug" / "chemgnn"))
    name = f"chemgnn_pytest_{os.getpid()}"
    trajectories = []
    for socket in (True, False):
        atoms = start.copy()
        if socket:
            client = subprocess.Popen([binary, "serve", "--model", str(checkpoint), "--structure",
                                       str(tmp_path / "start.extxyz"), "--ipi", f"unix:{name}"])
            calc = SocketIOCalculator(unixsocket=name, timeout=60)
        else:
            calc = Calculator(checkpoint)
        atoms.calc = calc
        dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs)
        steps = []
        dyn.attach(lambda: steps.append((atoms.get_potential_energy(), atoms.positions.copy(), atoms.get_stress())), 1)
        dyn.run(20)
        if socket:
            calc.close()
            assert client.wait(timeout=60) == 0
        trajectories.append(steps)
    for (e1, x1, s1), (e2, x2, s2) in zip(*trajectories):
        assert abs(e1 - e2) <= 1e-10 * abs(e2)
        assert np.max(np.abs(x1 - x2)) <= 1e-8
        assert np.max(np.abs(s1 - s2)) <= 1e-10 * np.max(np.abs(s2))


def test_openmm_python_force_matches_the_model_and_conserves_energy(qm9_model):
    """`chemgnn.openmm.force` in an OpenMM system: the energy and forces OpenMM reports are the
    model's, and NVE with OpenMM's Verlet integrator conserves the energy."""
    openmm = pytest.importorskip("openmm")
    from openmm import unit
    import chemgnn.openmm

    t = load_file(str(ROOT / "crates" / "chem-graph" / "data" / "qm9_sample.safetensors"))
    off = t["atom_offsets"]
    k = next(k for k in range(len(off) - 1) if off[k + 1] - off[k] == 12)
    numbers = t["numbers"][off[k]:off[k + 1]].astype(np.int64)
    positions = t["positions"][off[k]:off[k + 1]].astype(np.float64)
    system = openmm.System()
    from ase.data import atomic_masses
    for z in numbers:
        system.addParticle(atomic_masses[z])
    system.addForce(chemgnn.openmm.force(qm9_model, numbers))
    integrator = openmm.VerletIntegrator(0.25 * unit.femtoseconds)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(positions * unit.angstrom)

    state = context.getState(getEnergy=True, getForces=True)
    expected = chemgnn.Model.load(str(qm9_model)).compute(numbers, positions)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole) / chemgnn.openmm.KJ_PER_MOL_PER_EV
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.angstrom)
    assert abs(energy - expected["energy"]) <= 1e-9 * abs(expected["energy"])
    assert np.max(np.abs(forces / chemgnn.openmm.KJ_PER_MOL_PER_EV - expected["forces"])) <= 1e-9

    openmm.LocalEnergyMinimizer.minimize(context)
    context.setVelocitiesToTemperature(100 * unit.kelvin, 7)
    totals = []
    for _ in range(40):
        integrator.step(5)
        s = context.getState(getEnergy=True)
        totals.append((s.getPotentialEnergy() + s.getKineticEnergy()).value_in_unit(unit.kilojoule_per_mole))
    spread = (max(totals) - min(totals)) / chemgnn.openmm.KJ_PER_MOL_PER_EV
    print(f"OpenMM NVE, 12-atom QM9 molecule, 100 K, 0.25 fs, 50 fs: total energy spread {spread:.2e} eV")
    assert spread < 1e-3


def test_cell_relaxation_uses_the_stress(checkpoint):
    from ase import Atoms
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE
    from chemgnn.ase import Calculator

    z, pos, cell = crystals()[0]
    atoms = Atoms(numbers=z, positions=pos, cell=cell, pbc=True)
    atoms.calc = Calculator(checkpoint)
    e0, s0 = atoms.get_potential_energy(), np.abs(atoms.get_stress()).max()
    FIRE(FrechetCellFilter(atoms), logfile=None).run(fmax=0.01, steps=300)
    assert atoms.get_potential_energy() < e0
    assert np.abs(atoms.get_stress()).max() < s0


def test_bad_input_raises(checkpoint):
    model = chemgnn.Model.load(str(checkpoint))
    z, pos, cell = crystals()[0]
    with pytest.raises(ValueError, match="positions have shape"):
        model.compute(z.astype(np.int64), pos[:1], cell, [True] * 3)
    nan = pos.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError):
        model.compute(z.astype(np.int64), nan, cell, [True] * 3)
    with pytest.raises(ValueError):
        model.compute(np.array([200, 11], dtype=np.int64), pos, cell, [True] * 3)
    with pytest.raises(ValueError):
        model.compute(z.astype(np.int64), pos, np.zeros((3, 3)), [True] * 3)
    with pytest.raises(OSError):
        chemgnn.Model.load("/nonexistent/model")
    out = model.compute(z.astype(np.int64), pos)  # no cell: a molecule, no stress
    assert "stress" not in out and out["forces"].shape == (2, 3)


def test_same_trajectory_as_schnetpacks_calculator(checkpoint, tmp_path):
    """100 NVE steps with chemgnn's calculator and schnetpack's `SpkCalculator` on the same weights
    (f64) stay within 1e-8 Å (needs schnetpack; skipped otherwise)."""
    import sys
    import typing

    dataloader = pytest.importorskip("torch.utils.data.dataloader")
    dataloader.T_co = typing.TypeVar("T_co", covariant=True)  # schnetpack 2.1 imports it
    pytest.importorskip("schnetpack")

    from ase import units
    from ase.build import bulk
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet
    from chemgnn.ase import Calculator

    sys.path.insert(0, str(ROOT / "benches" / "ase"))
    from spk_model import spk_calculator

    start = bulk("NaCl", "rocksalt", a=5.6).repeat(2)
    start.rattle(0.05, seed=1)
    MaxwellBoltzmannDistribution(start, temperature_K=300, rng=np.random.default_rng(1))
    trajectories = []
    for calc in (Calculator(checkpoint), spk_calculator(tmp_path)):
        atoms = start.copy()
        atoms.calc = calc
        positions = []
        dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
        dyn.attach(lambda: positions.append(atoms.positions.copy()), interval=1)
        dyn.run(100)
        stress = atoms.get_stress()
        trajectories.append((np.array(positions), atoms.get_potential_energy(), stress))
    (ours, e_ours, s_ours), (theirs, e_theirs, s_theirs) = trajectories
    deviation = np.abs(ours - theirs).max()
    print(f"chemgnn vs SpkCalculator, 100 steps: max position difference {deviation:.1e} Å")
    assert deviation <= 1e-8
    assert e_ours == pytest.approx(e_theirs, rel=1e-10)
    np.testing.assert_allclose(s_ours, s_theirs, rtol=1e-8, atol=1e-12)


def test_compute_many_equals_one_by_one(checkpoint):
    model = chemgnn.Model.load(str(checkpoint))
    inputs = [(z.astype(np.int64), pos, cell, [True] * 3) for z, pos, cell in crystals()]
    many = model.compute_many(inputs, batch_size=2)
    assert len(many) == len(inputs)
    for out, args in zip(many, inputs):
        one = model.compute(*args)
        assert out["energy"] == pytest.approx(one["energy"], rel=1e-12)
        np.testing.assert_allclose(out["forces"], one["forces"], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(out["stress"], one["stress"], rtol=1e-10, atol=1e-13)
    z, pos, _ = crystals()[0]
    with pytest.raises(ValueError, match="only molecules or only periodic"):
        model.compute_many([inputs[0], (z.astype(np.int64), pos, None, None)])
