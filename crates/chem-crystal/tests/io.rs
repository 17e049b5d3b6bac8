//! Crystal file readers and writers: every feature and every error of CIF, POSCAR, pymatgen JSON
//! and MatBench tables, round trips, and the reference fixtures when present.

use std::io::Write;

use chem_crystal::io::{
    cif_string, parse_cif, parse_poscar, parse_poscar_with, poscar_string, read_crystals, structure_from_dict,
    structure_from_dict_with, structure_to_dict, write_crystal, CifOptions, MatbenchDataset, PartialOccupancy,
    ReadOptions,
};
use chem_crystal::{Lattice, Structure};
use chem_graph::{AtomArray, Property};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Helpers

/// (Z, fractional coordinates wrapped into [0, 1)) per atom, sorted.
fn fractional(s: &Structure) -> Vec<(u8, [f64; 3])> {
    let l = Lattice::new(s.cell.unwrap()).unwrap();
    let mut out: Vec<(u8, [f64; 3])> = s
        .numbers
        .iter()
        .zip(&s.positions)
        .map(|(&z, p)| {
            let f = l.to_fractional(p).map(|x| {
                let w = x - x.floor();
                if w > 1.0 - 1e-9 {
                    0.0
                } else {
                    w
                }
            });
            (z, f)
        })
        .collect();
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

fn assert_same_sites(a: &[(u8, [f64; 3])], b: &[(u8, [f64; 3])], tol: f64) {
    assert_eq!(a.len(), b.len(), "{a:?}\n{b:?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.0, y.0, "{a:?}\n{b:?}");
        for k in 0..3 {
            let d = (x.1[k] - y.1[k]).abs();
            assert!(d.min(1.0 - d) < tol, "{x:?} vs {y:?}");
        }
    }
}

fn sites(list: &[(u8, [f64; 3])]) -> Vec<(u8, [f64; 3])> {
    let mut v = list.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

fn cif(text: &str) -> chem_graph::Result<Vec<Structure>> {
    parse_cif(text, "test.cif", &CifOptions::default())
}

/// The message of an error, checked to name `file:line` and to contain every one of `parts`.
#[track_caller]
fn assert_error<T: std::fmt::Debug>(result: chem_graph::Result<T>, location: &str, parts: &[&str]) {
    let message = result.unwrap_err().to_string();
    assert!(message.starts_with(location), "expected '{location}' at the start of: {message}");
    for p in parts {
        assert!(message.contains(p), "expected '{p}' in: {message}");
    }
}

// ---------------------------------------------------------------------------------------------
// CIF

/// Rutile TiO2, P4_2/mnm (No. 136) with all 16 operations: Ti on 2a, O on 4f (special positions
/// whose images coincide and must be merged).
const RUTILE: &str = "\
#------------------------------------------------------------------------------
# A comment before the block
data_rutile
_chemical_name_mineral 'Rutile'
_publ_section_title
;
 A text field; with 'quotes' and data_ words
 on two lines
;
_cell_length_a   4.5937(3)
_cell_length_b   4.5937(3)
_cell_length_c   2.9587(2)
_cell_angle_alpha 90
_cell_angle_beta  90.
_cell_angle_gamma 90.000
_symmetry_space_group_name_H-M   'P 42/m n m'
_symmetry_Int_Tables_number      136
loop_
_symmetry_equiv_pos_site_id
_symmetry_equiv_pos_as_xyz
  1  'x, y, z'
  2  '-x, -y, z'
  3  '-y+1/2, x+1/2, z+1/2'
  4  'y+1/2, -x+1/2, z+1/2'
  5  '-x+1/2, y+1/2, -z+1/2'
  6  'x+1/2, -y+1/2, -z+1/2'
  7  'y, x, -z'
  8  '-y, -x, -z'
  9  '-x, -y, -z'
 10  'x, y, -z'
 11  'y+1/2, -x+1/2, -z+1/2'
 12  '-y+1/2, x+1/2, -z+1/2'
 13  'x+1/2, -y+1/2, z+1/2'
 14  '-x+1/2, y+1/2, z+1/2'
 15  '-y, -x, z'
 16  \"y, x, z\"
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Ti1 Ti4+ 0 0 0 1.0
O1  O2-  0.3048(2) 0.3048(2) 0 1
";

#[test]
fn cif_rutile_expands_and_merges_special_positions() {
    let s = &cif(RUTILE).unwrap()[0];
    assert_eq!(s.name, "test:rutile");
    assert_eq!(s.len(), 6);
    assert_eq!(s.formula(), "O4Ti2");
    assert_eq!(s.pbc, [true; 3]);
    assert_eq!(s.cell.unwrap(), [[4.5937, 0.0, 0.0], [0.0, 4.5937, 0.0], [0.0, 0.0, 2.9587]]);
    let x = 0.3048;
    let expected = sites(&[
        (22, [0.0, 0.0, 0.0]),
        (22, [0.5, 0.5, 0.5]),
        (8, [x, x, 0.0]),
        (8, [1.0 - x, 1.0 - x, 0.0]),
        (8, [0.5 - x, 0.5 + x, 0.5]),
        (8, [0.5 + x, 0.5 - x, 0.5]),
    ]);
    assert_same_sites(&fractional(s), &expected, 1e-12);
    assert_eq!(s.properties["cif_block"], Property::Str("rutile".into()));
    assert_eq!(s.properties["space_group"], Property::Str("P 42/m n m".into()));
    assert_eq!(s.properties["space_group_number"], Property::Int(136));
    // Oxidation states from the type symbols, in atom order (site by site).
    let ox = s.atom_arrays["oxidation_state"].as_real().unwrap();
    assert_eq!(ox, &[4.0, 4.0, -2.0, -2.0, -2.0, -2.0]);
    assert_eq!(&s.numbers[..2], &[22, 22]);
    // The first image of each site is the identity's: the file's coordinates.
    assert_eq!(s.positions[2], [x * 4.5937, x * 4.5937, 0.0]);
}

/// Wurtzite ZnO (P6_3mc) with coordinates rounded to four decimals (0.3333 for 1/3).
const WURTZITE: &str = "data_ZnO
_cell_length_a 3.2495
_cell_length_b 3.2495
_cell_length_c 5.2069
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 120
_space_group_name_H-M_alt 'P 63 m c'
loop_
_space_group_symop_operation_xyz
x,y,z
-y,x-y,z
-x+y,-x,z
-x,-y,z+1/2
y,-x+y,z+1/2
x-y,x,z+1/2
-y,-x,z
-x+y,y,z
x,x-y,z
y,x,z+1/2
x-y,-y,z+1/2
-x,-x+y,z+1/2
loop_
_atom_site_label
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Zn1 0.3333 0.6667 0.0
O1 0.3333 0.6667 0.3821
";

#[test]
fn cif_rounded_coordinates_merge_within_the_tolerance() {
    let s = &cif(WURTZITE).unwrap()[0];
    // Elements from the labels (no type symbols), 2 + 2 atoms.
    assert_eq!(s.numbers, vec![30, 30, 8, 8]);
    assert!(!s.atom_arrays.contains_key("oxidation_state"));
    let l = Lattice::new(s.cell.unwrap()).unwrap();
    assert!((l.angles()[2] - 120.0).abs() < 1e-12);
    // With a tolerance below the rounding (3·10⁻⁴ Å here), the images stay apart and are reported
    // (unless the coordinates are snapped to 1/3 and 2/3, as they are by default).
    let strict = CifOptions { merge_tolerance: 1e-5, ..Default::default() };
    assert_eq!(parse_cif(WURTZITE, "zno.cif", &strict).unwrap()[0].len(), 4);
    assert_error(
        parse_cif(WURTZITE, "zno.cif", &strict.with_fraction_tolerance(0.0)),
        "zno.cif:28:",
        &["data block 'ZnO'", "two symmetry images of site Zn1", "merge_tolerance"],
    );
}

#[test]
fn cif_oxidation_numbers_from_the_atom_type_loop() {
    let text = "data_x\n_cell_length_a 5.64\n_cell_length_b 5.64\n_cell_length_c 5.64\n_cell_angle_alpha 90\n\
                _cell_angle_beta 90\n_cell_angle_gamma 90\nloop_\n_atom_type_symbol\n_atom_type_oxidation_number\n\
                Na 1\nCl -1\nloop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n\
                _atom_site_fract_y\n_atom_site_fract_z\nNa1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5\n";
    let s = &cif(text).unwrap()[0];
    assert_eq!(s.atom_arrays["oxidation_state"].as_real().unwrap(), &[1.0, -1.0]);
    // Suffix variants: Fe+3 and a site without one (NaN).
    let text = text.replace("Na1 Na", "Na1 Fe+3").replace("Cl1 Cl", "Cl1 Ne");
    let s = &cif(&text).unwrap()[0];
    let ox = s.atom_arrays["oxidation_state"].as_real().unwrap();
    assert_eq!(s.numbers, vec![26, 10]);
    assert_eq!(ox[0], 3.0);
    assert!(ox[1].is_nan());
}

/// NaCl in a conventional cell, P 1 with only the F-centring translations as operations, two
/// blocks and a metadata block.
const NACL_BLOCKS: &str = "data_global_info
_publ_author_name 'Someone'
data_nacl
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_symmetry_equiv_pos_as_xyz
x,y,z x,1/2+y,1/2+z 1/2+x,y,1/2+z 1/2+x,1/2+y,z
loop_
_atom_site_label _atom_site_type_symbol _atom_site_fract_x _atom_site_fract_y _atom_site_fract_z
Na1 Na1+ 0 0 0  Cl1 Cl1- 0.5 0.5 0.5
data_cscl
_cell_length_a 4.12 _cell_length_b 4.12 _cell_length_c 4.12
_cell_angle_alpha 90 _cell_angle_beta 90 _cell_angle_gamma 90
loop_
_atom_site_label _atom_site_fract_x _atom_site_fract_y _atom_site_fract_z
Cs 0 0 0
Cl 0.5 0.5 0.5
";

#[test]
fn cif_multiple_blocks_give_multiple_structures() {
    let all = parse_cif(NACL_BLOCKS, "dir/two.cif", &CifOptions::default()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].name, "two:nacl");
    assert_eq!(all[1].name, "two:cscl");
    assert_eq!(all[0].len(), 8);
    assert_eq!(all[0].formula(), "Cl4Na4");
    assert_eq!(all[1].formula(), "ClCs");
    assert!(!all[1].properties.contains_key("space_group"));
    let expected = sites(&[
        (11, [0.0, 0.0, 0.0]),
        (11, [0.0, 0.5, 0.5]),
        (11, [0.5, 0.0, 0.5]),
        (11, [0.5, 0.5, 0.0]),
        (17, [0.5, 0.5, 0.5]),
        (17, [0.5, 0.0, 0.0]),
        (17, [0.0, 0.5, 0.0]),
        (17, [0.0, 0.0, 0.5]),
    ]);
    assert_same_sites(&fractional(&all[0]), &expected, 1e-12);
    // Without a file name the block name alone names the structure.
    assert_eq!(parse_cif(NACL_BLOCKS, "", &CifOptions::default()).unwrap()[1].name, "cscl");
}

/// Fe/Co sharing a site with a vacancy-bearing O site, in P 1.
const DISORDERED: &str = "data_dis
_cell_length_a 4.0
_cell_length_b 4.0
_cell_length_c 4.0
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
Fe1 Fe 0 0 0 0.4
Co1 Co 0 0 0 0.6
O1 O 0.5 0.5 0.5 0.75
Na1 Na 0.5 0 0 1
";

#[test]
fn cif_partial_occupancy_is_an_error_by_default() {
    assert_error(
        cif(DISORDERED),
        "test.cif:15:",
        &[
            "partially occupied sites",
            "Fe1 (line 15) 0.4 + Co1 (line 16) 0.6",
            "O1 (line 17) 0.75",
            "PartialOccupancy::Majority",
        ],
    );
}

#[test]
fn cif_majority_keeps_the_largest_occupancy_and_records_it() {
    let options = CifOptions::default().with_partial_occupancy(PartialOccupancy::Majority);
    let s = &parse_cif(DISORDERED, "d.cif", &options).unwrap()[0];
    assert_eq!(s.numbers, vec![27, 8, 11]);
    assert_eq!(s.atom_arrays["occupancy"].as_real().unwrap(), &[0.6, 0.75, 1.0]);
    assert_eq!(s.properties["disorder"], Property::Str("Fe1 0.4 + Co1 0.6 → Co1; O1 0.75 → O1".into()));
}

#[test]
fn cif_overlapping_sites_are_an_error_naming_both() {
    let text = DISORDERED.replace(" 0.4\n", " 1\n").replace("Co1 Co 0 0 0 0.6", "Co1 Co 0.01 0 0 1");
    assert_error(cif(&text), "test.cif:15:", &["site Fe1 (line 15) and site Co1 (line 16) overlap", "0.0400 Å"]);
    // A full site on a partial one is still an overlap.
    let text = DISORDERED.replace(" 0.4\n", " 1\n");
    assert_error(cif(&text), "test.cif:15:", &["site Fe1 (line 15) and site Co1 (line 16) overlap"]);
    // Overlap across the cell boundary (periodic distance 0.04 Å) and a custom minimum distance.
    let text = DISORDERED.replace("Co1 Co 0 0 0 0.6", "Co1 Co 0.99 0 0 1").replace(" 0.4\n", " 1\n");
    assert_error(cif(&text), "test.cif:15:", &["overlap", "0.0400 Å"]);
    let options =
        CifOptions { min_distance: 0.01, partial_occupancy: PartialOccupancy::Majority, ..Default::default() };
    assert_eq!(parse_cif(&text, "t.cif", &options).unwrap()[0].len(), 4);
}

#[test]
fn cif_symmetry_operations_accept_variants_and_reject_garbage() {
    let base = NACL_BLOCKS.split("data_cscl").next().unwrap();
    let spaced = base.replace("x,y,z x,1/2+y,1/2+z", "'x, y, z' ' X , 0.5+Y , Z+1/2 '");
    assert_eq!(cif(&spaced).unwrap()[0].len(), 8);
    let bad = base.replace("1/2+x,y,1/2+z", "1/2+x,y,w");
    assert_error(cif(&bad), "test.cif:12:", &["symmetry operation '1/2+x,y,w'", "part 3"]);
    let singular = base.replace("1/2+x,y,1/2+z", "x,x,z");
    assert_error(cif(&singular), "test.cif:12:", &["determinant 0"]);
}

#[test]
fn cif_space_group_without_operations_expands_from_the_symbol() {
    let text = RUTILE.split("loop_\n_symmetry_equiv_pos_site_id").next().unwrap().to_owned()
        + "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\nTi1 0 0 0\n";
    // 'P 42/m n m' (number 136): Ti at 2a, (0, 0, 0) and (1/2, 1/2, 1/2).
    let s = &cif(&text).unwrap()[0];
    assert_same_sites(&fractional(s), &sites(&[(22, [0.0, 0.0, 0.0]), (22, [0.5, 0.5, 0.5])]), 1e-12);
    let p1 = text.replace("'P 42/m n m'", "'P 1'").replace("136", "1");
    assert_eq!(cif(&p1).unwrap()[0].len(), 1);
    // Only the number: its standard setting.
    let number_only = text.replace("_symmetry_space_group_name_H-M   'P 42/m n m'\n", "");
    assert_eq!(cif(&number_only).unwrap()[0].len(), 2);
    // An unknown symbol, or a symbol and a number that disagree, cannot be expanded.
    assert_error(cif(&text.replace("'P 42/m n m'", "'Q 42'")), "test.cif:16:", &["space group 'Q 42' is not a Hall"]);
    assert_error(
        cif(&text.replace("136", "12")),
        "test.cif:16:",
        &["space group 'P 42/m n m' is number 136, but the block gives number 12"],
    );
}

#[test]
fn cif_reads_pymatgens_quirks_with_warnings() {
    let nacl = NACL_BLOCKS.split("data_cscl").next().unwrap();
    let plain = &cif(nacl).unwrap()[0];
    assert!(!plain.properties.contains_key("cif_warnings"));
    // An unterminated quote, a repeated tag (the last value wins), `.` for a coordinate (0).
    let quirky = nacl
        .replace("data_nacl\n", "data_nacl\n_title 'rock salt\n_cell_length_a 9.99\n")
        .replace("Na1 Na1+ 0 0 0", "Na1 Na1+ 0 . 0");
    let s = &cif(&quirky).unwrap()[0];
    assert_eq!((&s.numbers, &s.positions, s.cell), (&plain.numbers, &plain.positions, plain.cell));
    let Some(Property::Str(warnings)) = s.properties.get("cif_warnings") else { panic!("{:?}", s.properties) };
    let lines: Vec<&str> = warnings.lines().collect();
    assert_eq!(lines.len(), 4, "{warnings}");
    assert!(lines[0].starts_with("line 4: unterminated '…' string"), "{warnings}");
    assert!(lines[1].starts_with("line 4: values without a tag ignored, as pymatgen does: 'salt'"), "{warnings}");
    assert!(lines[2].starts_with("line 6: tag _cell_length_a appears twice"), "{warnings}");
    assert_eq!(lines[3], "line 17: fractional coordinates given as '.' read as 0, as pymatgen does (sites Na1)");
    // Coordinates within 10⁻⁴ (relative) of 1/3 or 2/3 are exactly that, as pymatgen reads them.
    let thirds = nacl.replace("Cl1 Cl1- 0.5 0.5 0.5", "Cl1 Cl1- 0.3333 0.66667 0.3334");
    let s = &cif(&thirds).unwrap()[0];
    let lattice = Lattice::new(s.cell.unwrap()).unwrap();
    let chlorine = lattice.to_fractional(&s.positions[4]);
    assert!((chlorine[0] - 1.0 / 3.0).abs() < 1e-15 && (chlorine[1] - 2.0 / 3.0).abs() < 1e-15, "{chlorine:?}");
    assert!((chlorine[2] - 0.3334).abs() < 1e-15, "{chlorine:?}");
    let Some(Property::Str(warnings)) = s.properties.get("cif_warnings") else { panic!("{:?}", s.properties) };
    assert_eq!(
        warnings,
        "line 15: 2 fractional coordinates within 1e-4 (relative) of 1/3 or 2/3 read as exactly 1/3 or 2/3, as \
         pymatgen does (sites Cl1)"
    );
    // ReadOptions::fraction_tolerance 0 reads them as written; a negative one is an error.
    let as_written = CifOptions::default().with_fraction_tolerance(0.0);
    let s = &parse_cif(&thirds, "t.cif", &as_written).unwrap()[0];
    assert!((lattice.to_fractional(&s.positions[4])[0] - 0.3333).abs() < 1e-15);
    assert!(!s.properties.contains_key("cif_warnings"));
    let e = parse_cif(&thirds, "t.cif", &as_written.with_fraction_tolerance(-1e-4)).unwrap_err().to_string();
    assert!(e.contains("ReadOptions::fraction_tolerance must be finite and non-negative"), "{e}");
}

#[test]
fn cif_errors_name_file_line_and_problem() {
    let nacl = NACL_BLOCKS.split("data_cscl").next().unwrap();
    // Missing cell parameter: the block's line.
    assert_error(cif(&nacl.replace("_cell_length_b 5.64\n", "")), "test.cif:3:", &["no _cell_length_b"]);
    // Bad number, unknown value.
    assert_error(
        cif(&nacl.replace("_cell_length_c 5.64", "_cell_length_c 5.6x")),
        "test.cif:6:",
        &["expected a number, found '5.6x'"],
    );
    assert_error(
        cif(&nacl.replace("_cell_length_c 5.64", "_cell_length_c ?")),
        "test.cif:6:",
        &["_cell_length_c is missing"],
    );
    // Impossible angles: zero volume.
    let flat = nacl
        .replace("_cell_angle_alpha 90", "_cell_angle_alpha 10")
        .replace("_cell_angle_beta 90", "_cell_angle_beta 10");
    assert_error(cif(&flat), "test.cif:4:", &["do not form a valid cell"]);
    // Unknown element, bad coordinate.
    assert_error(cif(&nacl.replace("Cl1 Cl1-", "Cl1 Xx")), "test.cif:15:", &["site Cl1: unknown element \"Xx\""]);
    assert_error(
        cif(&nacl.replace("0.5 0.5 0.5", "0.5 abc 0.5")),
        "test.cif:15:",
        &["site Cl1: _atom_site_fract_y: expected a number, found 'abc'"],
    );
    // No atom_site loop, Cartesian-only sites.
    let no_sites = nacl.split("loop_\n_atom_site_label").next().unwrap();
    assert_error(cif(no_sites), "test.cif:3:", &["no _atom_site_ loop"]);
    let cartesian = nacl.replace("_atom_site_fract_", "_atom_site_Cartn_");
    assert_error(cif(&cartesian), "test.cif:3:", &["only Cartesian coordinates"]);
    // Loop values not a multiple of the tags.
    assert_error(
        cif(&nacl.replace("0.5 0.5 0.5", "0.5 0.5")),
        "test.cif:13:",
        &["5 tags", "9 values", "not a multiple of 5"],
    );
    // Syntax: an unterminated text field, a value before the first block (pymatgen's quirks are
    // warnings: `cif_reads_pymatgens_quirks_with_warnings`).
    assert_error(cif("data_x\n_a\n;\nnever closed\n"), "test.cif:3:", &["unterminated text field"]);
    assert_error(cif("1\ndata_x\n"), "test.cif:1:", &["value '1' before the first data_ block"]);
    // A file without structures.
    assert_error(cif("# only a comment\n"), "test.cif:", &["no data_ block"]);
    assert_error(cif("data_meta\n_journal_year 2001\n"), "test.cif:", &["no data_ block with a cell and atom sites"]);
    // Occupancy out of range.
    assert_error(
        cif(&DISORDERED.replace(" 0.75\n", " 1.5\n")),
        "test.cif:17:",
        &["site O1: occupancy 1.5 must lie in (0, 1]"],
    );
}

#[test]
fn cif_round_trip_is_exact_to_rounding() {
    let lattice = Lattice::from_parameters([4.1, 5.3, 6.7], [81.0, 97.5, 112.25]).unwrap();
    let fracs =
        [[0.0, 0.0, 0.0], [0.3141592653589793, 0.2718281828459045, 0.5], [0.9, 0.1, 0.7], [0.5, 0.5, 0.123456789]];
    let mut s = lattice.crystal(vec![26, 8, 8, 3], &fracs).unwrap();
    s.name = "round trip".into();
    s.atom_arrays.insert("oxidation_state".into(), AtomArray::Real { width: 1, data: vec![3.0, -2.0, -2.0, f64::NAN] });
    let text = cif_string(&s).unwrap();
    assert!(text.contains("data_round_trip"), "{text}");
    assert!(text.contains("_symmetry_equiv_pos_as_xyz\n1  'x, y, z'"), "{text}");
    assert!(text.contains("Fe1  Fe3+") && text.contains("O2  O2-") && text.contains("Li1  Li  "), "{text}");
    let back = &parse_cif(&text, "rt.cif", &CifOptions::default()).unwrap()[0];
    assert_eq!(back.numbers, s.numbers);
    let (a, b) = (Lattice::new(back.cell.unwrap()).unwrap(), lattice);
    for k in 0..3 {
        assert!((a.lengths()[k] - b.lengths()[k]).abs() < 1e-12);
        assert!((a.angles()[k] - b.angles()[k]).abs() < 1e-12);
    }
    for (p, q) in back.positions.iter().zip(&s.positions) {
        for k in 0..3 {
            assert!((p[k] - q[k]).abs() < 1e-12, "{p:?} {q:?}");
        }
    }
    let ox = back.atom_arrays["oxidation_state"].as_real().unwrap();
    assert_eq!(&ox[..3], &[3.0, -2.0, -2.0]);
    assert!(ox[3].is_nan());
    // Occupancies survive too (read back with the majority policy).
    s.atom_arrays.insert("occupancy".into(), AtomArray::Real { width: 1, data: vec![1.0, 0.5, 1.0, 1.0] });
    let options = CifOptions::default().with_partial_occupancy(PartialOccupancy::Majority);
    let back = &parse_cif(&cif_string(&s).unwrap(), "rt.cif", &options).unwrap()[0];
    assert_eq!(back.atom_arrays["occupancy"].as_real().unwrap(), &[1.0, 0.5, 1.0, 1.0]);
}

#[test]
fn cif_writer_refuses_non_crystals() {
    let molecule = Structure::molecule(vec![8], vec![[0.0; 3]]).unwrap();
    assert!(cif_string(&molecule).unwrap_err().to_string().contains("no cell"));
    let left = [[0.0, 3.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 3.0]];
    let s = Structure::periodic(vec![8], vec![[0.0; 3]], left, [true; 3]).unwrap();
    assert!(cif_string(&s).unwrap_err().to_string().contains("left-handed"));
}

// ---------------------------------------------------------------------------------------------
// POSCAR

const POSCAR_NACL: &str = "NaCl rocksalt
   1.0
     5.64 0.0 0.0
     0.0 5.64 0.0
     0.0 0.0 5.64
   Na Cl
   4 4
Direct
  0.0 0.0 0.0 Na1
  0.0 0.5 0.5 Na2
  0.5 0.0 0.5
  0.5 0.5 0.0
  0.5 0.0 0.0
  0.0 0.5 0.0
  0.0 0.0 0.5
  0.5 0.5 0.5

  0.01 0.0 0.0
  0.0 0.0 0.0
";

#[test]
fn poscar_reads_species_counts_and_direct_coordinates() {
    let s = parse_poscar(POSCAR_NACL, "POSCAR").unwrap();
    assert_eq!(s.name, "NaCl rocksalt");
    assert_eq!(s.numbers, [vec![11; 4], vec![17; 4]].concat());
    assert_eq!(s.cell.unwrap(), [[5.64, 0.0, 0.0], [0.0, 5.64, 0.0], [0.0, 0.0, 5.64]]);
    assert_eq!(s.positions[1], [0.0, 2.82, 2.82]);
    assert_eq!(s.pbc, [true; 3]);
    assert!(s.atom_arrays.is_empty());
}

#[test]
fn poscar_scale_factors_and_cartesian_coordinates() {
    let cartesian = "Si2\n2.0\n0 1.3575 1.3575\n1.3575 0 1.3575\n1.3575 1.3575 0\nSi\n2\nCartesian\n0 0 0\n0.67875 0.67875 0.67875\n";
    let s = parse_poscar(cartesian, "si.vasp").unwrap();
    assert_eq!(s.cell.unwrap()[0], [0.0, 2.715, 2.715]);
    assert_eq!(s.positions[1], [1.3575, 1.3575, 1.3575]);
    // A negative scale is the volume: 2.715³·2/… → the primitive fcc cell of volume 40.03 Å³.
    let volume = 2.0 * 2.715_f64.powi(3);
    let by_volume = cartesian.replacen("2.0", &format!("-{volume}"), 1);
    let s = parse_poscar(&by_volume, "si.vasp").unwrap();
    let l = Lattice::new(s.cell.unwrap()).unwrap();
    assert!((l.volume() - volume).abs() < 1e-9);
    assert!((s.positions[1][0] - 1.3575).abs() < 1e-12);
    // VASP 6: three factors scale x, y, z.
    let three = "t\n1 2 3\n1 0 0\n0 1 0\n0 0 1\nH\n1\nCartesian\n0.5 0.5 0.5\n";
    let s = parse_poscar(three, "t").unwrap();
    assert_eq!(s.cell.unwrap(), [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]]);
    assert_eq!(s.positions[0], [0.5, 1.0, 1.5]);
}

