//! The POSCAR writer (see the [module docs](super)).

use std::fmt::Write as _;

use chem_graph::{AtomArray, Structure};

use crate::error::{Error, Result};
use crate::io::check::crystal_lattice;

/// The POSCAR text of `structure`.
pub(super) fn to_string(structure: &Structure) -> Result<String> {
    let who = structure.label();
    let fail = |m: String| Error::invalid(format!("{who}: cannot write POSCAR: {m}"));
    let lattice = crystal_lattice(structure).map_err(fail)?;
    if structure.is_empty() {
        return Err(fail("no atoms".into()));
    }
    let flags = match structure.atom_arrays.get("selective_dynamics") {
        None => None,
        Some(AtomArray::Bool { width: 3, data }) => Some(data),
        Some(_) => return Err(fail("the per-atom array 'selective_dynamics' must be logical with width 3".into())),
    };
    // Runs of consecutive atoms of one element, in atom order.
    let symbols = structure.symbols();
    let mut runs: Vec<(&str, usize)> = Vec::new();
    for s in &symbols {
        match runs.last_mut() {
            Some((last, n)) if last == s => *n += 1,
            _ => runs.push((s, 1)),
        }
    }
    let comment: String = structure.name.lines().collect::<Vec<_>>().join(" ");
    let mut out = String::new();
    let _ = writeln!(out, "{}", if comment.trim().is_empty() { structure.formula() } else { comment });
    let _ = writeln!(out, "1.0");
    for row in lattice.rows() {
        let _ = writeln!(out, "  {:22.16} {:22.16} {:22.16}", row[0], row[1], row[2]);
    }
    let _ = writeln!(out, "{}", runs.iter().map(|(s, _)| format!("{s:>4}")).collect::<String>());
    let _ = writeln!(out, "{}", runs.iter().map(|(_, n)| format!("{n:>4}")).collect::<String>());
    if flags.is_some() {
        let _ = writeln!(out, "Selective dynamics");
    }
    let _ = writeln!(out, "Direct");
    for (i, p) in structure.positions.iter().enumerate() {
        let f = lattice.to_fractional(p);
        let _ = write!(out, "  {:20.16} {:20.16} {:20.16}", f[0], f[1], f[2]);
        if let Some(flags) = flags {
            for &t in &flags[3 * i..3 * i + 3] {
                let _ = write!(out, " {}", if t { 'T' } else { 'F' });
            }
        }
        let _ = writeln!(out, "  {}", symbols[i]);
    }
    Ok(out)
}
