//! The comment line of an extended XYZ frame: ASE's `key=value` syntax, `Lattice`, `pbc` and the
//! `Properties` column specification.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::str::Chars;

use crate::error::shown;
use crate::structure::{AtomArray, Cell, Property};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Str,
    Real,
    Int,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Role {
    Numbers,
    Positions,
    Array,
}

#[derive(Debug)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) width: usize,
    pub(super) role: Role,
}

pub(super) enum ColumnData {
    Real(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

impl ColumnData {
    pub(super) fn new(kind: Kind) -> Self {
        match kind {
            Kind::Real => ColumnData::Real(Vec::new()),
            Kind::Int => ColumnData::Int(Vec::new()),
            Kind::Bool => ColumnData::Bool(Vec::new()),
            Kind::Str => ColumnData::Str(Vec::new()),
        }
    }

    pub(super) fn into_array(self, width: usize) -> AtomArray {
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
pub(super) struct Header {
    pub(super) name: String,
    pub(super) cell: Option<Cell>,
    pub(super) pbc: [bool; 3],
    pub(super) properties: BTreeMap<String, Property>,
    pub(super) columns: Vec<Column>,
    /// The `Properties` value, when given (for messages).
    pub(super) spec: Option<String>,
}

/// A value from the comment line, unquoted and unescaped.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Value {
    pub(super) text: String,
    /// The whole value was one `[…]` or `{…}` group (its delimiters removed).
    pub(super) bracketed: bool,
}

pub(super) const DEFAULT_SPEC: &str = "species:S:1:pos:R:3";

pub(super) fn parse_header(comment: &str) -> Result<Header, String> {
    if comment.contains('\r') {
        return Err("the comment line holds a carriage return before its end (a line break to other programs)".into());
    }
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
            (None, None) if key == "name" => return Err("'name' needs a value (name=…)".into()),
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

/// Characters a `Properties` column name cannot hold (besides whitespace): they would end the
/// name or start a quoted, array or dictionary value in the comment line.
pub(super) const COLUMN_NAME_FORBIDDEN: &str = ":=\"\\[]{}";

/// Whether `name` can be a `Properties` column name, read and written alike.
pub(super) fn is_column_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || COLUMN_NAME_FORBIDDEN.contains(c))
}

/// Parses a `Properties` value such as `species:S:1:pos:R:3:forces:R:3`.
pub(super) fn parse_columns(spec: &str) -> Result<Vec<Column>, String> {
    let bad = |why: String| format!("malformed Properties '{}': {why}", shown(spec));
    let fields: Vec<&str> = spec.split(':').collect();
    if !fields.len().is_multiple_of(3) {
        return Err(bad("expected name:type:count triples".into()));
    }
    let mut columns: Vec<Column> = Vec::new();
    let mut total = 0usize;
    for f in fields.chunks(3) {
        let name = f[0].to_owned();
        if name.is_empty() {
            return Err(bad("a column has an empty name".into()));
        }
        if !is_column_name(&name) {
            return Err(bad(format!("column name '{name}' holds whitespace or one of {COLUMN_NAME_FORBIDDEN}")));
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
pub(super) fn tokenize(line: &str) -> Result<Vec<(String, Option<Value>)>, String> {
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
        if key.is_empty() {
            return Err("an empty key (`\"\"`, `[]` or `{}`) in the comment line".into());
        }
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
pub(super) fn read_token(chars: &mut Peekable<Chars<'_>>, is_key: bool) -> Result<Value, String> {
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
pub(super) fn split_items(text: &str, bracketed: bool) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',' || (bracketed && matches!(c, '[' | ']' | '{' | '}')))
        .filter(|t| !t.is_empty())
        .collect()
}

/// Types a `key=value` value like ASE: integers, then reals, then logicals, else a string.
pub(super) fn parse_value(v: Value) -> Property {
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
pub(super) fn parse_real(t: &str) -> Option<f64> {
    t.parse::<f64>().ok().or_else(|| {
        let fortran = t.contains(['d', 'D']) && t.chars().all(|c| c.is_ascii_digit() || "+-.dD".contains(c));
        fortran.then(|| t.replace(['d', 'D'], "e").parse().ok()).flatten()
    })
}

/// `T`, `F`, `True`, `False` in any case.
pub(super) fn parse_bool(t: &str) -> Option<bool> {
    if t.eq_ignore_ascii_case("t") || t.eq_ignore_ascii_case("true") {
        Some(true)
    } else if t.eq_ignore_ascii_case("f") || t.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
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
}