#[test]
fn poscar_selective_dynamics_and_labels() {
    let text = "x\n1.0\n4 0 0\n0 4 0\n0 0 4\nFe_pv O\n1 1\nsel\nd\n0 0 0 T F T Fe\n0.5 0.5 0.5 F F F O\n";
    let s = parse_poscar(text, "POSCAR").unwrap();
    assert_eq!(s.numbers, vec![26, 8]);
    assert_eq!(
        s.atom_arrays["selective_dynamics"],
        AtomArray::Bool { width: 3, data: vec![true, false, true, false, false, false] }
    );
    assert_error(parse_poscar(&text.replace("T F T", "T X T"), "P"), "P:10:", &["flag 'X' is not T or F"]);
    assert_error(parse_poscar(&text.replace("0 0 0 T F T Fe", "0 0 0"), "P"), "P:10:", &["three flags"]);
}

#[test]
fn poscar_vasp4_takes_species_from_the_comment_or_asks_for_them() {
    let vasp4 = "Na Cl\n1.0\n5.64 0 0\n0 5.64 0\n0 0 5.64\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n";
    assert_eq!(parse_poscar(vasp4, "POSCAR").unwrap().numbers, vec![11, 17]);
    let anonymous = vasp4.replacen("Na Cl", "my structure", 1);
    assert_error(parse_poscar(&anonymous, "POSCAR"), "POSCAR:6:", &["VASP 4", "VASP 5 species line"]);
}

