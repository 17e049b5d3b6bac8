//! [`fetch_matminer`]: the four CSVs from the `matminer==0.4.0` sdist, checked against their
//! pinned SHA-256 and converted to MatBench-style tables.

use std::io::Read;
use std::path::{Path, PathBuf};

use chem_graph::io::pip_download;
use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

use super::{MatminerSet, MatminerTable, MATMINER_SETS};
use crate::error::{Error, Result};
use crate::io::matbench::MatbenchDataset;
use crate::io::options::ReadOptions;

/// The source distribution that bundles the CSVs (from PyPI: `pip download --no-deps matminer==0.4.0`).
pub const SDIST_NAME: &str = "matminer-0.4.0.tar.gz";

/// One table [`fetch_matminer`] wrote (or found).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedTable {
    /// The table file, `<dir>/<set>.json.gz` or `<dir>/<set>_<target>.json.gz`.
    pub path: PathBuf,
    /// The target column.
    pub target: String,
    /// The number of structures.
    pub structures: usize,
}

/// `$CHEMGNN_DATA_DIR/matminer`, else `data/cache/matminer` (the rule of QM9's cache path).
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("CHEMGNN_DATA_DIR").map_or_else(|| "data/cache".into(), PathBuf::from).join("matminer")
}

/// Obtains the four CSVs, checks each against [`MatminerSet::sha256`] and writes one MatBench-style
/// table per target to `out` (see [`MatminerSet::table_file`]). `source` is the sdist
/// (`matminer-0.4.0.tar.gz`) or a directory holding the four CSVs; without it the sdist is
/// downloaded with `python3 -m pip download --no-deps matminer==0.4.0` (`$PYTHON` overrides
/// `python3`) into a scratch directory that is removed afterwards. Without a `source` and unless
/// `force`, tables already in `out` that read back with the expected number of rows are kept as
/// they are. `log` receives progress messages.
pub fn fetch_matminer(
    source: Option<&Path>,
    out: &Path,
    force: bool,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<FetchedTable>> {
    if !force && source.is_none() {
        if let Some(tables) = existing_tables(out) {
            log(&format!(
                "{} already holds the {} matminer tables (force to fetch again)",
                out.display(),
                tables.len()
            ));
            return Ok(tables);
        }
    }
    let work = out.join("matminer-download");
    let result = (|| {
        let csvs = match source {
            Some(path) if path.is_dir() => read_directory(path)?,
            Some(path) => read_sdist(path)?,
            None => {
                std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
                read_sdist(&pip_download(&work, "matminer==0.4.0", &[], |n| n == SDIST_NAME, log)?)?
            }
        };
        convert(&csvs, out, log)
    })();
    // The sdist is not needed once converted (or after a failure); cleaning up is best effort.
    if work.exists() {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

/// The tables in `out` when every one reads back with its set's row count.
fn existing_tables(out: &Path) -> Option<Vec<FetchedTable>> {
    let mut tables = Vec::new();
    for set in &MATMINER_SETS {
        for target in set.targets {
            let path = out.join(set.table_file(target));
            let d = MatbenchDataset::read(&path).ok().filter(|d| d.len() == set.rows && d.target_name == *target)?;
            tables.push(FetchedTable { path, target: (*target).to_string(), structures: d.len() });
        }
    }
    Some(tables)
}

/// Parses each `(set, file name, CSV bytes)` and writes its tables to `out`.
pub(super) fn convert(
    csvs: &[(MatminerSet, String, Vec<u8>)],
    out: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<FetchedTable>> {
    let mut tables = Vec::new();
    for (set, file, bytes) in csvs {
        log(&format!("converting {file}"));
        let table = MatminerTable::parse(*set, bytes, file, &ReadOptions::default())?;
        for target in set.targets {
            let dataset = table.matbench(target)?;
            let path = out.join(set.table_file(target));
            dataset.write(&path)?;
            tables.push(FetchedTable { path, target: (*target).to_string(), structures: dataset.len() });
        }
    }
    Ok(tables)
}

/// The CSVs `<set>.csv` of a directory, hash-checked.
fn read_directory(dir: &Path) -> Result<Vec<(MatminerSet, String, Vec<u8>)>> {
    MATMINER_SETS
        .iter()
        .map(|set| {
            let path = dir.join(format!("{}.csv", set.name));
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let file = path.display().to_string();
            check_hash(set, &file, &bytes)?;
            Ok((*set, file, bytes))
        })
        .collect()
}

/// The CSVs `…/matminer/datasets/<set>.csv` of a `.tar.gz` sdist, hash-checked.
fn read_sdist(path: &Path) -> Result<Vec<(MatminerSet, String, Vec<u8>)>> {
    let archive = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(std::io::BufReader::new(file)));
    let unreadable = |e: std::io::Error| Error::invalid(format!("{archive} is not a readable .tar.gz archive: {e}"));
    let mut found: Vec<Option<(MatminerSet, String, Vec<u8>)>> = vec![None; MATMINER_SETS.len()];
    for entry in tar.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let name = entry.path().map_err(unreadable)?.to_string_lossy().into_owned();
        let Some(k) = MATMINER_SETS.iter().position(|s| name.ends_with(&format!("matminer/datasets/{}.csv", s.name)))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(unreadable)?;
        let file = format!("{archive}:{name}");
        check_hash(&MATMINER_SETS[k], &file, &bytes)?;
        found[k] = Some((MATMINER_SETS[k], file, bytes));
    }
    MATMINER_SETS
        .iter()
        .zip(found)
        .map(|(set, f)| {
            f.ok_or_else(|| {
                Error::invalid(format!("{archive} has no matminer/datasets/{}.csv (is it {SDIST_NAME}?)", set.name))
            })
        })
        .collect()
}

fn check_hash(set: &MatminerSet, file: &str, bytes: &[u8]) -> Result<()> {
    let hash: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    if hash == set.sha256 {
        Ok(())
    } else {
        Err(Error::invalid(format!("{file} has SHA-256 {hash}, expected {} (the file of matminer 0.4.0)", set.sha256)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::read_crystals;

    fn snippets() -> Vec<(MatminerSet, String, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/matminer");
        MATMINER_SETS
            .iter()
            .map(|set| {
                let path = dir.join(format!("{}.csv", set.name));
                (*set, path.display().to_string(), std::fs::read(&path).unwrap())
            })
            .collect()
    }

    #[test]
    fn converts_the_snippets_to_matbench_tables() {
        let out = tempfile::tempdir().unwrap();
        let tables = convert(&snippets(), out.path(), &mut |_| {}).unwrap();
        let names: Vec<String> =
            tables.iter().map(|t| t.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(
            names,
            [
                "flla_2015.json.gz",
                "flla_2015_e_above_hull.json.gz",
                "elastic_tensor.json.gz",
                "elastic_tensor_G_VRH.json.gz",
                "dielectric_constant.json.gz",
                "dielectric_constant_band_gap.json.gz",
                "piezoelectric_tensor.json.gz"
            ]
        );
        let flla = MatbenchDataset::read(&tables[0].path).unwrap();
        assert_eq!(flla.target_name, "formation_energy_per_atom");
        assert_eq!(flla.ids, ["mp-10", "mp-10000", "mp-10004"]);
        assert_eq!(flla.targets[0], 0.1074050600000005);
        let elastic = MatbenchDataset::read(&tables[3].path).unwrap();
        assert_eq!((elastic.ids[0].as_str(), elastic.targets[0]), ("mp-10003", 97.1416044794));
        assert_eq!(elastic.structures[0].len(), 12);
        // The dielectric rows start with an unnamed index: n is the sixth field, not the fifth.
        let dielectric = read_crystals(&tables[4].path).unwrap();
        assert_eq!((dielectric[0].name.as_str(), dielectric[0].property_f64("n")), ("mp-441", Some(1.86)));
        let piezo = MatbenchDataset::read(&tables[6].path).unwrap();
        assert_eq!((piezo.ids[0].as_str(), piezo.targets[0]), ("mp-22925", 0.091464));
        assert!(tables.iter().all(|t| t.structures == 3));
    }

    #[test]
    fn refuses_files_that_are_not_the_pinned_ones() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/matminer");
        let out = tempfile::tempdir().unwrap();
        let err = fetch_matminer(Some(&dir), out.path(), false, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("flla_2015.csv has SHA-256 ") && err.contains(", expected 35b8dbc0"), "{err}");

        // An archive without the CSVs.
        let sdist = out.path().join(SDIST_NAME);
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_cksum();
        builder.append_data(&mut header, "matminer-0.4.0/setup.py", &b"x\n"[..]).unwrap();
        std::fs::write(&sdist, builder.into_inner().unwrap().finish().unwrap()).unwrap();
        let err = fetch_matminer(Some(&sdist), out.path(), false, &mut |_| {}).unwrap_err().to_string();
        assert!(err.ends_with("has no matminer/datasets/flla_2015.csv (is it matminer-0.4.0.tar.gz?)"), "{err}");
        std::fs::write(&sdist, b"not gzip").unwrap();
        let err = fetch_matminer(Some(&sdist), out.path(), false, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("is not a readable .tar.gz archive"), "{err}");
    }
}
