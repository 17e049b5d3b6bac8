//! Plain XYZ and extended XYZ (ASE's dialect): readers and writers.
//!
//! # Reading
//! A file is a sequence of frames: a line with the atom count, a comment line, then one line per
//! atom. Blank lines between frames and at the end of the file are skipped.
//!
//! * **Plain XYZ** — a comment line without `=`: the trimmed comment becomes [`Structure::name`]
//!   and every atom line must be `Symbol x y z`.
//! * **Extended XYZ** — a comment line with `=` is read as ASE's `key=value` list. Values are bare,
//!   `"double quoted"` (backslash escapes the next character, anywhere), or `{curly}` / `[bracket]`
//!   arrays (nesting is flattened, commas and spaces separate items); `key = value` is accepted and
//!   a key without `=` is a flag (`Bool(true)`). Special keys, case-insensitive:
//!   `Lattice="a1 a2 a3 b1 b2 b3 c1 c2 c3"` gives the cell rows; `pbc="T T F"` the periodicity
//!   (with a `Lattice` but no `pbc`, all three directions are periodic, as in ASE);
//!   `Properties=name:type:count:…` (types `S`, `R`, `I`, `L`; default `species:S:1:pos:R:3`)
//!   describes the atom columns. `species` (symbols, case-insensitive, or atomic numbers), or
//!   `Z:I:1` when there is no `species`, gives [`Structure::numbers`]; `pos:R:3` the positions;
//!   every other column becomes an [`AtomArray`] under its own name (no ASE renaming such as
//!   `charge` → `charges`).
//! * The `name` key (case-sensitive) gives [`Structure::name`] from its raw text, never
//!   type-converted, and is not kept in `properties`; a frame without it has an empty name. Every
//!   other key (including `comment`) becomes a [`Property`] in [`Structure::properties`], typed like
//!   ASE does it: an integer → `Int`, a real (Fortran `1.5d-3` accepted) → `Float`,
//!   `T`/`F`/`True`/`False` (any case) → `Bool`, several of one kind (space- or comma-separated)
//!   → `IntArray` / `FloatArray` (when any is not an integer) / `BoolArray`; anything else →
//!   `Str`. A `[bracketed]` or `{braced}` value is always an array, even with one item (or none:
//!   `[]` is an empty `IntArray`). Multi-value tensors such as `stress` stay flat, in file order.
//!
//! Every problem is an [`Error::Parse`] naming the file and the 1-based line.
//!
//! # Writing
//! [`write_extxyz`] writes everything a [`Structure`] holds so that reading it back gives an equal
//! structure: reals are written with Rust's shortest round-trip formatting (always with a `.` or an
//! exponent, so a real never reads back as an integer), strings are quoted and escaped when needed,
//! `Lattice` and `pbc` appear when there is a cell (`pbc="F F F"` otherwise, as ASE writes), and the
//! `Properties` columns are `species:S:1:pos:R:3` followed by the atom arrays in name order. Arrays
//! of two or more items are written ASE-style (`"1 2 3"`), shorter ones as `[x]` / `[]`.
//! Limits of the format (checked, reported as [`Error::Invalid`]): strings cannot contain line
//! breaks, per-atom strings must be non-empty without whitespace, keys and column names must be
//! plain words and not clash with the special keys (or `name`, `species`, `pos`). Not preserved:
//! a `Str` property whose text reads as a number, a logical value or a list of them (e.g. `"42"`,
//! `"T"`; ASE has the same ambiguity), and the element type of an empty array.
//!
//! [`write_xyz`] writes plain XYZ: count, name, `Symbol x y z` (cell, arrays and properties are
//! dropped; a name containing `=` would read back as extended XYZ).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::iter::{FusedIterator, Peekable};
use std::path::Path;
use std::str::Chars;

use crate::element;
use crate::error::{Error, Result};
use crate::structure::{AtomArray, Cell, Property, Structure};

