//! SMILES syntax: atoms, bonds, branches and ring closures, before any chemistry.

use std::collections::BTreeMap;

use crate::element;

/// One atom as written.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Atom {
    /// Atomic number.
    pub z: u8,
    /// Written in lowercase.
    pub aromatic: bool,
    /// Formal charge (bracket atoms only).
    pub charge: i8,
    /// Hydrogen count of a bracket atom; `None` for organic-subset atoms.
    pub hydrogens: Option<u8>,
}

/// One bond as written; `order` is `None` for an aromatic bond (`:`, or unwritten between two
/// aromatic atoms) whose order kekulisation decides.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bond {
    pub atoms: [usize; 2],
    pub order: Option<u8>,
}

/// The atoms and bonds of a SMILES string.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Parsed {
    pub atoms: Vec<Atom>,
    pub bonds: Vec<Bond>,
}

/// A parse error: 1-based column (0 for the whole string) and message.
pub(super) type ParseError = (usize, String);

/// Parses the syntax of `smiles`.
pub(super) fn parse(smiles: &str) -> Result<Parsed, ParseError> {
    if smiles.trim().is_empty() {
        return Err((0, "empty SMILES".into()));
    }
    let mut p = Parser { chars: smiles.chars().collect(), pos: 0, out: Parsed::default() };
    p.run()?;
    Ok(p.out)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    out: Parsed,
}

/// A bond symbol waiting for the atom or ring closure that follows it, with its column.
type Pending = Option<(char, usize)>;

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn err<T>(&self, column: usize, message: impl Into<String>) -> Result<T, ParseError> {
        Err((column, message.into()))
    }

    fn run(&mut self) -> Result<(), ParseError> {
        let mut previous: Option<usize> = None;
        let mut pending: Pending = None;
        let mut branches: Vec<(Option<usize>, usize)> = Vec::new();
        let mut rings: BTreeMap<u32, (usize, Pending, usize)> = BTreeMap::new();
        while let Some(c) = self.peek() {
            let column = self.pos + 1;
            match c {
                '-' | '=' | '#' | ':' | '/' | '\\' | '$' => {
                    if pending.is_some() || previous.is_none() {
                        return self.err(column, format!("unexpected bond '{c}'"));
                    }
                    pending = Some((c, column));
                    self.pos += 1;
                }
                '.' => {
                    if pending.is_some() || previous.is_none() {
                        return self.err(column, "unexpected '.'");
                    }
                    previous = None;
                    self.pos += 1;
                }
                '(' => {
                    if previous.is_none() || pending.is_some() {
                        return self.err(column, "a branch must follow an atom");
                    }
                    branches.push((previous, column));
                    self.pos += 1;
                }
                ')' => {
                    let Some((atom, _)) = branches.pop() else {
                        return self.err(column, "')' without '('");
                    };
                    if pending.is_some() {
                        return self.err(column, "bond without an atom before ')'");
                    }
                    previous = atom;
                    self.pos += 1;
                }
                '0'..='9' | '%' => {
                    let Some(atom) = previous else { return self.err(column, "ring closure before any atom") };
                    let number = self.ring_number()?;
                    match rings.remove(&number) {
                        Some((other, bond, _)) => {
                            let symbol = match (bond, pending) {
                                (Some((a, _)), Some((b, col))) if a != b => {
                                    return self.err(col, format!("ring {number} closes with conflicting bonds"))
                                }
                                (Some(x), _) | (None, Some(x)) => Some(x),
                                (None, None) => None,
                            };
                            self.bond(other, atom, symbol)?;
                        }
                        None => {
                            rings.insert(number, (atom, pending, column));
                        }
                    }
                    pending = None;
                }
                _ => {
                    let atom = self.atom()?;
                    if let Some(prev) = previous {
                        self.bond(prev, atom, pending.take())?;
                    }
                    previous = Some(atom);
                }
            }
        }
        if let Some((c, column)) = pending {
            return self.err(column, format!("bond '{c}' at the end"));
        }
        if let Some(&(_, column)) = branches.last() {
            return self.err(column, "unclosed branch");
        }
        if let Some((number, &(_, _, column))) = rings.iter().next() {
            return self.err(column, format!("unclosed ring {number}"));
        }
        Ok(())
    }

    /// Reads a ring-closure number: one digit, or `%` and two digits.
    fn ring_number(&mut self) -> Result<u32, ParseError> {
        let column = self.pos + 1;
        if self.peek() == Some('%') {
            let digits: String = self.chars.iter().skip(self.pos + 1).take(2).collect();
            if digits.len() != 2 || !digits.chars().all(|d| d.is_ascii_digit()) {
                return self.err(column, "'%' must be followed by two digits");
            }
            self.pos += 3;
            return Ok(digits.parse().unwrap_or(0));
        }
        self.pos += 1;
        Ok(self.chars[column - 1].to_digit(10).unwrap_or(0))
    }

    /// Adds a bond written with `symbol` (or none) between atoms `a` and `b`.
    fn bond(&mut self, a: usize, b: usize, symbol: Pending) -> Result<(), ParseError> {
        let column = symbol.map_or(self.pos, |s| s.1);
        let order = match symbol.map(|s| s.0) {
            None if self.out.atoms[a].aromatic && self.out.atoms[b].aromatic => None,
            None | Some('-' | '/' | '\\') => Some(1),
            Some('=') => Some(2),
            Some('#') => Some(3),
            Some(':') => None,
            Some(c) => return self.err(column, format!("bond '{c}' is not supported")),
        };
        let atoms = [a.min(b), a.max(b)];
        if a == b || self.out.bonds.iter().any(|x| x.atoms == atoms) {
            return self.err(column, "an atom bonded to itself or a bond written twice");
        }
        self.out.bonds.push(Bond { atoms, order });
        Ok(())
    }

    /// Reads an organic-subset or bracket atom and returns its index.
    fn atom(&mut self) -> Result<usize, ParseError> {
        let column = self.pos + 1;
        let c = self.chars[self.pos];
        let atom = if c == '[' {
            self.bracket_atom()?
        } else {
            let next = self.chars.get(self.pos + 1).copied();
            let z = match (c, next) {
                ('C', Some('l')) | ('B', Some('r')) => None,
                ('B' | 'b', _) => Some(5),
                ('C' | 'c', _) => Some(6),
                ('N' | 'n', _) => Some(7),
                ('O' | 'o', _) => Some(8),
                ('F', _) => Some(9),
                _ => None,
            };
            let Some(z) = z else {
                let what = if c.is_ascii_alphabetic() { "unsupported element" } else { "unexpected character" };
                return self.err(column, format!("{what} '{c}' (elements H, B, C, N, O and F only)"));
            };
            self.pos += 1;
            Atom { z, aromatic: c.is_ascii_lowercase(), charge: 0, hydrogens: None }
        };
        if !matches!(atom.z, 1 | 5..=9) {
            return self.err(column, "unsupported element (chemical graphs support H, B, C, N, O and F only)");
        }
        self.out.atoms.push(atom);
        Ok(self.out.atoms.len() - 1)
    }

    /// Reads `[isotope? symbol chirality? hcount? charge? class?]`.
    fn bracket_atom(&mut self) -> Result<Atom, ParseError> {
        let open = self.pos + 1;
        let Some(len) = self.chars[self.pos..].iter().position(|&c| c == ']') else {
            return self.err(open, "'[' without ']'");
        };
        let body: String = self.chars[self.pos + 1..self.pos + len].iter().collect();
        self.pos += len + 1;
        let bad = |what: &str| Err((open, format!("bracket atom '[{body}]': {what}")));
        let rest = body.trim_start_matches(|c: char| c.is_ascii_digit());
        let (z, aromatic, rest) = match element_prefix(rest) {
            Some(x) => x,
            None => return bad("unknown element"),
        };
        let rest = skip_chirality(rest);
        let (hydrogens, rest) = match rest.strip_prefix('H') {
            Some(r) => {
                let digits = r.len() - r.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                match (digits, r[..digits].parse::<u8>()) {
                    (0, _) => (1, r),
                    (_, Ok(h)) => (h, &r[digits..]),
                    (_, Err(_)) => return bad("hydrogen count out of range"),
                }
            }
            None => (0, rest),
        };
        let Some((charge, rest)) = charge(rest) else { return bad("charge out of range") };
        let rest = match rest.strip_prefix(':') {
            Some(class) if class.chars().all(|c| c.is_ascii_digit()) => "",
            _ => rest,
        };
        if !rest.is_empty() {
            return bad(&format!("cannot read '{rest}'"));
        }
        Ok(Atom { z, aromatic, charge, hydrogens: Some(hydrogens) })
    }
}

