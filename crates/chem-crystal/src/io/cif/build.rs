//! One CIF data block → one [`Structure`]: cell, symmetry operations, sites, symmetry expansion,
//! merging of coincident images, overlap and partial-occupancy checks.

use std::collections::BTreeMap;

use chem_graph::{AtomArray, Property, Structure};

use super::blocks::{Block, Values};
use super::coordinates::Coordinates;
use super::spacegroup;
use super::symop::parse_symop;
use super::tokens::Token;
use super::Warning;
use crate::error::{Error, Result};
use crate::io::check::{close_pairs, overlap_message};
use crate::io::occupancy::{check_occupancy, is_partial, resolve, Member};
use crate::io::options::ReadOptions;
use crate::io::species::{element_from_label, parse_species};
use crate::lattice::Lattice;
use crate::symmetry::SymOp;

/// The most distinct symmetry operations a space group has (F-centred cubic: 4 × 48).
const MAX_OPERATIONS: usize = 192;

/// Tags of the symmetry operations, old and new dictionary.
const SYMOP_TAGS: [&str; 2] = ["_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz"];
/// Tags of the Hermann–Mauguin symbol.
const HM_TAGS: [&str; 3] = ["_symmetry_space_group_name_h-m", "_space_group_name_h-m_alt", "_space_group_name_h-m"];
/// Tags of the Hall symbol.
const HALL_TAGS: [&str; 2] = ["_symmetry_space_group_name_hall", "_space_group_name_hall"];
/// Tags of the space-group number.
const NUMBER_TAGS: [&str; 2] = ["_symmetry_int_tables_number", "_space_group_it_number"];
/// The property listing a block's warnings.
const WARNINGS: &str = "cif_warnings";

/// One row of the `_atom_site_` loop.
#[derive(Debug, Clone)]
struct Site {
    label: String,
    line: usize,
    z: u8,
    oxidation: Option<f64>,
    fractional: [f64; 3],
    occupancy: f64,
}

/// One atom of the expanded structure.
#[derive(Debug, Clone, Copy)]
struct Atom {
    site: usize,
    fractional: [f64; 3],
}

/// The block reader: the block, the file name for messages and the options.
pub(super) struct Builder<'b, 'a> {
    pub block: &'b Block<'a>,
    pub file: &'b str,
    pub options: &'b ReadOptions,
}

impl Builder<'_, '_> {
    fn err(&self, line: usize, message: impl Into<String>) -> Error {
        Error::parse(self.file, line, format!("data block '{}': {}", self.block.name, message.into()))
    }

