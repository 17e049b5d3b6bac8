"""Crystal fixtures for chem-crystal: CIF/POSCAR readers, symmetry, MatBench loading, periodic graphs.

Writes (all under tests/fixtures/):

* `crystals/<name>.cif` for the real crystals of `REAL` (literature lattice parameters and Wyckoff
  positions, expanded with pymatgen's space-group operations; `Structure.from_spacegroup` gives the same
  cell but rounds coordinates to 10 decimals), written by pymatgen `CifWriter(structure, symprec=0.01)`:
  symmetry-refined to spglib's standard setting (Pbnm olivine becomes Pnma, the triclinic kyanite cell is
  reduced), `_symmetry_equiv_pos_as_xyz` operations, only symmetry-distinct sites. Plus three hand-written
  CIFs (text below): `fe2o3_icsd_style.cif` (ICSD/COD idioms), `disordered_partial.cif` (a shared site
  and a vacancy), `two_blocks.cif` (two data_ blocks, the first without an operations loop).
* `crystals/*.vasp`: `rutile.vasp` (VASP 5, Direct, written by pymatgen), `garnet_cartesian.vasp`
  (Cartesian, scale 1.2: lattice and positions both multiplied by it), `selective_dynamics.vasp`,
  `negative_scale_volume.vasp` (negative scale = target cell volume, as VASP allows).
* `crystals/manifest.json`: {generator, versions, parser, sources: {cif file: literature note},
  cif: {file: {file, n_blocks, n_structures, warnings, error, blocks: [{block, hm_symbol,
  n_symops_in_file, n_atom_site_rows, warnings, error, structure}]}}, poscar: {file: {comment,
  scale_in_file, coordinates_in_file, lattice, abc, angles, volume, species, frac_coords,
  selective_dynamics, warnings}}}. `structure` is what `CifParser(...).parse_structures(primitive=False)`
  gives for that block: {formula_reduced, formula_full, n_sites, is_ordered, abc, angles, volume,
  sites: [{species: {"Fe3+": occupancy}, elements: {"Fe": occupancy}, frac}]}; frac wrapped to [0, 1)
  (within 1e-8 of 1 becomes 0), sites sorted by species then frac rounded to 1e-6. POSCAR frac_coords are
  as pymatgen reads them (unwrapped, file order).
* `crystal_symmetry.json`: a list of {name, source ("pyxtal" | "real"), lattice (rows, A), frac_coords,
  numbers, [pyxtal_group, pyxtal_symbol, pyxtal_wyckoffs, pyxtal_species, pyxtal_num_ions, seed] or
  [setting], spglib, crystal_system, "spglib_1e-5"}; spglib = `get_symmetry_dataset(cell, symprec=1e-3)`
  as {number, international, hall_number, hall, pointgroup, n_operations, n_primitive_atoms,
  equivalent_atoms, crystallographic_orbits, wyckoffs, site_symmetry_symbols}; "spglib_1e-5" is the same
  at symprec 1e-5, or null where identical. pyxtal crystals are conventional cells of <= 80 atoms.
* `matbench_tiny.json.gz`, `matbench_tiny_disordered.json.gz`, `matbench_tiny_legacy.json.gz`: MatBench's
  on-disk format, gzip'd pandas "split" JSON {index, columns: ["structure", "e_form"], data: [[dict,
  float]]} with `Structure.as_dict()` dicts. The `e_form` targets are SYNTHETIC (`synthetic_target`), not
  DFT values. The legacy file mirrors the 2020 MatBench v0.1 downloads (older pymatgen: `"charge": null`,
  no lattice `"pbc"`, no top-level `"properties"`).
* `crystal_graphs.json`: a list of {name, lattice, frac_coords, numbers, radius: {"3.0" | "5.0":
  {n_edges (directed, self excluded, own images included), in_degree, atom0_distances (sorted, rounded to
  1e-8), min_abs_distance_minus_cutoff, cutoff_exceeds_cell}}, knn: {k: 12, tolerance: 1e-9, counts,
  kth_distance}} from pymatgen `Structure.get_neighbor_list(r)` and kgcnn's `add_knn_bonds` rule (per
  centre keep every neighbour with d <= d_k + tolerance; d = 0 dropped).

pymatgen's `Lattice.from_parameters` puts c along z (ASE puts a along x): compare lattice parameters and
fractional coordinates, not Cartesian positions. Floats are written with full precision (Python repr).

Deterministic (fixed seeds, gzip mtime 0). Run with the crystal reference environment:
    ~/.cache/chemgnn-ref/bin/python tests/reference/crystals.py
"""
import gzip
import json
import math
import pathlib
import random
import re
import warnings

import numpy as np
import pymatgen.core
import pyxtal as pyxtal_module
import spglib
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifFile, CifParser, CifWriter
from pymatgen.io.vasp import Poscar
from pymatgen.optimization.neighbors import find_points_in_spheres
from pymatgen.symmetry.groups import SpaceGroup
from pyxtal import pyxtal
from pyxtal.symmetry import Group

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests/fixtures"
CRYSTALS = FIXTURES / "crystals"
SEED = 20230615