/// The element at the start of a bracket atom: atomic number, aromatic flag and the rest.
fn element_prefix(s: &str) -> Option<(u8, bool, &str)> {
    let first = s.chars().next()?;
    if first.is_ascii_lowercase() {
        let z = match first {
            'b' => 5,
            'c' => 6,
            'n' => 7,
            'o' => 8,
            _ => return None,
        };
        return Some((z, true, &s[1..]));
    }
    if s.len() >= 2 && s.as_bytes()[1].is_ascii_lowercase() {
        if let Some(e) = element::by_symbol(&s[..2]) {
            return Some((e.z, false, &s[2..]));
        }
    }
    element::by_symbol(s.get(..1)?).map(|e| (e.z, false, &s[1..]))
}

/// Reads `+`, `++`, `+2`, `-`, `--`, `-3` …; returns the charge and the rest, or `None` when
/// the charge does not fit an `i8`.
fn charge(s: &str) -> Option<(i8, &str)> {
    let Some(sign) = s.chars().next().filter(|c| matches!(c, '+' | '-')) else { return Some((0, s)) };
    let unit: i8 = if sign == '+' { 1 } else { -1 };
    let repeated = s.len() - s.trim_start_matches(sign).len();
    let rest = &s[repeated..];
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if repeated == 1 && digits > 0 {
        Some((unit * rest[..digits].parse::<i8>().ok()?, &rest[digits..]))
    } else {
        Some((unit * i8::try_from(repeated).ok()?, rest))
    }
}

/// Skips a chirality mark: `@`, `@@`, or `@` followed by a class (`TH`, `AL`, `SP`, `TB`, `OH`)
/// and a number.
fn skip_chirality(s: &str) -> &str {
    let Some(rest) = s.strip_prefix('@') else { return s };
    let rest = rest.strip_prefix('@').unwrap_or(rest);
    match ["TH", "AL", "SP", "TB", "OH"].iter().find_map(|class| rest.strip_prefix(class)) {
        Some(r) => r.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => rest,
    }
}
