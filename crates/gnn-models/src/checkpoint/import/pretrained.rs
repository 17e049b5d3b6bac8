//! Pretrained potentials that ship inside their packages' wheels on the Python package index, by
//! name: which wheel holds which checkpoint file, pinned by the SHA-256 of that file, and the
//! fetch that puts it in a cache (`pip download --no-deps` of the pinned release, then the one
//! member unzipped), so that `chemgnn import --from sevenn sevennet-0` needs no Python package.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One pretrained checkpoint inside a wheel.
#[derive(Clone, Copy, Debug)]
pub struct Pretrained {
    /// The name users give (`sevennet-0`).
    pub name: &'static str,
    /// The importer that reads it ([`super::IMPORTERS`]' `source`).
    pub source: &'static str,
    /// The pip requirement of the release (`sevenn==0.13.0`).
    pub requirement: &'static str,
    /// Extra `pip download` options (a platform pin for wheels with compiled code).
    pub pip_options: &'static [&'static str],
    /// The checkpoint's path inside the wheel.
    pub member: &'static str,
    /// SHA-256 of the checkpoint file.
    pub sha256: &'static str,
    /// Model, training data and licence, for `import --help` and the provenance.
    pub about: &'static str,
}

/// chgnet's wheels hold compiled code; any platform's wheel holds the same checkpoint, so one is
/// pinned to make the download the same everywhere.
const CHGNET_WHEEL: &[&str] = &[
    "--only-binary",
    ":all:",
    "--platform",
    "manylinux2014_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
];

/// Every pretrained checkpoint chemgnn fetches by name.
pub const PRETRAINED: &[Pretrained] = &[
    Pretrained {
        name: "sevennet-0",
        source: "sevenn",
        requirement: "sevenn==0.13.0",
        pip_options: &[],
        member: "sevenn/pretrained_potentials/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth",
        sha256: "7052cb42b7b3be42b40b97fa0d21077a48c54b5548948fc4dcf346629f813c36",
        about: "SevenNet-0 (11Jul2024): NequIP-type, 89 elements, MPtrj; MIT",
    },
    Pretrained {
        name: "sevennet-l3i5",
        source: "sevenn",
        requirement: "sevenn==0.13.0",
        pip_options: &[],
        member: "sevenn/pretrained_potentials/SevenNet_l3i5/checkpoint_l3i5.pth",
        sha256: "a7ff190d41efe5b8317a03d20a468e4036a1a3e64e0b14fdbab64ac3f4bfc09d",
        about: "SevenNet-l3i5: NequIP-type with l ≤ 3, 89 elements, MPtrj; MIT",
    },
    Pretrained {
        name: "sevennet-0-22may2024",
        source: "sevenn",
        requirement: "sevenn==0.13.0",
        pip_options: &[],
        member: "sevenn/pretrained_potentials/SevenNet_0__22May2024/checkpoint_sevennet_0.pth",
        sha256: "5d389fafd512e6ae2830d74d0b66ffc49a55d3832653ff8e7bf7f1343013c1d1",
        about: "SevenNet-0 (22May2024, a sevenn 0.9 file): NequIP-type, 89 elements, MPtrj; MIT",
    },
    Pretrained {
        name: "chgnet-0.3.0",
        source: "chgnet",
        requirement: "chgnet==0.4.2",
        pip_options: CHGNET_WHEEL,
        member: "chgnet/pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
        sha256: "d14ab7c0f093efe64b60a7bcd540bca10e74fb7f46c86108a079af60524659d1",
        about: "CHGNet 0.3.0: invariant, 94 elements, MPtrj, magnetic moments; modified BSD",
    },
];

/// The entry called `name` (case-insensitive), or an error listing the names.
pub fn find(name: &str) -> Result<&'static Pretrained> {
    PRETRAINED.iter().find(|p| p.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
        let names: Vec<&str> = PRETRAINED.iter().map(|p| p.name).collect();
        Error::Input(format!("no pretrained model called `{name}` (known: {})", names.join(", ")))
    })
}

/// `$CHEMGNN_DATA_DIR/pretrained`, else `data/cache/pretrained` (the rule of the other caches).
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("CHEMGNN_DATA_DIR").map_or_else(|| "data/cache".into(), PathBuf::from).join("pretrained")
}

impl Pretrained {
    /// Where the checkpoint lies in `cache`: `<package>-<version>/<member>`.
    pub fn path_in(&self, cache: &Path) -> PathBuf {
        cache.join(self.requirement.replace("==", "-")).join(self.member)
    }