    /// The structure of the block, or `None` for a block without cell and sites (metadata only).
    /// `warnings` (the tokenizer's and the block's) and the block's own go into the property
    /// `"cif_warnings"`, one `line N: …` per line, in line order.
    pub fn build(&self, name: String, mut warnings: Vec<Warning>) -> Result<Option<Structure>> {
        let block = self.block;
        if !block.has_prefix("_cell_") && !block.has_prefix("_atom_site_") {
            return Ok(None);
        }
        let (lattice, cell_line) = self.lattice()?;
        let mut properties = BTreeMap::new();
        properties.insert("cif_block".to_owned(), Property::Str(block.name.to_owned()));
        let sites = self.sites(&mut warnings)?;
        let operations = self.operations(&mut properties, &lattice)?;
        let atoms = self.expand(&lattice, &sites, &operations);
        let positions: Vec<[f64; 3]> = atoms.iter().map(|a| lattice.to_cartesian(&a.fractional)).collect();
        let close =
            close_pairs(&lattice, &positions, self.options.min_distance, false).map_err(|m| self.err(cell_line, m))?;

        // Overlaps: an error unless both atoms belong to partially occupied sites.
        let mut groups = UnionFind::new(atoms.len());
        for c in &close {
            let (a, b) = (&sites[atoms[c.i].site], &sites[atoms[c.j].site]);
            if c.i == c.j {
                let what = format!("site {} (line {})", a.label, a.line);
                return Err(self.err(a.line, overlap_message(c, &what, &what, self.options.min_distance)));
            } else if is_partial(a.occupancy) && is_partial(b.occupancy) {
                groups.join(c.i, c.j);
            } else if atoms[c.i].site == atoms[c.j].site {
                return Err(self.err(
                    a.line,
                    format!(
                        "two symmetry images of site {} are {:.4} Å apart: farther than merge_tolerance ({} Å) \
                         but closer than min_distance ({} Å). The coordinates may be rounded or not match the \
                         symmetry operations; a larger CifOptions::merge_tolerance merges them",
                        a.label, c.distance, self.options.merge_tolerance, self.options.min_distance
                    ),
                ));
            } else {
                let (x, y) =
                    (format!("site {} (line {})", a.label, a.line), format!("site {} (line {})", b.label, b.line));
                return Err(self.err(a.line.min(b.line), overlap_message(c, &x, &y, self.options.min_distance)));
            }
        }

        // Partial occupancies: the shared policy decides per group of atoms at one position.
        let mut keep: Vec<usize> = (0..atoms.len()).collect();
        let mut occupancy = None;
        let partial: Vec<usize> = (0..atoms.len()).filter(|&i| is_partial(sites[atoms[i].site].occupancy)).collect();
        if !partial.is_empty() {
            let mut components: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for &i in &partial {
                components.entry(groups.root(i)).or_default().push(i);
            }
            let components: Vec<Vec<usize>> = components.into_values().collect();
            let members: Vec<Vec<Member>> = components
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|&i| {
                            let s = &sites[atoms[i].site];
                            Member { name: s.label.clone(), place: format!("line {}", s.line), occupancy: s.occupancy }
                        })
                        .collect()
                })
                .collect();
            let first_line = sites[atoms[partial[0]].site].line;
            let resolved = resolve(&members, self.options.partial_occupancy).map_err(|m| self.err(first_line, m))?;
            let mut dropped = vec![false; atoms.len()];
            for (g, &k) in components.iter().zip(&resolved.keep) {
                for (m, &i) in g.iter().enumerate() {
                    dropped[i] = m != k;
                }
            }
            keep.retain(|&i| !dropped[i]);
            occupancy = Some(keep.iter().map(|&i| sites[atoms[i].site].occupancy).collect::<Vec<f64>>());
            properties.insert("disorder".to_owned(), Property::Str(resolved.disorder));
        }

        if !warnings.is_empty() {
            warnings.sort_by_key(|w| w.0);
            let lines: Vec<String> = warnings.iter().map(|(line, m)| format!("line {line}: {m}")).collect();
            properties.insert(WARNINGS.to_owned(), Property::Str(lines.join("\n")));
        }
        let mut atom_arrays = BTreeMap::new();
        if sites.iter().any(|s| s.oxidation.is_some()) {
            let data = keep.iter().map(|&i| sites[atoms[i].site].oxidation.unwrap_or(f64::NAN)).collect();
            atom_arrays.insert("oxidation_state".to_owned(), AtomArray::Real { width: 1, data });
        }
        if let Some(data) = occupancy {
            atom_arrays.insert("occupancy".to_owned(), AtomArray::Real { width: 1, data });
        }
        let structure = Structure {
            name,
            numbers: keep.iter().map(|&i| sites[atoms[i].site].z).collect(),
            positions: keep.iter().map(|&i| positions[i]).collect(),
            cell: Some(*lattice.rows()),
            pbc: [true; 3],
            atom_arrays,
            properties,
        };
        structure.validate().map_err(|e| self.err(block.line, e.to_string()))?;
        Ok(Some(structure))
    }

    /// The lattice from the six cell parameters, and the line of `_cell_length_a`.
    fn lattice(&self) -> Result<(Lattice, usize)> {
        let tags = ["_cell_length_a", "_cell_length_b", "_cell_length_c"];
        let angles = ["_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"];
        let mut values = [0.0; 6];
        let mut first_line = self.block.line;
        for (k, tag) in tags.iter().chain(&angles).enumerate() {
            let v = self
                .single(tag)?
                .ok_or_else(|| self.err(self.block.line, format!("no {tag}: the six cell parameters are required")))?;
            if k == 0 {
                first_line = v.line;
            }
            values[k] = self.required_number(tag, v)?;
        }
        let lengths = [values[0], values[1], values[2]];
        let angles = [values[3], values[4], values[5]];
        Lattice::from_parameters(lengths, angles)
            .map(|l| (l, first_line))
            .map_err(|e| self.err(first_line, format!("cell parameters {lengths:?} Å, {angles:?}°: {e}")))
    }

    /// The value of a tag that must have one value (an item, or a loop with one row).
    fn single(&self, tag: &str) -> Result<Option<&Token<'_>>> {
        match self.block.get(tag) {
            None => Ok(None),
            Some(v) if v.len() == 1 => Ok(Some(v.get(0))),
            Some(v) => Err(self.err(v.tag_line(), format!("{tag} must have one value, found {}", v.len()))),
        }
    }

    fn required_number(&self, tag: &str, v: &Token<'_>) -> Result<f64> {
        if v.is_missing() {
            return Err(self.err(v.line, format!("{tag} is missing ('{}'), a number is required", v.text)));
        }
        parse_number(v.text)
            .ok_or_else(|| self.err(v.line, format!("{tag}: expected a number, found '{}'", super::shown(v.text))))
    }

    /// The symmetry operations: the listed ones, else those of the space group the block names (see
    /// [`spacegroup`]), else the identity. The space-group symbol and number go into `properties`.
    fn operations(&self, properties: &mut BTreeMap<String, Property>, lattice: &Lattice) -> Result<Vec<SymOp>> {
        let hm = self.first_text(&HM_TAGS)?;
        if let Some((text, _)) = &hm {
            properties.insert("space_group".to_owned(), Property::Str(text.clone()));
        }
        let hall = self.first_text(&HALL_TAGS)?;
        let mut number = None;
        for tag in NUMBER_TAGS {
            if let Some(v) = self.single(tag)?.filter(|v| !v.is_missing()) {
                let n = v.text.parse::<i64>().ok().filter(|n| (1..=230).contains(n)).ok_or_else(|| {
                    self.err(
                        v.line,
                        format!("{tag}: expected a space-group number 1–230, found '{}'", super::shown(v.text)),
                    )
                })?;
                properties.insert("space_group_number".to_owned(), Property::Int(n));
                number = Some((n, v.line));
                break;
            }
        }
        let Some(column) = SYMOP_TAGS.iter().find_map(|t| self.block.get(t)) else {
            return self.operations_of_group(hm, hall, number, lattice);
        };
        let mut operations: Vec<SymOp> = Vec::new();
        for v in column.iter() {
            if v.is_missing() {
                return Err(self.err(v.line, format!("symmetry operation is missing ('{}')", v.text)));
            }
            let op = parse_symop(v.text).map_err(|m| self.err(v.line, m))?;
            if !operations.iter().any(|o| o.same_modulo_lattice(&op)) {
                operations.push(op);
            }
            if operations.len() > MAX_OPERATIONS {
                return Err(self.err(v.line, format!("more than {MAX_OPERATIONS} distinct symmetry operations")));
            }
        }
        if operations.is_empty() {
            operations.push(SymOp::IDENTITY);
        }
        Ok(operations)
    }

    /// The value (whitespace runs made single spaces) and line of the first of `tags` the block has.
    fn first_text(&self, tags: &[&str]) -> Result<Option<(String, usize)>> {
        for tag in tags {
            if let Some(v) = self.single(tag)?.filter(|v| !v.is_missing() && !v.text.trim().is_empty()) {
                return Ok(Some((v.text.split_whitespace().collect::<Vec<_>>().join(" "), v.line)));
            }
        }
        Ok(None)
    }

    /// The operations of the group named by the Hall symbol, the Hermann–Mauguin symbol or the
    /// number, for a block without operations. Symbols that name different settings, a number that
    /// is not the symbol's group, or a symbol other than P 1 that is not in the table are errors.
    fn operations_of_group(
        &self,
        hm: Option<(String, usize)>,
        hall: Option<(String, usize)>,
        number: Option<(i64, usize)>,
        lattice: &Lattice,
    ) -> Result<Vec<SymOp>> {
        let rhombohedral = has_rhombohedral_axes(lattice);
        let by_hall = hall.as_ref().and_then(|(s, line)| spacegroup::from_hall(s).map(|e| (e, s, *line)));
        let by_hm =
            hm.as_ref().and_then(|(s, line)| spacegroup::from_hermann_mauguin(s, rhombohedral).map(|e| (e, s, *line)));
        let found = match (by_hall, by_hm) {
            (Some((a, hall_text, line)), Some((b, hm_text, _))) if a.hall_symbol != b.hall_symbol => {
                return Err(self.err(
                    line,
                    format!(
                        "the Hall symbol '{hall_text}' (space group {}) and the Hermann–Mauguin symbol '{hm_text}' \
                         (space group {}, setting '{}') name different settings, and the block lists no symmetry \
                         operations to decide",
                        a.number,
                        b.number,
                        b.setting,
                        hall_text = super::shown(hall_text),
                        hm_text = super::shown(hm_text),
                    ),
                ));
            }
            (Some(found), _) | (None, Some(found)) => Some(found),
            (None, None) => {
                let unknown = [&hm, &hall].into_iter().flatten().find(|(s, _)| !is_p1(s));
                if let Some((s, line)) = unknown {
                    return Err(self.err(
                        *line,
                        format!(
                            "space group '{s}' is not a Hall or Hermann–Mauguin symbol of the 530 settings we know, \
                             and without symmetry operations ({}) the atoms cannot be expanded",
                            SYMOP_TAGS.join(" or "),
                            s = super::shown(s),
                        ),
                    ));
                }
                None
            }
        };
        let entry = match (found, number) {
            (Some((entry, text, line)), Some((n, _))) if i64::from(entry.number) != n => {
                return Err(self.err(
                    line,
                    format!(
                        "space group '{text}' is number {}, but the block gives number {n}, and it lists no \
                         symmetry operations to decide",
                        entry.number,
                        text = super::shown(text),
                    ),
                ));
            }
            (Some((entry, _, _)), _) => Some(entry),
            (None, Some((n, _))) => spacegroup::from_number(n, rhombohedral),
            (None, None) => None,
        };
        Ok(entry.map_or_else(|| vec![SymOp::IDENTITY], |e| spacegroup::operations(&e)))
    }

    /// The rows of the `_atom_site_` loop. Coordinates are read as pymatgen reads them, with a
    /// warning: `.` is 0, and values close to 1/3 or 2/3 are exactly that ([`Coordinates`]).
    fn sites(&self, warnings: &mut Vec<Warning>) -> Result<Vec<Site>> {
        let b = self.block;
        let fract: Vec<Option<Values<'_, '_>>> =
            ["_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z"].iter().map(|t| b.get(t)).collect();
        let [Some(x), Some(y), Some(zc)] = [fract[0].clone(), fract[1].clone(), fract[2].clone()] else {
            let message = if b.get("_atom_site_cartn_x").is_some() {
                "sites have only Cartesian coordinates (_atom_site_Cartn_x); fractional coordinates \
                 (_atom_site_fract_x/y/z) are required"
            } else {
                "no _atom_site_ loop with fractional coordinates (_atom_site_fract_x/y/z)"
            };
            return Err(self.err(b.line, message));
        };
        let label = b.get("_atom_site_label");
        let symbol = b.get("_atom_site_type_symbol");
        let occupancy = b.get("_atom_site_occupancy");
        let columns = [Some(&x), Some(&y), Some(&zc), label.as_ref(), symbol.as_ref(), occupancy.as_ref()];
        for c in columns.iter().flatten() {
            if c.table() != x.table() || c.len() != x.len() {
                return Err(self.err(
                    c.tag_line(),
                    format!("the _atom_site_ tags must be in one loop (lines {} and {})", x.tag_line(), c.tag_line()),
                ));
            }
        }
        if x.len() == 0 {
            return Err(self.err(x.tag_line(), "the _atom_site_ loop has no rows"));
        }
        let oxidation_numbers = self.oxidation_numbers()?;
        let mut sites = Vec::with_capacity(x.len());
        let mut coordinates = Coordinates::new(self.options.fraction_tolerance);
        for row in 0..x.len() {
            let line = columns.iter().flatten().map(|c| c.get(row).line).min().unwrap_or(x.get(row).line);
            let label_text = label.as_ref().map(|c| c.get(row)).filter(|t| !t.is_missing()).map(|t| t.text);
            let name = label_text.map_or_else(|| format!("{}", row + 1), str::to_owned);
            let type_symbol = symbol.as_ref().map(|c| c.get(row)).filter(|t| !t.is_missing());
            let (z, mut oxidation) = match (type_symbol, label_text) {
                (Some(t), _) => {
                    let s = parse_species(t.text).map_err(|m| self.err(t.line, format!("site {name}: {m}")))?;
                    (s.z, s.oxidation)
                }
                (None, Some(l)) => {
                    let z = element_from_label(l).ok_or_else(|| {
                        self.err(line, format!("site {name}: no _atom_site_type_symbol and the label names no element"))
                    })?;
                    (z, None)
                }
                (None, None) => {
                    return Err(self.err(line, format!("site {name}: neither a type symbol nor a label")));
                }
            };
            if oxidation.is_none() {
                let key = type_symbol.map(|t| t.text).or(label_text).unwrap_or_default().to_ascii_lowercase();
                oxidation = oxidation_numbers.get(&key).copied();
            }
            let mut fractional = [0.0; 3];
            for (k, (c, axis)) in [(&x, "x"), (&y, "y"), (&zc, "z")].into_iter().enumerate() {
                let tag = format!("site {name}: _atom_site_fract_{axis}");
                fractional[k] = coordinates.read(c.get(row), &name, |v| self.required_number(&tag, v))?;
            }
            // Wrapped first, so that huge coordinates cannot overflow under the operations.
            let fractional = fractional.map(wrap);
            let occupancy = match occupancy.as_ref().map(|c| c.get(row)).filter(|t| !t.is_missing()) {
                None => 1.0,
                Some(t) => {
                    let o = self.required_number(&format!("site {name}: _atom_site_occupancy"), t)?;
                    check_occupancy(o).map_err(|m| self.err(t.line, format!("site {name}: {m}")))?;
                    o
                }
            };
            sites.push(Site { label: name, line, z, oxidation, fractional, occupancy });
        }
        warnings.extend(coordinates.warnings());
        Ok(sites)
    }

    /// The `_atom_type_symbol` → `_atom_type_oxidation_number` table (symbols in lower case).
    fn oxidation_numbers(&self) -> Result<BTreeMap<String, f64>> {
        let (Some(symbols), Some(numbers)) =
            (self.block.get("_atom_type_symbol"), self.block.get("_atom_type_oxidation_number"))
        else {
            return Ok(BTreeMap::new());
        };
        if symbols.table() != numbers.table() || symbols.len() != numbers.len() {
            return Err(
                self.err(numbers.tag_line(), "_atom_type_symbol and _atom_type_oxidation_number must be in one loop")
            );
        }
        let mut out = BTreeMap::new();
        for (s, n) in symbols.iter().zip(numbers.iter()) {
            if s.is_missing() || n.is_missing() {
                continue;
            }
            out.insert(s.text.to_ascii_lowercase(), self.required_number("_atom_type_oxidation_number", n)?);
        }
        Ok(out)
    }

    /// Every site under every operation, wrapped into [0, 1), images of one site within
    /// `merge_tolerance` of an earlier image of the same site dropped.
    fn expand(&self, lattice: &Lattice, sites: &[Site], operations: &[SymOp]) -> Vec<Atom> {
        let mut atoms = Vec::new();
        let tolerance = self.options.merge_tolerance;
        for (s, site) in sites.iter().enumerate() {
            let first = atoms.len();
            for op in operations {
                let fractional = op.apply(&site.fractional).map(wrap);
                let duplicate = atoms[first..].iter().any(|a: &Atom| {
                    let d: [f64; 3] = std::array::from_fn(|k| {
                        let x = a.fractional[k] - fractional[k];
                        x - x.round()
                    });
                    let v = lattice.to_cartesian(&d);
                    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt() < tolerance
                });
                if !duplicate {
                    atoms.push(Atom { site: s, fractional });
                }
            }
        }
        atoms
    }
}

