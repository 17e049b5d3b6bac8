//! CIF 1.1 files as written by ICSD, COD, the Materials Project and pymatgen: reader and P 1 writer.
//!
//! # Reading
//! * **Syntax**: `#` comments, bare words, `'…'` and `"…"` strings (closed by a quote followed by
//!   whitespace), `;`-delimited text fields, `loop_` tables, one structure per `data_` block;
//!   `global_` blocks and `save_` frames are ignored. Tags are case-insensitive and `.` reads as
//!   `_` (`_atom_site.fract_x`). Numbers may carry a standard uncertainty (`5.0356(1)` → 5.0356);
//!   bare `?` and `.` are missing values.
//! * **pymatgen's quirks**: what pymatgen's `CifParser` reads through is read as it reads it, with a
//!   warning (below): a quoted string not closed on its line (the quote is dropped, the rest of
//!   the line is bare words), values without a tag (ignored), a tag without a value at the end of
//!   a block (Crystallographica's `_eof`, ignored), and a tag given twice in a block (the last
//!   value wins, loop columns included).
//! * **Cell**: `_cell_length_a/b/c` (Å) and `_cell_angle_alpha/beta/gamma` (°), all required,
//!   built by [`Lattice::from_parameters`](crate::Lattice::from_parameters) (a along x, b in the
//!   xy-plane).
//! * **Sites**: the `_atom_site_` loop. The element comes from `_atom_site_type_symbol` (oxidation
//!   suffixes `Fe3+`, `O2-`, `Fe+3` stripped) or, without one, the letters of `_atom_site_label`
//!   as pymatgen reads them (`CO(1)` is cobalt, `OW1` oxygen; `D` is hydrogen).
//!   Coordinates must be fractional (`_atom_site_fract_x/y/z`); as in pymatgen, a coordinate `.`
//!   is 0 and one within 10⁻⁴ (relative, [`ReadOptions::fraction_tolerance`](crate::io::ReadOptions::fraction_tolerance)) of 1/3 or 2/3 is
//!   exactly that (`0.3333`, `0.66667`), both with a warning. `_atom_site_occupancy` defaults to 1.
//!   Oxidation states (from the type symbol or the `_atom_type_oxidation_number` loop) go into the
//!   per-atom real array `"oxidation_state"` when any site has one (NaN for sites without).
//! * **Symmetry**: every site is mapped by every operation of `_symmetry_equiv_pos_as_xyz` or
//!   `_space_group_symop_operation_xyz` and wrapped into [0, 1); images of one site closer than
//!   [`ReadOptions::merge_tolerance`](crate::io::ReadOptions::merge_tolerance) (Å, periodic distance) to an earlier image are dropped, so the
//!   first operation's image (usually the identity) is kept. A block without operations gets those
//!   of the group it names: its Hall symbol (`_symmetry_space_group_name_Hall`,
//!   `_space_group_name_Hall`), else its Hermann–Mauguin symbol, else its number, looked up in
//!   moyo's table of the 530 settings (spellings and settings: the `spacegroup` module). A symbol
//!   other than P 1 that is not in the table, a Hall and an H-M symbol naming different settings,
//!   or a number that is not the symbol's group, are errors rather than a silently wrong
//!   structure; a block naming no group is P 1.
//! * **Checks**: atoms of different sites (or images of one site) closer than
//!   [`ReadOptions::min_distance`](crate::io::ReadOptions::min_distance) are an error naming both sites and lines, unless both sites are
//!   partially occupied: then they share a position and [`ReadOptions::partial_occupancy`](crate::io::ReadOptions::partial_occupancy) decides
//!   (an error listing them by default; see [`PartialOccupancy`](crate::io::PartialOccupancy)). Occupancies within 10⁻³ of 1 count
//!   as full.
//! * **Result**: atoms in site order, each site's images in operation order; Cartesian positions
//!   from the wrapped fractional coordinates; `pbc = [true; 3]`. `name` is `<file stem>:<block>`
//!   (the block name alone when the file name is empty); properties `"cif_block"`, and
//!   `"space_group"` / `"space_group_number"` when the file gives them (`"disorder"` after
//!   [`PartialOccupancy::Majority`](crate::io::PartialOccupancy::Majority)). Blocks with neither cell nor site tags (e.g. publication data)
//!   are skipped; a file without any structure is an error.
//!
//! Every problem is an [`Error::Parse`] naming the file and the 1-based line. Warnings go into the
//! string property `"cif_warnings"` of the block's structure, one `line N: …` per line (absent
//! when there are none).
//!
//! # Writing
//! [`write_cif`] writes one `data_` block in P 1: the cell parameters, the identity operation, and
//! per atom a label (`Fe1`, `Fe2`, … per element), the type symbol (with the oxidation state from
//! `"oxidation_state"`, if present), fractional coordinates wrapped into [0, 1) and the occupancy
//! (from `"occupancy"`, default 1). Numbers use Rust's shortest round-trip formatting, so reading
//! the file back gives the same cell parameters and fractional coordinates to rounding (~10⁻¹⁵),
//! except coordinates within 10⁻⁴ (relative) of 1/3 or 2/3, which the reader snaps by default.
//! The cell itself comes back in the standard orientation: a structure whose cell is not already
//! in it is rotated. Other arrays and properties are not written.