/// Reads every frame of a (plain or extended) XYZ file; error messages name the file by `path`.
pub fn read_xyz_file(path: impl AsRef<Path>) -> Result<Vec<Structure>> {
    XyzFrames::open(path)?.collect()
}

/// Reads every frame of XYZ text; `file` is the name used in error messages.
pub fn read_xyz_str(text: &str, file: &str) -> Result<Vec<Structure>> {
    read_xyz(text.as_bytes(), file)
}

/// Reads every frame from `reader`; `file` is the name used in error messages.
pub fn read_xyz<R: BufRead>(reader: R, file: &str) -> Result<Vec<Structure>> {
    XyzFrames::new(reader, file).collect()
}

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

/// Writes `structures` as plain XYZ: atom count, name, then `Symbol x y z` per atom.
pub fn write_xyz<W: Write>(w: W, structures: &[Structure]) -> Result<()> {
    write_frames(w, structures, false, "<output>")
}

/// Writes `structures` as extended XYZ (ASE's dialect), losslessly (see the [module docs](self)).
pub fn write_extxyz<W: Write>(w: W, structures: &[Structure]) -> Result<()> {
    write_frames(w, structures, true, "<output>")
}

/// Creates (or truncates) `path` and writes `structures` to it as plain XYZ.
pub fn write_xyz_file(path: impl AsRef<Path>, structures: &[Structure]) -> Result<()> {
    write_file(path.as_ref(), structures, false)
}

/// Creates (or truncates) `path` and writes `structures` to it as extended XYZ.
pub fn write_extxyz_file(path: impl AsRef<Path>, structures: &[Structure]) -> Result<()> {
    write_file(path.as_ref(), structures, true)
}

// ---------------------------------------------------------------------------------------------
// Comment line

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Str,
    Real,
    Int,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Numbers,
    Positions,
    Array,
}

#[derive(Debug)]
struct Column {
    name: String,
    kind: Kind,
    width: usize,
    role: Role,
}

enum ColumnData {
    Real(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

impl ColumnData {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Real => ColumnData::Real(Vec::new()),
            Kind::Int => ColumnData::Int(Vec::new()),
            Kind::Bool => ColumnData::Bool(Vec::new()),
            Kind::Str => ColumnData::Str(Vec::new()),
        }
    }

    fn into_array(self, width: usize) -> AtomArray {
        match self {
            ColumnData::Real(data) => AtomArray::Real { width, data },
            ColumnData::Int(data) => AtomArray::Int { width, data },
            ColumnData::Bool(data) => AtomArray::Bool { width, data },
            ColumnData::Str(data) => AtomArray::Str { width, data },
        }
    }
}

/// What the comment line says about a frame.
#[derive(Debug)]
struct Header {
    name: String,
    cell: Option<Cell>,
    pbc: [bool; 3],
    properties: BTreeMap<String, Property>,
    columns: Vec<Column>,
    /// The `Properties` value, when given (for messages).
    spec: Option<String>,
}

/// A value from the comment line, unquoted and unescaped.
#[derive(Debug, Clone, PartialEq)]
struct Value {
    text: String,
    /// The whole value was one `[…]` or `{…}` group (its delimiters removed).
    bracketed: bool,
}

const DEFAULT_SPEC: &str = "species:S:1:pos:R:3";

