//! Symmetry operations from a space-group symbol, for blocks that name their group but list no
//! operations: Hall symbols, Hermann–Mauguin symbols and International Tables numbers are looked up
//! in moyo's table of the 530 settings (the spglib Hall numbers), never parsed into operations here.
//!
//! * **Hall** (`-P 2yn`, `-P_2yn`, `-P2ybc`, `R 3 -2"`): compared word by word, case-insensitively,
//!   with `_` read as a space and `"` and `'` as moyo's `=` and `^`.
//! * **Hermann–Mauguin** (`P 1 21/n 1`, `P21/n`, `P 63/m m c`, `Fd-3m:2`, `R 3 :H`, `R -3 c R`,
//!   `P 4/n m m (origin choice 2)`): compared without spaces and underscores with the full and short
//!   symbols, and for monoclinic groups also the full symbol without its `1`s. A setting follows a
//!   colon (`:1`, `:2`, `:H`, `:R`, `:b1`, ICSD's `S` and `Z` for origin choices 1 and 2) or the
//!   words "origin choice". Without one, the first setting of the table is taken (unique axis b,
//!   origin choice 1), except that a rhombohedral group takes rhombohedral axes when the cell has
//!   them (a = b = c, α = β = γ ≠ 90°) and hexagonal axes otherwise.
//! * **Number**: the first (standard) setting of the group, with the same rule for rhombohedral axes.

use moyo::data::{hall_symbol_entry, Centering, HallSymbol, HallSymbolEntry};

use crate::symmetry::SymOp;

/// Number of settings in moyo's Hall-symbol table.
const HALL_NUMBERS: i32 = 530;

/// The setting a Hall symbol names, if it is one of the table's.
pub(super) fn from_hall(symbol: &str) -> Option<HallSymbolEntry> {
    let key = hall_key(symbol);
    entries().find(|e| hall_key(e.hall_symbol) == key)
}

/// The setting a Hermann–Mauguin symbol names, if the table has it; `rhombohedral_cell` picks the
/// axes of a rhombohedral group when the symbol does not.
pub(super) fn from_hermann_mauguin(symbol: &str, rhombohedral_cell: bool) -> Option<HallSymbolEntry> {
    let (base, setting) = split_setting(symbol);
    if base.is_empty() {
        return None;
    }
    let candidates: Vec<HallSymbolEntry> = entries().filter(|e| hm_keys(e).contains(&base)).collect();
    match setting {
        Some(s) => candidates.into_iter().find(|e| e.setting.eq_ignore_ascii_case(&s)),
        None => pick(candidates, rhombohedral_cell),
    }
}

/// The standard setting of space group `number` (1–230).
pub(super) fn from_number(number: i64, rhombohedral_cell: bool) -> Option<HallSymbolEntry> {
    pick(entries().filter(|e| i64::from(e.number) == number).collect(), rhombohedral_cell)
}

/// Every operation of the setting in its conventional cell: the coset representatives times the
/// centring translations, the identity first, translations in [0, 1).
pub(super) fn operations(entry: &HallSymbolEntry) -> Vec<SymOp> {
    let Some(hall) = HallSymbol::from_hall_number(entry.hall_number) else {
        return vec![SymOp::IDENTITY];
    };
    let representatives = hall.traverse();
    let mut out = Vec::with_capacity(representatives.len() * hall.centering.order());
    for lattice_point in hall.centering.lattice_points() {
        for op in &representatives {
            let rotation = std::array::from_fn(|i| std::array::from_fn(|j| op.rotation[(i, j)]));
            let translation = std::array::from_fn(|i| {
                let t = op.translation[i] + lattice_point[i];
                t - t.floor()
            });
            out.push(SymOp { rotation, translation });
        }
    }
    out
}

fn entries() -> impl Iterator<Item = HallSymbolEntry> {
    (1..=HALL_NUMBERS).filter_map(hall_symbol_entry)
}

/// The first candidate, or for a rhombohedral group the one with the axes the cell has.
fn pick(candidates: Vec<HallSymbolEntry>, rhombohedral_cell: bool) -> Option<HallSymbolEntry> {
    let rhombohedral = candidates.iter().any(|e| e.centering == Centering::R);
    if rhombohedral {
        let axes = if rhombohedral_cell { "R" } else { "H" };
        return candidates.into_iter().find(|e| e.setting == axes);
    }
    candidates.into_iter().next()
}