#[test]
fn poscar_errors_name_file_line_and_problem() {
    let e = |t: String| parse_poscar(&t, "POSCAR");
    let p = POSCAR_NACL;
    assert_error(
        e(p.replace("     0.0 5.64 0.0", "     0.0 5.x4 0.0")),
        "POSCAR:4:",
        &["lattice vector b: '5.x4' is not a number"],
    );
    assert_error(e(p.replace("     0.0 5.64 0.0", "     0.0 5.64")), "POSCAR:4:", &["three numbers"]);
    assert_error(e(p.replace("   1.0\n", "   abc\n")), "POSCAR:2:", &["scale factor"]);
    assert_error(e(p.replace("   1.0\n", "   0\n")), "POSCAR:2:", &["invalid scale factor"]);
    assert_error(e(p.replace("Na Cl", "Na Xx")), "POSCAR:6:", &["unknown species 'Xx'"]);
    assert_error(e(p.replace("4 4", "4")), "POSCAR:7:", &["1 count(s) for 2 species"]);
    assert_error(e(p.replace("4 4", "4 x")), "POSCAR:7:", &["count 'x'"]);
    assert_error(e(p.replace("Direct", "Fractional")), "POSCAR:8:", &["expected 'Direct' or 'Cartesian'"]);
    assert_error(
        e(p.replace("  0.5 0.0 0.5\n", "  0.5 oops 0.5\n")),
        "POSCAR:11:",
        &["atom 3 of 8", "'oops' is not a number"],
    );
    // Counts that do not match the coordinate lines.
    assert_error(e(p.replace("4 4", "4 5")), "POSCAR:17:", &["blank line", "9 atoms"]);
    let truncated: String = p.lines().take(12).map(|l| format!("{l}\n")).collect();
    assert_error(e(truncated), "POSCAR:12:", &["add up to 8 atoms but only 4 coordinate line(s) follow"]);
    assert_error(e(p.replace("4 4", "4 3")), "POSCAR:16:", &["more coordinate lines than the 7 atoms"]);
    assert_error(e("only a comment\n".into()), "POSCAR:1:", &["the file ends before line 2"]);
    // Degenerate and left-handed cells.
    assert_error(e(p.replace("     0.0 0.0 5.64", "     5.64 5.64 0.0")), "POSCAR:3:", &["zero volume"]);
    assert_error(e(p.replace("     0.0 0.0 5.64", "     0.0 0.0 -5.64")), "POSCAR:3:", &["left-handed"]);
    // Overlapping atoms, also across the boundary.
    let overlap = p.replace("  0.5 0.5 0.0\n", "  0.99 0.0 0.0\n");
    assert_error(e(overlap), "POSCAR:9:", &["atom 1 (Na, line 9) and atom 4 (Na, line 12) overlap", "0.0564 Å"]);
    let close = p.replace("  0.5 0.5 0.0\n", "  0.95 0.0 0.0\n");
    assert_error(e(close.clone()), "POSCAR:9:", &["0.2820 Å"]);
    let lenient = ReadOptions::default().with_min_distance(0.25);
    assert!(parse_poscar_with(&close, "P", &lenient).is_ok());
}

