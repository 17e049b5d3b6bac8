//! One QM9 molecule as read from an original `dsgdb9nsd_NNNNNN.xyz` file or a qm9pack CSV row.

use crate::element;
use crate::error::{Error, Result};
use crate::qm9::targets::{targets_from_raw, Qm9Target, RawProperties, RAW_PROPERTY_NAMES};
use crate::structure::{AtomArray, Property, Structure};

/// Everything a QM9 record holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Qm9Molecule {
    /// 1-based GDB index (`dsgdb9nsd_000001` has index 1).
    pub index: u32,
    /// Atomic numbers.
    pub numbers: Vec<u8>,
    /// Positions in Å.
    pub positions: Vec<[f64; 3]>,
    /// Mulliken partial charges in e.
    pub charges: Vec<f64>,
    /// The 15 properties of the `gdb` line in file order and units (see [`RawProperties`]).
    pub raw: RawProperties,
    /// Harmonic vibrational frequencies in cm⁻¹.
    pub frequencies: Vec<f64>,
    /// SMILES from GDB-17 and of the relaxed geometry (qm9pack stores one, repeated here).
    pub smiles: [String; 2],
    /// InChI from GDB-17 and of the relaxed geometry (qm9pack stores one, repeated here).
    pub inchi: [String; 2],
}

impl Qm9Molecule {
    /// The 19 targets in PyG order and units.
    pub fn targets(&self) -> Result<[f64; 19]> {
        targets_from_raw(&self.numbers, &self.raw)
    }

    /// The molecule in the original QM9 file format (`dsgdb9nsd_NNNNNN.xyz`), tab-separated, with
    /// numbers in Rust's shortest round-trip form, so that [`parse_qm9_xyz`] gives it back exactly.
    pub fn to_qm9_xyz(&self) -> String {
        let tabbed = |values: &[f64]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\t");
        let mut out = format!("{}\ngdb {}\t{}\t\n", self.numbers.len(), self.index, tabbed(&self.raw));
        for ((&z, p), q) in self.numbers.iter().zip(&self.positions).zip(&self.charges) {
            let symbol = element::by_number(z).map_or("X", |e| e.symbol);
            out.push_str(&format!("{symbol}\t{}\t{}\n", tabbed(p), q));
        }
        out.push_str(&tabbed(&self.frequencies));
        out.push_str(&format!("\n{}\t{}\n{}\t{}\n", self.smiles[0], self.smiles[1], self.inchi[0], self.inchi[1]));
        out
    }

    /// A [`Structure`] as every QM9 reader gives it (named `gdb_N`, per-atom `charges`, the 19 targets in
    /// PyG units under their [`Qm9Target::name`]s, `smiles`), plus the `frequencies`
    /// (cm⁻¹) and `inchi` properties. Fails for elements without atom references.
    pub fn to_structure(&self) -> Result<Structure> {
        let mut s =
            qm9_structure(self.index, &self.numbers, &self.positions, &self.charges, &self.targets()?, &self.smiles[1]);
        s.properties.insert("frequencies".into(), Property::FloatArray(self.frequencies.clone()));
        s.properties.insert("inchi".into(), Property::Str(self.inchi[1].clone()));
        Ok(s)
    }
}

/// A QM9 molecule as a [`Structure`] named `gdb_N`: per-atom `charges` (Mulliken, e), the 19 targets
/// as properties under their [`Qm9Target::name`]s in PyG's units, and `smiles`.
pub(crate) fn qm9_structure(
    index: u32,
    numbers: &[u8],
    positions: &[[f64; 3]],
    charges: &[f64],
    targets: &[f64; 19],
    smiles: &str,
) -> Structure {
    let mut s = Structure {
        name: format!("gdb_{index}"),
        numbers: numbers.to_vec(),
        positions: positions.to_vec(),
        ..Default::default()
    };
    s.atom_arrays.insert("charges".into(), AtomArray::Real { width: 1, data: charges.to_vec() });
    for t in Qm9Target::ALL {
        s.properties.insert(t.name().into(), Property::Float(targets[t.index()]));
    }
    s.properties.insert("smiles".into(), Property::Str(smiles.to_string()));
    s
}

