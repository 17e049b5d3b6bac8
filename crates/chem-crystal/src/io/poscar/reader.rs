//! The POSCAR/CONTCAR reader (see the [module docs](super)).

use chem_graph::{AtomArray, Structure};

use crate::error::{Error, Result};
use crate::io::check::close_pairs;
use crate::io::options::ReadOptions;
use crate::io::species::element_from_potcar_name;
use crate::lattice::Lattice;
use chem_graph::error::shown;

/// The lines of the file and the file name for messages.
struct Lines<'a> {
    lines: Vec<&'a str>,
    file: &'a str,
}

impl<'a> Lines<'a> {
    fn err(&self, line: usize, message: impl Into<String>) -> Error {
        Error::parse(self.file, line, message)
    }

    /// Line `n` (1-based), or an error saying what was expected there.
    fn get(&self, n: usize, what: &str) -> Result<&'a str> {
        self.lines.get(n - 1).copied().ok_or_else(|| {
            self.err(n.min(self.lines.len()).max(1), format!("the file ends before line {n}: expected {what}"))
        })
    }

    /// The first three numbers of line `n`.
    fn vector(&self, n: usize, what: &str) -> Result<[f64; 3]> {
        let fields: Vec<&str> = self.get(n, what)?.split_whitespace().collect();
        if fields.len() < 3 {
            return Err(self.err(n, format!("expected {what} (three numbers), found {} field(s)", fields.len())));
        }
        let mut v = [0.0; 3];
        for (k, x) in v.iter_mut().enumerate() {
            *x = parse_real(fields[k])
                .ok_or_else(|| self.err(n, format!("{what}: '{}' is not a number", shown(fields[k]))))?;
        }
        Ok(v)
    }
}