#[test]
fn poscar_fuzzing_regressions_finish_quickly() {
    // Valid but absurdly skewed cells (found by fuzzing) made the overlap search take seconds.
    let skewed = "NaCl rocksalt\n   1.0\n     2.64 0.0 0.5\n   7050   .64 0.0\n     0.0 0.0 5.64\n   Na Cl\n   5 4\n\
                  D0.5 0.5  2 3\n5.34 0 0\n0 5.64 0\n0 0 5.60\n  005. .0 0 .0\n  0.0 015 0.\n0  0. 005. .0 0.0\n\
                  0.0 0.5 0.\n0  0.0 0.0 0.75\n1. 03575 1.3575 0\nSi\n";
    let by_volume =
        "Na i2\n-5 .03\n0 1.3575 1.3575\n1.25 5 4 1.2575\n1. 117578737.  50\nSi\n2\nCar0\n0 04 0\n0 0 117578737.  50\n";
    for text in [skewed, by_volume] {
        let start = std::time::Instant::now();
        let result = parse_poscar(text, "POSCAR");
        assert!(start.elapsed().as_secs_f64() < 1.0);
        let message = result.unwrap_err().to_string();
        assert!(message.starts_with("POSCAR:") && message.contains("overlap"), "{message}");
    }
}

#[test]
fn poscar_round_trip_keeps_atom_order_and_flags() {
    let lattice = Lattice::new([[4.0, 0.1, 0.0], [0.3, 5.0, 0.2], [0.1, -0.4, 6.0]]).unwrap();
    let fracs = [[0.1, 0.2, 0.3], [0.6, 0.7, 0.8], [0.3333333333333333, 0.5, -0.01], [0.9, 0.05, 0.45]];
    let mut s = lattice.crystal(vec![11, 17, 11, 11], &fracs).unwrap();
    s.name = "mixed\norder".into();
    let flags = vec![true, true, false, false, false, false, true, false, true, false, true, true];
    s.atom_arrays.insert("selective_dynamics".into(), AtomArray::Bool { width: 3, data: flags });
    let text = poscar_string(&s).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "mixed order");
    assert_eq!(lines[5].split_whitespace().collect::<Vec<_>>(), ["Na", "Cl", "Na"]);
    assert_eq!(lines[6].split_whitespace().collect::<Vec<_>>(), ["1", "1", "2"]);
    assert_eq!(lines[7], "Selective dynamics");
    let back = parse_poscar(&text, "POSCAR").unwrap();
    assert_eq!(back.numbers, s.numbers);
    assert_eq!(back.atom_arrays, s.atom_arrays);
    assert_eq!(back.name, "mixed order");
    for (a, b) in back.cell.unwrap().iter().flatten().zip(s.cell.unwrap().iter().flatten()) {
        assert!((a - b).abs() < 1e-14);
    }
    for (p, q) in back.positions.iter().zip(&s.positions) {
        for k in 0..3 {
            assert!((p[k] - q[k]).abs() < 1e-12, "{p:?} {q:?}");
        }
    }
    // Without the array no flags are written.
    s.atom_arrays.clear();
    assert!(!poscar_string(&s).unwrap().contains("Selective"));
}