/// Parses a number as QM9 writes it, accepting Fortran/Mathematica exponents (`6.8*^-6`).
pub(crate) fn parse_qm9_f64(token: &str) -> Option<f64> {
    let v = if token.contains("*^") { token.replace("*^", "e").parse().ok() } else { token.parse().ok() };
    v.filter(|x: &f64| x.is_finite())
}

/// Parses the text of one original QM9 file; `file` names it in error messages.
pub fn parse_qm9_xyz(text: &str, file: &str) -> Result<Qm9Molecule> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut next = |what: &str| {
        lines.next().ok_or_else(|| Error::parse(file, text.lines().count() + 1, format!("file ends before the {what}")))
    };
    let (ln, count) = next("atom count")?;
    let n: usize = count
        .trim()
        .parse()
        .map_err(|_| Error::parse(file, ln, format!("expected the atom count, found '{}'", count.trim())))?;
    if n == 0 || n > 255 {
        return Err(Error::parse(file, ln, format!("atom count {n} is outside 1..=255")));
    }
    let (ln, gdb) = next("'gdb' property line")?;
    let tokens: Vec<&str> = gdb.split_whitespace().collect();
    if tokens.len() != 17 || tokens[0] != "gdb" {
        return Err(Error::parse(
            file,
            ln,
            format!("expected 'gdb <index>' and 15 properties, found {} fields", tokens.len()),
        ));
    }
    let index: u32 = tokens[1].parse().map_err(|_| Error::parse(file, ln, format!("bad gdb index '{}'", tokens[1])))?;
    let mut raw = [0.0; 15];
    for (k, (slot, tok)) in raw.iter_mut().zip(&tokens[2..]).enumerate() {
        *slot = parse_qm9_f64(tok).ok_or_else(|| {
            Error::parse(file, ln, format!("property {} is not a number: '{tok}'", RAW_PROPERTY_NAMES[k]))
        })?;
    }
    let (mut numbers, mut positions, mut charges) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let (ln, line) = next("atom lines (fewer atoms than the count says)")?;
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 5 {
            return Err(Error::parse(file, ln, format!("expected 'element x y z charge', found {} fields", f.len())));
        }
        let el =
            element::by_symbol(f[0]).ok_or_else(|| Error::parse(file, ln, format!("unknown element '{}'", f[0])))?;
        let mut v = [0.0; 4];
        for (k, (slot, tok)) in v.iter_mut().zip(&f[1..]).enumerate() {
            *slot = parse_qm9_f64(tok).ok_or_else(|| {
                Error::parse(file, ln, format!("{} is not a finite number: '{tok}'", ["x", "y", "z", "charge"][k]))
            })?;
        }
        numbers.push(el.z);
        positions.push([v[0], v[1], v[2]]);
        charges.push(v[3]);
    }
    let (ln, freq) = next("frequency line")?;
    let frequencies = freq
        .split_whitespace()
        .map(|t| parse_qm9_f64(t).ok_or_else(|| Error::parse(file, ln, format!("frequency is not a number: '{t}'"))))
        .collect::<Result<Vec<_>>>()?;
    let mut pair = |what: &str| -> Result<[String; 2]> {
        let (ln, line) = next(what)?;
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [a, b] => Ok([a.to_string(), b.to_string()]),
            _ => Err(Error::parse(file, ln, format!("expected two {what} entries, found {}", f.len()))),
        }
    };
    let smiles = pair("SMILES")?;
    let inchi = pair("InChI")?;
    Ok(Qm9Molecule { index, numbers, positions, charges, raw, frequencies, smiles, inchi })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `dsgdb9nsd_000001.xyz` as distributed (methane).
    pub(crate) const METHANE: &str = "5
gdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t
C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689
H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921
H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922
H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923
H\t-0.5238136345\t 1.4379326443\t 0.9063972942\t 0.133923
1341.307\t1341.3284\t1341.365\t1562.6731\t1562.7453\t3038.3205\t3151.6034\t3151.6788\t3151.7078
C\tC\t
InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4
";

    #[test]
    fn parses_methane() {
        let m = parse_qm9_xyz(METHANE, "dsgdb9nsd_000001.xyz").unwrap();
        assert_eq!(m.index, 1);
        assert_eq!(m.numbers, vec![6, 1, 1, 1, 1]);
        assert_eq!(m.positions[3], [-0.540815069, 1.4475266138, -0.8766437152]);
        assert_eq!(m.charges[0], -0.535689);
        assert_eq!(m.raw[10], -40.47893);
        assert_eq!(m.frequencies.len(), 9);
        assert_eq!(m.smiles, ["C".to_string(), "C".to_string()]);
        let s = m.to_structure().unwrap();
        assert_eq!(s.name, "gdb_1");
        assert_eq!(s.property_f64("U0"), Some(-40.47893 * crate::qm9::HARTREE_TO_EV));
        assert_eq!(s.property_f64("A"), Some(157.7118));
    }

    #[test]
    fn writer_round_trips() {
        let m = parse_qm9_xyz(METHANE, "m").unwrap();
        assert_eq!(parse_qm9_xyz(&m.to_qm9_xyz(), "w").unwrap(), m);
        let mut odd = m.clone();
        odd.positions[2] = [1e-300, -0.1 + 0.2, 7.0];
        odd.raw[3] = 6.8e-6;
        assert_eq!(parse_qm9_xyz(&odd.to_qm9_xyz(), "w").unwrap(), odd);
    }

    #[test]
    fn fortran_exponents() {
        let text = METHANE.replace("0.002150416", "2.150416*^-3").replace("\t0.\t13.21", "\t1.5*^-6\t13.21");
        let m = parse_qm9_xyz(&text, "f").unwrap();
        assert_eq!(m.positions[1][0], 2.150416e-3);
        assert_eq!(m.raw[3], 1.5e-6);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases = [
            (METHANE.replace("5\n", "x\n"), 1, "atom count"),
            (METHANE.replace("H\t 1.0117308433", "Xq\t 1.0117308433"), 5, "unknown element 'Xq'"),
            (METHANE.replace("0.9063972942", "nan"), 7, "z is not a finite number"),
            (METHANE.replace("-40.47893", "abc"), 2, "property U0"),
            (METHANE.lines().take(4).collect::<Vec<_>>().join("\n"), 5, "fewer atoms"),
            (METHANE.replace("5\n", "6\n"), 8, "expected 'element x y z charge'"),
        ];
        for (text, line, phrase) in cases {
            let err = parse_qm9_xyz(&text, "m.xyz").unwrap_err().to_string();
            assert!(err.starts_with(&format!("m.xyz:{line}:")) && err.contains(phrase), "{err}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Truncating the file anywhere or overwriting a byte range with arbitrary text gives
        /// either a molecule or a located parse error — never a panic.
        #[test]
        fn arbitrary_damage_never_panics(cut in 0usize..600, at in 0usize..600, junk in "\\PC{0,12}") {
            let mut text = METHANE.to_string();
            let at = text.char_indices().map(|(i, _)| i).nth(at % text.chars().count()).unwrap_or(0);
            text.replace_range(at..(at + junk.len()).min(text.len()), &junk);
            let cut = text.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(text.len());
            text.truncate(cut);
            if let Err(e) = parse_qm9_xyz(&text, "f.xyz") {
                proptest::prop_assert!(matches!(e, Error::Parse { .. }), "{e}");
                proptest::prop_assert!(e.to_string().starts_with("f.xyz:"), "{e}");
            }
        }
    }
}
