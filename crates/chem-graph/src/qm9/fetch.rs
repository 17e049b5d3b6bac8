//! Obtains QM9 and converts it once to the cached [`Qm9Dataset`] file.
//!
//! Sources, in the order [`fetch_qm9`] tries them when none is given:
//! 1. the official archive `dsgdb9nsd.xyz.tar.bz2` from figshare ([`OFFICIAL_URL`]);
//! 2. the `qm9pack` wheel from the Python package index (`python3 -m pip download --no-deps qm9pack`),
//!    a zip holding the same data as CSV tables.
//!
//! A local path (archive, wheel, directory of qm9pack CSVs, or one CSV) or an `http(s)://` URL of the
//! archive can be given instead.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::pip_download;
use crate::qm9::Qm9Dataset;

/// figshare download of `dsgdb9nsd.xyz.tar.bz2` (file id 3195389).
pub const OFFICIAL_URL: &str = "https://ndownloader.figshare.com/files/3195389";

/// Obtains QM9 from `source` (path or URL; `None`: the official archive, then qm9pack), converts
/// it and writes it atomically to `out`. Without an explicit `source` and unless `force`, a valid
/// dataset already at `out` is returned as it is (QM9 is converted once). `log` receives progress
/// messages.
pub fn fetch_qm9(source: Option<&str>, out: &Path, force: bool, log: &mut dyn FnMut(&str)) -> Result<Qm9Dataset> {
    if !force && source.is_none() {
        if let Ok(d) = Qm9Dataset::load(out) {
            log(&format!("{} already holds {} converted molecules (force to fetch again)", out.display(), d.len()));
            return Ok(d);
        }
    }
    // Downloads go to a scratch directory beside `out`, removed once converted.
    let work = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).join("qm9-download");
    let scratch = || std::fs::create_dir_all(&work).map(|()| work.clone()).map_err(|e| Error::io(&work, e));
    let mut convert = || -> Result<Qm9Dataset> {
        let dataset = match source {
            Some(s) if s.starts_with("http://") || s.starts_with("https://") => {
                Qm9Dataset::read_source(&download(s, &scratch()?.join("dsgdb9nsd.xyz.tar.bz2"), log)?)?
            }
            Some(s) => Qm9Dataset::read_source(Path::new(s))?,
            None => match download(OFFICIAL_URL, &scratch()?.join("dsgdb9nsd.xyz.tar.bz2"), log) {
                Ok(archive) => Qm9Dataset::read_source(&archive)?,
                Err(e) => {
                    log(&format!("official archive not reachable ({e}); trying the qm9pack package from PyPI"));
                    Qm9Dataset::read_source(&pip_download(
                        &scratch()?,
                        "qm9pack",
                        &[],
                        |n| n.starts_with("qm9pack") && n.ends_with(".whl"),
                        log,
                    )?)?
                }
            },
        };
        log(&format!("converted {} molecules; writing {}", dataset.len(), out.display()));
        dataset.save(out)?;
        Ok(dataset)
    };
    let result = convert();
    // Raw downloads are not needed once converted (or after a failure); cleaning up is best effort.
    if work.exists() {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

fn download(url: &str, dest: &Path, log: &mut dyn FnMut(&str)) -> Result<PathBuf> {
    log(&format!("downloading {url}"));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(std::time::Duration::from_secs(20)))
        .timeout_global(Some(std::time::Duration::from_secs(1800)))
        .build()
        .into();
    let fail = |e: &dyn std::fmt::Display| Error::invalid(format!("download of {url} failed: {e}"));
    let mut response = agent.get(url).call().map_err(|e| fail(&e))?;
    let total = response.body().content_length();
    let partial = dest.with_extension("partial");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&partial).map_err(|e| Error::io(&partial, e))?);
    let mut reader = response.body_mut().as_reader();
    let (mut done, mut reported, mut buf) = (0u64, 0u64, vec![0u8; 1 << 16]);
    // Report every 10 % of a known size, else every 10 MB.
    let step = total.map_or(10 << 20, |t| (t / 10).max(1));
    loop {
        let n = reader.read(&mut buf).map_err(|e| fail(&e))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n]).map_err(|e| Error::io(&partial, e))?;
        done += n as u64;
        if done - reported >= step {
            reported = done;
            let of = total.map_or(String::new(), |t| {
                format!(" of {:.1} MB ({:.0} %)", t as f64 / 1e6, 100.0 * done as f64 / t as f64)
            });
            log(&format!("  {:.1} MB{of}", done as f64 / 1e6));
        }
    }
    file.flush().map_err(|e| Error::io(&partial, e))?;
    drop(file);
    std::fs::rename(&partial, dest).map_err(|e| Error::io(dest, e))?;
    Ok(dest.to_path_buf())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use super::*;
    use crate::qm9::tests_support::{tar_bz2, METHANE};

    /// Serves `body` once per connection on a loopback port (`status` 200) or answers 404 for any
    /// path ending in `missing`; returns the base URL.
    fn serve(body: Vec<u8>, connections: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let mut stream = stream.unwrap();
                let mut request = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                reader.read_line(&mut request).unwrap();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let found = !request.split_whitespace().nth(1).unwrap_or("").ends_with("missing");
                let (status, payload): (&str, &[u8]) = if found { ("200 OK", &body) } else { ("404 Not Found", b"") };
                let head =
                    format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", payload.len());
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(payload).unwrap();
            }
        });
        url
    }

    #[test]
    fn fetches_an_archive_by_url_and_caches_it() {
        let second = METHANE.replace("gdb 1\t", "gdb 2\t");
        let url = serve(tar_bz2(&[("dsgdb9nsd_000001.xyz", METHANE), ("dsgdb9nsd_000002.xyz", &second)]), 2);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("cache/qm9.safetensors");
        let mut messages = Vec::new();
        let d =
            fetch_qm9(Some(&format!("{url}/qm9.tar.bz2")), &out, false, &mut |m| messages.push(m.to_string())).unwrap();
        assert_eq!(d.index, vec![1, 2]);
        assert_eq!(Qm9Dataset::load(&out).unwrap().index, vec![1, 2]);
        assert!(!dir.path().join("cache/qm9-download").exists(), "the raw download is cleaned up");
        assert!(messages[0].starts_with("downloading http://127.0.0.1:"), "{messages:?}");

        // Converted once: a second call without a source neither downloads nor fails …
        let again = fetch_qm9(None, &out, false, &mut |_| {}).unwrap();
        assert_eq!(again, d);
        // … but an explicit source is always honoured.
        let err = fetch_qm9(Some(&format!("{url}/missing")), &out, false, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("download of") && err.contains("missing failed"), "{err}");
    }
}
