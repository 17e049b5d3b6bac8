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
//!   every other column becomes an [`AtomArray`](crate::AtomArray) under its own name (no ASE renaming such as
//!   `charge` → `charges`).
//! * The `name` key (case-sensitive) gives [`Structure::name`] from its raw text, never
//!   type-converted, and is not kept in `properties`; a frame without it has an empty name. Every
//!   other key (including `comment`) becomes a [`Property`](crate::Property) in [`Structure::properties`], typed like
//!   ASE does it: an integer → `Int`, a real (Fortran `1.5d-3` accepted) → `Float`,
//!   `T`/`F`/`True`/`False` (any case) → `Bool`, several of one kind (space- or comma-separated)
//!   → `IntArray` / `FloatArray` (when any is not an integer) / `BoolArray`; anything else →
//!   `Str`. A `[bracketed]` or `{braced}` value is always an array, even with one item (or none:
//!   `[]` is an empty `IntArray`). Multi-value tensors such as `stress` stay flat, in file order.
//!
//! Every problem is an [`Error::Parse`](crate::Error::Parse) naming the file and the 1-based line.
//!
//! # Writing
//! [`write_extxyz`] writes everything a [`Structure`] holds so that reading it back gives an equal
//! structure: reals are written with Rust's shortest round-trip formatting (always with a `.` or an
//! exponent, so a real never reads back as an integer), strings are quoted and escaped when needed,
//! `Lattice` and `pbc` appear when there is a cell (`pbc="F F F"` otherwise, as ASE writes), and the
//! `Properties` columns are `species:S:1:pos:R:3` followed by the atom arrays in name order. Arrays
//! of two or more items are written ASE-style (`"1 2 3"`), shorter ones as `[x]` / `[]`.
//! Limits of the format (checked, reported as [`Error::Invalid`](crate::Error::Invalid)): strings cannot contain line
//! breaks, per-atom strings must be non-empty without whitespace, keys and column names must be
//! plain words and not clash with the special keys (or `name`, `species`, `pos`). Not preserved:
//! a `Str` property whose text reads as a number, a logical value or a list of them (e.g. `"42"`,
//! `"T"`; ASE has the same ambiguity), and the element type of an empty array.
//!
//! [`write_xyz`] writes plain XYZ: count, name, `Symbol x y z` (cell, arrays and properties are
//! dropped; a name containing `=` would read back as extended XYZ).

mod header;
mod reader;
mod writer;

use std::io::{BufRead, Write};
use std::path::Path;

use crate::error::Result;
use crate::structure::Structure;

pub use reader::XyzFrames;
use writer::{write_file, write_frames};

/// Reads every frame of a (plain or extended) XYZ file; error messages name the file by `path`.
/// A file without any frame (empty or blank) is an error.
pub fn read_xyz_file(path: impl AsRef<Path>) -> Result<Vec<Structure>> {
    let path = path.as_ref();
    not_empty(XyzFrames::open(path)?.collect::<Result<_>>()?, &path.display().to_string())
}

/// Reads every frame of XYZ text; `file` is the name used in error messages.
pub fn read_xyz_str(text: &str, file: &str) -> Result<Vec<Structure>> {
    read_xyz(text.as_bytes(), file)
}

/// Reads every frame from `reader`; `file` is the name used in error messages. Input without any
/// frame is an error (stream frames with [`XyzFrames`] to accept it).
pub fn read_xyz<R: BufRead>(reader: R, file: &str) -> Result<Vec<Structure>> {
    not_empty(XyzFrames::new(reader, file).collect::<Result<_>>()?, file)
}

fn not_empty(frames: Vec<Structure>, file: &str) -> Result<Vec<Structure>> {
    if frames.is_empty() {
        return Err(crate::Error::parse(
            file,
            1,
            "no structure: the file is empty (an XYZ frame starts with its atom count)",
        ));
    }
    Ok(frames)
}

/// Writes `structures` as plain XYZ: atom count, name (as `name="…"` when it holds `=`, which a
/// reader would otherwise take for an extended-XYZ header), then `Symbol x y z` per atom.
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
