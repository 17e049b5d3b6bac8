//! The four Materials Project sets bundled in the `matminer==0.4.0` source distribution
//! (`matminer/datasets/*.csv`; MP data CC-BY 4.0, matminer BSD): [`MATMINER_SETS`], read with
//! [`MatminerTable::parse`], and fetched and converted to MatBench-style tables by
//! [`fetch_matminer`].
//!
//! # The CSV files
//! * Lines starting with `#` outside a quoted field are comments (the first line is the reference).
//! * Fields are quoted where they hold commas, quotes or line breaks (CIFs, POSCARs, tensors).
//! * The dielectric and piezoelectric headers are one name short: their rows start with an unnamed
//!   pandas index, which is skipped (any row with one field more than the header is read so).
//! * `flla_2015.csv` stores each structure as pymatgen's `Structure.as_dict()` written as a Python
//!   literal (single quotes, `True`, `None`), converted here to JSON and read by
//!   [`structure_from_dict_with`]. The other three are
//!   read from their `poscar` column, as matminer's own loaders do (their `structure` column is a
//!   CIF).
//!
//! Each structure is named by its `material_id` and gets every target column of its set as a
//! [`Property::Float`]. Errors name the file, the line where the row starts, the column and the
//! material id.

mod fetch;
mod pyliteral;

use std::path::Path;

use chem_graph::{Property, Structure};
use rayon::prelude::*;

use super::matbench::MatbenchDataset;
use super::options::ReadOptions;
use super::poscar::parse_poscar_with;
use super::pymatgen::structure_from_dict_with;
use crate::error::{Error, Result};
pub use fetch::{default_cache_dir, fetch_matminer, FetchedTable, SDIST_NAME};

/// Where a set keeps its structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructureColumn {
    /// `structure`: a pymatgen structure dict as a Python literal.
    PythonDict,
    /// `poscar`: a VASP 5 POSCAR.
    Poscar,
}

impl StructureColumn {
    /// The column's name in the CSV header.
    pub fn name(self) -> &'static str {
        match self {
            StructureColumn::PythonDict => "structure",
            StructureColumn::Poscar => "poscar",
        }
    }
}

/// One of the four CSV files of the sdist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatminerSet {
    /// The file stem, e.g. `"flla_2015"` (the CSV is `<name>.csv`, the main table `<name>.json.gz`).
    pub name: &'static str,
    /// SHA-256 of the CSV as shipped in `matminer-0.4.0.tar.gz` (lower-case hex).
    pub sha256: &'static str,
    /// The column the structures are read from.
    pub structure: StructureColumn,
    /// The target columns; the first is the main target.
    pub targets: &'static [&'static str],
    /// The number of rows (structures) in the shipped file.
    pub rows: usize,
}

/// The four sets: formation energies (FLLA 2015), elastic moduli, dielectric constants and
/// piezoelectric moduli.
pub const MATMINER_SETS: [MatminerSet; 4] = [
    MatminerSet {
        name: "flla_2015",
        sha256: "35b8dbc0b92f4dc7e219fd6606c3a27bee18a9618f376cfee1ff731e306210bb",
        structure: StructureColumn::PythonDict,
        targets: &["formation_energy_per_atom", "e_above_hull"],
        rows: 3938,
    },
    MatminerSet {
        name: "elastic_tensor",
        sha256: "f7a18c91fe5dcd51012e5b7e3a37f73aaee9087a036d61bdf9d6464b6fca51a6",
        structure: StructureColumn::Poscar,
        targets: &["K_VRH", "G_VRH"],
        rows: 1181,
    },
    MatminerSet {
        name: "dielectric_constant",
        sha256: "ecbd410d33c95d5b05822cff6c7c0ba809a024b4ede3855ec5efc48d5e29ea77",
        structure: StructureColumn::Poscar,
        targets: &["n", "band_gap"],
        rows: 1056,
    },
    MatminerSet {
        name: "piezoelectric_tensor",
        sha256: "4be45c8df76a9600f789255ddcb05a92fc3807e0b96fd01e85713a58c34a2ae1",
        structure: StructureColumn::Poscar,
        targets: &["eij_max"],
        rows: 941,
    },
];

impl MatminerSet {
    /// The MatBench-style table file of `target`: `<name>.json.gz` for the main target,
    /// `<name>_<target>.json.gz` for the others.
    pub fn table_file(&self, target: &str) -> String {
        if self.targets.first() == Some(&target) {
            format!("{}.json.gz", self.name)
        } else {
            format!("{}_{target}.json.gz", self.name)
        }
    }
}

/// The structures of one CSV file, each named by its material id with every target as a property.
#[derive(Debug, Clone, PartialEq)]
pub struct MatminerTable {
    /// The set the file belongs to.
    pub set: MatminerSet,
    /// The structures in file order, named by `material_id` (e.g. `"mp-10"`).
    pub structures: Vec<Structure>,
}

/// One CSV row before its structure is converted.
struct Row {
    line: usize,
    id: String,
    text: String,
    targets: Vec<f64>,
}

