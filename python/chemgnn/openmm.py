"""chemgnn models as OpenMM forces, through `openmm.PythonForce` (OpenMM ≥ 8.3).

    import openmm, chemgnn.openmm
    system.addForce(chemgnn.openmm.force("my-model/", numbers, periodic=True))

OpenMM's units are nm and kJ/mol; the model's are Å and eV (an eV model is required). The force
keeps chemgnn's neighbour list between steps. Python functions cannot be pickled here, so a system
with this force cannot be saved with `XmlSerializer`.
"""

import numpy as np
import openmm
from openmm import unit

from . import Model

#: kJ/mol per eV (CODATA 2018: e·N_A / 1000).
KJ_PER_MOL_PER_EV = 96.48533212331002


def force(model, numbers, periodic=False, dtype="f64", skin=1.0):
    """An `openmm.PythonForce` computing the energy and forces of `model` (a checkpoint directory
    or a loaded `chemgnn.Model`) for atoms with atomic `numbers`, in the system's particle order.
    With `periodic=True` the system's periodic box vectors are the cell."""
    model = model if isinstance(model, Model) else Model.load(str(model), dtype, skin)
    if model.targets()[0][1] != "eV":
        raise ValueError(f"the model predicts {model.targets()[0][1]}; OpenMM forces need an eV model")
    numbers = np.asarray(numbers, dtype=np.int64)

    def compute(state):
        positions = state.getPositions(asNumpy=True).value_in_unit(unit.angstrom)
        cell = None
        if periodic:
            cell = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.angstrom))
        out = model.compute(numbers, np.ascontiguousarray(positions, dtype=np.float64), cell,
                            [True] * 3 if periodic else None)
        energy = out["energy"] * KJ_PER_MOL_PER_EV
        forces = np.asarray(out["forces"]) * (KJ_PER_MOL_PER_EV * 10.0)  # eV/Å → kJ/mol/nm
        return energy, forces

    python_force = openmm.PythonForce(compute)
    python_force.setUsesPeriodicBoundaryConditions(periodic)
    return python_force
