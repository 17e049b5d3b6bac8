//! The CIF writer: P 1, cell parameters, fractional coordinates wrapped into [0, 1).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chem_graph::{AtomArray, Structure};

use super::build::wrap;
use crate::error::{Error, Result};
use crate::io::check::crystal_lattice;

/// The CIF text of `structure` (see [`super::write_cif`]).
pub(super) fn to_string(structure: &Structure) -> Result<String> {
    let who = structure.label();
    let lattice = crystal_lattice(structure).map_err(|m| Error::invalid(format!("{who}: cannot write CIF: {m}")))?;
    if structure.is_empty() {
        return Err(Error::invalid(format!("{who}: cannot write CIF: no atoms")));
    }
    let oxidation = real_column(structure, "oxidation_state")?;
    let occupancy = real_column(structure, "occupancy")?;
    let symbols = structure.symbols();
    let type_symbols: Vec<String> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| match oxidation.map(|o| o[i]).filter(|o| o.is_finite()) {
            Some(o) => format!("{s}{}", oxidation_suffix(o)),
            None => (*s).to_owned(),
        })
        .collect();

    let name: String =
        structure.name.chars().map(|c| if c.is_whitespace() || c.is_control() { '_' } else { c }).collect();
    let mut out = String::new();
    let [a, b, c] = lattice.lengths();
    let [alpha, beta, gamma] = lattice.angles();
    let _ = writeln!(out, "# CIF written by chemgnn (chem-crystal)");
    let _ = writeln!(out, "data_{}", if name.is_empty() { "structure" } else { &name });
    let _ = writeln!(out, "_symmetry_space_group_name_H-M   'P 1'");
    let _ = writeln!(out, "_symmetry_Int_Tables_number      1");
    for (tag, value) in [
        ("_cell_length_a", a),
        ("_cell_length_b", b),
        ("_cell_length_c", c),
        ("_cell_angle_alpha", alpha),
        ("_cell_angle_beta", beta),
        ("_cell_angle_gamma", gamma),
        ("_cell_volume", lattice.volume()),
    ] {
        let _ = writeln!(out, "{tag:<22}{value}");
    }
    let _ = writeln!(out, "loop_\n_symmetry_equiv_pos_site_id\n_symmetry_equiv_pos_as_xyz\n1  'x, y, z'");
    if let Some(o) = oxidation {
        let mut types: BTreeMap<&str, f64> = BTreeMap::new();
        for (i, t) in type_symbols.iter().enumerate() {
            if o[i].is_finite() {
                types.insert(t, o[i]);
            }
        }
        let _ = writeln!(out, "loop_\n_atom_type_symbol\n_atom_type_oxidation_number");
        for (t, o) in types {
            let _ = writeln!(out, "{t}  {o}");
        }
    }
    let _ = writeln!(
        out,
        "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n\
         _atom_site_fract_z\n_atom_site_occupancy"
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, p) in structure.positions.iter().enumerate() {
        let count = counts.entry(symbols[i]).or_default();
        *count += 1;
        let f = lattice.to_fractional(p).map(wrap);
        let occ = occupancy.map_or(1.0, |o| o[i]);
        let _ = writeln!(out, "{}{}  {}  {}  {}  {}  {}", symbols[i], count, type_symbols[i], f[0], f[1], f[2], occ);
    }
    Ok(out)
}

/// A per-atom real array of width 1, if present; errors for another type or width.
fn real_column<'s>(structure: &'s Structure, name: &str) -> Result<Option<&'s [f64]>> {
    match structure.atom_arrays.get(name) {
        None => Ok(None),
        Some(AtomArray::Real { width: 1, data }) => Ok(Some(data)),
        Some(_) => Err(Error::invalid(format!(
            "{}: cannot write CIF: the per-atom array '{name}' must be real with one value per atom",
            structure.label()
        ))),
    }
}

/// `3` → `3+`, `-2` → `2-`, `2.5` → `2.5+`, `0` → `0+`.
fn oxidation_suffix(o: f64) -> String {
    let sign = if o < 0.0 { '-' } else { '+' };
    format!("{}{sign}", o.abs())
}
