"""Prints the element table of crates/chem-graph/src/element.rs from ASE's data (ase.data)."""
from ase.data import atomic_masses, atomic_names, chemical_symbols, covalent_radii

for z in range(1, 119):
    print(
        f'    Element {{ z: {z}, symbol: "{chemical_symbols[z]}", name: "{atomic_names[z]}", '
        f"mass: {float(atomic_masses[z])!r}, covalent_radius: {float(covalent_radii[z])!r} }},"
    )
