//! Streaming reader for JSON crystal files (optionally gzip-compressed): a pandas "split" table
//! (MatBench), one pymatgen structure dict, or a list of them. Rows are converted to
//! [`Structure`]s while the file is read, in parallel chunks, so a table of 10⁵ structures never
//! exists as a whole JSON tree in memory.

use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use chem_graph::Structure;
use flate2::read::MultiGzDecoder;
use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::options::ReadOptions;
use super::pymatgen::structure_from_dict_with;
use crate::error::{Error, Result};

/// Rows converted per parallel chunk.
const CHUNK: usize = 512;

/// A target value of a table row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Target {
    /// A number.
    Number(f64),
    /// A logical value.
    Bool(bool),
}

/// What a JSON crystal file holds.
#[derive(Debug)]
pub(crate) enum JsonContent {
    /// A pandas "split" table: `index` and `columns` as found (if present), the structures and the
    /// other value of each `data` row.
    Table { index: Option<Value>, columns: Option<Value>, structures: Vec<Structure>, targets: Vec<Target> },
    /// One structure dict or a list of them.
    Structures(Vec<Structure>),
}

/// Reads `path` (gzip detected from its first bytes); `file` names it in messages.
pub(crate) fn read_json(path: &Path, options: &ReadOptions) -> Result<JsonContent> {
    options.check()?;
    let file = path.display().to_string();
    let raw = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buffered = BufReader::with_capacity(1 << 16, raw);
    let head = buffered.fill_buf().map_err(|e| Error::io(path, e))?;
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(buffered)))
    } else {
        Box::new(buffered)
    };
    parse_json(reader, &file, options)
}

/// Reads JSON from `reader`; `file` names it in messages.
pub(crate) fn parse_json<R: Read>(reader: R, file: &str, options: &ReadOptions) -> Result<JsonContent> {
    let ctx = Ctx { file, options, error: RefCell::new(None) };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = TopSeed { ctx: &ctx }.deserialize(&mut de).and_then(|content| de.end().map(|()| content));
    match (result, ctx.error.into_inner()) {
        (_, Some(e)) => Err(e),
        (Ok(content), None) => Ok(content),
        (Err(e), None) if e.is_io() => Err(Error::parse(file, e.line(), format!("cannot read: {e}"))),
        (Err(e), None) => Err(Error::parse(file, e.line(), with_hint(&e))),
    }
}

/// `e`'s message, with the likely cause of an unexpected token: Python's `json` writes missing
/// values as `NaN`, which JSON does not have.
fn with_hint(e: &serde_json::Error) -> String {
    let message = e.to_string();
    if e.is_syntax() && message.starts_with("expected value") {
        format!("{message} (NaN and Infinity, as Python's json module writes them, are not JSON: write null)")
    } else {
        message
    }
}

/// What every visitor needs: the file name, the options, and the first conversion error.
struct Ctx<'a> {
    file: &'a str,
    options: &'a ReadOptions,
    error: RefCell<Option<Error>>,
}

impl Ctx<'_> {
    /// Converts `dicts` (entries `base`, `base + 1`, …) in parallel; on failure stores the error of
    /// the lowest entry and returns a serde error that stops the parser.
    fn convert<E: de::Error>(&self, dicts: &[Value], base: usize, out: &mut Vec<Structure>) -> Result<(), E> {
        let (file, options) = (self.file, self.options);
        let results: Vec<Result<Structure>> = dicts
            .par_iter()
            .enumerate()
            .map(|(k, d)| structure_from_dict_with(d, &format!("{file}: entry {}", base + k), options))
            .collect();
        for r in results {
            match r {
                Ok(s) => out.push(s),
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(())
    }

    fn fail<E: de::Error>(&self, e: Error) -> E {
        let message = e.to_string();
        self.error.borrow_mut().get_or_insert(e);
        E::custom(message)
    }
}

struct TopSeed<'c, 'a> {
    ctx: &'c Ctx<'a>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_> {
    type Value = JsonContent;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<JsonContent, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_> {
    type Value = JsonContent;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a MatBench table, a pymatgen structure dict, or a list of structure dicts")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonContent, A::Error> {
        let mut rows = None;
        let mut other = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "data" {
                rows = Some(map.next_value_seed(RowsSeed { ctx: self.ctx })?);
            } else {
                other.insert(key, map.next_value::<Value>()?);
            }
        }
        match rows {
            Some((structures, targets)) => Ok(JsonContent::Table {
                index: other.remove("index"),
                columns: other.remove("columns"),
                structures,
                targets,
            }),
            None => {
                let dict = Value::Object(other);
                let s =
                    structure_from_dict_with(&dict, self.ctx.file, self.ctx.options).map_err(|e| self.ctx.fail(e))?;
                Ok(JsonContent::Structures(vec![s]))
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonContent, A::Error> {
        let mut out = Vec::new();
        let mut chunk = Vec::with_capacity(CHUNK);
        while let Some(dict) = seq.next_element::<Value>()? {
            chunk.push(dict);
            if chunk.len() == CHUNK {
                self.ctx.convert(&chunk, out.len(), &mut out)?;
                chunk.clear();
            }
        }
        self.ctx.convert(&chunk, out.len(), &mut out)?;
        Ok(JsonContent::Structures(out))
    }
}

/// The `data` rows of a table: `[structure dict, target]` (either order).
struct RowsSeed<'c, 'a> {
    ctx: &'c Ctx<'a>,
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = (Vec<Structure>, Vec<Target>);

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = (Vec<Structure>, Vec<Target>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of [structure dict, target] rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut structures = Vec::new();
        let mut targets = Vec::new();
        let mut chunk = Vec::with_capacity(CHUNK);
        while let Some(row) = seq.next_element::<Value>()? {
            let entry = targets.len();
            let origin = format!("{}: entry {entry}", self.ctx.file);
            let Value::Array(mut items) = row else {
                return Err(self.ctx.fail(Error::invalid(format!("{origin}: expected a [structure, target] row"))));
            };
            let position = items.iter().position(Value::is_object).filter(|_| items.len() == 2).ok_or_else(|| {
                self.ctx.fail::<A::Error>(Error::invalid(format!(
                    "{origin}: expected a [structure dict, target] row, found {} value(s) without exactly one dict \
                     (composition-only tables such as matbench_expt_gap hold no structures)",
                    items.len()
                )))
            })?;
            let target = match &items[1 - position] {
                Value::Bool(b) => Target::Bool(*b),
                v => Target::Number(v.as_f64().ok_or_else(|| {
                    self.ctx.fail::<A::Error>(Error::invalid(format!(
                        "{origin}: the target must be a number or a logical value, found {}",
                        chem_graph::error::shown(&v.to_string())
                    )))
                })?),
            };
            targets.push(target);
            chunk.push(items.swap_remove(position));
            if chunk.len() == CHUNK {
                self.ctx.convert(&chunk, structures.len(), &mut structures)?;
                chunk.clear();
            }
        }
        self.ctx.convert(&chunk, structures.len(), &mut structures)?;
        Ok((structures, targets))
    }
}
