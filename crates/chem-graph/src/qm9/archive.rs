//! Streams the official QM9 archive `dsgdb9nsd.xyz.tar.bz2` without unpacking it to disk.

use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::qm9::molecule::{parse_qm9_xyz, Qm9Molecule};

/// Reads every `*.xyz` member of a (bzip2-compressed or plain) tar archive and parses them in
/// parallel. Members are decompressed in one pass; the result is sorted by GDB index.
pub fn read_qm9_archive(path: impl AsRef<Path>) -> Result<Vec<Qm9Molecule>> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("bz2")) {
        Box::new(bzip2::read::MultiBzDecoder::new(std::io::BufReader::new(file)))
    } else {
        Box::new(std::io::BufReader::new(file))
    };
    read_qm9_tar(reader, &path.display().to_string())
}

/// Files handed to the parser pool at a time: bounds memory while decompression goes on.
const CHUNK: usize = 2048;

/// Reads QM9 files from an uncompressed tar stream; `name` is used in error messages.
///
/// The calling thread reads (and decompresses) the stream while chunks of 2,048 files are
/// parsed on the rayon pool, so at most a few chunks of text are in memory at once.
pub fn read_qm9_tar(reader: impl Read, name: &str) -> Result<Vec<Qm9Molecule>> {
    let mut archive = tar::Archive::new(reader);
    let tar_err = |e: std::io::Error| Error::parse(name, 0, format!("not a readable tar archive: {e}"));
    let parsed: Mutex<Vec<Result<Qm9Molecule>>> = Mutex::new(Vec::new());
    let parse_chunk = |chunk: Vec<(String, String)>| {
        let mols: Vec<_> =
            chunk.par_iter().map(|(member, text)| parse_qm9_xyz(text, &format!("{name}:{member}"))).collect();
        parsed.lock().expect("a parser thread panicked").extend(mols);
    };
    let parse_chunk = &parse_chunk;
    rayon::in_place_scope(|scope| -> Result<()> {
        let mut chunk = Vec::with_capacity(CHUNK);
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let member = entry.path().map_err(tar_err)?.display().to_string();
            if !member.ends_with(".xyz") {
                continue;
            }
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| Error::parse(format!("{name}:{member}"), 0, e.to_string()))?;
            chunk.push((member, text));
            if chunk.len() == CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                scope.spawn(move |_| parse_chunk(full));
            }
        }
        scope.spawn(move |_| parse_chunk(chunk));
        Ok(())
    })?;
    let mut mols = parsed.into_inner().expect("a parser thread panicked").into_iter().collect::<Result<Vec<_>>>()?;
    if mols.is_empty() {
        return Err(Error::parse(name, 0, "the archive holds no .xyz files"));
    }
    mols.sort_by_key(|m| m.index);
    Ok(mols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qm9::tests_support::{tar_bz2, METHANE};

    #[test]
    fn streams_a_tar_bz2() {
        let second = METHANE.replace("gdb 1\t", "gdb 2\t");
        let bytes = tar_bz2(&[("dsgdb9nsd_000002.xyz", &second), ("README", "x"), ("dsgdb9nsd_000001.xyz", METHANE)]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qm9.xyz.tar.bz2");
        std::fs::write(&path, bytes).unwrap();
        let mols = read_qm9_archive(&path).unwrap();
        assert_eq!(mols.iter().map(|m| m.index).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn streams_more_files_than_one_chunk() {
        let n = CHUNK + 50;
        let texts: Vec<(String, String)> = (1..=n)
            .rev()
            .map(|i| (format!("dsgdb9nsd_{i:06}.xyz"), METHANE.replace("gdb 1\t", &format!("gdb {i}\t"))))
            .collect();
        let files: Vec<(&str, &str)> = texts.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let bytes = tar_bz2(&files);
        let mols = read_qm9_tar(bzip2::read::MultiBzDecoder::new(&bytes[..]), "big").unwrap();
        assert_eq!(mols.iter().map(|m| m.index as usize).collect::<Vec<_>>(), (1..=n).collect::<Vec<_>>());
    }

    #[test]
    fn bad_member_names_archive_and_member() {
        let broken = METHANE.replace("-0.535689", "oops");
        let bytes = tar_bz2(&[("dsgdb9nsd_000001.xyz", &broken)]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.tar.bz2");
        std::fs::write(&path, bytes).unwrap();
        let err = read_qm9_archive(&path).unwrap_err().to_string();
        assert!(err.contains("q.tar.bz2:dsgdb9nsd_000001.xyz:3: charge is not a finite number"), "{err}");
        std::fs::write(&path, b"not an archive").unwrap();
        assert!(read_qm9_archive(&path).is_err());
    }
}
