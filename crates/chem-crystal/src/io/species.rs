//! Element symbols as crystal files write them: with oxidation states (`Fe3+`, `O2-`, `Fe+3`),
//! as CIF site labels (`Fe1`, `O2a`), or as VASP POTCAR names (`Fe_pv`, `Si/abc123`).

use chem_graph::element;
use chem_graph::error::shown;

/// An element and, when the symbol carries one, its oxidation state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Species {
    /// Atomic number.
    pub z: u8,
    /// Oxidation state (`Fe3+` → 3, `O2-` → −2, `Fe2.5+` → 2.5).
    pub oxidation: Option<f64>,
}

/// The atomic number of a bare symbol, case-insensitively; `D` and `T` are hydrogen.
pub(crate) fn element_z(symbol: &str) -> Option<u8> {
    if symbol.eq_ignore_ascii_case("D") || symbol.eq_ignore_ascii_case("T") {
        return Some(1);
    }
    element::by_symbol(symbol).map(|e| e.z)
}

/// A species symbol: an element symbol followed by nothing, an oxidation state (`3+`, `+3`, `2.5+`,
/// `+`, `-`), or a bare number (read as a label suffix and ignored, as in `Fe1`). `Err` holds what
/// is wrong.
pub(crate) fn parse_species(text: &str) -> Result<Species, String> {
    let letters = text.bytes().take_while(u8::is_ascii_alphabetic).count();
    let (symbol, rest) = text.split_at(letters);
    let z = element_z(symbol).ok_or_else(|| format!("unknown element \"{}\"", shown(text)))?;
    let oxidation = parse_oxidation(rest)
        .ok_or_else(|| format!("cannot read the oxidation state \"{}\" of \"{}\"", shown(rest), shown(text)))?;
    Ok(Species { z, oxidation })
}

/// `""` → no state; `"3+"`, `"+3"`, `"2.5+"`, `"+"` → a state; a bare number → no state (label);
/// anything else → `None`.
fn parse_oxidation(rest: &str) -> Option<Option<f64>> {
    if rest.is_empty() || rest.bytes().all(|b| b.is_ascii_digit()) {
        return Some(None);
    }
    let (sign, magnitude) = if let Some(m) = rest.strip_suffix('+') {
        (1.0, m)
    } else if let Some(m) = rest.strip_suffix('-') {
        (-1.0, m)
    } else if let Some(m) = rest.strip_prefix('+') {
        (1.0, m)
    } else if let Some(m) = rest.strip_prefix('-') {
        (-1.0, m)
    } else {
        return None;
    };
    if magnitude.is_empty() {
        return Some(Some(sign));
    }
    let digits = magnitude.bytes().all(|b| b.is_ascii_digit() || b == b'.') && magnitude.bytes().any(|b| b != b'.');
    let value: f64 = magnitude.parse().ok().filter(|_| digits)?;
    Some(Some(sign * value))
}

/// The element of a CIF site label such as `Fe1`, `O2a`, `CO(1)` or `OW1`, read as pymatgen reads
/// labels: the first two letters when they spell an element in any case (`CO` is cobalt, `CA`
/// calcium), otherwise the first letter.
pub(crate) fn element_from_label(label: &str) -> Option<u8> {
    let letters: Vec<u8> = label.bytes().take_while(u8::is_ascii_alphabetic).collect();
    if letters.len() >= 2 {
        let two = [letters[0].to_ascii_uppercase(), letters[1].to_ascii_lowercase()];
        if let Some(z) = std::str::from_utf8(&two).ok().and_then(element_z) {
            return Some(z);
        }
    }
    let one = std::str::from_utf8(letters.get(..1)?).ok()?;
    element_z(one)
}

/// The element of a VASP species name: a symbol, optionally followed by a POTCAR suffix after `_`
/// or `/` (`Fe_pv`, `Si/a1b2`).
pub(crate) fn element_from_potcar_name(name: &str) -> Option<u8> {
    let symbol = name.split(['_', '/']).next().unwrap_or_default();
    element::by_symbol(symbol).map(|e| e.z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oxidation_suffixes() {
        let ox = |t: &str| parse_species(t).map(|s| (s.z, s.oxidation));
        assert_eq!(ox("Fe3+"), Ok((26, Some(3.0))));
        assert_eq!(ox("Fe+3"), Ok((26, Some(3.0))));
        assert_eq!(ox("O2-"), Ok((8, Some(-2.0))));
        assert_eq!(ox("Na1+"), Ok((11, Some(1.0))));
        assert_eq!(ox("Cl-"), Ok((17, Some(-1.0))));
        assert_eq!(ox("Fe2.5+"), Ok((26, Some(2.5))));
        assert_eq!(ox("Si0+"), Ok((14, Some(0.0))));
        assert_eq!(ox("FE"), Ok((26, None)));
        assert_eq!(ox("D1+"), Ok((1, Some(1.0))));
        assert_eq!(ox("Fe1"), Ok((26, None)));
        assert!(ox("Xx").unwrap_err().contains("unknown element \"Xx\""));
        assert!(ox("Fe3x").unwrap_err().contains("oxidation state"));
        assert!(ox("Fe.+").is_err());
        assert!(ox("").is_err());
    }

    #[test]
    fn labels_and_potcar_names() {
        assert_eq!(element_from_label("Fe1"), Some(26));
        assert_eq!(element_from_label("O2a"), Some(8));
        assert_eq!(element_from_label("OW1"), Some(8));
        assert_eq!(element_from_label("Ca"), Some(20));
        assert_eq!(element_from_label("CA1"), Some(20));
        assert_eq!(element_from_label("CO(1)"), Some(27));
        assert_eq!(element_from_label("HC1"), Some(1));
        assert_eq!(element_from_label("Dw1"), Some(1));
        assert_eq!(element_from_label("1"), None);
        assert_eq!(element_from_potcar_name("Fe_pv"), Some(26));
        assert_eq!(element_from_potcar_name("Si/abc"), Some(14));
        assert_eq!(element_from_potcar_name("Qq"), None);
    }
}
