//! Reading structures from any supported file, with the format chosen from the file itself.

use std::path::Path;

use crate::error::{Error, Result};
use crate::qm9::{parse_qm9_xyz, Qm9Dataset};
use crate::structure::Structure;
use crate::xyz::read_xyz_str;

/// A file format [`read_structures`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// XYZ or extended XYZ (ASE dialect), one or many frames.
    Xyz,
    /// One original QM9 file (`dsgdb9nsd_NNNNNN.xyz`).
    Qm9Xyz,
    /// The QM9 archive `dsgdb9nsd.xyz.tar.bz2` (or an uncompressed `.tar`).
    Qm9Archive,
    /// qm9pack tables: the wheel, a directory of `qm9_part*.csv`, or one such CSV.
    Qm9Pack,
    /// A converted [`Qm9Dataset`] (`.safetensors`).
    Qm9Dataset,
}

impl Format {
    /// Guesses the format from the path and, for `.xyz` files, the second line.
    pub fn detect(path: &Path) -> Result<Format> {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        if path.is_dir() || name.ends_with(".whl") || name.ends_with(".csv") || name.ends_with(".zip") {
            return Ok(Format::Qm9Pack);
        }
        if name.ends_with(".tar.bz2") || name.ends_with(".tar") {
            return Ok(Format::Qm9Archive);
        }
        if name.ends_with(".safetensors") {
            return Ok(Format::Qm9Dataset);
        }
        if name.ends_with(".xyz") || name.ends_with(".extxyz") {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let second = text.lines().nth(1).unwrap_or("");
            return Ok(if second.starts_with("gdb ") { Format::Qm9Xyz } else { Format::Xyz });
        }
        Err(Error::parse(
            path.display().to_string(),
            0,
            "unknown file type (expected .xyz, .extxyz, .tar.bz2, .whl, .csv or .safetensors)",
        ))
    }
}

/// Reads every structure in `path` (format from [`Format::detect`]). QM9 sources carry the
/// 19 targets as properties (see [`Qm9Dataset::structure`]).
pub fn read_structures(path: impl AsRef<Path>) -> Result<Vec<Structure>> {
    let path = path.as_ref();
    let name = path.display().to_string();
    match Format::detect(path)? {
        Format::Xyz => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            read_xyz_str(&text, &name)
        }
        Format::Qm9Xyz => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let mol = parse_qm9_xyz(&text, &name)?;
            let d = Qm9Dataset::from_molecules(std::slice::from_ref(&mol), &name)?;
            // A single uncharacterized molecule is still what the user asked for.
            Ok(if d.is_empty() { vec![mol.to_structure()] } else { d.structures() })
        }
        Format::Qm9Archive | Format::Qm9Pack => Ok(Qm9Dataset::read_source(path)?.structures()),
        Format::Qm9Dataset => Ok(Qm9Dataset::load(path)?.structures()),
    }
}