impl MatminerTable {
    /// Reads the CSV file at `path` as `set`.
    pub fn read(set: MatminerSet, path: impl AsRef<Path>, options: &ReadOptions) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(set, &bytes, &path.display().to_string(), options)
    }

    /// Parses the CSV text `bytes` of `set` (see the [module docs](self)); `file` names it in errors.
    pub fn parse(set: MatminerSet, bytes: &[u8], file: &str, options: &ReadOptions) -> Result<Self> {
        options.check()?;
        let csv_error = |e: csv::Error| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            let message = match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "the text is not valid UTF-8".to_string(),
                _ => format!("malformed CSV ({e})"),
            };
            Error::parse(file, line, message)
        };
        let mut reader =
            csv::ReaderBuilder::new().comment(Some(b'#')).flexible(true).has_headers(true).from_reader(bytes);
        let header = reader.headers().map_err(csv_error)?.clone();
        let header_line = start_line(bytes, header.position());
        if header.is_empty() || header.iter().all(str::is_empty) {
            return Err(Error::parse(file, header_line, "no header line"));
        }
        let column = |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                Error::parse(file, header_line, format!("the header has no \"{name}\" column (set {})", set.name))
            })
        };
        let id_column = column("material_id")?;
        let structure_column = column(set.structure.name())?;
        let target_columns = set.targets.iter().map(|t| column(t)).collect::<Result<Vec<_>>>()?;

        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(csv_error)?;
            let line = start_line(bytes, record.position());
            let skip = match record.len() {
                n if n == header.len() => 0,
                n if n == header.len() + 1 => 1,
                n => {
                    return Err(Error::parse(
                        file,
                        line,
                        format!("the row has {n} fields but the header names {}", header.len()),
                    ))
                }
            };
            let field = |k: usize| record.get(k + skip).unwrap_or_default();
            let id = field(id_column).trim().to_string();
            if id.is_empty() {
                return Err(Error::parse(file, line, "the \"material_id\" column is empty"));
            }
            let targets = set
                .targets
                .iter()
                .zip(&target_columns)
                .map(|(name, &k)| {
                    let text = field(k).trim();
                    text.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                        Error::parse(
                            file,
                            line,
                            format!(
                                "column \"{name}\" ({id}): \"{}\" is not a finite number",
                                chem_graph::error::shown(text)
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            rows.push(Row { line, id, text: field(structure_column).to_string(), targets });
        }
        let mut structures = rows.par_iter().map(|row| convert(set, row, file, options)).collect::<Result<Vec<_>>>()?;
        for (s, row) in structures.iter_mut().zip(&rows) {
            for (name, &value) in set.targets.iter().zip(&row.targets) {
                s.properties.insert((*name).to_string(), Property::Float(value));
            }
        }
        Ok(MatminerTable { set, structures })
    }

    /// The MatBench-style dataset of one target column: ids, structures (with only that target as
    /// a property) and values. Errors for a name that is not a target of the set.
    pub fn matbench(&self, target: &str) -> Result<MatbenchDataset> {
        if !self.set.targets.contains(&target) {
            return Err(Error::invalid(format!(
                "\"{target}\" is not a target of {} (its targets: {})",
                self.set.name,
                self.set.targets.join(", ")
            )));
        }
        let mut values = Vec::with_capacity(self.structures.len());
        let structures: Vec<Structure> = self
            .structures
            .iter()
            .map(|s| {
                let mut s = s.clone();
                s.properties.retain(|k, _| k == target);
                values.push(s.property_f64(target).unwrap_or(f64::NAN));
                s
            })
            .collect();
        Ok(MatbenchDataset {
            target_name: target.to_string(),
            ids: structures.iter().map(|s| s.name.clone()).collect(),
            structures,
            targets: values,
        })
    }
}

/// The line where a record starts: the csv crate reports the position before the comment lines it
/// skipped, so those are skipped here too.
fn start_line(bytes: &[u8], position: Option<&csv::Position>) -> usize {
    let Some(p) = position else { return 0 };
    let (mut at, mut line) = (p.byte() as usize, p.line() as usize);
    while bytes.get(at) == Some(&b'#') {
        match bytes[at..].iter().position(|&b| b == b'\n') {
            Some(end) => {
                at += end + 1;
                line += 1;
            }
            None => break,
        }
    }
    line
}

/// The structure of one row, named by its id.
fn convert(set: MatminerSet, row: &Row, file: &str, options: &ReadOptions) -> Result<Structure> {
    let column = set.structure.name();
    let at = |message: String| Error::parse(file, row.line, format!("column \"{column}\" ({}): {message}", row.id));
    let mut s = match set.structure {
        StructureColumn::PythonDict => {
            let dict = pyliteral::parse_python_literal(&row.text).map_err(at)?;
            structure_from_dict_with(&dict, "", options)
                .map_err(|e| at(e.to_string().trim_start_matches(": ").into()))?
        }
        StructureColumn::Poscar => parse_poscar_with(&row.text, "", options).map_err(|e| {
            at(match e {
                Error::Parse { location, message } => format!("POSCAR line {}: {message}", location.line),
                other => other.to_string(),
            })
        })?,
    };
    s.name.clone_from(&row.id);
    Ok(s)
}

#[cfg(test)]
mod tests;
