//! The real-world CIF corpus (`tests/fixtures/cif_corpus`, sources and licences in its SOURCES.md)
//! against pymatgen's reading of it (`expected.json`, written by `tests/reference/cif_corpus.py`).
//!
//! Each file is read as pymatgen's `CifParser(path).parse_structures(primitive=False)` reads it (after
//! the reference's documented text fix-up where pymatgen refuses or misreads a readable file), or
//! refused with an error naming the file, or, where pymatgen is wrong, read as [`RELATIONS`] says.
//!
//! Tolerances:
//! * cell lengths and angles: 10⁻⁶ relative. Both build the cell from the same six numbers;
//!   `expected.json` keeps 10 decimals.
//! * fractional coordinates: 10⁻⁸ (modulo 1). Both read the file's digits, snap those within 10⁻⁴
//!   (relative) of 1/3 and 2/3 to the exact fractions and apply the same operations;
//!   `expected.json` keeps 10 decimals. (Before we snapped as pymatgen does, `0.3333` left atoms
//!   2·10⁻⁴ apart.)
//!
//! Warnings: every coordinate pymatgen snaps we snap and count in the `"cif_warnings"` property;
//! the quirks pymatgen reads on through (`QUIRKS`) are warnings there too, and no other file has
//! any other warning.

use chem_crystal::io::{read_cif, read_cif_with, CifOptions, PartialOccupancy};
use chem_crystal::Lattice;
use chem_graph::{Property, Structure};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/cif_corpus/");

/// Fractional-coordinate tolerance (see the module docs).
const FRACTIONAL: f64 = 1e-8;
/// Relative tolerance of cell lengths and angles.
const CELL: f64 = 1e-6;
/// Occupancy sums at least this are full sites (pymatgen's own check of occupancies is 10⁻³).
const FULL: f64 = 0.999;

/// What chemgnn does with a file where it does not give pymatgen's atoms.
enum Relation {
    /// An error containing these parts (after the file name).
    Error(&'static [&'static str]),
    /// pymatgen's reading is incomplete: every one of its full sites is among ours, and we have
    /// this many atoms (with [`PartialOccupancy::Majority`] for disordered files).
    Superset(usize),
    /// Two blocks of one name: pymatgen keeps the last, we read both.
    BothBlocks,
}

/// The files chemgnn reads differently from pymatgen, and why (docs/cif_corpus.md has the table).
const RELATIONS: &[(&str, Relation)] = &[
    // Only `?` in the site loop: pymatgen finds no structure either.
    ("diffpy_nosites.cif", Relation::Error(&[":44:", "site 1: neither a type symbol nor a label"])),
    // A cell of zero volume: pymatgen finds no structure either (after its fix for an endless loop).
    ("pymatgen_bad_superflat_inf_loop.cif", Relation::Error(&[":5:", "cell of 0.0000 Å³"])),
    // pymatgen does not know `C2:b1` (C 1 2 1, unique axis b) and falls back to P 1 (12 atoms).
    ("diffpy_badspacegroup.cif", Relation::Superset(40)),
    // pymatgen drops every site whose occupancy is `.` (all but the 96 atoms of the disordered
    // tert-butyl groups and hydrogens with numbers); `.` is a missing value, read as 1.
    ("codtools_7011014-occupancy-is-a-dot.cif", Relation::Superset(236)),
    ("codtools_2-entries-AMCSD-global.cif", Relation::BothBlocks),
];

/// The files with quirks that pymatgen reads through and we read as it does, with a warning: parts
/// of the `"cif_warnings"` of their structures (all blocks together).
const QUIRKS: &[(&str, &[&str])] = &[
    (
        "chemgnn_icsd-dot-coordinate.cif",
        &["line 52: fractional coordinates given as '.' read as 0, as pymatgen does (sites Zn1)"],
    ),
    (
        "chemgnn_pauling-file-labels.cif",
        // The labels need no warning: the elements come from _atom_site_type_symbol.
        &[],
    ),
    (
        "chemgnn_repeated-tags.cif",
        &[
            "line 21: tag _cell_length_c appears twice in data block 'nickeline' (lines 9 and 21): the last value is used",
            "line 50: tag _atom_site_label appears twice in data block 'nickeline' (lines 15 and 50)",
            "line 54: tag _atom_site_fract_z appears twice",
        ],
    ),
    (
        "chemgnn_unterminated-quotes.cif",
        &[
            "line 5: unterminated '…' string",
            "line 5: values without a tag ignored, as pymatgen does: 'structure' 'of' 'molybdenite' '(2H-MoS2)' \
             'at' 'room' … (7 in all)",
            "line 7: unterminated '…' string",
            "line 7: values without a tag ignored, as pymatgen does: 'J.'",
        ],
    ),
    (
        "diffpy_LiCl-bad.cif",
        &[
            "line 14: unterminated '…' string",
            "line 14: values without a tag ignored, as pymatgen does: 'von' 'Gitterkonstanten' 'hygroskopischer' \
             'Verbindungen' '(Li' 'Cl.' … (8 in all)",
            "line 16: unterminated '…' string",
            "line 229: tag _eof ends the data block without a value",
        ],
    ),
];