fn parse_header(comment: &str) -> Result<Header, String> {
    if !comment.contains('=') {
        return Ok(Header {
            name: comment.trim().to_owned(),
            cell: None,
            pbc: [false; 3],
            properties: BTreeMap::new(),
            columns: parse_columns(DEFAULT_SPEC)?,
            spec: None,
        });
    }
    let mut lattice = None;
    let mut pbc = None;
    let mut spec = None;
    let mut name = String::new();
    let mut properties = BTreeMap::new();
    for (key, value) in tokenize(comment)? {
        let special = ["Lattice", "pbc", "Properties"].into_iter().find(|s| s.eq_ignore_ascii_case(&key));
        match (special, value) {
            (Some(s), None) => return Err(format!("'{key}' needs a value ({s}=…)")),
            (Some("Lattice"), Some(v)) => lattice = Some(v.text),
            (Some("pbc"), Some(v)) => pbc = Some(v.text),
            (Some(_), Some(v)) => spec = Some(v.text),
            (None, Some(v)) if key == "name" => name = v.text,
            (None, v) => {
                properties.insert(key, v.map_or(Property::Bool(true), parse_value));
            }
        }
    }
    let cell = match &lattice {
        Some(text) => {
            let items = split_items(text, true);
            let values: Option<Vec<f64>> = items.iter().map(|t| parse_real(t).filter(|x| x.is_finite())).collect();
            match values {
                Some(v) if v.len() == 9 => Some([[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]]),
                _ => {
                    return Err(format!(
                        "malformed Lattice: expected 9 finite numbers (the cell vectors a, b, c), found '{}'",
                        shown(text)
                    ))
                }
            }
        }
        None => None,
    };
    let pbc = match &pbc {
        Some(text) => {
            let flags: Option<Vec<bool>> = split_items(text, true).iter().map(|t| parse_bool(t)).collect();
            match flags {
                Some(f) if f.len() == 3 => [f[0], f[1], f[2]],
                _ => {
                    return Err(format!(
                        "malformed pbc: expected 3 logical values such as \"T T F\", found '{}'",
                        shown(text)
                    ))
                }
            }
        }
        None => [lattice.is_some(); 3],
    };
    let columns = parse_columns(spec.as_deref().unwrap_or(DEFAULT_SPEC))?;
    Ok(Header { name, cell, pbc, properties, columns, spec })
}

/// Parses a `Properties` value such as `species:S:1:pos:R:3:forces:R:3`.
fn parse_columns(spec: &str) -> Result<Vec<Column>, String> {
    let bad = |why: String| format!("malformed Properties '{}': {why}", shown(spec));
    let fields: Vec<&str> = spec.split(':').collect();
    if fields.len() % 3 != 0 {
        return Err(bad("expected name:type:count triples".into()));
    }
    let mut columns: Vec<Column> = Vec::new();
    let mut total = 0usize;
    for f in fields.chunks(3) {
        let name = f[0].to_owned();
        if name.is_empty() {
            return Err(bad("a column has an empty name".into()));
        }
        if columns.iter().any(|c| c.name == name) {
            return Err(bad(format!("column '{name}' appears twice")));
        }
        let kind = match f[1] {
            "S" | "s" => Kind::Str,
            "R" | "r" => Kind::Real,
            "I" | "i" => Kind::Int,
            "L" | "l" => Kind::Bool,
            other => return Err(bad(format!("column '{name}' has unknown type '{other}' (expected S, R, I or L)"))),
        };
        let width = f[2]
            .parse::<usize>()
            .ok()
            .filter(|&w| w > 0)
            .ok_or_else(|| bad(format!("column '{name}' has count '{}' (expected a positive integer)", f[2])))?;
        total = total.checked_add(width).ok_or_else(|| bad("too many columns".into()))?;
        columns.push(Column { name, kind, width, role: Role::Array });
    }
    let pos = columns.iter().position(|c| c.name == "pos").ok_or_else(|| bad("there is no pos:R:3 column".into()))?;
    if columns[pos].kind != Kind::Real || columns[pos].width != 3 {
        return Err(bad("the pos column must be pos:R:3".into()));
    }
    columns[pos].role = Role::Positions;
    let numbers = match columns.iter().position(|c| c.name == "species") {
        Some(i) if columns[i].width == 1 && matches!(columns[i].kind, Kind::Str | Kind::Int) => i,
        Some(_) => return Err(bad("the species column must be species:S:1".into())),
        None => columns
            .iter()
            .position(|c| c.name == "Z" && c.kind == Kind::Int && c.width == 1)
            .ok_or_else(|| bad("there is neither a species:S:1 nor a Z:I:1 column".into()))?,
    };
    columns[numbers].role = Role::Numbers;
    Ok(columns)
}

