//! Writing plain and extended XYZ.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::header::{is_column_name, DEFAULT_SPEC};
use crate::error::{Error, Result};
use crate::structure::{AtomArray, Property, Structure};

pub(super) fn write_file(path: &Path, structures: &[Structure], extended: bool) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    write_frames(BufWriter::new(file), structures, extended, &path.display().to_string())
}

pub(super) fn write_frames<W: Write>(mut w: W, structures: &[Structure], extended: bool, dest: &str) -> Result<()> {
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

fn format_plain(s: &Structure, out: &mut String) -> Result<()> {
    s.validate()?;
    if s.name.contains(['\n', '\r']) {
        return Err(Error::invalid(format!("{}: the name contains a line break", s.label())));
    }
    // A comment with `=` would be read as an extended-XYZ header: write the name as its `name` key.
    let comment = if s.name.contains('=') {
        format!("name={}", quote(&s.name).map_err(|m| Error::invalid(format!("{}: the name {m}", s.label())))?)
    } else {
        s.name.clone()
    };
    out.push_str(&format!("{}\n{comment}\n", s.len()));
    for (sym, p) in s.symbols().iter().zip(&s.positions) {
        out.push_str(&format!("{sym:<2} {} {} {}\n", fmt_f64(p[0]), fmt_f64(p[1]), fmt_f64(p[2])));
    }
    Ok(())
}

fn format_extxyz(s: &Structure, out: &mut String) -> Result<()> {
    s.validate()?;
    let who = s.label();
    let mut head: Vec<String> = Vec::new();
    if let Some(cell) = &s.cell {
        head.push(format!("Lattice=\"{}\"", cell.iter().flatten().map(|&x| fmt_f64(x)).collect::<Vec<_>>().join(" ")));
    }
    let mut spec = String::from(DEFAULT_SPEC);
    for (name, array) in &s.atom_arrays {
        if !is_column_name(name) || name == "species" || name == "pos" {
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
        let reserved = key == "name" || ["Lattice", "pbc", "Properties"].iter().any(|r| r.eq_ignore_ascii_case(key));
        if key.is_empty() || reserved {
            return Err(Error::invalid(format!(
                "{who}: property key '{key}' cannot be written as an extended-XYZ key"
            )));
        }
        let bad = |m: String| Error::invalid(format!("{who}: property '{key}' {m}"));
        let text = fmt_property(value).map_err(bad)?;
        head.push(format!("{}={text}", quote(key).map_err(bad)?));
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
    if !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || "=\"\\[]{}".contains(c)) {
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
    use super::super::header::{parse_real, tokenize};
    use super::*;

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