# name: (space group as pymatgen understands it, (a, b, c, alpha, beta, gamma), [(species, x, y, z)], source)
REAL = {
    "nacl": ("Fm-3m", (5.6402, 5.6402, 5.6402, 90, 90, 90), [("Na", 0, 0, 0), ("Cl", 0.5, 0.5, 0.5)],
             "rock salt, a = 5.6402 A"),
    "cscl": ("Pm-3m", (4.123, 4.123, 4.123, 90, 90, 90), [("Cs", 0, 0, 0), ("Cl", 0.5, 0.5, 0.5)],
             "caesium chloride, a = 4.123 A"),
    "srtio3_perovskite": ("Pm-3m", (3.905, 3.905, 3.905, 90, 90, 90),
                          [("Sr", 0, 0, 0), ("Ti", 0.5, 0.5, 0.5), ("O", 0.5, 0.5, 0)],
                          "cubic perovskite SrTiO3, a = 3.905 A"),
    "rutile_tio2": ("P4_2/mnm", (4.5937, 4.5937, 2.9587, 90, 90, 90),
                    [("Ti", 0, 0, 0), ("O", 0.30478, 0.30478, 0)], "rutile, Burdett et al. 1987"),
    "wurtzite_zno": ("P6_3mc", (3.2496, 3.2496, 5.2042, 90, 90, 120),
                     [("Zn", 1 / 3, 2 / 3, 0), ("O", 1 / 3, 2 / 3, 0.3821)], "zincite, Abrahams & Bernstein 1969"),
    "spinel_mgal2o4": ("Fd-3m:2", (8.0832, 8.0832, 8.0832, 90, 90, 90),
                       [("Mg", 0.125, 0.125, 0.125), ("Al", 0.5, 0.5, 0.5), ("O", 0.2624, 0.2624, 0.2624)],
                       "spinel, origin choice 2, u = 0.2624"),
    "garnet_y3al5o12": ("Ia-3d", (12.000, 12.000, 12.000, 90, 90, 90),
                        [("Y", 0.125, 0, 0.25), ("Al", 0, 0, 0), ("Al", 0.375, 0, 0.25),
                         ("O", -0.0300, 0.0507, 0.1495)], "YAG, 24c/16a/24d/96h"),
    "diamond_si": ("Fd-3m:2", (5.4310, 5.4310, 5.4310, 90, 90, 90), [("Si", 0.125, 0.125, 0.125)],
                   "silicon, origin choice 2"),
    "fluorite_caf2": ("Fm-3m", (5.4626, 5.4626, 5.4626, 90, 90, 90), [("Ca", 0, 0, 0), ("F", 0.25, 0.25, 0.25)],
                      "fluorite, a = 5.4626 A"),
    "corundum_al2o3": ("R-3c", (4.7589, 4.7589, 12.991, 90, 90, 120),
                       [("Al", 0, 0, 0.35216), ("O", 0.30624, 0, 0.25)], "corundum, hexagonal axes"),
    "alpha_quartz_sio2": ("P3_221", (4.9134, 4.9134, 5.4052, 90, 90, 120),
                          [("Si", 0.4697, 0, 2 / 3), ("O", 0.4135, 0.2669, 0.1191 + 2 / 3)],
                          "alpha quartz, Levien et al. 1980, origin shifted by c/3 to pymatgen's P3_221"),
    "graphite": ("P6_3/mmc", (2.464, 2.464, 6.711, 90, 90, 120), [("C", 0, 0, 0.25), ("C", 1 / 3, 2 / 3, 0.25)],
                 "hexagonal graphite"),
    "baddeleyite_zro2": ("P2_1/c", (5.1505, 5.2116, 5.3173, 90, 99.23, 90),
                         [("Zr", 0.2754, 0.0395, 0.2083), ("O", 0.0700, 0.3317, 0.3447),
                          ("O", 0.4496, 0.7569, 0.4792)], "monoclinic ZrO2, Howard et al. 1988"),
    "kyanite_al2sio5": ("P-1", (7.1262, 7.8520, 5.5724, 89.99, 101.11, 106.03),
                        [("Al", 0.3254, 0.7040, 0.4582), ("Al", 0.2974, 0.6989, 0.9505),
                         ("Al", 0.0998, 0.3862, 0.6403), ("Al", 0.1120, 0.9175, 0.1649),
                         ("Si", 0.2962, 0.0649, 0.7066), ("Si", 0.2910, 0.3317, 0.1892),
                         ("O", 0.1095, 0.1468, 0.1288), ("O", 0.1230, 0.6856, 0.1812),
                         ("O", 0.2747, 0.4545, 0.9547), ("O", 0.2831, 0.9354, 0.9353),
                         ("O", 0.1219, 0.6307, 0.6389), ("O", 0.2822, 0.4453, 0.4288),
                         ("O", 0.2915, 0.9467, 0.4659), ("O", 0.5008, 0.2749, 0.2440),
                         ("O", 0.1084, 0.1520, 0.6669), ("O", 0.5015, 0.2312, 0.7553)],
                        "kyanite, triclinic, Winter & Ghose 1979"),
    "forsterite_mg2sio4": ("Pbnm", (4.7535, 10.1943, 5.9807, 90, 90, 90),
                           [("Mg", 0, 0, 0), ("Mg", 0.99154, 0.27739, 0.25), ("Si", 0.42648, 0.09403, 0.25),
                            ("O", 0.76596, 0.09163, 0.25), ("O", 0.22184, 0.44726, 0.25),
                            ("O", 0.27774, 0.16295, 0.03302)],
                           "olivine (forsterite), Pbnm setting of Pnma, Fujino et al. 1981"),
    "fe_bcc": ("Im-3m", (2.87, 2.87, 2.87, 90, 90, 90), [("Fe", 0, 0, 0)], "alpha iron, a = 2.87 A"),
    "hcp_mg": ("P6_3/mmc", (3.2094, 3.2094, 5.2108, 90, 90, 120), [("Mg", 1 / 3, 2 / 3, 0.25)], "magnesium"),
}
REAL_SITES = {"nacl": 8, "cscl": 2, "srtio3_perovskite": 5, "rutile_tio2": 6, "wurtzite_zno": 4,
              "spinel_mgal2o4": 56, "garnet_y3al5o12": 160, "diamond_si": 8, "fluorite_caf2": 12,
              "corundum_al2o3": 30, "alpha_quartz_sio2": 9, "graphite": 4, "baddeleyite_zro2": 12,
              "kyanite_al2sio5": 32, "forsterite_mg2sio4": 28, "fe_bcc": 2, "hcp_mg": 2}