/// The lines of the `"cif_warnings"` property (none without it).
fn warnings(s: &Structure) -> Vec<String> {
    match s.properties.get("cif_warnings") {
        Some(Property::Str(text)) => text.lines().map(str::to_owned).collect(),
        None => vec![],
        Some(other) => panic!("cif_warnings is {other:?}"),
    }
}

/// The number N of pymatgen's warning "N fractional coordinates rounded to ideal values" among a
/// block's warnings (0 without one).
fn snapped_by_pymatgen(block: &Value) -> usize {
    let counts: Vec<usize> = block["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| {
            w.as_str()
                .unwrap()
                .strip_suffix(" fractional coordinates rounded to ideal values to avoid issues with finite precision.")
        })
        .filter_map(|n| n.parse().ok()) // not "Issues encountered while parsing CIF: N …"
        .collect();
    counts.first().copied().unwrap_or(0)
}

/// The number N of our warning "N fractional coordinates within 1e-4 (relative) of 1/3 or 2/3"
/// (0 without one), and the other warnings.
fn snapped_by_us(warnings: &[String]) -> (usize, Vec<&String>) {
    let (snaps, others): (Vec<&String>, Vec<&String>) =
        warnings.iter().partition(|w| w.contains(" fractional coordinates within 1e-4 (relative) of 1/3 or 2/3"));
    assert!(snaps.len() <= 1, "{snaps:?}");
    let count = snaps.first().map_or(0, |w| w.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap());
    (count, others)
}

