//! [`XyzFrames`]: reads XYZ / extended XYZ frame by frame.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::iter::FusedIterator;
use std::path::Path;

use super::header::{parse_bool, parse_header, parse_real, ColumnData, Kind, Role};
use crate::element;
use crate::error::shown;
use crate::error::{Error, Result};
use crate::structure::Structure;

/// An iterator over the frames of an XYZ stream, reading one frame at a time.
///
/// Yields `Ok(structure)` per frame; after the first error it yields that error and then ends.
#[derive(Debug)]
pub struct XyzFrames<R> {
    reader: R,
    file: String,
    line: usize,
    buf: Vec<u8>,
    done: bool,
}

impl XyzFrames<BufReader<File>> {
    /// Opens `path` for frame-by-frame reading; error messages name the file by `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(XyzFrames::new(BufReader::new(file), path.display().to_string()))
    }
}

impl<R: BufRead> XyzFrames<R> {
    /// Frames read from `reader`; `file` is the name used in error messages.
    pub fn new(reader: R, file: impl Into<String>) -> Self {
        XyzFrames { reader, file: file.into(), line: 0, buf: Vec::new(), done: false }
    }

    fn err(&self, line: usize, message: impl Into<String>) -> Error {
        Error::parse(self.file.clone(), line, message)
    }

    /// The next line without its line ending, or `None` at the end of the input.
    fn next_line(&mut self) -> Result<Option<String>> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| Error::io(&self.file, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        }
        match std::str::from_utf8(&self.buf) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(self.err(self.line, "the line is not valid UTF-8")),
        }
    }

    fn read_frame(&mut self) -> Result<Option<Structure>> {
        let count = loop {
            match self.next_line()? {
                None => return Ok(None),
                Some(l) if l.trim().is_empty() => continue,
                Some(l) => break l,
            }
        };
        let count_line = self.line;
        let n: usize = count.trim().parse().map_err(|_| {
            self.err(
                count_line,
                format!("expected the number of atoms (a non-negative integer), found '{}'", shown(&count)),
            )
        })?;
        let Some(comment) = self.next_line()? else {
            return Err(self.err(count_line, "the file ends after the atom count; expected a comment line"));
        };
        let comment_line = self.line;
        let header = parse_header(&comment).map_err(|m| self.err(comment_line, m))?;
        let total = header.columns.iter().map(|c| c.width).sum::<usize>();

        let mut numbers = Vec::new();
        let mut positions = Vec::new();
        let mut data: Vec<ColumnData> = header.columns.iter().map(|c| ColumnData::new(c.kind)).collect();
        for atom in 1..=n {
            let Some(text) = self.next_line()? else {
                return Err(self.err(
                    self.line,
                    format!(
                        "the file ends after {} of {n} atom lines of the frame starting at line {count_line} (truncated file?)",
                        atom - 1
                    ),
                ));
            };
            let line = self.line;
            let fields: Vec<&str> = text.split_whitespace().collect();
            if fields.is_empty() {
                return Err(
                    self.err(line, format!("blank line where atom {atom} of {n} was expected (truncated frame?)"))
                );
            }
            if fields.len() != total {
                return Err(self.err(
                    line,
                    format!(
                        "atom {atom}: expected {total} columns ({}), found {}",
                        header.spec.as_deref().unwrap_or("species x y z"),
                        fields.len()
                    ),
                ));
            }
            let mut first = 0;
            for (col, store) in header.columns.iter().zip(data.iter_mut()) {
                let values = &fields[first..first + col.width];
                let at = |j: usize, what: &str| {
                    let component =
                        if col.width > 1 { format!(", component {} of {}", j + 1, col.width) } else { String::new() };
                    self.err(
                        line,
                        format!(
                            "atom {atom}, column {} ('{}'{component}): {what}, found '{}'",
                            first + j + 1,
                            col.name,
                            shown(values[j])
                        ),
                    )
                };
                match col.role {
                    Role::Numbers => {
                        let v = values[0];
                        let z = match col.kind {
                            Kind::Int => v.parse::<u8>().ok().filter(|&z| element::by_number(z).is_some()),
                            _ => element::by_symbol(v)
                                .map(|e| e.z)
                                .or_else(|| v.parse::<u8>().ok().filter(|&z| element::by_number(z).is_some())),
                        };
                        numbers.push(
                            z.ok_or_else(|| self.err(line, format!("atom {atom}: unknown element '{}'", shown(v))))?,
                        );
                    }
                    Role::Positions => {
                        let mut p = [0.0; 3];
                        for (j, x) in p.iter_mut().enumerate() {
                            *x = parse_real(values[j]).ok_or_else(|| at(j, "expected a real number"))?;
                            if !x.is_finite() {
                                return Err(at(j, "expected a finite coordinate"));
                            }
                        }
                        positions.push(p);
                    }
                    Role::Array => {
                        for (j, v) in values.iter().enumerate() {
                            match store {
                                ColumnData::Real(d) => {
                                    d.push(parse_real(v).ok_or_else(|| at(j, "expected a real number"))?)
                                }
                                ColumnData::Int(d) => d.push(v.parse().map_err(|_| at(j, "expected an integer"))?),
                                ColumnData::Bool(d) => {
                                    d.push(parse_bool(v).ok_or_else(|| at(j, "expected a logical value (T or F)"))?)
                                }
                                ColumnData::Str(d) => d.push((*v).to_owned()),
                            }
                        }
                    }
                }
                first += col.width;
            }
        }

        let mut atom_arrays = BTreeMap::new();
        for (col, store) in header.columns.iter().zip(data) {
            if col.role == Role::Array {
                atom_arrays.insert(col.name.clone(), store.into_array(col.width));
            }
        }
        let s = Structure {
            name: header.name,
            numbers,
            positions,
            cell: header.cell,
            pbc: header.pbc,
            atom_arrays,
            properties: header.properties,
        };
        s.validate().map_err(|e| match e {
            Error::Invalid(m) => self.err(comment_line, m),
            other => other,
        })?;
        Ok(Some(s))
    }
}

impl<R: BufRead> Iterator for XyzFrames<R> {
    type Item = Result<Structure>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_frame() {
            Ok(Some(s)) => Some(Ok(s)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<R: BufRead> FusedIterator for XyzFrames<R> {}
