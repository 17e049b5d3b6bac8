//! Training runs survive faults: processes killed at random points (mid-epoch and while a
//! checkpoint is being written) resume to the same weights as a run never interrupted; a
//! checkpoint write that fails leaves the previous checkpoint intact; two processes cannot train
//! in the same run directory.
#![cfg(unix)]

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{chemgnn, failure, ok, TINY_SCHNET};

/// Six epochs: enough saves of `best/` and `last/` to kill the process in.
fn six_epochs() -> String {
    TINY_SCHNET.replace("epochs = 8", "epochs = 6")
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chemgnn"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chemgnn starts")
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: sends a signal to our own child process, which has not been waited for yet.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// Whether a checkpoint of `run` (or the run's staging directory) is being written.
fn saving(run: &Path) -> bool {
    let staging = run.with_file_name(format!(".{}.partial", run.file_name().unwrap().to_string_lossy()));
    staging.exists() || run.join("last.tmp").exists() || run.join("best.tmp").exists()
}

/// Starts (or resumes) the run and SIGKILLs it: after `delay`, or — with `delay` = None — the
/// moment a checkpoint is being written (the process is stopped, and killed only if it is still
/// inside the save). Returns `None` when the run completed first, else whether the kill landed
/// inside a save.
fn run_and_kill(config: &str, run: &Path, delay: Option<Duration>) -> Option<bool> {
    let run_str = run.to_str().unwrap();
    let mut child = if run.exists() {
        spawn(&["train", "--resume", run_str, "-q"])
    } else {
        spawn(&["train", "--config", config, "--out", run_str, "-q"])
    };
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chemgnn failed on its own: {status}");
            return None;
        }
        match delay {
            Some(d) if start.elapsed() >= d => {
                signal(&child, libc::SIGKILL);
                child.wait().unwrap();
                return Some(false);
            }
            None if saving(run) => {
                signal(&child, libc::SIGSTOP);
                if saving(run) {
                    signal(&child, libc::SIGKILL);
                    child.wait().unwrap();
                    return Some(true);
                }
                signal(&child, libc::SIGCONT);
            }
            _ => std::thread::yield_now(),
        }
    }
}

fn same_file(a: &Path, b: &Path, name: &str) {
    let (x, y) = (std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap());
    assert!(x == y, "{name} differs between {} and {}", a.display(), b.display());
}

/// Writes the six-epoch configuration into `dir` and trains it, uninterrupted, into `dir/a`;
/// returns the configuration's path and the run directory.
fn uninterrupted_run(dir: &Path) -> (String, PathBuf) {
    let config = dir.join("run.toml");
    std::fs::write(&config, six_epochs()).unwrap();
    let a = dir.join("a");
    ok(chemgnn(&["train", "--config", config.to_str().unwrap(), "--out", a.to_str().unwrap(), "-q"]));
    (config.to_str().unwrap().to_string(), a)
}

/// The bytes of `run/last/`'s weights, optimiser state and trainer state.
fn last_state(run: &Path) -> Vec<Vec<u8>> {
    ["model.safetensors", "optimizer.safetensors", "trainer.json"]
        .iter()
        .map(|f| std::fs::read(run.join("last").join(f)).unwrap())
        .collect()
}