/// Reads POSCAR `text`; `file` names it in messages.
pub(super) fn parse(text: &str, file: &str, options: &ReadOptions) -> Result<Structure> {
    options.check()?;
    let lines = Lines { lines: text.strip_prefix('\u{feff}').unwrap_or(text).lines().collect(), file };
    let comment = lines.get(1, "a comment line")?;

    // Scale: one factor (negative: the target volume) or three (VASP 6, per Cartesian axis).
    let fields: Vec<&str> = lines.get(2, "the scale factor")?.split_whitespace().collect();
    let numbers: Vec<f64> = fields.iter().map_while(|f| parse_real(f)).take(3).collect();
    let scale: Vec<f64> = if numbers.len() == 3 { numbers } else { numbers.into_iter().take(1).collect() };
    if scale.is_empty() {
        return Err(lines.err(2, format!("expected the scale factor, found '{}'", shown(fields.join(" ").as_str()))));
    }
    if scale.contains(&0.0) || (scale.len() == 3 && scale.iter().any(|&s| s < 0.0)) {
        return Err(lines.err(
            2,
            format!("invalid scale factor(s) {scale:?}: one number (negative: the cell volume) or three positive ones"),
        ));
    }

    let mut rows = [[0.0; 3]; 3];
    for (k, row) in rows.iter_mut().enumerate() {
        *row = lines.vector(3 + k, &format!("lattice vector {}", ["a", "b", "c"][k]))?;
    }
    let factor: [f64; 3] = match scale[..] {
        [s] if s < 0.0 => {
            let v0 = chem_graph::structure::determinant(&rows).abs();
            if v0 < crate::lattice::MIN_VOLUME {
                return Err(lines.err(3, "the lattice vectors on lines 3–5 are linearly dependent (zero volume)"));
            }
            [(-s / v0).cbrt(); 3]
        }
        [s] => [s; 3],
        _ => [scale[0], scale[1], scale[2]],
    };
    for row in &mut rows {
        for (x, f) in row.iter_mut().zip(factor) {
            *x *= f;
        }
    }
    let lattice = Lattice::new(rows).map_err(|e| lines.err(3, format!("lattice vectors on lines 3–5: {e}")))?;
    if !lattice.is_right_handed() {
        return Err(lines.err(
            3,
            format!(
                "the lattice vectors on lines 3–5 form a left-handed cell (a · (b × c) = {:.6} Å³ < 0), which VASP \
                 does not accept; swap two of them",
                lattice.volume()
            ),
        ));
    }

    // Species (VASP 5) and counts; VASP 4 files have no species line.
    let sixth = lines.get(6, "the species or counts line")?;
    let first = sixth.split_whitespace().next().unwrap_or_default();
    let (species_names, counts_line): (Vec<&str>, usize) = if first.parse::<u64>().is_ok() {
        let n = sixth.split_whitespace().count();
        let from_comment: Vec<&str> = comment.split_whitespace().take(n).collect();
        if from_comment.len() == n && from_comment.iter().all(|s| element_from_potcar_name(s).is_some()) {
            (from_comment, 6)
        } else {
            return Err(lines.err(
                6,
                "no species line (VASP 4 format) and the comment line does not name the elements; add a \
                 VASP 5 species line such as 'Na Cl' above the counts",
            ));
        }
    } else {
        (sixth.split_whitespace().collect(), 7)
    };
    if species_names.is_empty() {
        return Err(lines.err(6, "the species line is empty"));
    }
    let mut species = Vec::with_capacity(species_names.len());
    for name in &species_names {
        let z = element_from_potcar_name(name)
            .ok_or_else(|| lines.err(counts_line - 1, format!("unknown species '{}'", shown(name))))?;
        species.push(z);
    }
    let counts_text = lines.get(counts_line, "the counts line")?;
    let counts: Vec<usize> = counts_text
        .split_whitespace()
        .map(|c| {
            c.parse::<usize>()
                .map_err(|_| lines.err(counts_line, format!("count '{}' is not a non-negative integer", shown(c))))
        })
        .collect::<Result<_>>()?;
    if counts.len() != species.len() {
        return Err(lines.err(
            counts_line,
            format!("{} count(s) for {} species ({})", counts.len(), species.len(), species_names.join(" ")),
        ));
    }
    let total = counts.iter().try_fold(0usize, |a, &c| a.checked_add(c)).unwrap_or(usize::MAX);
    if total == 0 {
        return Err(lines.err(counts_line, "the counts add up to zero atoms"));
    }

    // Optional selective dynamics, then the coordinate mode.
    let mut next = counts_line + 1;
    let mut line = lines.get(next, "'Direct' or 'Cartesian'")?;
    let selective = line.trim_start().starts_with(['s', 'S']);
    if selective {
        next += 1;
        line = lines.get(next, "'Direct' or 'Cartesian'")?;
    }
    let cartesian = match line.trim_start().chars().next() {
        Some('d' | 'D') => false,
        Some('c' | 'C' | 'k' | 'K') => true,
        _ => {
            return Err(lines.err(next, format!("expected 'Direct' or 'Cartesian', found '{}'", shown(line.trim()))));
        }
    };
    let first_atom = next + 1;
    if lines.lines.len() < (first_atom - 1).saturating_add(total) {
        let found = lines.lines.len().saturating_sub(first_atom - 1);
        return Err(lines.err(
            lines.lines.len(),
            format!(
                "the counts on line {counts_line} add up to {total} atoms but only {found} coordinate line(s) follow"
            ),
        ));
    }

    let numbers: Vec<u8> = species.iter().zip(&counts).flat_map(|(&z, &c)| std::iter::repeat_n(z, c)).collect();
    let mut positions = Vec::with_capacity(total);
    let mut flags = Vec::with_capacity(if selective { 3 * total } else { 0 });
    for atom in 0..total {
        let n = first_atom + atom;
        let what = format!("the coordinates of atom {} of {total}", atom + 1);
        if lines.get(n, &what)?.trim().is_empty() {
            return Err(lines.err(
                n,
                format!("blank line where {what} were expected (the counts on line {counts_line} say {total} atoms)"),
            ));
        }
        let v = lines.vector(n, &what)?;
        let position = if cartesian { std::array::from_fn(|k| v[k] * factor[k]) } else { lattice.to_cartesian(&v) };
        if position.iter().any(|x| !x.is_finite()) {
            return Err(lines.err(n, format!("{what}: the position {position:?} is not finite")));
        }
        positions.push(position);
        if selective {
            let fields: Vec<&str> = lines.lines[n - 1].split_whitespace().skip(3).take(3).collect();
            if fields.len() < 3 {
                return Err(lines.err(
                    n,
                    format!("atom {}: selective dynamics needs three flags (T or F) after the coordinates", atom + 1),
                ));
            }
            for f in fields {
                flags.push(parse_flag(f).ok_or_else(|| {
                    lines.err(n, format!("atom {}: selective-dynamics flag '{}' is not T or F", atom + 1, shown(f)))
                })?);
            }
        }
    }
    if let Some(extra) = lines.lines.get(first_atom - 1 + total) {
        let fields: Vec<&str> = extra.split_whitespace().collect();
        if fields.len() >= 3 && fields[..3].iter().all(|f| parse_real(f).is_some()) {
            return Err(lines.err(
                first_atom + total,
                format!("more coordinate lines than the {total} atoms the counts on line {counts_line} give"),
            ));
        }
    }

    let who = |i: usize| {
        let symbol = chem_graph::element::by_number(numbers[i]).map_or("?", |e| e.symbol);
        format!("atom {} ({symbol}, line {})", i + 1, first_atom + i)
    };
    if let Some(c) = close_pairs(&lattice, &positions, options.min_distance, true).map_err(|m| lines.err(3, m))?.first()
    {
        let message = crate::io::check::overlap_message(c, &who(c.i), &who(c.j), options.min_distance);
        return Err(lines.err(first_atom + c.i, message));
    }

    let mut structure = Structure {
        name: comment.trim().to_owned(),
        numbers,
        positions,
        cell: Some(*lattice.rows()),
        pbc: [true; 3],
        ..Default::default()
    };
    if selective {
        structure.atom_arrays.insert("selective_dynamics".into(), AtomArray::Bool { width: 3, data: flags });
    }
    structure.validate().map_err(|e| lines.err(1, e.to_string()))?;
    Ok(structure)
}

/// A real number as VASP writes them (`1.5`, `-2e-3`, Fortran `1.0D0`); not `inf` or `nan`.
pub(super) fn parse_real(t: &str) -> Option<f64> {
    let plain = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b"+-.eEdD".contains(&b));
    if !plain || !t.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    t.replace(['d', 'D'], "e").parse::<f64>().ok().filter(|x| x.is_finite())
}

/// `T`/`F` (also `.TRUE.`, `.false.`, …).
fn parse_flag(t: &str) -> Option<bool> {
    match t.trim_start_matches('.').chars().next() {
        Some('T' | 't') => Some(true),
        Some('F' | 'f') => Some(false),
        _ => None,
    }
}