/// True for `P 1` however spelled (`P1`, `P_1`, `p 1`).
fn is_p1(symbol: &str) -> bool {
    symbol.replace([' ', '_'], "").eq_ignore_ascii_case("p1")
}

/// True for a cell with rhombohedral axes: a = b = c and α = β = γ ≠ 90° (relative tolerance 10⁻³).
fn has_rhombohedral_axes(lattice: &Lattice) -> bool {
    let (l, a) = (lattice.lengths(), lattice.angles());
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-3 * x.abs().max(y.abs());
    close(l[0], l[1]) && close(l[1], l[2]) && close(a[0], a[1]) && close(a[1], a[2]) && !close(a[0], 90.0)
}

/// `x` wrapped into [0, 1).
pub(super) fn wrap(x: f64) -> f64 {
    let w = x - x.floor();
    if w >= 1.0 {
        0.0
    } else {
        w
    }
}

/// A CIF number: optional sign, digits with an optional `.`, optional exponent, optional standard
/// uncertainty in parentheses (`5.0356(1)`, `-1.2e-3`, `.5`). Not `inf` or `nan`.
pub(super) fn parse_number(text: &str) -> Option<f64> {
    let body = match text.find('(') {
        Some(k) => {
            let su = text[k + 1..].strip_suffix(')')?;
            if su.is_empty() || !su.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            &text[..k]
        }
        None => text,
    };
    let plain = body.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    let digits = body.bytes().any(|b| b.is_ascii_digit());
    body.parse::<f64>().ok().filter(|x| plain && digits && x.is_finite())
}

/// Disjoint sets over atom indices (for positions shared by partial sites).
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind { parent: (0..n).collect() }
    }

    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn join(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        self.parent[ra.max(rb)] = ra.min(rb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_uncertainties() {
        assert_eq!(parse_number("5.0356(1)"), Some(5.0356));
        assert_eq!(parse_number("-1.5e-3"), Some(-1.5e-3));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("90"), Some(90.0));
        assert_eq!(parse_number("12(3)"), Some(12.0));
        for bad in ["inf", "nan", "1.0(", "1.0()", "1.0(a)", "(1)", "-", "1e999", "abc", "1.0(1)x"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn wrapping() {
        assert_eq!(wrap(-0.25), 0.75);
        assert_eq!(wrap(1.0), 0.0);
        assert_eq!(wrap(-1e-20), 0.0);
        assert_eq!(wrap(2.5), 0.5);
    }
}