/// Splits a comment line into `(key, value)` pairs like ASE's `key_val_str_to_dict`.
fn tokenize(line: &str) -> Result<Vec<(String, Option<Value>)>, String> {
    fn skip_ws(chars: &mut Peekable<Chars<'_>>) {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
    }
    let mut chars = line.chars().peekable();
    let mut pairs = Vec::new();
    loop {
        skip_ws(&mut chars);
        match chars.peek() {
            None => break,
            Some('=') => return Err("'=' without a key before it".into()),
            Some(_) => {}
        }
        let key = read_token(&mut chars, true)?.text;
        skip_ws(&mut chars);
        if chars.next_if_eq(&'=').is_some() {
            skip_ws(&mut chars);
            let value = read_token(&mut chars, false)?;
            pairs.push((key, Some(value)));
        } else {
            pairs.push((key, None));
        }
    }
    Ok(pairs)
}

/// Reads one key (stopping at `=`) or value, removing quotes, escapes and brackets.
fn read_token(chars: &mut Peekable<Chars<'_>>, is_key: bool) -> Result<Value, String> {
    let mut text = String::new();
    let mut bracketed = false;
    let mut started = false;
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || (is_key && c == '=') {
            break;
        }
        chars.next();
        bracketed = false;
        match c {
            '\\' => text.extend(chars.next()),
            '"' => loop {
                match chars.next() {
                    None => return Err("unterminated '\"' (a quoted value has no closing quote)".into()),
                    Some('\\') => text.extend(chars.next()),
                    Some('"') => break,
                    Some(ch) => text.push(ch),
                }
            },
            '[' | '{' => {
                let close = if c == '[' { ']' } else { '}' };
                let mut depth = 1;
                loop {
                    match chars.next() {
                        None => return Err(format!("unterminated '{c}' (no closing '{close}')")),
                        Some('\\') => text.extend(chars.next()),
                        Some(ch) if ch == close => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            text.push(ch);
                        }
                        Some(ch) => {
                            if ch == c {
                                depth += 1;
                            }
                            text.push(ch);
                        }
                    }
                }
                bracketed = !started;
            }
            _ => text.push(c),
        }
        started = true;
    }
    Ok(Value { text, bracketed })
}

/// The items of an array value: split at whitespace and commas (and brackets, inside a bracketed value).
fn split_items(text: &str, bracketed: bool) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',' || (bracketed && matches!(c, '[' | ']' | '{' | '}')))
        .filter(|t| !t.is_empty())
        .collect()
}

/// Types a `key=value` value like ASE: integers, then reals, then logicals, else a string.
fn parse_value(v: Value) -> Property {
    let items = split_items(&v.text, v.bracketed);
    if items.is_empty() {
        return if v.bracketed { Property::IntArray(Vec::new()) } else { Property::Str(v.text) };
    }
    let scalar = items.len() == 1 && !v.bracketed;
    if let Some(ints) = items.iter().map(|t| t.parse::<i64>().ok()).collect::<Option<Vec<_>>>() {
        return if scalar { Property::Int(ints[0]) } else { Property::IntArray(ints) };
    }
    if let Some(reals) = items.iter().map(|t| parse_real(t)).collect::<Option<Vec<_>>>() {
        return if scalar { Property::Float(reals[0]) } else { Property::FloatArray(reals) };
    }
    if let Some(flags) = items.iter().map(|t| parse_bool(t)).collect::<Option<Vec<_>>>() {
        return if scalar { Property::Bool(flags[0]) } else { Property::BoolArray(flags) };
    }
    Property::Str(v.text)
}

