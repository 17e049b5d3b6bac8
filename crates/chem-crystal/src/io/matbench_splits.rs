//! MatBench v0.1's official cross-validation splits, as the `matbench` package ships them:
//! `matbench/matbench_v0.1_validation.json` in the `matbench==0.6` wheel holds, for each of the 13
//! tasks and each of its 5 folds (scikit-learn `KFold(5, shuffle=True, random_state=18012019)`),
//! the ids of the training and test entries (`mb-log-kvrh-00001`, …) of the task's table.
//!
//! [`fetch_matbench_splits`] obtains the file (checked against its pinned SHA-256) and stores it
//! gzipped; [`MatbenchSplits`] reads it and finds the task a table belongs to from its ids.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chem_graph::io::pip_download;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The wheel that ships the splits (from PyPI: `pip download --no-deps matbench==0.6`).
pub const WHEEL_NAME: &str = "matbench-0.6-py3-none-any.whl";

/// The splits file inside the wheel.
pub const VALIDATION_FILE: &str = "matbench/matbench_v0.1_validation.json";

/// SHA-256 of [`VALIDATION_FILE`] in matbench 0.6.
pub const VALIDATION_SHA256: &str = "94c17bc3dac32c67d33d69289927a5fec174497e74bbc47293e23d3d147e9a6d";

/// Folds per task.
pub const FOLDS: usize = 5;

/// One fold of a task: the ids of its training and test entries.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Fold {
    /// Ids to train on (kgcnn and the leaderboard train on all of them).
    pub train: Vec<String>,
    /// Ids to report the fold's test error on.
    pub test: Vec<String>,
}

/// The folds of every MatBench v0.1 task, by task name (`matbench_log_kvrh`, …).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatbenchSplits {
    /// Task name → its [`FOLDS`] folds, in order.
    pub tasks: BTreeMap<String, Vec<Fold>>,
}

#[derive(Deserialize)]
struct ValidationFile {
    splits: BTreeMap<String, BTreeMap<String, Fold>>,
}

impl MatbenchSplits {
    /// Parses the JSON of [`VALIDATION_FILE`] (`{"metadata": …, "splits": {task: {"fold_0": {"train":
    /// [ids], "test": [ids]}, …}}}`); `file` names the source in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<Self> {
        let parsed: ValidationFile = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(format!("{file}: not a MatBench validation file: {e}")))?;
        let mut tasks = BTreeMap::new();
        for (task, mut folds) in parsed.splits {
            let ordered = (0..FOLDS)
                .map(|k| {
                    folds.remove(&format!("fold_{k}")).ok_or_else(|| {
                        Error::invalid(format!(
                            "{file}: task {task} has no fold_{k} (expected fold_0 … fold_{})",
                            FOLDS - 1
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if let Some(extra) = folds.keys().next() {
                return Err(Error::invalid(format!("{file}: task {task} has an unexpected entry `{extra}`")));
            }
            tasks.insert(task, ordered);
        }
        Ok(Self { tasks })
    }

    /// Reads a validation file, gzipped (as [`fetch_matbench_splits`] writes it) or not.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            GzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .map_err(|e| Error::invalid(format!("{}: not a readable gzip file: {e}", path.display())))?;
            out
        } else {
            raw
        };
        Self::parse(&bytes, &path.display().to_string())
    }

    /// The task whose entries are exactly `ids` (a MatBench task table), or an error that says why
    /// none is.
    pub fn task_of(&self, ids: &[String]) -> Result<&str> {
        let given: HashSet<&str> = ids.iter().map(String::as_str).collect();
        for (task, folds) in &self.tasks {
            let fold = &folds[0];
            let all: HashSet<&str> = fold.train.iter().chain(&fold.test).map(String::as_str).collect();
            if all == given {
                return Ok(task);
            }
        }
        let example = ids.first().map_or("none", String::as_str);
        Err(Error::invalid(format!(
            "the dataset's {} ids (e.g. `{example}`) are not the entries of any MatBench v0.1 task; the \
             official folds apply to the task tables themselves (matbench_*.json.gz)",
            ids.len()
        )))
    }

    /// Fold `k` of `task`.
    pub fn fold(&self, task: &str, k: usize) -> Result<&Fold> {
        let folds = self.tasks.get(task).ok_or_else(|| Error::invalid(format!("no MatBench task `{task}`")))?;
        folds.get(k).ok_or_else(|| Error::invalid(format!("MatBench folds are 0 … {}, not {k}", FOLDS - 1)))
    }
}

/// `$CHEMGNN_DATA_DIR/matbench/matbench_v0.1_validation.json.gz`, else under `data/cache` (the rule
/// of the other caches).
pub fn default_splits_path() -> PathBuf {
    std::env::var_os("CHEMGNN_DATA_DIR")
        .map_or_else(|| "data/cache".into(), PathBuf::from)
        .join("matbench")
        .join("matbench_v0.1_validation.json.gz")
}

/// Obtains [`VALIDATION_FILE`], checks it against [`VALIDATION_SHA256`] and writes it gzipped to
/// `out`. `source` is the wheel ([`WHEEL_NAME`]) or the JSON file itself; without it the wheel is
/// downloaded with `python3 -m pip download --no-deps matbench==0.6` (`$PYTHON` overrides `python3`)
/// into a scratch directory next to `out`, removed afterwards. Without a `source` and unless
/// `force`, an `out` that already reads as splits is kept. `log` receives progress messages.
pub fn fetch_matbench_splits(
    source: Option<&Path>,
    out: &Path,
    force: bool,
    log: &mut dyn FnMut(&str),
) -> Result<MatbenchSplits> {
    if !force && source.is_none() {
        if let Ok(splits) = MatbenchSplits::read(out) {
            log(&format!("{} already holds the MatBench splits (force to fetch again)", out.display()));
            return Ok(splits);
        }
    }
    let dir = out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let work = dir.join("matbench-download");
    let result = (|| {
        let (bytes, file) = match source {
            Some(path) if path.extension().is_some_and(|e| e == "whl") => {
                (from_wheel(path)?, path.display().to_string())
            }
            Some(path) => (std::fs::read(path).map_err(|e| Error::io(path, e))?, path.display().to_string()),
            None => {
                std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
                let wheel = pip_download(&work, "matbench==0.6", &[], |n| n == WHEEL_NAME, log)?;
                (from_wheel(&wheel)?, wheel.display().to_string())
            }
        };
        check_hash(&bytes, &file)?;
        let splits = MatbenchSplits::parse(&bytes, &file)?;
        write_gzip(out, &bytes)?;
        log(&format!("wrote {} ({} tasks)", out.display(), splits.tasks.len()));
        Ok(splits)
    })();
    if work.exists() {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

/// [`VALIDATION_FILE`] from the wheel (a zip archive) at `path`.
fn from_wheel(path: &Path) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::invalid(format!("{name} is not a readable wheel (zip archive): {e}")))?;
    let mut entry = archive
        .by_name(VALIDATION_FILE)
        .map_err(|_| Error::invalid(format!("{name} has no {VALIDATION_FILE} (is it {WHEEL_NAME}?)")))?;
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| Error::invalid(format!("{name}:{VALIDATION_FILE} cannot be read: {e}")))?;
    Ok(bytes)
}

fn check_hash(bytes: &[u8], file: &str) -> Result<()> {
    let hash: String = Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect();
    if hash == VALIDATION_SHA256 {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{file}: the splits have SHA-256 {hash}, expected {VALIDATION_SHA256} (matbench 0.6's {VALIDATION_FILE})"
        )))
    }
}