fn expected() -> Value {
    let text = std::fs::read_to_string(format!("{DIR}expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// pymatgen's reading: after the fix-up where the reference made one.
fn reference(entry: &Value) -> &Value {
    entry.get("fixup").map_or(entry, |f| &f["entry"])
}

/// The structures pymatgen made, in block order.
fn structures(entry: &Value) -> Vec<&Value> {
    entry["blocks"].as_array().unwrap().iter().map(|b| &b["structure"]).filter(|s| !s.is_null()).collect()
}

/// One expected site: the elements it may hold, whether it must be present (full occupancy) and
/// its fractional coordinates.
struct Site {
    elements: Vec<String>,
    full: bool,
    frac: Vec<f64>,
}

fn expected_sites(structure: &Value) -> Vec<Site> {
    structure["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|site| {
            let elements = site["elements"].as_object().unwrap();
            let total: f64 = elements.values().map(|o| o.as_f64().unwrap()).sum();
            Site { elements: elements.keys().cloned().collect(), full: total >= FULL, frac: floats(&site["frac"]) }
        })
        .collect()
}

fn assert_same_cell(name: &str, s: &Structure, expected: &Value) {
    let l = Lattice::new(s.cell.unwrap()).unwrap();
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= CELL * y.abs().max(1.0));
    assert!(close(&l.lengths(), &floats(&expected["abc"])), "{name}: lengths {:?}", l.lengths());
    assert!(close(&l.angles(), &floats(&expected["angles"])), "{name}: angles {:?}", l.angles());
}

/// Pairs the atoms of `s` with the expected sites, each at most once: atom and site at the same
/// position (within [`FRACTIONAL`]) with the atom's element among the site's. Panics unless every
/// atom is paired and every full site is; with `all_sites`, every site must be paired.
fn assert_sites(name: &str, s: &Structure, sites: &[Site], all_sites: bool) {
    let l = Lattice::new(s.cell.unwrap()).unwrap();
    let symbols = s.symbols();
    let mut used = vec![false; sites.len()];
    for (i, p) in s.positions.iter().enumerate() {
        let f = l.to_fractional(p);
        let same = |site: &Site| {
            site.elements.iter().any(|e| e == symbols[i])
                && (0..3).all(|k| {
                    let d = (f[k] - site.frac[k]).rem_euclid(1.0);
                    d.min(1.0 - d) < FRACTIONAL
                })
        };
        match (0..sites.len()).find(|&k| !used[k] && same(&sites[k])) {
            Some(k) => used[k] = true,
            None => panic!("{name}: atom {i} ({} at {f:?}) is not one of pymatgen's sites", symbols[i]),
        }
    }
    for (site, used) in sites.iter().zip(&used) {
        assert!(*used || !(all_sites || site.full), "{name}: no atom for {:?} at {:?}", site.elements, site.frac);
    }
}

/// Every full site of pymatgen's is one of our atoms.
fn assert_superset(name: &str, s: &Structure, sites: &[Site]) {
    let l = Lattice::new(s.cell.unwrap()).unwrap();
    let symbols = s.symbols();
    let mut used = vec![false; s.len()];
    for site in sites.iter().filter(|site| site.full) {
        let found = (0..s.len()).find(|&i| {
            let f = l.to_fractional(&s.positions[i]);
            !used[i]
                && site.elements.iter().any(|e| e == symbols[i])
                && (0..3).all(|k| {
                    let d = (f[k] - site.frac[k]).rem_euclid(1.0);
                    d.min(1.0 - d) < FRACTIONAL
                })
        });
        match found {
            Some(i) => used[i] = true,
            None => panic!("{name}: none of our atoms is pymatgen's {:?} at {:?}", site.elements, site.frac),
        }
    }
}

/// Reads `file` with the default options, or (for disordered files, after checking the default
/// refuses them with the file named) with [`PartialOccupancy::Majority`].
fn read(file: &str, ordered: bool) -> Vec<Structure> {
    let path = format!("{DIR}{file}");
    if ordered {
        return read_cif(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let message = read_cif(&path).unwrap_err().to_string();
    assert!(message.contains(file) && message.contains("partially occupied"), "{message}");
    let majority = CifOptions::default().with_partial_occupancy(PartialOccupancy::Majority);
    let structures = read_cif_with(&path, &majority).unwrap_or_else(|e| panic!("{file}: {e}"));
    for s in &structures {
        assert!(s.properties.contains_key("disorder") || !s.atom_arrays.contains_key("occupancy"), "{file}");
    }
    structures
}

#[test]
fn every_corpus_file_reads_as_pymatgen_reads_it_or_fails_clearly() {
    let expected = expected();
    let files = expected["files"].as_object().unwrap();
    let on_disk =
        std::fs::read_dir(DIR).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "cif"));
    assert_eq!(files.len(), on_disk.count(), "expected.json is stale: rerun tests/reference/cif_corpus.py");
    assert!(files.len() >= 30, "{} files", files.len());
    let (mut refused, mut compared) = (0, 0);
    for (file, entry) in files {
        let relation = RELATIONS.iter().find(|(f, _)| f == file).map(|(_, r)| r);
        let reference = reference(entry);
        let theirs = structures(reference);
        if let Some(Relation::Error(parts)) = relation {
            let message = read_cif(format!("{DIR}{file}")).unwrap_err().to_string();
            let after = message.split_once(file.as_str()).unwrap_or_else(|| panic!("file not named: {message}")).1;
            for part in *parts {
                assert!(after.contains(part), "{file}: expected '{part}' in: {message}");
            }
            refused += 1;
            continue;
        }
        assert!(!theirs.is_empty(), "{file}: pymatgen read nothing ({})", reference["error"]);
        let ordered = theirs.iter().all(|s| s["is_ordered"].as_bool().unwrap());
        // Both blocks of the two-block file are read; the first is disordered.
        let ours = read(file, ordered && !matches!(relation, Some(Relation::BothBlocks)));
        let blocks: Vec<&Value> =
            reference["blocks"].as_array().unwrap().iter().filter(|b| !b["structure"].is_null()).collect();
        let pairs: Vec<(&Structure, &Value)> = match relation {
            // pymatgen's one structure is our last; the first block is checked on its own below.
            Some(Relation::BothBlocks) => {
                assert_eq!(ours.len(), 2, "{file}");
                let disorder =
                    "Fe1 0.848 + Mg1 0.152 → Fe1; Fe2 0.773 + Mg2 0.227 → Fe2; Fe3 0.888 + Mg3 0.112 → Fe3; \
                                Fe4 0.985 + Mg4 0.015 → Fe4; O-H3 0.75 + F3 0.25 → O-H3";
                assert_eq!(ours[0].properties["disorder"], Property::Str(disorder.into()), "{file}");
                vec![(&ours[1], blocks[0])]
            }
            _ => {
                assert_eq!(ours.len(), theirs.len(), "{file}: number of structures");
                ours.iter().zip(blocks).collect()
            }
        };
        let quirks = QUIRKS.iter().find(|(f, _)| f == file).map(|(_, parts)| *parts);
        let all: Vec<String> = ours.iter().flat_map(warnings).collect();
        for part in quirks.unwrap_or_default() {
            assert!(all.iter().any(|w| w.contains(part)), "{file}: no warning '{part}' in {all:#?}");
        }
        for (s, block) in pairs {
            let name = format!("{file}:{}", block["block"].as_str().unwrap());
            let ours = warnings(s);
            let (snapped, others) = snapped_by_us(&ours);
            assert_eq!(snapped, snapped_by_pymatgen(block), "{name}: coordinates snapped ({ours:#?})");
            assert!(quirks.is_some() || others.is_empty(), "{name}: unexpected warnings {others:#?}");
            assert_eq!(s.properties["cif_block"], Property::Str(block["block"].as_str().unwrap().into()), "{name}");
            let structure = &block["structure"];
            assert_same_cell(&name, s, structure);
            let sites = expected_sites(structure);
            match relation {
                Some(Relation::Superset(n)) => {
                    assert_eq!(s.len(), *n, "{name}: atoms");
                    assert_superset(&name, s, &sites);
                }
                _ => {
                    if ordered {
                        assert_eq!(s.len(), sites.len(), "{name}: atoms");
                    }
                    assert_sites(&name, s, &sites, ordered);
                }
            }
            compared += 1;
        }
    }
    assert_eq!((refused, compared), (2, files.len() - 1));
}

// ---------------------------------------------------------------------------------------------
// Focused tests of the idioms the corpus needed, on small blocks.

mod idioms {
    use chem_crystal::io::{parse_cif, CifOptions};
    use chem_graph::Structure;

    /// A block with `cell` (a b c alpha beta gamma), `symmetry` items and an `_atom_site_` loop of
    /// `columns` and `rows`.
    fn block(cell: [f64; 6], symmetry: &str, columns: &str, rows: &str) -> String {
        let [a, b, c, alpha, beta, gamma] = cell;
        let columns: String = columns.split_whitespace().map(|c| format!("_atom_site_{c}\n")).collect();
        format!(
            "data_t\n_cell_length_a {a}\n_cell_length_b {b}\n_cell_length_c {c}\n_cell_angle_alpha {alpha}\n\
             _cell_angle_beta {beta}\n_cell_angle_gamma {gamma}\n{symmetry}\nloop_\n{columns}{rows}\n"
        )
    }

    fn read(text: &str) -> chem_graph::Result<Vec<Structure>> {
        parse_cif(text, "t.cif", &CifOptions::default())
    }

    const MONOCLINIC: [f64; 6] = [6.341, 16.88, 5.7798, 90.0, 97.6, 90.0];

    #[test]
    fn hall_symbols_in_cif_spellings_give_the_operations() {
        // COD 1000002's Sr site, general position of P 1 21/n 1: four atoms.
        let row = "Sr1 Sr 0.8786(5) 0.4184(2) 0.7385(6)";
        for hall in ["'-P 2yn'", "-P_2yn", "'-p 2YN'"] {
            let text = block(
                MONOCLINIC,
                &format!("_space_group_name_Hall {hall}"),
                "label type_symbol fract_x fract_y fract_z",
                row,
            );
            assert_eq!(read(&text).unwrap()[0].len(), 4, "{hall}");
        }
        // Hermann–Mauguin spellings of the same setting, and the number alone (P 1 21/c 1: four too).
        for hm in ["'P 1 21/n 1'", "P21/n", "'P 1 2_1/n 1'"] {
            let text = block(
                MONOCLINIC,
                &format!("_symmetry_space_group_name_H-M {hm}"),
                "label fract_x fract_y fract_z",
                row.replace(" Sr ", " ").as_str(),
            );
            assert_eq!(read(&text).unwrap()[0].len(), 4, "{hm}");
        }
    }

    #[test]
    fn contradictory_or_unknown_symbols_without_operations_are_errors() {
        let row = "Sr1 0.1 0.2 0.3";
        let both = "_symmetry_space_group_name_H-M 'P 1 21/c 1'\n_symmetry_space_group_name_Hall '-P 2yn'";
        let e = read(&block(MONOCLINIC, both, "label fract_x fract_y fract_z", row)).unwrap_err().to_string();
        assert!(e.starts_with("t.cif:9: data block 't': the Hall symbol '-P 2yn' (space group 14)"), "{e}");
        assert!(e.contains("name different settings"), "{e}");
        let unknown = "_symmetry_space_group_name_H-M 'Xmc21'";
        let e = read(&block(MONOCLINIC, unknown, "label fract_x fract_y fract_z", row)).unwrap_err().to_string();
        assert!(e.contains("space group 'Xmc21' is not a Hall or Hermann–Mauguin symbol"), "{e}");
        // With operations the symbol is not needed: Xmc21 files list theirs.
        let listed = format!("{unknown}\nloop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n-x,-y,z+1/2");
        assert_eq!(read(&block(MONOCLINIC, &listed, "label fract_x fract_y fract_z", row)).unwrap()[0].len(), 2);
    }

    #[test]
    fn rhombohedral_symbols_take_the_axes_of_the_cell() {
        let row = "Al1 0.1 0.1 0.1";
        let columns = "label fract_x fract_y fract_z";
        // Rhombohedral axes: R 3 has three operations, so (x, x, x) stays one atom.
        let rhombohedral = [5.0, 5.0, 5.0, 55.0, 55.0, 55.0];
        assert_eq!(
            read(&block(rhombohedral, "_symmetry_space_group_name_H-M 'R 3'", columns, row)).unwrap()[0].len(),
            1
        );
        // Hexagonal axes: the same site (3a, on the threefold axis) is (0, 0, z); the R centring makes
        // three.
        let axis_row = "Al1 0 0 0.1";
        let hexagonal = [5.0, 5.0, 13.0, 90.0, 90.0, 120.0];
        for symbol in ["'R 3'", "'R 3 :H'", "'R 3 H'"] {
            let text = block(hexagonal, &format!("_symmetry_space_group_name_H-M {symbol}"), columns, axis_row);
            assert_eq!(read(&text).unwrap()[0].len(), 3, "{symbol}");
        }
        // The number alone follows the cell too.
        assert_eq!(read(&block(rhombohedral, "_space_group_IT_number 146", columns, row)).unwrap()[0].len(), 1);
    }

    #[test]
    fn labels_in_capitals_and_missing_occupancies() {
        let cubic = [5.0, 5.0, 5.0, 90.0, 90.0, 90.0];
        let rows = "CO(1) 0 0 0 ?\nCA1 0.5 0.5 0.5 .\nOW1 0.5 0 0 1\nHC1 0 0.5 0 1";
        let s = &read(&block(cubic, "", "label fract_x fract_y fract_z occupancy", rows)).unwrap()[0];
        assert_eq!(s.numbers, vec![27, 20, 8, 1]);
        assert!(!s.atom_arrays.contains_key("occupancy"));
    }

    #[test]
    fn degenerate_cells_fail_fast_with_the_cell_named() {
        // Flat, collapsed or absurd cells: an error, quickly (pymatgen once looped for ever on one).
        let rows = "Fe1 0 0 0\nFe2 0.5 0.5 0.5";
        let columns = "label fract_x fract_y fract_z";
        for cell in [
            [5.0, 5.0, 5.0, 120.0, 120.0, 120.0],
            [5.0, 5.0, 5.0, 0.0, 90.0, 90.0],
            [5.0, 5.0, 5.0, 180.0, 90.0, 90.0],
            [1e-9, 5.0, 5.0, 90.0, 90.0, 90.0],
            [1e300, 1e300, 1e300, 90.0, 90.0, 90.0],
            [1.5, 3.8, 30.4, 20.6212921, 83.6156845, 62.9943924],
        ] {
            let start = std::time::Instant::now();
            let e = read(&block(cell, "", columns, rows)).unwrap_err().to_string();
            assert!(e.starts_with("t.cif:"), "{cell:?}: {e}");
            assert!(start.elapsed().as_secs_f64() < 1.0, "{cell:?}");
        }
        // A huge but sound cell is fine.
        assert_eq!(read(&block([1e4, 1e4, 1e4, 90.0, 90.0, 90.0], "", columns, rows)).unwrap()[0].len(), 2);
    }
}
