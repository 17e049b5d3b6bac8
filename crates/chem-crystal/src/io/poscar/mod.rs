//! VASP POSCAR / CONTCAR files: reader and writer.
//!
//! # Reading
//! Line by line: a comment (the structure's `name`, trimmed); the scale factor (positive: a
//! multiplier; negative: the cell volume in Å³; VASP 6's three positive factors scale the x, y, z
//! Cartesian components); three lattice vectors (rows, Å); the species line (VASP 5; POTCAR names
//! such as `Fe_pv` or `Si/…` are read as their element); the counts; an optional
//! `Selective dynamics` line (only the first letter, `s`/`S`, matters); `Direct` (first letter
//! `d`/`D`) or `Cartesian` (`c`/`C`/`k`/`K`); one coordinate line per atom, with three `T`/`F`
//! flags after the coordinates under selective dynamics (into the per-atom logical array
//! `"selective_dynamics"`, width 3). Further columns such as site labels are ignored, as is
//! everything after the coordinates that is separated by a blank line (velocities, predictor
//! data). Cartesian coordinates are scaled like the cell. Positions are not wrapped into the cell.
//!
//! VASP 4 files have no species line: the elements are then taken from the comment line when it
//! starts with exactly one element symbol per count (as ASE and pymatgen write it), otherwise the
//! file is refused with a request for the VASP 5 species line.
//!
//! Errors name the file and line: bad numbers, missing lines, unknown species, counts that do not
//! match the coordinate lines, a singular or left-handed cell (VASP needs a right-handed one), and
//! atoms closer than [`ReadOptions::min_distance`] (periodic distance).
//!
//! # Writing
//! VASP 5 with scale 1.0, `Direct` coordinates (not wrapped) and 16 decimals, so a structure reads
//! back to ~10⁻¹⁵. Atom order is kept: each run of consecutive atoms of one element is one
//! species block, so an element may appear twice in the species line (`Na Cl Na`, which VASP
//! accepts; the POTCAR must follow the same order). Sort the atoms first (e.g. with
//! [`Structure::permuted`]) to get one block per element. The comment line is the structure's name
//! (its formula when unnamed); `Selective dynamics` is written when the structure has a
//! `"selective_dynamics"` array. The element symbol follows each coordinate line as a label.

mod reader;
mod writer;

use std::io::Write;
use std::path::Path;

use chem_graph::Structure;

use crate::error::{Error, Result};
use crate::io::options::ReadOptions;

/// Reads the POSCAR/CONTCAR file at `path` (default [`ReadOptions`]); messages name it by `path`.
pub fn read_poscar(path: impl AsRef<Path>) -> Result<Structure> {
    read_poscar_with(path, &ReadOptions::default())
}

/// Reads the POSCAR/CONTCAR file at `path` with `options` (only `min_distance` applies).
pub fn read_poscar_with(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Structure> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    reader::parse(&String::from_utf8_lossy(&bytes), &path.display().to_string(), options)
}

/// Reads POSCAR `text` (default [`ReadOptions`]); `file_name` names it in error messages.
pub fn parse_poscar(text: &str, file_name: &str) -> Result<Structure> {
    reader::parse(text, file_name, &ReadOptions::default())
}

/// Reads POSCAR `text` with `options` (only `min_distance` applies).
pub fn parse_poscar_with(text: &str, file_name: &str, options: &ReadOptions) -> Result<Structure> {
    reader::parse(text, file_name, options)
}

/// Writes `structure` as a VASP 5 POSCAR to `w` (see the [module docs](self)). Errors unless the
/// structure is a crystal with a right-handed cell and at least one atom.
pub fn write_poscar<W: Write>(structure: &Structure, mut w: W) -> Result<()> {
    let text = writer::to_string(structure)?;
    w.write_all(text.as_bytes()).map_err(|e| Error::io("<POSCAR output>", e))
}

/// The POSCAR text [`write_poscar`] writes.
pub fn poscar_string(structure: &Structure) -> Result<String> {
    writer::to_string(structure)
}