// ---------------------------------------------------------------------------------------------
// pymatgen dicts and MatBench tables

fn nacl_dict() -> serde_json::Value {
    json!({
        "@module": "pymatgen.core.structure",
        "@class": "Structure",
        "charge": 0,
        "lattice": {"matrix": [[0.0, 2.82, 2.82], [2.82, 0.0, 2.82], [2.82, 2.82, 0.0]], "pbc": [true, true, true]},
        "properties": {"source": "test", "energy": -1.5, "tags": [1, 2], "nested": {"a": 1}},
        "sites": [
            {"species": [{"element": "Na", "occu": 1, "oxidation_state": 1}], "abc": [0.0, 0.0, 0.0],
             "xyz": [0.0, 0.0, 0.0], "label": "Na", "properties": {"magmom": 0.5}},
            // A stale xyz: the fractional abc wins.
            {"species": [{"element": "Cl", "occu": 1.0, "oxidation_state": -1}], "abc": [0.5, 0.5, 0.5],
             "xyz": [9.0, 9.0, 9.0], "label": "Cl", "properties": {"magmom": -0.5, "odd": "x"}}
        ]
    })
}

#[test]
fn pymatgen_dict_reads_lattice_sites_and_properties() {
    let s = structure_from_dict(&nacl_dict(), "nacl.json").unwrap();
    assert_eq!(s.numbers, vec![11, 17]);
    assert_eq!(s.positions[1], [2.82, 2.82, 2.82]);
    assert_eq!(s.atom_arrays["oxidation_state"].as_real().unwrap(), &[1.0, -1.0]);
    assert_eq!(s.atom_arrays["magmom"].as_real().unwrap(), &[0.5, -0.5]);
    assert_eq!(s.properties["source"], Property::Str("test".into()));
    assert_eq!(s.properties["energy"], Property::Float(-1.5));
    assert_eq!(s.properties["tags"], Property::IntArray(vec![1, 2]));
    assert_eq!(s.properties["skipped_properties"], Property::Str("site:odd, nested".into()));
    assert!(!s.properties.contains_key("charge"));
}

