//! [`MatbenchDataset`]: a MatBench task file (`matbench_*.json.gz`, or plain `.json`).
//!
//! The file is a pandas "split" table, `{"index": [ids], "columns": ["structure", target],
//! "data": [[structure dict, target], …]}`, gzip-compressed or not (detected from the first bytes).
//! It is read as a stream: each structure dict is converted (in parallel chunks) as soon as it is
//! parsed, so a 130 000-structure task such as `matbench_mp_e_form` needs memory for the
//! structures only. Each structure gets `name` = its id and its target as a property named after
//! the target column: [`Property::Float`] for numbers, [`Property::Bool`] for logical values (e.g.
//! `is_metal`); [`MatbenchDataset::targets`] holds them as numbers (logical values as 0 and 1).
//! Errors name the file and the 0-based entry (row of `data`).

use std::io::Write;
use std::path::Path;

use chem_graph::{Property, Structure};
use flate2::write::GzEncoder;
use flate2::Compression;
use rayon::prelude::*;
use serde_json::{json, Value};

use super::json::{read_json, JsonContent, Target};
use super::options::ReadOptions;
use super::pymatgen::structure_to_dict;
use crate::error::{Error, Result};

/// A MatBench task: ids, structures and one target per structure.
#[derive(Debug, Clone, PartialEq)]
pub struct MatbenchDataset {
    /// The target column's name, e.g. `"e_form"` or `"is_metal"`.
    pub target_name: String,
    /// The ids from the table's index, e.g. `"mb-mp-e-form-000001"`.
    pub ids: Vec<String>,
    /// The structures, named by id, each with its target as a property.
    pub structures: Vec<Structure>,
    /// The targets as numbers (logical values as 0 and 1).
    pub targets: Vec<f64>,
}

impl MatbenchDataset {
    /// Reads a MatBench task file with the default [`ReadOptions`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        Self::read_with(path, &ReadOptions::default())
    }

    /// Reads a MatBench task file with `options` (see the [module docs](self)).
    pub fn read_with(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Self> {
        let path = path.as_ref();
        let file = path.display().to_string();
        match read_json(path, options)? {
            JsonContent::Table { index, columns, structures, targets } => {
                Self::assemble(&file, index, columns, structures, targets)
            }
            JsonContent::Structures(_) => Err(Error::parse(
                file,
                0,
                "not a MatBench table: expected {\"index\", \"columns\", \"data\"}, found structure dict(s)",
            )),
        }
    }

    /// Writes the table as MatBench ships it (see the [module docs](self)), gzip-compressed when
    /// the name ends in `.gz`; the file is replaced atomically. Each structure is written as its
    /// pymatgen dict without the target property.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let data = self
            .structures
            .par_iter()
            .zip(&self.targets)
            .map(|(s, &t)| {
                let mut s = s.clone();
                let target = match s.properties.remove(&self.target_name) {
                    Some(Property::Bool(b)) => json!(b),
                    _ => json!(t),
                };
                Ok(json!([structure_to_dict(&s)?, target]))
            })
            .collect::<Result<Vec<Value>>>()?;
        let table = json!({"index": self.ids, "columns": ["structure", self.target_name], "data": data});
        let text = serde_json::to_vec(&table).map_err(|e| Error::invalid(e.to_string()))?;
        let bytes = if path.to_string_lossy().to_lowercase().ends_with(".gz") {
            let mut gz = GzEncoder::new(Vec::new(), Compression::default());
            gz.write_all(&text).and_then(|()| gz.finish()).map_err(|e| Error::io(path, e))?
        } else {
            text
        };
        chem_graph::io::write_atomically(path, &bytes)
    }

    /// Number of structures.
    pub fn len(&self) -> usize {
        self.structures.len()
    }

    /// True for a table without rows.
    pub fn is_empty(&self) -> bool {
        self.structures.is_empty()
    }

    /// Names, ids and targets from the table parts.
    pub(crate) fn assemble(
        file: &str,
        index: Option<Value>,
        columns: Option<Value>,
        mut structures: Vec<Structure>,
        targets: Vec<Target>,
    ) -> Result<Self> {
        let err = |m: String| Error::parse(file, 0, m);
        let columns: Vec<String> = columns
            .and_then(|c| serde_json::from_value(c).ok())
            .ok_or_else(|| err("no \"columns\" list of two names".into()))?;
        let target_name = match columns.as_slice() {
            [a, b] if a == "structure" => b.clone(),
            [a, b] if b == "structure" => a.clone(),
            _ => return Err(err(format!("\"columns\" is {columns:?}: expected \"structure\" and one target column"))),
        };
        let ids: Vec<String> = match index {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            None => (0..structures.len()).map(|k| k.to_string()).collect(),
            Some(_) => return Err(err("\"index\" must be a list of ids".into())),
        };
        if ids.len() != structures.len() {
            return Err(err(format!("\"index\" has {} ids but \"data\" has {} rows", ids.len(), structures.len())));
        }
        let boolean = matches!(targets.first(), Some(Target::Bool(_)));
        let mut values = Vec::with_capacity(targets.len());
        for (k, ((s, id), t)) in structures.iter_mut().zip(&ids).zip(&targets).enumerate() {
            let (property, value) = match (t, boolean) {
                (Target::Number(x), false) => (Property::Float(*x), *x),
                (Target::Bool(b), true) => (Property::Bool(*b), f64::from(u8::from(*b))),
                _ => return Err(err(format!("entry {k}: the targets mix numbers and logical values"))),
            };
            s.name = id.clone();
            s.properties.insert(target_name.clone(), property);
            values.push(value);
        }
        Ok(MatbenchDataset { target_name, ids, structures, targets: values })
    }
}
