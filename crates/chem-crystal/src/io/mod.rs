//! Crystal files: CIF ([`cif`]), VASP POSCAR/CONTCAR ([`poscar`]), pymatgen structure JSON
//! ([`pymatgen`]), MatBench task tables ([`matbench`]) and the CSVs of the matminer 0.4.0 sdist
//! ([`matminer`]), plus [`read_crystals`] /
//! [`write_crystal`], which pick the format from the file name.
//!
//! # Conventions
//! * A crystal is a [`Structure`] with `cell: Some(rows)` (rows = cell vectors a, b, c in Å),
//!   Cartesian `positions` in Å and `pbc == [true; 3]`.
//! * Every reader returns only valid crystals: a right-handed, non-singular cell, known elements,
//!   finite coordinates, and no two atoms (or an atom and its own image) closer than
//!   [`ReadOptions::min_distance`] over periodic images. For up to 64 atoms with few images in
//!   reach all pairs and images are checked directly; larger structures go through chem-graph's
//!   cell-list [`radius_graph`](crate::radius_graph) with the minimum distance as cutoff (an edge
//!   is an overlap). Structures denser than 10 atoms per Å³ are refused outright.
//! * Partially occupied sites are an error unless [`PartialOccupancy::Majority`] is chosen (one
//!   policy for CIF and pymatgen sites).
//! * Per-atom extras use fixed names: `"oxidation_state"` (real), `"occupancy"` (real, after
//!   [`PartialOccupancy::Majority`]), `"selective_dynamics"` (logical, width 3).
//! * Errors name the file and line ([`Error::Parse`]) for text formats, and
//!   the file, 0-based entry or frame and site for JSON and XYZ input.

mod check;
pub mod cif;
mod json;
pub mod matbench;
pub mod matbench_splits;
pub mod matminer;
mod occupancy;
mod options;
pub mod poscar;
pub mod pymatgen;
mod species;

use std::path::Path;

use chem_graph::Structure;

use crate::error::{Error, Result};
use json::{read_json, JsonContent};

pub use cif::{cif_string, parse_cif, read_cif, read_cif_with, write_cif};
pub use matbench::MatbenchDataset;
pub use options::{CifOptions, PartialOccupancy, ReadOptions};
pub use poscar::{parse_poscar, parse_poscar_with, poscar_string, read_poscar, read_poscar_with, write_poscar};
pub use pymatgen::{structure_from_dict, structure_from_dict_with, structure_to_dict};

/// A crystal file format, as [`CrystalFormat::from_path`] recognises it by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrystalFormat {
    /// `*.cif`.
    Cif,
    /// `POSCAR*`, `CONTCAR*`, `*.vasp`, `*.poscar`.
    Poscar,
    /// `*.json`, `*.json.gz`: a MatBench table, a pymatgen structure dict, or a list of dicts.
    Json,
    /// `*.xyz`, `*.extxyz`: extended XYZ frames with a `Lattice`.
    Xyz,
}

impl CrystalFormat {
    /// The format of `path` from its file name (case-insensitive), if it is a known one.
    pub fn from_path(path: &Path) -> Option<CrystalFormat> {
        let name = path.file_name()?.to_string_lossy().to_lowercase();
        if name.ends_with(".cif") {
            Some(CrystalFormat::Cif)
        } else if name.starts_with("poscar")
            || name.starts_with("contcar")
            || name.ends_with(".vasp")
            || name.ends_with(".poscar")
        {
            Some(CrystalFormat::Poscar)
        } else if name.ends_with(".json") || name.ends_with(".json.gz") {
            Some(CrystalFormat::Json)
        } else if name.ends_with(".xyz") || name.ends_with(".extxyz") {
            Some(CrystalFormat::Xyz)
        } else {
            None
        }
    }

    fn of(path: &Path) -> Result<CrystalFormat> {
        CrystalFormat::from_path(path).ok_or_else(|| {
            Error::parse(
                path.display().to_string(),
                0,
                "unknown crystal file type (expected .cif, POSCAR*/CONTCAR*/.vasp/.poscar, .json/.json.gz, .xyz/.extxyz)",
            )
        })
    }
}

/// Reads every crystal in `path` with the default [`ReadOptions`] (format from the name, see
/// [`CrystalFormat`]).
pub fn read_crystals(path: impl AsRef<Path>) -> Result<Vec<Structure>> {
    read_crystals_with(path, &ReadOptions::default())
}

/// Reads every crystal in `path` with `options`. CIF gives one structure per data block, POSCAR
/// one, a MatBench table one per row (named by id, target as a property), a pymatgen dict one
/// (named by the file stem), a list of dicts one per entry (`<stem>:<k>`), and extended XYZ one per
/// frame, each of which must have a `Lattice` and be periodic along all three axes.
pub fn read_crystals_with(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Vec<Structure>> {
    let path = path.as_ref();
    let file = path.display().to_string();
    match CrystalFormat::of(path)? {
        CrystalFormat::Cif => read_cif_with(path, options),
        CrystalFormat::Poscar => read_poscar_with(path, options).map(|s| vec![s]),
        CrystalFormat::Json => match read_json(path, options)? {
            JsonContent::Table { index, columns, structures, targets } => {
                Ok(MatbenchDataset::assemble(&file, index, columns, structures, targets)?.structures)
            }
            JsonContent::Structures(mut structures) => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let stem = name.trim_end_matches(".gz").trim_end_matches(".json").to_owned();
                let single = structures.len() == 1;
                for (k, s) in structures.iter_mut().enumerate() {
                    s.name = if single { stem.clone() } else { format!("{stem}:{k}") };
                }
                Ok(structures)
            }
        },
        CrystalFormat::Xyz => {
            options.check()?;
            let frames = chem_graph::io::read_structures(path)?;
            for (k, s) in frames.iter().enumerate() {
                if s.cell.is_none() {
                    return Err(Error::invalid(format!(
                        "{file}: frame {k}: no Lattice=\"…\" in the comment line; a crystal needs a cell"
                    )));
                }
                check::check_crystal(s, options.min_distance, |i| format!("atom {i}"))
                    .map_err(|m| Error::invalid(format!("{file}: frame {k}: {m}")))?;
            }
            Ok(frames)
        }
    }
}

/// Writes `structure` to `path` as CIF, POSCAR or pymatgen JSON, chosen by the name (see
/// [`CrystalFormat`]; not gzip or XYZ). The file is replaced atomically.
pub fn write_crystal(path: impl AsRef<Path>, structure: &Structure) -> Result<()> {
    let path = path.as_ref();
    let lower = path.to_string_lossy().to_lowercase();
    let text = match CrystalFormat::of(path)? {
        CrystalFormat::Cif => cif_string(structure)?,
        CrystalFormat::Poscar => poscar_string(structure)?,
        CrystalFormat::Json if !lower.ends_with(".gz") => {
            let dict = structure_to_dict(structure)?;
            serde_json::to_string_pretty(&dict).map_err(|e| Error::invalid(e.to_string()))? + "\n"
        }
        _ => {
            return Err(Error::invalid(format!(
                "{}: write_crystal writes .cif, POSCAR/.vasp/.poscar and .json files only",
                path.display()
            )))
        }
    };
    chem_graph::io::write_atomically(path, text.as_bytes())
}