/// Lower case, words separated by one space (`_` counts as a space, and a space is put after the
/// lattice symbol where a file leaves it out: `-P2ybc`), `"` → `=` and `'` → `^` (moyo's spelling).
/// Spaces separate the operators of a Hall symbol (`P 3 2` is not `P 32`), so they are kept.
fn hall_key(symbol: &str) -> String {
    let spaced = symbol.replace('_', " ");
    let trimmed = spaced.trim_start();
    let lattice = trimmed.chars().take_while(|c| *c == '-').count() + 1;
    let (head, rest) = trimmed.split_at(trimmed.char_indices().nth(lattice).map_or(trimmed.len(), |(k, _)| k));
    let words: Vec<&str> = std::iter::once(head).chain(rest.split_whitespace()).filter(|w| !w.is_empty()).collect();
    words
        .join(" ")
        .chars()
        .map(|c| match c {
            '"' => '=',
            '\'' => '^',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Lower case, without spaces and underscores.
fn hm_key(symbol: &str) -> String {
    symbol.chars().filter(|c| !c.is_whitespace() && *c != '_').map(|c| c.to_ascii_lowercase()).collect()
}

/// The spellings of an entry's symbol: full, short, and for monoclinic groups the full symbol
/// without its `1`s (`P 1 21/n 1` → `P21/n`).
fn hm_keys(entry: &HallSymbolEntry) -> Vec<String> {
    let mut keys = vec![hm_key(entry.hm_full), hm_key(entry.hm_short)];
    if (3..=15).contains(&entry.number) {
        keys.push(hm_key(&entry.hm_full.split_whitespace().filter(|t| *t != "1").collect::<String>()));
    }
    keys
}

/// The symbol's key and the setting it names, if any (see the module docs).
fn split_setting(symbol: &str) -> (String, Option<String>) {
    let lower = symbol.trim().to_ascii_lowercase();
    if let Some(k) = lower.find("origin choice") {
        let choice = lower[k + "origin choice".len()..].trim().trim_end_matches(')').trim().to_owned();
        let base = lower[..k].trim().trim_end_matches('(').trim_end_matches(',');
        return (hm_key(base), Some(choice));
    }
    if let Some((base, setting)) = lower.split_once(':') {
        return (hm_key(base), Some(hm_key(setting)));
    }
    // ICSD writes the setting as a last word: `R -3 c H`, `F d -3 m Z` (origin choice 2), `S` (1).
    let words: Vec<&str> = lower.split_whitespace().collect();
    if words.len() > 2 {
        let setting = match *words.last().unwrap_or(&"") {
            "h" => Some("h"),
            "r" => Some("r"),
            "s" => Some("1"),
            "z" => Some("2"),
            _ => None,
        };
        if let Some(s) = setting {
            return (hm_key(&words[..words.len() - 1].concat()), Some(s.to_owned()));
        }
    }
    (hm_key(&lower), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hall_number(e: Option<HallSymbolEntry>) -> Option<i32> {
        e.map(|e| e.hall_number)
    }

    #[test]
    fn every_table_entry_is_found_by_its_own_symbols() {
        for e in entries() {
            // Two settings of Ccce share a Hall symbol (and so their operations): either will do.
            assert_eq!(from_hall(e.hall_symbol).unwrap().hall_symbol, e.hall_symbol);
            let with_setting =
                if e.setting.is_empty() { e.hm_full.to_owned() } else { format!("{} :{}", e.hm_full, e.setting) };
            let found = from_hermann_mauguin(&with_setting, e.setting == "R").unwrap();
            assert_eq!(found.number, e.number, "{with_setting}");
        }
    }

    #[test]
    fn cif_spellings_of_symbols() {
        // Hall: underscores, no spaces, a double quote for moyo's '='.
        assert_eq!(hall_number(from_hall("-P_2yn")), hall_number(from_hall("-P 2yn")));
        assert_eq!(from_hall("-P2ybc").unwrap().number, 14);
        assert_eq!(from_hall("R 3 -2\"").unwrap().number, 160);
        assert_eq!(from_hall("P 3* 2").unwrap().setting, "R");
        assert_ne!(from_hall("P 32").unwrap().number, from_hall("P 3 2").unwrap().number);
        assert!(from_hall("Xmc21").is_none() && from_hall("").is_none() && from_hall("-").is_none());
        // Hermann–Mauguin: full, short, monoclinic without 1s, settings in every spelling.
        let hm = |s: &str| from_hermann_mauguin(s, false).map(|e| (e.number, e.setting));
        assert_eq!(hm("P 1 21/n 1"), Some((14, "b2")));
        assert_eq!(hm("P21/n"), Some((14, "b2")));
        assert_eq!(hm("P 21/c"), Some((14, "b1")));
        assert_eq!(hm("C 2/c"), Some((15, "b1")));
        assert_eq!(hm("P 63/m m c"), Some((194, "")));
        assert_eq!(hm("P3_221"), Some((154, "")));
        assert_eq!(hm("R 3 :H"), Some((146, "H")));
        assert_eq!(hm("R 3 2 :R"), Some((155, "R")));
        assert_eq!(hm("R -3 c R"), Some((167, "R")));
        assert_eq!(hm("Fd-3m"), Some((227, "1")));
        assert_eq!(hm("F d -3 m Z"), Some((227, "2")));
        assert_eq!(hm("P 4/n m m (origin choice 2)"), Some((129, "2")));
        assert_eq!(hm("C2:b1"), Some((5, "b1")));
        assert_eq!(hm("Xmc21"), None);
        assert_eq!(hm(""), None);
        // Rhombohedral axes follow the cell when the symbol does not say.
        assert_eq!(from_hermann_mauguin("R 3", true).unwrap().setting, "R");
        assert_eq!(from_number(166, false).unwrap().setting, "H");
        assert_eq!(from_number(166, true).unwrap().setting, "R");
        assert_eq!(from_number(14, false).unwrap().setting, "b1");
        assert!(from_number(231, false).is_none());
    }

    #[test]
    fn operations_include_centring_translations() {
        let fm3m = operations(&from_number(225, false).unwrap());
        assert_eq!(fm3m.len(), 192);
        assert_eq!(fm3m[0], SymOp::IDENTITY);
        let r3_hex = operations(&from_hermann_mauguin("R 3 :H", false).unwrap());
        assert_eq!(r3_hex.len(), 9);
        let r3_rho = operations(&from_hermann_mauguin("R 3 :R", false).unwrap());
        assert_eq!(r3_rho.len(), 3);
        let p21n = operations(&from_hall("-P 2yn").unwrap());
        assert!(p21n
            .iter()
            .any(|op| op.rotation == [[-1, 0, 0], [0, 1, 0], [0, 0, -1]] && op.translation == [0.5, 0.5, 0.5]));
        for op in fm3m.iter().chain(&r3_hex).chain(&p21n) {
            assert!(op.translation.iter().all(|t| (0.0..1.0).contains(t)));
        }
    }
}