/// Writes `bytes` gzipped to `path` through a temporary file, so that a failure leaves no partial file.
fn write_gzip(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("gz.tmp");
    let write = || -> std::io::Result<()> {
        let mut encoder = GzEncoder::new(std::fs::File::create(&tmp)?, flate2::Compression::default());
        encoder.write_all(bytes)?;
        encoder.finish()?.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tasks of 10 entries, 5 folds of 2 test entries each.
    fn validation_json() -> String {
        let task = |prefix: &str| {
            let ids: Vec<String> = (1..=10).map(|i| format!("\"mb-{prefix}-{i:05}\"")).collect();
            let folds: Vec<String> = (0..FOLDS)
                .map(|k| {
                    let test = &ids[2 * k..2 * k + 2];
                    let train: Vec<&String> = ids.iter().filter(|id| !test.contains(id)).collect();
                    let train: Vec<&str> = train.iter().map(|s| s.as_str()).collect();
                    format!("\"fold_{k}\": {{\"train\": [{}], \"test\": [{}]}}", train.join(","), test.join(","))
                })
                .collect();
            format!("{{{}}}", folds.join(","))
        };
        format!(
            "{{\"metadata\": {{\"n_splits\": 5}}, \"splits\": {{\"matbench_log_kvrh\": {}, \"matbench_dielectric\": {}}}}}",
            task("log-kvrh"),
            task("dielectric")
        )
    }

    #[test]
    fn folds_parse_and_tables_are_matched_to_their_task() {
        let splits = MatbenchSplits::parse(validation_json().as_bytes(), "v.json").unwrap();
        assert_eq!(splits.tasks.len(), 2);
        let ids: Vec<String> = (1..=10).rev().map(|i| format!("mb-log-kvrh-{i:05}")).collect();
        let task = splits.task_of(&ids).unwrap();
        assert_eq!(task, "matbench_log_kvrh");
        let fold = splits.fold(task, 3).unwrap();
        assert_eq!(fold.test, ["mb-log-kvrh-00007", "mb-log-kvrh-00008"]);
        assert_eq!(fold.train.len(), 8);
        assert!(splits.fold(task, 5).unwrap_err().to_string().contains("0 … 4, not 5"));
        let err = splits.task_of(&ids[1..]).unwrap_err().to_string();
        assert!(err.contains("9 ids") && err.contains("not the entries of any MatBench v0.1 task"), "{err}");
    }

    #[test]
    fn files_are_checked_and_stored_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("v.json");
        std::fs::write(&json, validation_json()).unwrap();
        // A file that is not matbench 0.6's is refused before anything is written.
        let out = dir.path().join("cache/splits.json.gz");
        let err = fetch_matbench_splits(Some(&json), &out, false, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("SHA-256") && err.contains(VALIDATION_SHA256), "{err}");
        assert!(!out.exists());
        // The gzipped form reads back as the plain one.
        write_gzip(&out, validation_json().as_bytes()).unwrap();
        assert_eq!(MatbenchSplits::read(&out).unwrap(), MatbenchSplits::read(&json).unwrap());
        // A wheel without the file, a missing fold and malformed JSON are errors naming the file.
        let wheel = dir.path().join(WHEEL_NAME);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
        zip.start_file("matbench/other.json", zip::write::SimpleFileOptions::default()).unwrap();
        zip.finish().unwrap();
        assert!(from_wheel(&wheel).unwrap_err().to_string().contains("has no matbench/matbench_v0.1_validation.json"));
        let missing = validation_json().replace("\"fold_4\"", "\"fold_9\"");
        let err = MatbenchSplits::parse(missing.as_bytes(), "m.json").unwrap_err().to_string();
        assert!(err.contains("m.json: task") && err.contains("no fold_4"), "{err}");
        assert!(MatbenchSplits::parse(b"{\"splits\": [", "bad.json").unwrap_err().to_string().contains("bad.json"));
    }
}