mod blocks;
mod build;
mod coordinates;
mod spacegroup;
mod symop;
mod tokens;
mod writer;

use std::io::Write;
use std::path::Path;

use chem_graph::error::shown;
use chem_graph::Structure;

use crate::error::{Error, Result};
use crate::io::options::CifOptions;
use build::Builder;

/// Reads every structure of the CIF file at `path` with the default [`CifOptions`].
pub fn read_cif(path: impl AsRef<Path>) -> Result<Vec<Structure>> {
    read_cif_with(path, &CifOptions::default())
}

/// Reads every structure of the CIF file at `path` (bytes that are not UTF-8, e.g. Latin-1
/// author names, are replaced); error messages name the file by `path`.
pub fn read_cif_with(path: impl AsRef<Path>, options: &CifOptions) -> Result<Vec<Structure>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_cif(&String::from_utf8_lossy(&bytes), &path.display().to_string(), options)
}

/// Reads every structure of CIF `text`; `file_name` names the file in error messages and
/// structure names.
pub fn parse_cif(text: &str, file_name: &str, options: &CifOptions) -> Result<Vec<Structure>> {
    options.check()?;
    let mut warnings = Vec::new();
    let tokens = tokens::tokenize(text, &mut warnings).map_err(|(line, m)| Error::parse(file_name, line, m))?;
    let blocks = blocks::blocks(&tokens, &mut warnings).map_err(|(line, m)| Error::parse(file_name, line, m))?;
    let stem = Path::new(file_name).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut out = Vec::new();
    for (k, block) in blocks.iter().enumerate() {
        let name = if stem.is_empty() { block.name.to_owned() } else { format!("{stem}:{}", block.name) };
        // A block's warnings: those from its header to the next block's (the first block's also
        // those before it).
        let end = blocks.get(k + 1).map_or(usize::MAX, |b| b.line);
        let own = warnings.iter().filter(|(line, _)| (k == 0 || *line >= block.line) && *line < end).cloned().collect();
        if let Some(s) = (Builder { block, file: file_name, options }).build(name, own)? {
            out.push(s);
        }
    }
    if out.is_empty() {
        let what = if blocks.is_empty() { "no data_ block" } else { "no data_ block with a cell and atom sites" };
        return Err(Error::parse(file_name, 0, format!("{what}: not a crystal structure CIF")));
    }
    Ok(out)
}

/// A warning about a quirk read as pymatgen reads it: the 1-based line and the message.
type Warning = (usize, String);

/// Writes `structure` as a P 1 CIF to `w` (see the [module docs](self)). Errors unless the
/// structure is a crystal with a right-handed cell and at least one atom.
pub fn write_cif<W: Write>(structure: &Structure, mut w: W) -> Result<()> {
    let text = writer::to_string(structure)?;
    w.write_all(text.as_bytes()).map_err(|e| Error::io("<CIF output>", e))
}

/// The CIF text [`write_cif`] writes.
pub fn cif_string(structure: &Structure) -> Result<String> {
    writer::to_string(structure)
}
