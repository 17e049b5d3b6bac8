//! Reads the tables of the `qm9pack` Python package (`qm9pack/data/qm9_part{1,2,3}.csv`): one row per
//! characterized molecule with `XYZ_Ang`, `Elements`, `Mulliken_pop` and every property. The wheel
//! (`pip download --no-deps qm9pack`) is a zip file and is read in place.

use std::io::Read;
use std::path::Path;

use rayon::prelude::*;

use crate::element;
use crate::error::{Error, Result};
use crate::qm9::molecule::{parse_qm9_f64, Qm9Molecule};

/// The property columns in [`crate::qm9::RawProperties`] order.
const PROPERTY_COLUMNS: [&str; 15] = [
    "RotA_GHz",
    "RotB_GHz",
    "RotC_GHz",
    "Dipole_debye",
    "Polarizability_bohr3",
    "HOMO_au",
    "LUMO_au",
    "HOMO_LUMO_gap_au",
    "R2_bohr2",
    "ZPVE_au",
    "InternalEnergy_0K_au",
    "InternalEnergy_298K_au",
    "Enthalphy_298K_au",
    "GibbsFreeEnergy_298K_au",
    "Heatcapacity_Cv_cal_mol_K",
];

/// Parses one qm9pack CSV table; `file` names it in error messages (with the CSV line number).
pub fn read_qm9pack_csv(reader: impl Read, file: &str) -> Result<Vec<Qm9Molecule>> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
    let headers = csv.headers().map_err(|e| Error::parse(file, 1, format!("unreadable CSV header: {e}")))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| Error::parse(file, 1, format!("missing column '{name}'")))
    };
    let cols = Columns {
        index: col("Index")?,
        smiles: col("SMILES")?,
        inchi: col("InChi")?,
        elements: col("Elements")?,
        xyz: col("XYZ_Ang")?,
        charges: col("Mulliken_pop")?,
        freq: col("Harmonic_Freq_cmi")?,
        props: PROPERTY_COLUMNS.iter().map(|c| col(c)).collect::<Result<Vec<_>>>()?,
    };
    let mut records = Vec::new();
    for rec in csv.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line() as usize);
            Error::parse(file, line, format!("malformed CSV row: {e}"))
        })?;
        records.push(rec);
    }
    records.par_iter().map(|rec| parse_row(rec, &cols, file)).collect()
}

/// Reads all `qm9_part*.csv` tables from a qm9pack wheel (zip), a directory holding them, or a
/// single CSV file. Molecules are returned sorted by GDB index.
pub fn read_qm9pack(path: impl AsRef<Path>) -> Result<Vec<Qm9Molecule>> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let mut mols = Vec::new();
    if path.is_dir() {
        let mut parts: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| is_table(&n.to_string_lossy())))
            .collect();
        parts.sort();
        for p in parts {
            let f = std::fs::File::open(&p).map_err(|e| Error::io(&p, e))?;
            mols.extend(read_qm9pack_csv(std::io::BufReader::new(f), &p.display().to_string())?);
        }
    } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("whl") || e.eq_ignore_ascii_case("zip")) {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut zip =
            zip::ZipArchive::new(f).map_err(|e| Error::parse(&name, 0, format!("not a zip/wheel file: {e}")))?;
        let mut parts: Vec<String> = zip
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .filter(|n| is_table(n.rsplit('/').next().unwrap_or(n)))
            .collect();
        parts.sort();
        for member in parts {
            let entry = zip.by_name(&member).map_err(|e| Error::parse(&name, 0, e.to_string()))?;
            mols.extend(read_qm9pack_csv(std::io::BufReader::new(entry), &format!("{name}:{member}"))?);
        }
    } else {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        mols = read_qm9pack_csv(std::io::BufReader::new(f), &name)?;
    }
    if mols.is_empty() {
        return Err(Error::parse(&name, 0, "no qm9pack tables (qm9_part*.csv) found"));
    }
    mols.sort_by_key(|m| m.index);
    Ok(mols)
}

/// Whether a file name is one of qm9pack's molecule tables (`qm9_part1.csv`, …).
fn is_table(file_name: &str) -> bool {
    file_name.starts_with("qm9_part") && file_name.ends_with(".csv")
}

struct Columns {
    index: usize,
    smiles: usize,
    inchi: usize,
    elements: usize,
    xyz: usize,
    charges: usize,
    freq: usize,
    props: Vec<usize>,
}