REAL_NUMBERS = {"nacl": 225, "cscl": 221, "srtio3_perovskite": 221, "rutile_tio2": 136, "wurtzite_zno": 186,
                "spinel_mgal2o4": 227, "garnet_y3al5o12": 230, "diamond_si": 227, "fluorite_caf2": 225,
                "corundum_al2o3": 167, "alpha_quartz_sio2": 154, "graphite": 194, "baddeleyite_zro2": 14,
                "kyanite_al2sio5": 2, "forsterite_mg2sio4": 62, "fe_bcc": 229, "hcp_mg": 194}

FE2O3_ICSD_STYLE = """\
#(C) 2024 by FIZ Karlsruhe - style only; values: hematite, R-3c (hexagonal axes)
#Hand-written for chemgnn reader tests: ICSD/COD idioms, not a database entry.
data_15840-ICSD
_database_code_ICSD 15840
_audit_creation_date 1986-09-22
_chemical_name_systematic 'Iron(III) oxide'
_chemical_formula_structural 'Fe2 O3'
_chemical_formula_sum 'Fe2 O3'
_chemical_name_mineral Hematite
_publ_section_title
;
Refinement of the crystal structure of hematite;
a multi-line text field with 'quotes', loop_ and _fake_tag inside
;
loop_
_citation_id
_citation_journal_full
_citation_year
primary 'Zeitschrift fuer Kristallographie' 1966
_cell_length_a 5.0356(1)
_cell_length_b 5.0356(1)
_cell_length_c 13.7489(7)
_cell_angle_alpha 90.
_cell_angle_beta 90.
_cell_angle_gamma 120.
_cell_volume 301.93(2)
_cell_formula_units_Z 6
_space_group_name_H-M_alt 'R -3 c H'
_space_group_IT_number 167
loop_
_space_group_symop_id
_space_group_symop_operation_xyz
  1 'x, y, z'
  2 '-y, x-y, z'
  3 '-x+y, -x, z'
  4 'y, x, -z+1/2'
  5 'x-y, -y, -z+1/2'
  6 '-x, -x+y, -z+1/2'
  7 '-x, -y, -z'
  8 'y, -x+y, -z'
  9 'x-y, x, -z'
 10 '-y, -x, z+1/2'
 11 '-x+y, y, z+1/2'
 12 'x, x-y, z+1/2'
 13 'x+2/3, y+1/3, z+1/3'
 14 '-y+2/3, x-y+1/3, z+1/3'
 15 '-x+y+2/3, -x+1/3, z+1/3'
 16 'y+2/3, x+1/3, -z+5/6'
 17 'x-y+2/3, -y+1/3, -z+5/6'
 18 '-x+2/3, -x+y+1/3, -z+5/6'
 19 '-x+2/3, -y+1/3, -z+1/3'
 20 'y+2/3, -x+y+1/3, -z+1/3'
 21 'x-y+2/3, x+1/3, -z+1/3'
 22 '-y+2/3, -x+1/3, z+5/6'
 23 '-x+y+2/3, y+1/3, z+5/6'
 24 'x+2/3, x-y+1/3, z+5/6'
 25 'x+1/3, y+2/3, z+2/3'
 26 '-y+1/3, x-y+2/3, z+2/3'
 27 '-x+y+1/3, -x+2/3, z+2/3'
 28 'y+1/3, x+2/3, -z+1/6'
 29 'x-y+1/3, -y+2/3, -z+1/6'
 30 '-x+1/3, -x+y+2/3, -z+1/6'
 31 '-x+1/3, -y+2/3, -z+2/3'
 32 'y+1/3, -x+y+2/3, -z+2/3'
 33 'x-y+1/3, x+2/3, -z+2/3'
 34 '-y+1/3, -x+2/3, z+1/6'
 35 '-x+y+1/3, y+2/3, z+1/6'
 36 'x+1/3, x-y+2/3, z+1/6'
loop_
_atom_type_symbol
_atom_type_oxidation_number
Fe3+ 3
O2- -2
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_symmetry_multiplicity
_atom_site_Wyckoff_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_B_iso_or_equiv
_atom_site_occupancy
_atom_site_attached_hydrogens
Fe1 Fe3+ 12 c 0 0 0.35530(3) .31(1) 1.0 0
O1 O2- 18 e 0.3059(2) 0 0.25 .35(2) 1.0 0
# anisotropic displacement parameters: a loop the structure reader must skip
loop_
_atom_site_aniso_label
_atom_site_aniso_type_symbol
_atom_site_aniso_U_11
_atom_site_aniso_U_22
_atom_site_aniso_U_33
_atom_site_aniso_U_12
_atom_site_aniso_U_13
_atom_site_aniso_U_23
Fe1 Fe3+ 0.0040(1) 0.0040(1) 0.0039(1) 0.0020(1) 0 0
O1 O2- 0.0042(3) 0.0049(4) 0.0047(3) 0.0025(2) -0.0003(1) -0.0006(2)
#End of TTdata_15840-ICSD
"""

