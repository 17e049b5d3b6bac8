"""An ASE calculator for chemgnn models: energy, free energy, forces and (periodic) stress."""

import numpy as np
from ase.calculators.calculator import Calculator as _AseCalculator
from ase.calculators.calculator import all_changes

from . import Model


class Calculator(_AseCalculator):
    """ASE calculator on a chemgnn checkpoint directory (or a loaded `chemgnn.Model`).

    Energies in the model's unit (eV for ASE), forces in eV/Å, stress in eV/Å³ (Voigt, ASE's sign);
    per-atom energies (`atoms.get_potential_energies()`) for models with a sum readout.
    The neighbour list is kept between steps and rebuilt when an atom moved more than `skin / 2` Å.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, model, dtype="f64", skin=1.0, **kwargs):
        super().__init__(**kwargs)
        self.model = model if isinstance(model, Model) else Model.load(str(model), dtype, skin)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        periodic = bool(np.any(self.atoms.pbc))
        out = self.model.compute(
            np.asarray(self.atoms.numbers, dtype=np.int64),
            np.ascontiguousarray(self.atoms.positions, dtype=np.float64),
            np.ascontiguousarray(self.atoms.cell.array, dtype=np.float64) if periodic else None,
            [bool(p) for p in self.atoms.pbc] if periodic else None,
            energies="energies" in properties,
        )
        energy = float(out["energy"])
        self.results["energy"] = energy
        self.results["free_energy"] = energy
        self.results["forces"] = np.asarray(out["forces"])
        if "energies" in out:
            self.results["energies"] = np.asarray(out["energies"])
        if "stress" in out:
            self.results["stress"] = np.asarray(out["stress"])
        elif "stress" in properties:
            raise ValueError("stress needs a periodic structure (atoms.pbc and a cell)")
