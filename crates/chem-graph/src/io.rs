//! Reading structures from any supported file, with the format chosen from the file itself.

use std::io::{BufRead, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::qm9::{parse_qm9_xyz, Qm9Dataset};
use crate::structure::Structure;
use crate::xyz::read_xyz_file;

/// A file format [`read_structures`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// XYZ or extended XYZ (ASE dialect), one or many frames.
    Xyz,
    /// One original QM9 file (`dsgdb9nsd_NNNNNN.xyz`).
    Qm9Xyz,
    /// The QM9 archive `dsgdb9nsd.xyz.tar.bz2` (or an uncompressed `.tar`).
    Qm9Archive,
    /// qm9pack tables: the wheel, a directory of `qm9_part*.csv`, or one such CSV.
    Qm9Pack,
    /// A converted [`Qm9Dataset`] (`.safetensors`).
    Qm9Dataset,
}

impl Format {
    /// Guesses the format from the path and, for `.xyz` files, the second line.
    pub fn detect(path: &Path) -> Result<Format> {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        if path.is_dir() || name.ends_with(".whl") || name.ends_with(".csv") || name.ends_with(".zip") {
            return Ok(Format::Qm9Pack);
        }
        if name.ends_with(".tar.bz2") || name.ends_with(".tar") {
            return Ok(Format::Qm9Archive);
        }
        if name.ends_with(".safetensors") {
            return Ok(Format::Qm9Dataset);
        }
        if name.ends_with(".xyz") || name.ends_with(".extxyz") {
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            let second = std::io::BufReader::new(file).lines().nth(1).and_then(|l| l.ok()).unwrap_or_default();
            return Ok(if second.starts_with("gdb ") { Format::Qm9Xyz } else { Format::Xyz });
        }
        Err(Error::parse(
            path.display().to_string(),
            0,
            "unknown file type (expected .xyz, .extxyz, .tar.bz2, .whl, .csv or .safetensors)",
        ))
    }
}

/// Reads every structure in `path` (format from [`Format::detect`]). QM9 sources carry the
/// 19 targets as properties (see [`Qm9Dataset::structure`]).
pub fn read_structures(path: impl AsRef<Path>) -> Result<Vec<Structure>> {
    let path = path.as_ref();
    let name = path.display().to_string();
    match Format::detect(path)? {
        Format::Xyz => read_xyz_file(path),
        Format::Qm9Xyz => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            Ok(vec![parse_qm9_xyz(&text, &name)?.to_structure()?])
        }
        Format::Qm9Archive | Format::Qm9Pack => Ok(Qm9Dataset::read_source(path)?.structures()),
        Format::Qm9Dataset => Ok(Qm9Dataset::load(path)?.structures()),
    }
}

/// Runs `$PYTHON -m pip download --no-deps <requirement> <options…> -d dir` (`python3` without
/// `$PYTHON`; `options` e.g. pin a platform's wheel) and returns the downloaded file whose name
/// `wanted` accepts; `log` hears the command.
pub fn pip_download(
    dir: &Path,
    requirement: &str,
    options: &[&str],
    wanted: impl Fn(&str) -> bool,
    log: &mut dyn FnMut(&str),
) -> Result<std::path::PathBuf> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let shown = [&[requirement], options].concat().join(" ");
    log(&format!("running {python} -m pip download --no-deps {shown}"));
    let status = std::process::Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--quiet", requirement])
        .args(options)
        .arg("-d")
        .arg(dir)
        .status()
        .map_err(|e| Error::invalid(format!("could not run {python} -m pip: {e}")))?;
    if !status.success() {
        return Err(Error::invalid(format!("'{python} -m pip download --no-deps {shown}' failed ({status})")));
    }
    std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().is_some_and(|n| wanted(&n.to_string_lossy())))
        .ok_or_else(|| {
            Error::invalid(format!("pip reported success but the file of {requirement} is not in {}", dir.display()))
        })
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it (creating the directory if
/// needed), then renamed over `path`, so readers never see a partial file.
pub fn write_atomically(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        // On disk before the rename makes it visible: a crash never leaves a truncated file.
        file.sync_all()
    };
    let result = write()
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qm9::Qm9Target;

    #[test]
    fn detects_and_reads_each_format() {
        let dir = tempfile::tempdir().unwrap();
        let qm9 = dir.path().join("dsgdb9nsd_000001.xyz");
        std::fs::write(&qm9, crate::qm9::tests_support::METHANE).unwrap();
        assert_eq!(Format::detect(&qm9).unwrap(), Format::Qm9Xyz);
        let s = read_structures(&qm9).unwrap();
        assert_eq!(s[0].name, "gdb_1");
        assert!((s[0].property_f64(Qm9Target::U0Atom.name()).unwrap() - -17.1722).abs() < 1e-3);

        let xyz = dir.path().join("w.xyz");
        std::fs::write(&xyz, "3\nwater\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n").unwrap();
        assert_eq!(Format::detect(&xyz).unwrap(), Format::Xyz);
        assert_eq!(read_structures(&xyz).unwrap()[0].numbers, vec![8, 1, 1]);

        let st = dir.path().join("d.safetensors");
        let d = Qm9Dataset::embedded_sample().unwrap().subset(&[0, 5]);
        d.save(&st).unwrap();
        assert_eq!(read_structures(&st).unwrap(), d.structures());

        let unknown = dir.path().join("x.pdb");
        std::fs::write(&unknown, "").unwrap();
        assert!(read_structures(&unknown).unwrap_err().to_string().contains("unknown file type"));
    }
}
