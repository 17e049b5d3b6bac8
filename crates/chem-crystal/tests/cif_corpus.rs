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
//! * fractional coordinates: 2·10⁻⁴ (modulo 1). pymatgen snaps coordinates within 10⁻⁴ of a
//!   simple fraction (`0.3333` → 1/3) before applying the operations; we keep the file's digits,
//!   so an image built from two snapped coordinates (`x - y`) may differ by up to 2·10⁻⁴ (the corpus
//!   needs 10⁻⁴).
//!   Files give 4–6 decimals, so 2·10⁻⁴ still tells every pair of distinct atoms apart.

use chem_crystal::io::{read_cif, read_cif_with, CifOptions, PartialOccupancy};
use chem_crystal::Lattice;
use chem_graph::{Property, Structure};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/cif_corpus/");

/// Fractional-coordinate tolerance (see the module docs).
const FRACTIONAL: f64 = 2e-4;
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
    // A quoted string running over two lines is not CIF 1.1; pymatgen reads on with warnings.
    ("diffpy_LiCl-bad.cif", Relation::Error(&[":14:", "unterminated '…' string"])),
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
        for (s, block) in pairs {
            let name = format!("{file}:{}", block["block"].as_str().unwrap());
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
    assert_eq!((refused, compared), (3, files.len() - 3));
}