/// A real number, also in Fortran notation (`1.5d-3`, `2D0`).
fn parse_real(t: &str) -> Option<f64> {
    t.parse::<f64>().ok().or_else(|| {
        let fortran = t.contains(['d', 'D']) && t.chars().all(|c| c.is_ascii_digit() || "+-.dD".contains(c));
        fortran.then(|| t.replace(['d', 'D'], "e").parse().ok()).flatten()
    })
}

/// `T`, `F`, `True`, `False` in any case.
fn parse_bool(t: &str) -> Option<bool> {
    if t.eq_ignore_ascii_case("t") || t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("f") || t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `s`, shortened for an error message.
fn shown(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

fn write_file(path: &Path, structures: &[Structure], extended: bool) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    write_frames(BufWriter::new(file), structures, extended, &path.display().to_string())
}

fn write_frames<W: Write>(mut w: W, structures: &[Structure], extended: bool, dest: &str) -> Result<()> {
    let mut out = String::new();
    for s in structures {
        out.clear();
        if extended {
            format_extxyz(s, &mut out)?;
        } else {
            format_plain(s, &mut out)?;
        }
        w.write_all(out.as_bytes()).map_err(|e| Error::io(dest, e))?;
    }
    w.flush().map_err(|e| Error::io(dest, e))
}

fn who(s: &Structure) -> String {
    if s.name.is_empty() {
        String::from("structure")
    } else {
        format!("structure '{}'", s.name)
    }
}

fn format_plain(s: &Structure, out: &mut String) -> Result<()> {
    s.validate()?;
    if s.name.contains(['\n', '\r']) {
        return Err(Error::invalid(format!("{}: the name contains a line break", who(s))));
    }
    out.push_str(&format!("{}\n{}\n", s.len(), s.name));
    for (sym, p) in s.symbols().iter().zip(&s.positions) {
        out.push_str(&format!("{sym:<2} {} {} {}\n", fmt_f64(p[0]), fmt_f64(p[1]), fmt_f64(p[2])));
    }
    Ok(())
}

fn format_extxyz(s: &Structure, out: &mut String) -> Result<()> {
    s.validate()?;
    let who = who(s);
    let mut head: Vec<String> = Vec::new();
    if let Some(cell) = &s.cell {
        head.push(format!("Lattice=\"{}\"", cell.iter().flatten().map(|&x| fmt_f64(x)).collect::<Vec<_>>().join(" ")));
    }
    let mut spec = String::from(DEFAULT_SPEC);
    for (name, array) in &s.atom_arrays {
        let plain_word = !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || ":=\"\\[]{}".contains(c));
        if !plain_word || name == "species" || name == "pos" {
            return Err(Error::invalid(format!(
                "{who}: per-atom array '{name}' cannot be an extended-XYZ column name"
            )));
        }
        if array.width() == 0 {
            return Err(Error::invalid(format!("{who}: per-atom array '{name}' has width 0")));
        }
        if let AtomArray::Str { data, .. } = array {
            if let Some(bad) = data.iter().find(|v| v.is_empty() || v.chars().any(char::is_whitespace)) {
                return Err(Error::invalid(format!(
                    "{who}: per-atom array '{name}' holds {bad:?}; extended-XYZ columns need non-empty strings without whitespace"
                )));
            }
        }
        let kind = match array {
            AtomArray::Real { .. } => 'R',
            AtomArray::Int { .. } => 'I',
            AtomArray::Bool { .. } => 'L',
            AtomArray::Str { .. } => 'S',
        };
        spec.push_str(&format!(":{name}:{kind}:{}", array.width()));
    }
    head.push(format!("Properties={spec}"));
    if !s.name.is_empty() {
        head.push(format!("name={}", quote(&s.name).map_err(|m| Error::invalid(format!("{who}: the name {m}")))?));
    }
    for (key, value) in &s.properties {
        let plain_word = !key.is_empty() && !key.chars().any(|c| c.is_whitespace() || "=\"\\[]{}".contains(c));
        let reserved = key == "name" || ["Lattice", "pbc", "Properties"].iter().any(|r| r.eq_ignore_ascii_case(key));
        if !plain_word || reserved {
            return Err(Error::invalid(format!(
                "{who}: property key '{key}' cannot be written as an extended-XYZ key"
            )));
        }
        let text = fmt_property(value).map_err(|m| Error::invalid(format!("{who}: property '{key}' {m}")))?;
        head.push(format!("{key}={text}"));
    }
    let tf = |b: bool| if b { "T" } else { "F" };
    head.push(format!("pbc=\"{} {} {}\"", tf(s.pbc[0]), tf(s.pbc[1]), tf(s.pbc[2])));

    out.push_str(&format!("{}\n{}\n", s.len(), head.join(" ")));
    for (i, (sym, p)) in s.symbols().iter().zip(&s.positions).enumerate() {
        out.push_str(&format!("{sym:<2} {} {} {}", fmt_f64(p[0]), fmt_f64(p[1]), fmt_f64(p[2])));
        for array in s.atom_arrays.values() {
            let w = array.width();
            let row = i * w..(i + 1) * w;
            match array {
                AtomArray::Real { data, .. } => data[row].iter().for_each(|&x| push_field(out, &fmt_f64(x))),
                AtomArray::Int { data, .. } => data[row].iter().for_each(|x| push_field(out, &x.to_string())),
                AtomArray::Bool { data, .. } => data[row].iter().for_each(|&b| push_field(out, tf(b))),
                AtomArray::Str { data, .. } => data[row].iter().for_each(|v| push_field(out, v)),
            }
        }
        out.push('\n');
    }
    Ok(())
}