fn parse_row(rec: &csv::StringRecord, c: &Columns, file: &str) -> Result<Qm9Molecule> {
    let line = rec.position().map_or(0, |p| p.line() as usize);
    let err = |msg: String| Error::parse(file, line, msg);
    let field =
        |i: usize| rec.get(i).ok_or_else(|| err(format!("row has {} fields, expected more than {i}", rec.len())));
    let numbers_list = |i: usize, what: &str| -> Result<Vec<f64>> {
        list_items(field(i)?)
            .map(|t| parse_qm9_f64(t).ok_or_else(|| err(format!("{what}: '{t}' is not a finite number"))))
            .collect()
    };
    let index = field(c.index)?.parse().map_err(|_| err(format!("bad Index '{}'", rec.get(c.index).unwrap_or(""))))?;
    let numbers = list_items(field(c.elements)?)
        .map(|s| element::by_symbol(s).map(|e| e.z).ok_or_else(|| err(format!("unknown element '{s}'"))))
        .collect::<Result<Vec<u8>>>()?;
    let xyz = numbers_list(c.xyz, "XYZ_Ang")?;
    let charges = numbers_list(c.charges, "Mulliken_pop")?;
    let n = numbers.len();
    if n == 0 || xyz.len() != 3 * n || charges.len() != n {
        return Err(err(format!("{n} elements but {} coordinates and {} charges", xyz.len(), charges.len())));
    }
    let mut raw = [0.0; 15];
    for (k, slot) in raw.iter_mut().enumerate() {
        let t = field(c.props[k])?;
        *slot = parse_qm9_f64(t).ok_or_else(|| err(format!("{}: '{t}' is not a number", PROPERTY_COLUMNS[k])))?;
    }
    let smiles = field(c.smiles)?.to_string();
    let inchi = field(c.inchi)?.to_string();
    Ok(Qm9Molecule {
        index,
        numbers,
        positions: xyz.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
        charges,
        raw,
        frequencies: numbers_list(c.freq, "Harmonic_Freq_cmi")?,
        smiles: [smiles.clone(), smiles],
        inchi: [inchi.clone(), inchi],
    })
}

/// Items of a Python-literal list such as `"['C','H']"` or `"[[1.0,2.0],[3.,4.]]"` (nesting flattened).
fn list_items(s: &str) -> impl Iterator<Item = &str> {
    s.split(',')
        .map(|t| t.trim_matches(|c: char| c == '[' || c == ']' || c == '\'' || c == '"' || c.is_whitespace()))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop,Harmonic_Freq_cmi,RotA_GHz,RotB_GHz,RotC_GHz,Dipole_debye,Polarizability_bohr3,HOMO_au,LUMO_au,HOMO_LUMO_gap_au,R2_bohr2,ZPVE_au,InternalEnergy_0K_au,InternalEnergy_298K_au,Enthalphy_298K_au,GibbsFreeEnergy_298K_au,Heatcapacity_Cv_cal_mol_K
"dsgdb9nsd_000003.xyz",3,"O","InChI=1S/H2O/h1H2",3,"[2,0,0,1,0]","['O','H','H']","[[-0.0343604951,0.9775395708,0.0076015923],[0.0647664923,0.0205721989,0.0015346341],[0.8717903737,1.3007924048,0.0006931336]]","[-0.589706,0.294853,0.294853]","[1671.4222,3803.6305,3907.698]",799.58812,437.90386,282.94545,1.8511,6.31,-0.2928,0.0687,0.3615,19.0002,0.021375,-76.404702,-76.401867,-76.400922,-76.422349,6.002
"dsgdb9nsd_000004.xyz",4,"C#C","InChI=1S/C2H2/c1-2/h1-2H",4,"[2,2,0,0,0]","['C','C','H','H']","[[0.5995394918,0.,1.],[-0.5995394918,0.,1.],[-1.6616385861,0.,1.],[1.6616385861,0.,1.]]","[-0.207019,-0.207019,0.207019,0.207019]","[549.7648,549.7648,795.2713,795.2713,2078.1131,3455.8096,3557.8599]",0.,35.6100361,35.6100361,0.,16.28,-0.2845,0.0506,0.3351,59.5248,0.026841,-77.308427,-77.305527,-77.304583,-77.327429,8.574
"#;

    #[test]
    fn parses_rows() {
        let mols = read_qm9pack_csv(TABLE.as_bytes(), "t.csv").unwrap();
        assert_eq!(mols.len(), 2);
        let w = &mols[0];
        assert_eq!((w.index, w.numbers.as_slice()), (3, &[8u8, 1, 1][..]));
        assert_eq!(w.positions[2], [0.8717903737, 1.3007924048, 0.0006931336]);
        assert_eq!(w.raw[0], 799.58812);
        assert_eq!(w.raw[10], -76.404702);
        assert_eq!(mols[1].positions[0], [0.5995394918, 0.0, 1.0]);
        assert_eq!(mols[1].frequencies.len(), 7);
    }

    #[test]
    fn bad_rows_name_the_line() {
        let bad = TABLE.replace("['C','C','H','H']", "['C','Qq','H','H']");
        let err = read_qm9pack_csv(bad.as_bytes(), "t.csv").unwrap_err().to_string();
        assert!(err.starts_with("t.csv:3:") && err.contains("unknown element 'Qq'"), "{err}");
        let bad = TABLE.replace("-76.404702", "x");
        let err = read_qm9pack_csv(bad.as_bytes(), "t.csv").unwrap_err().to_string();
        assert!(err.starts_with("t.csv:2:") && err.contains("InternalEnergy_0K_au"), "{err}");
        let bad = TABLE.replace(",0.0076015923]", "]");
        assert!(read_qm9pack_csv(bad.as_bytes(), "t.csv")
            .unwrap_err()
            .to_string()
            .contains("3 elements but 8 coordinates"));
    }
}