#[test]
fn pymatgen_partial_sites_follow_the_occupancy_policy() {
    let mut d = nacl_dict();
    d["sites"][1]["species"] = json!([{"element": "Cl", "occu": 0.3}, {"element": "Br", "occu": 0.7}]);
    let message = structure_from_dict(&d, "f.json: entry 7").unwrap_err().to_string();
    assert!(message.starts_with("f.json: entry 7: partially occupied sites"), "{message}");
    assert!(message.contains("site 1 Cl 0.3 + site 1 Br 0.7"), "{message}");
    let options = ReadOptions::default().with_partial_occupancy(PartialOccupancy::Majority);
    let s = structure_from_dict_with(&d, "f.json", &options).unwrap();
    assert_eq!(s.numbers, vec![11, 35]);
    assert_eq!(s.atom_arrays["occupancy"].as_real().unwrap(), &[1.0, 0.7]);
    let ox = s.atom_arrays["oxidation_state"].as_real().unwrap();
    assert_eq!(ox[0], 1.0);
    assert!(ox[1].is_nan());
    assert_eq!(s.properties["disorder"], Property::Str("site 1 Cl 0.3 + site 1 Br 0.7 → site 1 Br".into()));
}

#[test]
fn pymatgen_errors_name_origin_site_and_field() {
    let check = |d: serde_json::Value, parts: &[&str]| {
        let message = structure_from_dict(&d, "x.json.gz: entry 12").unwrap_err().to_string();
        assert!(message.starts_with("x.json.gz: entry 12: "), "{message}");
        for p in parts {
            assert!(message.contains(p), "expected '{p}' in {message}");
        }
    };
    let mut d = nacl_dict();
    d["sites"][1]["species"][0]["element"] = json!("Xx");
    check(d, &["site 1: unknown element \"Xx\""]);
    let mut d = nacl_dict();
    d["lattice"]["matrix"] = json!([[1, 0, 0], [0, 1]]);
    check(d, &["\"lattice\".\"matrix\" must be 3 rows of 3 numbers"]);
    let mut d = nacl_dict();
    d["sites"][0]["abc"] = json!([0.5, 0.5, 0.45]);
    check(d, &["site 0 and site 1 overlap"]);
    let mut d = nacl_dict();
    d["lattice"]["pbc"] = json!([true, true, false]);
    check(d, &["only fully periodic"]);
    let mut d = nacl_dict();
    d["lattice"]["matrix"] = json!([[2.82, 0.0, 2.82], [0.0, 2.82, 2.82], [2.82, 2.82, 0.0]]);
    check(d, &["left-handed"]);
    let mut d = nacl_dict();
    d["sites"][0]["species"][0]["occu"] = json!("one");
    check(d, &["site 0: \"occu\" \"one\" is not a number"]);
    check(json!([1, 2]), &["expected a pymatgen structure dict"]);
}

#[test]
fn pymatgen_dict_round_trip() {
    let s = structure_from_dict(&nacl_dict(), "a").unwrap();
    let d = structure_to_dict(&s).unwrap();
    assert_eq!(d["@class"], "Structure");
    assert_eq!(d["sites"][1]["species"][0]["oxidation_state"], json!(-1.0));
    assert_eq!(d["sites"][0]["properties"]["magmom"], json!(0.5));
    let back = structure_from_dict(&d, "b").unwrap();
    assert_eq!(back.numbers, s.numbers);
    for (p, q) in back.positions.iter().zip(&s.positions) {
        assert!((0..3).all(|k| (p[k] - q[k]).abs() < 1e-12), "{p:?} {q:?}");
    }
    assert_eq!(back.cell, s.cell);
    assert_eq!(back.atom_arrays, s.atom_arrays);
    assert_eq!(back.properties["energy"], s.properties["energy"]);
}

/// A gzip-compressed MatBench-style table of `rows` (structure dict, target) in `dir`.
fn write_table(
    dir: &std::path::Path,
    name: &str,
    target: &str,
    rows: Vec<(serde_json::Value, serde_json::Value)>,
) -> std::path::PathBuf {
    let n = rows.len();
    let table = json!({
        "index": (0..n).map(|k| format!("mb-test-{:04}", k + 1)).collect::<Vec<_>>(),
        "columns": ["structure", target],
        "data": rows.into_iter().map(|(s, t)| json!([s, t])).collect::<Vec<_>>(),
    });
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    gz.write_all(table.to_string().as_bytes()).unwrap();
    gz.finish().unwrap();
    path
}

#[test]
fn matbench_gz_table_reads_ids_targets_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<_> = (0..1100).map(|k| (nacl_dict(), json!(k as f64 * 0.5 - 1.0))).collect();
    let path = write_table(dir.path(), "matbench_test.json.gz", "e_form", rows);
    let d = MatbenchDataset::read(&path).unwrap();
    assert_eq!(d.target_name, "e_form");
    assert_eq!(d.len(), 1100);
    assert_eq!(d.ids[2], "mb-test-0003");
    assert_eq!(d.structures[2].name, "mb-test-0003");
    assert_eq!(d.targets[2], 0.0);
    assert_eq!(d.structures[1099].properties["e_form"], Property::Float(548.5));
    assert_eq!(d.structures[0].numbers, vec![11, 17]);
    // The same through read_crystals.
    let all = read_crystals(&path).unwrap();
    assert_eq!(all.len(), 1100);
    assert_eq!(all[5], d.structures[5]);
}

#[test]
fn matbench_boolean_targets_and_plain_json() {
    let dir = tempfile::tempdir().unwrap();
    let table = json!({"columns": ["structure", "is_metal"], "index": ["a", "b"],
                       "data": [[nacl_dict(), true], [nacl_dict(), false]]});
    let path = dir.path().join("matbench_bool.json");
    std::fs::write(&path, table.to_string()).unwrap();
    let d = MatbenchDataset::read(&path).unwrap();
    assert_eq!(d.targets, vec![1.0, 0.0]);
    assert_eq!(d.structures[0].properties["is_metal"], Property::Bool(true));
    assert_eq!(d.structures[1].name, "b");
}

#[test]
fn matbench_errors_name_file_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = nacl_dict();
    bad["sites"][0]["species"][0]["element"] = json!("Xx");
    let rows = vec![(nacl_dict(), json!(1.0)), (nacl_dict(), json!(2.0)), (bad, json!(3.0))];
    let path = write_table(dir.path(), "matbench_bad.json.gz", "gap", rows);
    let message = MatbenchDataset::read(&path).unwrap_err().to_string();
    assert!(message.contains("matbench_bad.json.gz: entry 2: site 0: unknown element \"Xx\""), "{message}");
    let path = write_table(dir.path(), "m2.json.gz", "gap", vec![(nacl_dict(), json!("high"))]);
    let message = MatbenchDataset::read(&path).unwrap_err().to_string();
    assert!(message.contains("m2.json.gz: entry 0: the target must be a number"), "{message}");
    let composition = dir.path().join("expt.json");
    std::fs::write(&composition, r#"{"index": [0], "columns": ["composition", "gap"], "data": [["NaCl", 8.5]]}"#)
        .unwrap();
    let message = MatbenchDataset::read(&composition).unwrap_err().to_string();
    assert!(message.contains("entry 0") && message.contains("composition-only"), "{message}");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"index\": [0],\n \"data\": [[1, }").unwrap();
    let message = MatbenchDataset::read(&broken).unwrap_err().to_string();
    assert!(message.starts_with(&format!("{}:2:", broken.display())), "{message}");
}