fn push_field(out: &mut String, field: &str) {
    out.push(' ');
    out.push_str(field);
}

/// A property value as extended-XYZ text that [`parse_value`] reads back as the same value.
fn fmt_property(value: &Property) -> Result<String, String> {
    fn array(items: Vec<String>) -> String {
        if items.len() >= 2 {
            format!("\"{}\"", items.join(" "))
        } else {
            format!("[{}]", items.join(" "))
        }
    }
    let tf = |b: bool| String::from(if b { "T" } else { "F" });
    Ok(match value {
        Property::Float(x) => fmt_f64(*x),
        Property::Int(i) => i.to_string(),
        Property::Bool(b) => tf(*b),
        Property::Str(s) => quote(s)?,
        Property::FloatArray(v) => array(v.iter().map(|&x| fmt_f64(x)).collect()),
        Property::IntArray(v) => array(v.iter().map(i64::to_string).collect()),
        Property::BoolArray(v) => array(v.iter().map(|&b| tf(b)).collect()),
    })
}

/// `s` as a bare word when that reads back unchanged, else double-quoted with `\` escapes.
fn quote(s: &str) -> Result<String, String> {
    if s.contains(['\n', '\r']) {
        return Err("contains a line break, which extended XYZ cannot hold".into());
    }
    if !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || "\"\\[]{}".contains(c)) {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// The shortest text that parses back to exactly `x`, always with a `.` or an exponent so that it
/// never reads back as an integer (`1.0`, `0.25`, `1e-7`, `6.02214076e23`, `NaN`, `inf`).
fn fmt_f64(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = x.abs();
    let mut s = if a == 0.0 || (1e-5..1e16).contains(&a) { format!("{x}") } else { format!("{x:e}") };
    if !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str, bracketed: bool) -> Option<Value> {
        Some(Value { text: text.into(), bracketed })
    }

    #[test]
    fn tokenizer_follows_ase() {
        let pairs = tokenize(r#" a=1  b = "x \"y\" z"  flag c={1 2} d=[3] e=x\ y f= g=p[q]r h="" "#).unwrap();
        let expected = vec![
            ("a".to_string(), v("1", false)),
            ("b".to_string(), v(r#"x "y" z"#, false)),
            ("flag".to_string(), None),
            ("c".to_string(), v("1 2", true)),
            ("d".to_string(), v("3", true)),
            ("e".to_string(), v("x y", false)),
            ("f".to_string(), v("g=pqr", false)),
            ("h".to_string(), v("", false)),
        ];
        assert_eq!(pairs, expected);
        assert_eq!(tokenize("m=[[1,2],[3,4]]").unwrap(), vec![("m".to_string(), v("[1,2],[3,4]", true))]);
        assert_eq!(tokenize(r#"q="a"b"#).unwrap(), vec![("q".to_string(), v("ab", false))]);
        assert!(tokenize(r#"a="open"#).unwrap_err().contains("unterminated"));
        assert!(tokenize("a={1 2").unwrap_err().contains("unterminated '{'"));
        assert!(tokenize("=5").unwrap_err().contains("without a key"));
    }

    #[test]
    fn values_are_typed_like_ase() {
        let p = |text: &str, bracketed: bool| parse_value(Value { text: text.into(), bracketed });
        assert_eq!(p("-3", false), Property::Int(-3));
        assert_eq!(p("2.5", false), Property::Float(2.5));
        assert_eq!(p("1.5d-3", false), Property::Float(1.5e-3));
        assert_eq!(p("2D2", false), Property::Float(200.0));
        assert_eq!(p("True", false), Property::Bool(true));
        assert_eq!(p("f", false), Property::Bool(false));
        assert_eq!(p("1 2,3", false), Property::IntArray(vec![1, 2, 3]));
        assert_eq!(p("1 2.5", false), Property::FloatArray(vec![1.0, 2.5]));
        assert_eq!(p("T F T", false), Property::BoolArray(vec![true, false, true]));
        assert_eq!(p("7", true), Property::IntArray(vec![7]));
        assert_eq!(p("[1,2],[3,4]", true), Property::IntArray(vec![1, 2, 3, 4]));
        assert_eq!(p("", true), Property::IntArray(vec![]));
        assert_eq!(p("", false), Property::Str(String::new()));
        assert_eq!(p("1 x", false), Property::Str("1 x".into()));
        assert_eq!(p("bulk", false), Property::Str("bulk".into()));
        assert_eq!(p("d", false), Property::Str("d".into()));
    }

    #[test]
    fn reals_are_shortest_and_never_look_like_integers() {
        assert_eq!(fmt_f64(1.0), "1.0");
        assert_eq!(fmt_f64(-0.0), "-0.0");
        assert_eq!(fmt_f64(0.1), "0.1");
        assert_eq!(fmt_f64(1e-7), "1e-7");
        assert_eq!(fmt_f64(1e16), "1e16");
        assert_eq!(fmt_f64(123456789012345.0), "123456789012345.0");
        assert_eq!(fmt_f64(f64::NEG_INFINITY), "-inf");
        for x in [0.1 + 0.2, f64::MAX, f64::MIN_POSITIVE, 5e-324, -1.0 / 3.0, 9007199254740993.0, 1e-5, 9.99e15] {
            let s = fmt_f64(x);
            assert_eq!(parse_real(&s), Some(x), "{s}");
            assert!(s.parse::<i64>().is_err(), "{s}");
        }
        assert!(parse_real(&fmt_f64(f64::NAN)).unwrap().is_nan());
    }

    #[test]
    fn quoting_round_trips() {
        for s in ["bulk", "", "Si diamond", r#"a "b" \c"#, "x=y", "[1]", "{", "tab\there"] {
            let q = quote(s).unwrap();
            let pairs = tokenize(&format!("k={q}")).unwrap();
            assert_eq!(pairs[0].1.as_ref().unwrap().text, s, "{q}");
        }
        assert!(quote("two\nlines").is_err());
    }
}