DISORDERED_PARTIAL = """\
# (Sr0.5Ba0.5)TiO2.6: Sr and Ba share the A site (0.5/0.5); the 2f oxygen site is 80 % occupied.
data_SrBaTiO_disordered
_symmetry_space_group_name_H-M   'P 4/m m m'
_symmetry_Int_Tables_number   123
_cell_length_a   3.9500
_cell_length_b   3.9500
_cell_length_c   4.0200
_cell_angle_alpha   90.0
_cell_angle_beta   90.0
_cell_angle_gamma   90.0
_chemical_formula_sum   'Sr0.5 Ba0.5 Ti1 O2.6'
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
  2  '-x, -y, z'
  3  '-y, x, z'
  4  'y, -x, z'
  5  '-x, y, -z'
  6  'x, -y, -z'
  7  'y, x, -z'
  8  '-y, -x, -z'
  9  '-x, -y, -z'
  10  'x, y, -z'
  11  'y, -x, -z'
  12  '-y, x, -z'
  13  'x, -y, z'
  14  '-x, y, z'
  15  '-y, -x, z'
  16  'y, x, z'
loop_
 _atom_site_label
 _atom_site_type_symbol
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Sr1  Sr  0.00000  0.00000  0.00000  0.5
  Ba1  Ba  0.00000  0.00000  0.00000  0.5
  Ti1  Ti  0.50000  0.50000  0.50000  1.0
  O1  O  0.50000  0.50000  0.00000  1.0
  O2  O  0.50000  0.00000  0.50000  0.8
"""

TWO_BLOCKS = """\
# Two data blocks in one file. The first has no symmetry loop (space group P 1 by name only).
data_cscl_p1
_symmetry_space_group_name_H-M 'P 1'
_cell_length_a 4.123
_cell_length_b 4.123
_cell_length_c 4.123
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Cs1 Cs 0.0 0.0 0.0 1
Cl1 Cl 0.5 0.5 0.5 1

data_rutile_p42mnm
_symmetry_space_group_name_H-M 'P 42/m n m'
_symmetry_Int_Tables_number 136
_cell_length_a 4.5937
_cell_length_b 4.5937
_cell_length_c 2.9587
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_symmetry_equiv_pos_as_xyz
'x, y, z'
'-x, -y, z'
'-y+1/2, x+1/2, z+1/2'
'y+1/2, -x+1/2, z+1/2'
'-x+1/2, y+1/2, -z+1/2'
'x+1/2, -y+1/2, -z+1/2'
'y, x, -z'
'-y, -x, -z'
'-x, -y, -z'
'x, y, -z'
'y+1/2, -x+1/2, -z+1/2'
'-y+1/2, x+1/2, -z+1/2'
'x+1/2, -y+1/2, z+1/2'
'-x+1/2, y+1/2, z+1/2'
'-y, -x, z'
'y, x, z'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Ti1 Ti 0.0 0.0 0.0 1.0
O1 O 0.30478 0.30478 0.0 1.0
"""

HAND_WRITTEN = {"fe2o3_icsd_style.cif": FE2O3_ICSD_STYLE, "disordered_partial.cif": DISORDERED_PARTIAL,
                "two_blocks.cif": TWO_BLOCKS}

# pyxtal random crystals: space groups covering the 7 crystal systems, P/A/C/I/F/R centring, chiral groups
PYXTAL_GROUPS = [
    1, 2,
    3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15,
    16, 18, 19, 20, 22, 23, 25, 29, 31, 33, 36, 38, 40, 42, 43, 44, 46, 47, 55, 58, 61, 62, 63, 64, 65, 69,
    70, 71, 72, 74,
    75, 76, 79, 80, 81, 82, 85, 88, 92, 96, 97, 99, 107, 113, 121, 122, 123, 129, 136, 139, 140, 141, 142,
    143, 144, 145, 146, 147, 148, 150, 152, 154, 155, 160, 161, 162, 164, 166, 167,
    168, 169, 170, 173, 176, 178, 180, 182, 186, 187, 189, 191, 193, 194,
    195, 196, 197, 198, 199, 200, 204, 205, 206, 207, 209, 210, 212, 213, 214, 216, 217, 220, 221, 223, 225,
    227, 229, 230,
]
MAX_ATOMS = 80


def crystal_system(number):
    for last, name in ((2, "triclinic"), (15, "monoclinic"), (74, "orthorhombic"), (142, "tetragonal"),
                       (167, "trigonal"), (194, "hexagonal"), (230, "cubic")):
        if number <= last:
            return name
    raise ValueError(number)