// ---------------------------------------------------------------------------------------------
// read_crystals / write_crystal

#[test]
fn read_crystals_chooses_the_format_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("rutile.cif"), RUTILE).unwrap();
    std::fs::write(d.join("POSCAR_nacl"), POSCAR_NACL).unwrap();
    std::fs::write(d.join("nacl.vasp"), POSCAR_NACL).unwrap();
    std::fs::write(d.join("one.json"), nacl_dict().to_string()).unwrap();
    std::fs::write(d.join("list.json"), json!([nacl_dict(), nacl_dict()]).to_string()).unwrap();
    assert_eq!(read_crystals(d.join("rutile.cif")).unwrap()[0].name, "rutile:rutile");
    assert_eq!(read_crystals(d.join("POSCAR_nacl")).unwrap()[0].len(), 8);
    assert_eq!(read_crystals(d.join("nacl.vasp")).unwrap()[0].len(), 8);
    assert_eq!(read_crystals(d.join("one.json")).unwrap()[0].name, "one");
    let list = read_crystals(d.join("list.json")).unwrap();
    assert_eq!(list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["list:0", "list:1"]);
    // Extended XYZ needs a Lattice in every frame.
    let frame =
        "2\nLattice=\"5.64 0 0 0 5.64 0 0 0 5.64\" Properties=species:S:1:pos:R:3\nNa 0 0 0\nCl 2.82 2.82 2.82\n";
    std::fs::write(d.join("c.extxyz"), frame).unwrap();
    assert_eq!(read_crystals(d.join("c.extxyz")).unwrap()[0].pbc, [true; 3]);
    std::fs::write(d.join("m.xyz"), format!("{frame}2\nno cell\nNa 0 0 0\nCl 2.82 2.82 2.82\n")).unwrap();
    let message = read_crystals(d.join("m.xyz")).unwrap_err().to_string();
    assert!(message.contains("m.xyz: frame 1: no Lattice"), "{message}");
    std::fs::write(d.join("close.xyz"), frame.replace("Cl 2.82 2.82 2.82", "Cl 0.1 0 0")).unwrap();
    let message = read_crystals(d.join("close.xyz")).unwrap_err().to_string();
    assert!(message.contains("close.xyz: frame 0: atom 0 and atom 1 overlap"), "{message}");
    let message = read_crystals(d.join("x.pdb")).unwrap_err().to_string();
    assert!(message.contains("unknown crystal file type"), "{message}");
}

#[test]
fn write_crystal_round_trips_through_each_format() {
    let dir = tempfile::tempdir().unwrap();
    let s = parse_poscar(POSCAR_NACL, "POSCAR").unwrap();
    for name in ["out.cif", "POSCAR", "out.vasp", "out.json"] {
        let path = dir.path().join(name);
        write_crystal(&path, &s).unwrap();
        let back = &read_crystals(&path).unwrap()[0];
        assert_eq!(back.numbers, s.numbers, "{name}");
        assert_same_sites(&fractional(back), &fractional(&s), 1e-12);
    }
    assert!(write_crystal(dir.path().join("out.xyz"), &s).is_err());
}

// ---------------------------------------------------------------------------------------------
// Property tests: random cells and atoms survive CIF and POSCAR round trips.

mod round_trips {
    use super::*;
    use proptest::prelude::*;