#[test]
fn runs_killed_anywhere_resume_to_the_weights_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (config, a) = uninterrupted_run(dir.path());
    let full = started.elapsed();
    let (config, b) = (config.as_str(), dir.path().join("b"));

    // Alternate kills at pseudo-random times with kills inside a checkpoint write, until a process
    // completes the run.
    let (mut kills, mut in_save, mut seed) = (0, 0, 12345u64);
    loop {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let fraction = (seed >> 33) as f64 / (1u64 << 31) as f64;
        let delay = (kills % 2 == 0).then(|| full.mul_f64(0.1 + 0.5 * fraction));
        match run_and_kill(config, &b, delay) {
            None => break,
            Some(during_save) => {
                kills += 1;
                in_save += usize::from(during_save);
            }
        }
        assert!(kills < 60, "the run never completed");
        // Never a half-made run directory: either none yet, or one with a complete state.
        if b.exists() {
            assert!(b.join("config.json").is_file() && (b.join("last").is_dir() || b.join("last.old").is_dir()));
        }
    }
    eprintln!("{kills} kills ({in_save} inside a checkpoint write); uninterrupted run {full:?}");
    assert!(kills >= 4 && in_save >= 2, "{kills} kills, {in_save} inside a checkpoint write");
    for file in ["last/model.safetensors", "last/optimizer.safetensors", "best/model.safetensors", "best/config.json"] {
        same_file(&a, &b, file);
    }
    let metrics = |run: &Path| -> Vec<(f64, f64)> {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|e| (e["train_loss"].as_f64().unwrap(), e["val"]["loss"].as_f64().unwrap()))
            .collect()
    };
    assert_eq!(metrics(&a), metrics(&b));
    assert!(!saving(&b), "a temporary checkpoint directory was left behind");
}

/// Runs chemgnn with files limited to `max_bytes` (writes beyond fail with EFBIG, as on a full disk).
fn chemgnn_with_file_limit(args: &[&str], max_bytes: u64) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_chemgnn"));
    command.args(args).env("RAYON_NUM_THREADS", "1");
    // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: max_bytes as libc::rlim_t, rlim_max: max_bytes as libc::rlim_t };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    command.output().expect("chemgnn runs")
}

#[test]
fn a_failed_checkpoint_write_keeps_the_previous_checkpoint_and_the_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (config, a) = uninterrupted_run(dir.path());
    let (config, b) = (config.as_str(), dir.path().join("b"));
    let b_str = b.to_str().unwrap();
    ok(chemgnn(&["train", "--config", config, "--out", b_str, "-q", "--stop-after-steps", "6"]));
    let before = last_state(&b);

    // The optimiser state (two moments per weight) no longer fits: the next save of `last/` fails.
    let limit = before[1].len() as u64 / 2 + before[0].len() as u64 / 4;
    let out = chemgnn_with_file_limit(&["train", "--resume", b_str, "-q"], limit);
    assert_eq!(out.status.code(), Some(1), "a write failure is not bad input");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("optimizer.safetensors") && err.contains("too large"), "{err}");
    assert!(before == last_state(&b), "the previous checkpoint changed");
    assert!(!b.join("last.tmp").exists() && !b.join("last.old").exists());

    // With room again, the run resumes from the intact checkpoint and ends as if never stopped.
    ok(chemgnn(&["train", "--resume", b_str, "-q"]));
    for file in ["last/model.safetensors", "last/optimizer.safetensors", "best/model.safetensors"] {
        same_file(&a, &b, file);
    }
}

#[test]
fn a_run_directory_takes_one_training_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(&config, TINY_SCHNET.replace("epochs = 8", "epochs = 400")).unwrap();
    let run = dir.path().join("run");
    let run_str = run.to_str().unwrap();
    let mut first = spawn(&["train", "--config", config.to_str().unwrap(), "--out", run_str, "-q"]);
    let start = Instant::now();
    while !run.join("last").is_dir() {
        assert!(start.elapsed() < Duration::from_secs(120) && first.try_wait().unwrap().is_none());
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = chemgnn(&["train", "--resume", run_str, "-q"]);
    let err = failure(out);
    assert!(err.contains(".lock") && err.contains("another chemgnn process is training"), "{err}");
    let err = failure(chemgnn(&["train", "--config", config.to_str().unwrap(), "--out", run_str, "-q"]));
    assert!(err.contains("not empty"), "{err}");
    // Killed, the lock goes with the process: the run can be resumed at once.
    first.kill().unwrap();
    first.wait().unwrap();
    let out = ok(chemgnn(&["train", "--resume", run_str, "-q", "--stop-after-steps", "1"]));
    assert!(out.contains("nterrupted"), "{out}");
}
