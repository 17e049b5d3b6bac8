//! Runs the reference script of a suite on its manifest: `benches/reference/chem_graph.py` (ASE,
//! vesin, matscipy), for the `ops` and `models` suites `benches/reference/gnn_{ops,models}.py` (PyTorch,
//! PyG), for the `crystals` suite `benches/reference/chem_crystal.py` (pymatgen, ASE, vesin, scipy, spglib).
//! for `e3nn` `benches/reference/e3nn_models.py` (e3nn 0.6, PyTorch),
//! for `crystal-models` `benches/reference/kgcnn_models.py` (kgcnn 3.1.0, TensorFlow; its own
//! environment, see [`kgcnn`]), for `potentials` `benches/reference/potentials.py` (sevenn, chgnet;
//! its own environment, see [`potentials`]). The `real-crystals` suite has no reference run (kgcnn's figure is quoted from the notes).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Measurement;

/// The reference script of `suite`, if it has one.
fn script(suite: &str) -> Option<&'static str> {
    Some(match suite {
        "ops" => "benches/reference/gnn_ops.py",
        "models" => "benches/reference/gnn_models.py",
        "crystals" => "benches/reference/chem_crystal.py",
        "cli" => "benches/reference/cli_pyg.py",
        "crystal-models" => "benches/reference/kgcnn_models.py",
        "e3nn" => "benches/reference/e3nn_models.py",
        "potentials" => "benches/reference/potentials.py",
        "real-crystals" => return None,
        _ => "benches/reference/chem_graph.py",
    })
}

/// The first Python that imports ase: `explicit`, `$CHEMGNN_REF_PYTHON`,
/// `~/.cache/chemgnn-ref/bin/python` (made by `shared/reference/setup.sh`), then `python3`.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/chemgnn-ref/bin/python"));
    let candidates = explicit
        .map(Path::to_path_buf)
        .into_iter()
        .chain(std::env::var_os("CHEMGNN_REF_PYTHON").map(PathBuf::from))
        .chain(home)
        .chain([PathBuf::from("python3")]);
    candidates
        .into_iter()
        .find(|p| Command::new(p).args(["-c", "import ase"]).output().is_ok_and(|o| o.status.success()))
}

/// The Python of a kgcnn 3.1.0 environment: `$CHEMGNN_KGCNN_PYTHON`, else
/// `~/.cache/chemgnn-kgcnn/bin/python` (made by `shared/reference/setup-kgcnn.sh`), if it imports kgcnn.
pub fn kgcnn() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/chemgnn-kgcnn/bin/python"));
    std::env::var_os("CHEMGNN_KGCNN_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(home)
        .find(|p| Command::new(p).args(["-c", "import kgcnn"]).output().is_ok_and(|o| o.status.success()))
}

/// The Python of the pretrained-potentials environment: `$CHEMGNN_POT_PYTHON`, else
/// `~/.cache/chemgnn-potentials/bin/python` (made by `shared/reference/setup-potentials.sh`), if it
/// imports sevenn and chgnet.
pub fn potentials() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/chemgnn-potentials/bin/python"));
    std::env::var_os("CHEMGNN_POT_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(home)
        .find(|p| Command::new(p).args(["-c", "import sevenn, chgnet"]).output().is_ok_and(|o| o.status.success()))
}

/// Times the reference implementations on `suite`'s manifest (neighbour-list edge sets are
/// compared with ours); nothing for a suite without a reference script.
pub fn run(python: &Path, suite: &str, work: &Path, budget: f64) -> anyhow::Result<Vec<Measurement>> {
    let Some(script) = script(suite) else { return Ok(Vec::new()) };
    let manifest = work.join(format!("{suite}.json"));
    let out = work.join(format!("{suite}.python.json"));
    let status = Command::new(python)
        .args([script, "--suite", suite, "--budget", &budget.to_string()])
        .arg(&manifest)
        .arg(&out)
        .env("OMP_NUM_THREADS", "1")
        .status()?;
    anyhow::ensure!(status.success(), "{script} failed for suite {suite} ({status})");
    Ok(serde_json::from_str(&std::fs::read_to_string(&out)?)?)
}