    fn crystal() -> impl Strategy<Value = Structure> {
        let lengths = prop::array::uniform3(2.0..12.0f64);
        let angles = prop::array::uniform3(60.0..120.0f64);
        let atoms = prop::collection::vec((1u8..=94, prop::array::uniform3(-0.5..1.5f64)), 1..12);
        (lengths, angles, atoms).prop_filter_map("the angles must close a cell", |(l, a, atoms)| {
            let lattice = Lattice::from_parameters(l, a).ok()?;
            let (numbers, positions) = atoms.iter().map(|(z, f)| (*z, lattice.to_cartesian(f))).unzip();
            Structure::periodic(numbers, positions, *lattice.rows(), [true; 3]).ok()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn cif_and_poscar_round_trip(s in crystal()) {
            // Read as written: coordinates close to 1/3 and 2/3 are not snapped.
            let options = ReadOptions::default().with_min_distance(0.0).with_fraction_tolerance(0.0);
            let back = parse_cif(&cif_string(&s).unwrap(), "p.cif", &options).unwrap().remove(0);
            prop_assert_eq!(&back.numbers, &s.numbers);
            // Standard orientation on both sides: positions agree after wrapping.
            assert_same_sites(&fractional(&back), &fractional(&s), 1e-12);
            for (a, b) in back.cell.unwrap().iter().flatten().zip(s.cell.unwrap().iter().flatten()) {
                prop_assert!((a - b).abs() < 1e-12);
            }
            let back = parse_poscar_with(&poscar_string(&s).unwrap(), "POSCAR", &options).unwrap();
            prop_assert_eq!(&back.numbers, &s.numbers);
            for (p, q) in back.positions.iter().zip(&s.positions) {
                prop_assert!((0..3).all(|k| (p[k] - q[k]).abs() < 1e-12), "{:?} {:?}", p, q);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reference fixtures: every CIF and POSCAR of tests/fixtures/crystals against pymatgen's reading
// of it (manifest.json, written by tests/reference/crystals.py), and the MatBench-format files.

mod fixtures {
    use super::*;
    use serde_json::Value;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/");

    fn manifest() -> Value {
        let text = std::fs::read_to_string(format!("{DIR}crystals/manifest.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn floats(v: &Value) -> Vec<f64> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
    }

    fn close3(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
    }

    /// Every expected (elements allowed, wrapped fractional) site matched by a distinct atom of `s`.
    fn assert_sites_match(name: &str, s: &Structure, expected: &[(Vec<String>, Vec<f64>)]) {
        assert_eq!(s.len(), expected.len(), "{name}: atom count");
        let l = Lattice::new(s.cell.unwrap()).unwrap();
        let symbols = s.symbols();
        let mut used = vec![false; s.len()];
        for (elements, frac) in expected {
            let found = (0..s.len()).find(|&i| {
                let f = l.to_fractional(&s.positions[i]);
                !used[i]
                    && elements.iter().any(|e| e == symbols[i])
                    && (0..3).all(|k| {
                        let d = (f[k] - frac[k]).rem_euclid(1.0);
                        d.min(1.0 - d) < 1e-6
                    })
            });
            match found {
                Some(i) => used[i] = true,
                None => panic!("{name}: no {elements:?} at {frac:?}"),
            }
        }
    }

    /// The elements with the largest occupancy of a manifest site (several on ties: the kept one
    /// is then the first in the file, an order the JSON object does not keep).
    fn majority(site: &Value) -> Vec<String> {
        let elements = site["elements"].as_object().unwrap();
        let best = elements.values().map(|o| o.as_f64().unwrap()).fold(0.0, f64::max);
        elements.iter().filter(|(_, o)| o.as_f64().unwrap() == best).map(|(e, _)| e.clone()).collect()
    }

    #[test]
    fn every_cif_matches_pymatgen() {
        let manifest = manifest();
        let entries = manifest["cif"].as_object().unwrap();
        assert!(entries.len() >= 15, "{} CIF entries", entries.len());
        let majority_options = CifOptions::default().with_partial_occupancy(PartialOccupancy::Majority);
        for (file, entry) in entries {
            assert!(entry["error"].is_null(), "{file}: pymatgen failed");
            let path = format!("{DIR}crystals/{file}");
            let blocks = entry["blocks"].as_array().unwrap();
            let ordered = blocks.iter().all(|b| b["structure"]["is_ordered"].as_bool().unwrap());
            let default = chem_crystal::io::read_cif(&path);
            let ours = if ordered {
                default.unwrap_or_else(|e| panic!("{file}: {e}"))
            } else {
                // Disorder is refused by default, with the file named.
                let message = default.unwrap_err().to_string();
                assert!(message.contains(file.as_str()) && message.contains("partially occupied"), "{message}");
                chem_crystal::io::read_cif_with(&path, &majority_options).unwrap()
            };
            assert_eq!(ours.len(), entry["n_structures"].as_u64().unwrap() as usize, "{file}");
            for (s, block) in ours.iter().zip(blocks) {
                let expected = &block["structure"];
                let name = format!("{file}:{}", block["block"].as_str().unwrap());
                assert_eq!(s.properties["cif_block"], Property::Str(block["block"].as_str().unwrap().into()));
                let l = Lattice::new(s.cell.unwrap()).unwrap();
                assert!(close3(&l.lengths(), &floats(&expected["abc"]), 1e-6), "{name}: {:?}", l.lengths());
                assert!(close3(&l.angles(), &floats(&expected["angles"]), 1e-6), "{name}: {:?}", l.angles());
                assert!((l.volume() - expected["volume"].as_f64().unwrap()).abs() < 1e-6, "{name}");
                let sites: Vec<(Vec<String>, Vec<f64>)> = expected["sites"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|site| (majority(site), floats(&site["frac"])))
                    .collect();
                assert_sites_match(&name, s, &sites);
                if !ordered {
                    assert!(s.atom_arrays.contains_key("occupancy") && s.properties.contains_key("disorder"));
                }
            }
        }
    }

    #[test]
    fn every_poscar_matches_pymatgen() {
        let manifest = manifest();
        let entries = manifest["poscar"].as_object().unwrap();
        assert!(entries.len() >= 4);
        for (file, entry) in entries {
            let s = chem_crystal::io::read_poscar(format!("{DIR}crystals/{file}")).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.name, entry["comment"].as_str().unwrap().trim(), "{file}");
            let species: Vec<&str> = entry["species"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(s.symbols(), species, "{file}");
            let l = Lattice::new(s.cell.unwrap()).unwrap();
            for (row, expected) in l.rows().iter().zip(entry["lattice"].as_array().unwrap()) {
                assert!(close3(row, &floats(expected), 1e-6), "{file}: {row:?}");
            }
            assert!((l.volume() - entry["volume"].as_f64().unwrap()).abs() < 1e-6, "{file}");
            // Unwrapped, in file order.
            for (p, expected) in s.positions.iter().zip(entry["frac_coords"].as_array().unwrap()) {
                assert!(close3(&l.to_fractional(p), &floats(expected), 1e-6), "{file}");
            }
            match entry["selective_dynamics"].as_array() {
                Some(flags) => {
                    let expected: Vec<bool> =
                        flags.iter().flat_map(|f| f.as_array().unwrap().iter().map(|b| b.as_bool().unwrap())).collect();
                    assert_eq!(s.atom_arrays["selective_dynamics"], AtomArray::Bool { width: 3, data: expected });
                }
                None => assert!(!s.atom_arrays.contains_key("selective_dynamics"), "{file}"),
            }
        }
    }

    /// The same sites after some common translation (the MatBench rows and the CIFs may use
    /// different origins, e.g. diamond's origin choices 1 and 2).
    fn assert_same_up_to_translation(name: &str, a: &[(u8, [f64; 3])], b: &[(u8, [f64; 3])]) {
        assert_eq!(a.len(), b.len(), "{name}");
        let matches = |t: [f64; 3]| {
            a.iter().all(|(z, f)| {
                b.iter().any(|(y, g)| {
                    y == z
                        && (0..3).all(|k| {
                            let d = (f[k] + t[k] - g[k]).rem_euclid(1.0);
                            d.min(1.0 - d) < 1e-6
                        })
                })
            })
        };
        let found =
            b.iter().filter(|(z, _)| *z == a[0].0).any(|(_, g)| matches(std::array::from_fn(|k| g[k] - a[0].1[k])));
        assert!(found, "{name}: no translation maps {a:?} onto {b:?}");
    }

    #[test]
    fn matbench_tiny_reads_and_agrees_with_the_cifs() {
        let d = MatbenchDataset::read(format!("{DIR}matbench_tiny.json.gz")).unwrap();
        assert_eq!(d.target_name, "e_form");
        assert_eq!(d.len(), 15);
        assert_eq!(d.ids[0], "mb-tiny-0001");
        assert_eq!(d.structures[14].name, "mb-tiny-0015");
        for (s, t) in d.structures.iter().zip(&d.targets) {
            assert!(t.is_finite());
            assert_eq!(s.properties["e_form"], Property::Float(*t));
        }
        // The first twelve rows are the fixture CIFs, as pymatgen read them.
        let chosen =
            ["nacl", "cscl", "srtio3_perovskite", "rutile_tio2", "wurtzite_zno", "diamond_si", "fluorite_caf2"];
        for (k, name) in chosen.iter().enumerate() {
            let from_cif = &chem_crystal::io::read_cif(format!("{DIR}crystals/{name}.cif")).unwrap()[0];
            let s = &d.structures[k];
            assert_eq!(s.formula(), from_cif.formula(), "{name}");
            let (a, b) = (Lattice::new(s.cell.unwrap()).unwrap(), Lattice::new(from_cif.cell.unwrap()).unwrap());
            assert!(close3(&a.lengths(), &b.lengths(), 1e-6) && close3(&a.angles(), &b.angles(), 1e-6), "{name}");
            assert_same_up_to_translation(name, &fractional(s), &fractional(from_cif));
        }
        // The rutile row carries oxidation states.
        let ox = d.structures[3].atom_arrays["oxidation_state"].as_real().unwrap();
        assert_eq!(ox.iter().filter(|&&o| o == 4.0).count(), 2);
        assert_eq!(ox.iter().filter(|&&o| o == -2.0).count(), 4);
    }

    #[test]
    fn matbench_disordered_and_legacy_files() {
        let path = format!("{DIR}matbench_tiny_disordered.json.gz");
        let message = MatbenchDataset::read(&path).unwrap_err().to_string();
        assert!(message.contains("matbench_tiny_disordered.json.gz: entry 1: partially occupied sites"), "{message}");
        assert!(message.contains("site 0 Sr 0.5 + site 0 Ba 0.5"), "{message}");
        let options = ReadOptions::default().with_partial_occupancy(PartialOccupancy::Majority);
        let d = MatbenchDataset::read_with(&path, &options).unwrap();
        let s = &d.structures[1];
        assert_eq!(s.symbols(), ["Sr", "Ti", "O", "O", "O"]);
        assert_eq!(s.atom_arrays["occupancy"].as_real().unwrap(), &[0.5, 1.0, 1.0, 0.8, 0.8]);
        assert_eq!(d.targets[1], 0.123456);
        // Older pymatgen dicts: "charge": null, no lattice "pbc", no "properties".
        let legacy = MatbenchDataset::read(format!("{DIR}matbench_tiny_legacy.json.gz")).unwrap();
        assert_eq!(legacy.len(), 3);
        assert_eq!(legacy.structures[1].formula(), "O4Ti2");
        assert_eq!(read_crystals(format!("{DIR}matbench_tiny_legacy.json.gz")).unwrap(), legacy.structures);
    }
}