    /// The checkpoint file in `cache`, fetched first unless it is there with the pinned hash;
    /// `log` hears what is done.
    pub fn ensure_in(&self, cache: &Path, log: &mut dyn FnMut(&str)) -> Result<PathBuf> {
        let path = self.path_in(cache);
        if let Ok(bytes) = std::fs::read(&path) {
            if sha256_hex(&bytes) == self.sha256 {
                return Ok(path);
            }
            log(&format!("{} does not have the pinned SHA-256; fetching it again", path.display()));
        }
        // One scratch directory per call: tests fetch from several threads of one process.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let scratch = cache.join(format!(".download-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&scratch).map_err(|e| Error::io(&scratch, e))?;
        let result = (|| {
            let package = self.requirement.split("==").next().unwrap_or(self.requirement);
            let wheel = chem_graph::io::pip_download(
                &scratch,
                self.requirement,
                self.pip_options,
                |n| n.starts_with(package) && n.ends_with(".whl"),
                log,
            )?;
            self.extract(&wheel, &path)
        })();
        // The wheel is not needed once the checkpoint is out (or after a failure).
        let _ = std::fs::remove_dir_all(&scratch);
        result.map(|()| path)
    }

    /// Writes the checkpoint held by `wheel` to `out` (atomically) after checking its hash.
    pub fn extract(&self, wheel: &Path, out: &Path) -> Result<()> {
        let bytes = self.read_from_wheel(wheel)?;
        chem_graph::io::write_atomically(out, &bytes)?;
        Ok(())
    }

    /// The checkpoint's bytes from `wheel`, checked against the pinned hash.
    pub fn read_from_wheel(&self, wheel: &Path) -> Result<Vec<u8>> {
        let bad = |m: String| Error::Input(format!("{}: {m}", wheel.display()));
        let file = std::fs::File::open(wheel).map_err(|e| Error::io(wheel, e))?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
            .map_err(|e| bad(format!("not a readable wheel ({e})")))?;
        let mut entry = zip
            .by_name(self.member)
            .map_err(|_| bad(format!("has no {} (a wheel of {}?)", self.member, self.requirement)))?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| bad(format!("{}: {e}", self.member)))?;
        let hash = sha256_hex(&bytes);
        if hash != self.sha256 {
            return Err(bad(format!(
                "{} has SHA-256 {hash}, expected {} (the file of {})",
                self.member, self.sha256, self.requirement
            )));
        }
        Ok(bytes)
    }
}

/// The checkpoint file a user named for the importer `source` (`sevenn`, `chgnet`): an existing
/// checkpoint file as it is; a wheel of the package (`….whl`): its first checkpoint of
/// [`PRETRAINED`] for `source` (e.g. SevenNet-0 from sevenn's), extracted into `cache`; otherwise a
/// name of [`PRETRAINED`], fetched into `cache` if needed.
pub fn resolve(source: &str, given: &str, cache: &Path, log: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    let path = Path::new(given);
    if path.is_file() {
        if !given.ends_with(".whl") {
            return Ok(path.to_path_buf());
        }
        let entry = PRETRAINED
            .iter()
            .find(|p| p.source == source)
            .ok_or_else(|| Error::Input(format!("{given}: no pretrained checkpoint of a {source} wheel is known")))?;
        let out = entry.path_in(cache);
        log(&format!("{}: {} → {}", path.display(), entry.member, out.display()));
        entry.extract(path, &out)?;
        return Ok(out);
    }
    let entry = find(given).map_err(|e| {
        if path.components().count() > 1 || given.contains('.') {
            Error::Input(format!("{given}: no such file, and {e}"))
        } else {
            e
        }
    })?;
    if entry.source != source {
        return Err(Error::Input(format!("{} is imported with --from {}, not {source}", entry.name, entry.source)));
    }
    entry.ensure_in(cache, log)
}

/// The checkpoint `name` in the default cache, fetched if needed (progress on stderr).
pub fn ensure(name: &str) -> Result<PathBuf> {
    find(name)?.ensure_in(&default_cache_dir(), &mut |m| eprintln!("{m}"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_and_unknown_names_listed() {
        assert_eq!(find("SevenNet-0").unwrap().member, PRETRAINED[0].member);
        let err = find("mace-mp-0").unwrap_err().to_string();
        assert!(err.contains("mace-mp-0") && err.contains("chgnet-0.3.0"), "{err}");
    }

    #[test]
    fn a_wheel_without_the_member_or_with_another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("sevenn-0.13.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&wheel).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file(PRETRAINED[0].member, options).unwrap();
        std::io::Write::write_all(&mut zip, b"not the checkpoint").unwrap();
        zip.finish().unwrap();
        let err = PRETRAINED[0].read_from_wheel(&wheel).unwrap_err().to_string();
        assert!(err.contains("SHA-256") && err.contains("sevenn==0.13.0"), "{err}");
        let err = PRETRAINED[1].read_from_wheel(&wheel).unwrap_err().to_string();
        assert!(err.contains("has no sevenn/pretrained_potentials/SevenNet_l3i5"), "{err}");
        std::fs::write(&wheel, b"truncated").unwrap();
        assert!(PRETRAINED[0].read_from_wheel(&wheel).unwrap_err().to_string().contains("not a readable wheel"));
    }
}