def build_real(name):
    """The conventional cell, expanded by the space group's operations at full float precision.

    (`Structure.from_spacegroup` rounds fractional coordinates to 10 decimals, which splits
    symmetry-equivalent distances by ~1e-9 A and makes k-NN ties ambiguous.)
    """
    sg, (a, b, c, alpha, beta, gamma), sites, _ = REAL[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Full symbol not available" for Pbnm
        ops = SpaceGroup(sg).symmetry_ops
    species, frac = [], []
    for symbol, *xyz in sites:
        orbit = []
        for op in ops:
            f = op.operate(np.array(xyz, dtype=float))
            f = f - np.floor(f)
            f[np.abs(f - 1.0) < 1e-12] = 0.0
            if all(np.abs((f - g) - np.round(f - g)).max() > 1e-6 for g in orbit):
                orbit.append(f)
        species += [symbol] * len(orbit)
        frac += orbit
    structure = Structure(Lattice.from_parameters(a, b, c, alpha, beta, gamma), species, frac)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = Structure.from_spacegroup(sg, structure.lattice, [s[0] for s in sites], [s[1:] for s in sites])
    assert len(structure) == len(reference) == REAL_SITES[name], (name, len(structure))
    dists = structure.distance_matrix + 100 * np.eye(len(structure))
    assert dists.min() > 1.3, (name, dists.min())
    return structure


def wrap(frac):
    frac = np.asarray(frac, dtype=float)
    frac = frac - np.floor(frac)
    frac[np.abs(frac - 1.0) < 1e-8] = 0.0
    return frac


def site_records(structure):
    records = []
    for site, frac in zip(structure, wrap(structure.frac_coords)):
        species = {str(sp): float(occ) for sp, occ in site.species.items()}
        elements = {}
        for sp, occ in site.species.items():
            elements[sp.symbol] = elements.get(sp.symbol, 0.0) + float(occ)
        records.append({"species": species, "elements": elements, "frac": frac.tolist()})
    records.sort(key=lambda r: (sorted(r["species"].items()), [round(x, 6) % 1.0 for x in r["frac"]]))
    return records


def structure_summary(structure):
    lattice = structure.lattice
    return {
        "formula_reduced": structure.composition.reduced_formula,
        "formula_full": structure.composition.formula,
        "n_sites": len(structure),
        "is_ordered": structure.is_ordered,
        "abc": [float(x) for x in lattice.abc],
        "angles": [float(x) for x in lattice.angles],
        "volume": float(lattice.volume),
        "sites": site_records(structure),
    }


def parse_cif(text):
    """pymatgen's structures for a CIF text, with the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parser = CifParser.from_str(text)
        try:
            structures = parser.parse_structures(primitive=False)
            error = None
        except Exception as exc:  # recorded in the manifest, not fatal
            structures, error = [], f"{type(exc).__name__}: {exc}"
    messages = sorted({normalise(str(w.message)) for w in caught} | {normalise(m) for m in parser.warnings})
    return structures, messages, error


def normalise(message):
    """pymatgen lists elements in set order in some warnings; sort them so reruns give the same text."""
    return re.sub(r"(Missing elements )(.*?)( from)", lambda m: m[1] + ", ".join(sorted(m[2].split(", "))) + m[3],
                  message)


def cif_entry(path):
    """Manifest entry for one CIF: per data block what pymatgen parses, plus raw facts from the file."""
    text = path.read_text()
    whole, whole_warnings, whole_error = parse_cif(text)
    cif = CifFile.from_str(text)
    blocks = []
    for name, block in cif.data.items():
        structures, messages, error = parse_cif(str(block))
        data = block.data
        symops = next((data[k] for k in ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz")
                       if k in data), [])
        entry = {
            "block": name,
            "hm_symbol": next((data[k] for k in ("_symmetry_space_group_name_H-M", "_space_group_name_H-M_alt")
                               if k in data), None),
            "n_symops_in_file": len(symops) if isinstance(symops, list) else 1,
            "n_atom_site_rows": len(data["_atom_site_label"]) if "_atom_site_label" in data else 0,
            "warnings": messages,
            "error": error,
            "structure": structure_summary(structures[0]) if structures else None,
        }
        blocks.append(entry)
    # parsing the whole file must give the blocks' structures in order
    assert len(whole) == sum(b["structure"] is not None for b in blocks), path
    for s, b in zip(whole, [b for b in blocks if b["structure"] is not None]):
        assert structure_summary(s)["formula_full"] == b["structure"]["formula_full"]
    return {"file": path.name, "n_blocks": len(blocks), "n_structures": len(whole), "warnings": whole_warnings,
            "error": whole_error, "blocks": blocks}


def write_cifs(real):
    written = []
    for name, structure in real.items():
        path = CRYSTALS / f"{name}.cif"
        CifWriter(structure, symprec=0.01).write_file(path)
        written.append(path)
    for file_name, text in HAND_WRITTEN.items():
        path = CRYSTALS / file_name
        path.write_text(text)
        written.append(path)
    return {p.name: cif_entry(p) for p in written}


def fmt(x):
    return f"{x: .16f}"


def write_poscars(real):
    """Four POSCAR variants; returns their manifest entries (as pymatgen reads them back)."""
    files = {}
    # 1. rutile, VASP 5, Direct, written by pymatgen (species names trail the coordinates)
    rutile = real["rutile_tio2"]
    files["rutile.vasp"] = Poscar(rutile, comment="Rutile TiO2").get_str()

    # 2. garnet, Cartesian with scale 1.2: lattice and positions are both divided by the scale
    garnet = real["garnet_y3al5o12"].get_sorted_structure()
    scale = 1.2
    species = [el.symbol for el in garnet.composition.elements]
    species.sort(key=lambda s: garnet.indices_from_symbol(s)[0])
    lines = ["Y3Al5O12 garnet, Cartesian coordinates, scale 1.2", f"{scale}"]
    lines += ["  " + " ".join(fmt(x / scale) for x in row) for row in garnet.lattice.matrix]
    lines += ["   " + "   ".join(species), "   " + "   ".join(str(len(garnet.indices_from_symbol(s))) for s in species)]
    lines += ["Cartesian"]
    lines += ["  " + " ".join(fmt(x / scale) for x in site.coords) for site in garnet]
    files["garnet_cartesian.vasp"] = "\n".join(lines) + "\n"

    # 3. selective dynamics: 2x2x1 SrTiO3 "slab" with the bottom layer fixed
    sto = real["srtio3_perovskite"].copy()
    sto.make_supercell([2, 2, 1])
    sto = sto.get_sorted_structure()
    flags = [[True, True, bool(site.frac_coords[2] > 0.25)] for site in sto]
    flags[0] = [False, False, False]
    files["selective_dynamics.vasp"] = Poscar(sto, comment="SrTiO3 2x2x1 selective dynamics",
                                              selective_dynamics=flags).get_str()

    # 4. negative scale factor = target cell volume (VASP convention); lattice written with a = 1
    zno = real["wurtzite_zno"]
    a = zno.lattice.a
    lines = ["ZnO wurtzite, negative scale factor = cell volume", f"{-zno.volume!r}"]
    lines += ["  " + " ".join(fmt(x / a) for x in row) for row in zno.lattice.matrix]
    lines += ["Zn O", "2 2", "Direct"]
    zno = zno.get_sorted_structure()
    lines += ["  " + " ".join(fmt(x) for x in site.frac_coords) for site in zno]
    files["negative_scale_volume.vasp"] = "\n".join(lines) + "\n"

    manifest = {}
    for file_name, text in files.items():
        path = CRYSTALS / file_name
        path.write_text(text)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            poscar = Poscar.from_file(path)
        mode = "cartesian" if file_name == "garnet_cartesian.vasp" else "direct"
        manifest[file_name] = poscar_entry(poscar, text, mode, [str(w.message) for w in caught])
    # the parsed cells must be the structures written
    assert np.allclose(Poscar.from_file(CRYSTALS / "garnet_cartesian.vasp").structure.lattice.matrix,
                       garnet.lattice.matrix)
    assert abs(Poscar.from_file(CRYSTALS / "negative_scale_volume.vasp").structure.volume - zno.volume) < 1e-9
    return manifest


def poscar_entry(poscar, text, mode, messages):
    s = poscar.structure
    sd = s.site_properties.get("selective_dynamics")
    return {
        "comment": poscar.comment,
        "scale_in_file": float(text.splitlines()[1].split()[0]),
        "coordinates_in_file": mode,
        "lattice": s.lattice.matrix.tolist(),
        "abc": [float(x) for x in s.lattice.abc],
        "angles": [float(x) for x in s.lattice.angles],
        "volume": float(s.volume),
        "species": [site.specie.symbol for site in s],
        "frac_coords": s.frac_coords.tolist(),
        "selective_dynamics": None if sd is None else [[bool(f) for f in row] for row in sd],
        "warnings": messages,
    }


def spglib_record(lattice, frac, numbers, symprec):
    ds = spglib.get_symmetry_dataset((lattice, frac, numbers), symprec=symprec)
    if ds is None:
        return None
    return {
        "number": int(ds.number),
        "international": ds.international,
        "hall_number": int(ds.hall_number),
        "hall": ds.hall,
        "pointgroup": ds.pointgroup,
        "n_operations": len(ds.rotations),
        "n_primitive_atoms": len(set(ds.mapping_to_primitive.tolist())),
        "equivalent_atoms": ds.equivalent_atoms.tolist(),
        "crystallographic_orbits": ds.crystallographic_orbits.tolist(),
        "wyckoffs": list(ds.wyckoffs),
        "site_symmetry_symbols": list(ds.site_symmetry_symbols),
    }


def symmetry_entry(name, source, structure, extra=None):
    lattice = structure.lattice.matrix
    frac = structure.frac_coords
    numbers = [int(z) for z in structure.atomic_numbers]
    loose = spglib_record(lattice, frac, numbers, 1e-3)
    tight = spglib_record(lattice, frac, numbers, 1e-5)
    entry = {"name": name, "source": source, "lattice": lattice.tolist(), "frac_coords": frac.tolist(),
             "numbers": numbers, **(extra or {}), "spglib": loose, "crystal_system": crystal_system(loose["number"]),
             "spglib_1e-5": None if tight == loose else tight}
    return entry


def pyxtal_candidates(group):
    """Compositions (species, numIons) to try for a space group, smallest first, all <= MAX_ATOMS."""
    mults = sorted({wp.multiplicity for wp in group.Wyckoff_positions})
    m1, general = mults[0], mults[-1]
    options = [
        (["Si", "O"], [m1, general]),  # one special and one general site
        (["Ba", "Ti", "O"], [m1, m1, 3 * m1]),
        (["C"], [general]),
        (["Mg", "Al", "O"], [m1, 2 * m1, 4 * m1]),
        (["Na", "Cl"], [m1, m1]),
        (["Zn", "S"], [general, general]),
        (["Cu"], [m1]),
    ]
    rotate = group.number % len(options)
    options = options[rotate:] + options[:rotate]
    return [(sp, n) for sp, n in options if sum(n) <= MAX_ATOMS]


def pyxtal_crystals():
    entries, mismatches, failures = [], [], []
    for number in PYXTAL_GROUPS:
        group = Group(number)
        chosen = None
        for attempt, (species, num_ions) in enumerate(pyxtal_candidates(group) * 3):
            seed = SEED + 1000 * number + attempt
            np.random.seed(seed)
            random.seed(seed)
            xtal = pyxtal()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    xtal.from_random(3, number, species, num_ions, random_state=seed)
            except Exception:
                continue
            if not xtal.valid:
                continue
            structure = xtal.to_pymatgen()
            found = spglib.get_symmetry_dataset(
                (structure.lattice.matrix, structure.frac_coords, structure.atomic_numbers), symprec=1e-3)
            candidate = (xtal, structure, species, num_ions, seed)
            if found is not None and found.number == number:
                chosen = candidate
                break
            chosen = chosen or candidate
        if chosen is None:
            failures.append(number)
            continue
        xtal, structure, species, num_ions, seed = chosen
        extra = {
            "pyxtal_group": number,
            "pyxtal_symbol": group.symbol,
            "pyxtal_wyckoffs": [f"{s.wp.multiplicity}{s.wp.letter}" for s in xtal.atom_sites],
            "pyxtal_species": species,
            "pyxtal_num_ions": num_ions,
            "seed": seed,
        }
        entry = symmetry_entry(f"pyxtal_{number}_{''.join(species)}", "pyxtal", structure, extra)
        if entry["spglib"]["number"] != number:
            mismatches.append((number, entry["spglib"]["number"]))
        entries.append(entry)
    return entries, mismatches, failures


def synthetic_target(structure):
    """A deterministic stand-in for a formation energy (eV/atom): smooth in composition and density."""
    z = np.array(structure.atomic_numbers, dtype=float)
    return round(float(-0.05 * z.mean() ** 0.5 + 0.3 * math.log(structure.volume / len(structure) / 10.0)), 6)


def legacy_dict(structure):
    """Structure.as_dict() as written by the 2020 pymatgen behind the MatBench v0.1 downloads."""
    d = structure.as_dict()
    d["charge"] = None
    d.pop("properties", None)
    d["lattice"].pop("pbc", None)
    return {k: d[k] for k in ("@module", "@class", "charge", "lattice", "sites")}


def write_matbench(path, rows):
    payload = {"index": [f"mb-tiny-{i + 1:04d}" for i in range(len(rows))], "columns": ["structure", "e_form"],
               "data": rows}
    raw = json.dumps(payload).encode()
    with open(path, "wb") as fh:  # mtime=0: byte-identical output on every run
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as gz:
            gz.write(raw)
    with gzip.open(path, "rt") as fh:
        assert json.load(fh) == json.loads(raw)


def write_matbench_files(real, pyxtal_entries):
    chosen = ["nacl", "cscl", "srtio3_perovskite", "rutile_tio2", "wurtzite_zno", "diamond_si", "fluorite_caf2",
              "corundum_al2o3", "alpha_quartz_sio2", "graphite", "baddeleyite_zro2", "fe_bcc"]
    structures = [real[n].copy() for n in chosen]
    # the rutile entry carries oxidation states ("oxidation_state" in its species dicts)
    structures[chosen.index("rutile_tio2")].add_oxidation_state_by_guess()
    by_group = {e["pyxtal_group"]: e for e in pyxtal_entries}
    for number in (2, 12, 148):
        e = by_group[number]
        structures.append(Structure(e["lattice"], e["numbers"], e["frac_coords"]))
    rows = [[s.as_dict(), synthetic_target(s)] for s in structures]
    write_matbench(FIXTURES / "matbench_tiny.json.gz", rows)

    disordered = Structure(Lattice.tetragonal(3.95, 4.02), [{"Sr": 0.5, "Ba": 0.5}, "Ti", "O", {"O": 0.8},
                                                            {"O": 0.8}],
                           [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    rows = [[real["nacl"].as_dict(), synthetic_target(real["nacl"])],
            [disordered.as_dict(), 0.123456]]
    write_matbench(FIXTURES / "matbench_tiny_disordered.json.gz", rows)

    rows = [[legacy_dict(real[n]), synthetic_target(real[n])] for n in ("nacl", "rutile_tio2", "kyanite_al2sio5")]
    write_matbench(FIXTURES / "matbench_tiny_legacy.json.gz", rows)
    return len(structures)


def skewed_triclinic():
    lattice = Lattice.from_parameters(3.1, 4.3, 5.2, 58.0, 67.0, 112.0)
    return Structure(lattice, ["Li", "O", "Cl"], [[0.1, 0.2, 0.3], [0.6, 0.55, 0.75], [0.35, 0.9, 0.05]])


def fe_bcc_primitive():
    return Structure(Lattice([[-1.435, 1.435, 1.435], [1.435, -1.435, 1.435], [1.435, 1.435, -1.435]]), ["Fe"],
                     [[0, 0, 0]])


def knn_counts(structure, k, tol):
    """kgcnn's add_knn_bonds: per centre, keep neighbours with d <= d_k + tol (self-loops at d = 0 dropped)."""
    coords = structure.cart_coords
    lattice = structure.lattice.matrix
    radius = 10.0
    while True:
        centre, neighbour, _, dist = find_points_in_spheres(coords, coords, r=radius, pbc=np.array([1, 1, 1]),
                                                            lattice=lattice, tol=1e-8)
        keep = ~np.isclose(dist, 0)
        centre, neighbour, dist = centre[keep], neighbour[keep], dist[keep]
        per_atom = [np.sort(dist[centre == i]) for i in range(len(structure))]
        if all(len(d) >= k for d in per_atom):
            break
        radius *= 2
    counts = [int(np.sum(d <= d[k - 1] + tol)) for d in per_atom]
    kth = [float(d[k - 1]) for d in per_atom]
    # unambiguous at this tolerance: every distance is a float-noise tie with d_k or clearly beyond it
    for d in per_atom:
        beyond = d - d[k - 1]
        assert not np.any((beyond > 1e-11) & (beyond <= 1e-7)), beyond
    return counts, kth


def graph_entry(name, structure):
    entry = {"name": name, "lattice": structure.lattice.matrix.tolist(), "frac_coords": structure.frac_coords.tolist(),
             "numbers": [int(z) for z in structure.atomic_numbers], "radius": {}}
    for r in (3.0, 5.0):
        centre, neighbour, images, dist = structure.get_neighbor_list(r)
        n = len(structure)
        in_degree = np.bincount(neighbour, minlength=n)
        out_degree = np.bincount(centre, minlength=n)
        assert (in_degree == out_degree).all()
        # distance of every pair from the cutoff, to show the counts are not on a knife edge
        _, _, _, wide = structure.get_neighbor_list(r + 1.0)
        margin = float(np.min(np.abs(wide - r)))
        assert margin > 1e-6, (name, r, margin)
        entry["radius"][repr(r)] = {
            "n_edges": int(len(centre)),
            "in_degree": in_degree.tolist(),
            "atom0_distances": sorted(round(float(d), 8) for d in dist[centre == 0]),
            "min_abs_distance_minus_cutoff": margin,
            "cutoff_exceeds_cell": bool(r > min(structure.lattice.abc)),
        }
    counts, kth = knn_counts(structure, 12, 1e-9)
    entry["knn"] = {"k": 12, "tolerance": 1e-9, "counts": counts, "kth_distance": kth}
    return entry


def main():
    np.random.seed(SEED)
    random.seed(SEED)
    CRYSTALS.mkdir(parents=True, exist_ok=True)
    real = {name: build_real(name) for name in REAL}

    cif_manifest = write_cifs(real)
    poscar_manifest = write_poscars(real)
    manifest = {
        "generator": "tests/reference/crystals.py",
        "versions": {"pymatgen": pymatgen.core.__version__, "spglib": spglib.__version__,
                     "pyxtal": pyxtal_module.__version__},
        "parser": "CifParser(path).parse_structures(primitive=False); per block: CifParser.from_str(str(block))",
        "sources": {f"{name}.cif": REAL[name][3] for name in REAL},
        "cif": cif_manifest,
        "poscar": poscar_manifest,
    }
    (CRYSTALS / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")

    pyxtal_entries, mismatches, failures = pyxtal_crystals()
    real_entries = []
    for name, structure in real.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "fractional coordinates rounded to ideal values"
            parsed = CifParser(CRYSTALS / f"{name}.cif").parse_structures(primitive=False)[0]
        assert len(parsed) == len(structure), name
        assert spglib_record(parsed.lattice.matrix, parsed.frac_coords, parsed.atomic_numbers, 1e-3)["number"] == \
            REAL_NUMBERS[name], name
        entry = symmetry_entry(name, "real", structure, {"setting": REAL[name][0]})
        assert entry["spglib"]["number"] == REAL_NUMBERS[name], (name, entry["spglib"]["number"])
        assert entry["spglib_1e-5"] is None, name
        real_entries.append(entry)
    entries = pyxtal_entries + real_entries
    (FIXTURES / "crystal_symmetry.json").write_text(
        "[\n" + ",\n".join(json.dumps(e, separators=(",", ":")) for e in entries) + "\n]\n")

    n_matbench = write_matbench_files(real, pyxtal_entries)

    graphs = [graph_entry(n, real[n]) for n in ("nacl", "cscl", "fe_bcc", "rutile_tio2", "wurtzite_zno",
                                                  "graphite", "alpha_quartz_sio2", "baddeleyite_zro2",
                                                  "kyanite_al2sio5", "corundum_al2o3")]
    graphs.append(graph_entry("fe_bcc_primitive", fe_bcc_primitive()))
    graphs.append(graph_entry("skewed_triclinic", skewed_triclinic()))
    (FIXTURES / "crystal_graphs.json").write_text(
        "[\n" + ",\n".join(json.dumps(g, separators=(",", ":")) for g in graphs) + "\n]\n")

    systems = sorted({e["crystal_system"] for e in pyxtal_entries})
    print(f"pyxtal crystals: {len(pyxtal_entries)} space groups, systems {systems}")
    print(f"spglib number != pyxtal group: {mismatches}")
    print(f"pyxtal generation failed: {failures}")
    print(f"real crystals: {len(real_entries)}; matbench_tiny rows: {n_matbench}; graphs: {len(graphs)}")


if __name__ == "__main__":
    main()
