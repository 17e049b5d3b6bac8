//! The `potentials` suite: the pretrained universal potentials SevenNet-0 and CHGNet 0.3.0,
//! energy + forces + stress of rattled silicon (diamond supercells of 64, 512 and 4,096 atoms) in
//! f32, as a user runs them: chemgnn in-process (`Model::predict_with_stress`), `chemgnn predict
//! --stress` as a whole process, and — in `benches/reference/potentials.py`, in the environment of
//! `../shared/reference/setup-potentials.sh` — chemgnn's ASE calculator (when the wheel is
//! installed there) against the originals' calculators (`SevenNetCalculator`, `CHGNetCalculator`).
//! Without `--quick`, also the peak memory of one 10,648-atom SevenNet-0 evaluation of each.
//! The checkpoints are imported by `chemgnn import --from … NAME` (fetched by name, pinned).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context};
use chem_graph::xyz::write_extxyz_file;
use chem_graph::Structure;
use gnn_layers::candle::{DType, Device};
use gnn_models::Model;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::report::Table;
use super::{thread_label, time_median, time_threads, Measurement};

/// The models: (name for `import`, importer, label).
const MODELS: [(&str, &str, &str); 2] =
    [("sevennet-0", "sevenn", "SevenNet-0"), ("chgnet-0.3.0", "chgnet", "CHGNet 0.3.0")];

/// Supercells `n × n × n` of the 8-atom cell timed per model: CHGNet stops at 512 atoms, its
/// 4,096-atom evaluation needs more memory than the 2-core benchmark machine can spare (about
/// 3 MB per atom; docs/benchmarks.md).
fn sizes(name: &str, quick: bool) -> &'static [usize] {
    match (quick, name) {
        (true, _) => &[2],
        (false, "chgnet-0.3.0") => &[2, 4],
        (false, _) => &[2, 4, 8],
    }
}

/// Diamond silicon: conventional cubic cell of 8 atoms repeated `n × n × n` times, every atom
/// displaced by a seeded normal of σ = 0.05 Å.
pub fn rattled_silicon(n: usize, seed: u64) -> anyhow::Result<Structure> {
    const A: f64 = 5.431;
    const BASIS: [[f64; 3]; 8] = [
        [0.0, 0.0, 0.0],
        [0.0, 0.5, 0.5],
        [0.5, 0.0, 0.5],
        [0.5, 0.5, 0.0],
        [0.25, 0.25, 0.25],
        [0.25, 0.75, 0.75],
        [0.75, 0.25, 0.75],
        [0.75, 0.75, 0.25],
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let normal = rand_distr::Normal::new(0.0, 0.05)?;
    let mut positions = Vec::with_capacity(8 * n * n * n);
    for (i, j, k) in (0..n).flat_map(|i| (0..n).flat_map(move |j| (0..n).map(move |k| (i, j, k)))) {
        for b in BASIS {
            let r = [(i as f64 + b[0]) * A, (j as f64 + b[1]) * A, (k as f64 + b[2]) * A];
            positions.push(r.map(|x| x + rng.sample(normal)));
        }
    }
    let side = A * n as f64;
    let cell = [[side, 0.0, 0.0], [0.0, side, 0.0], [0.0, 0.0, side]];
    let mut structure = Structure::periodic(vec![14u8; positions.len()], positions, cell, [true; 3])?;
    structure.name = format!("Si{}", structure.len());
    Ok(structure)
}

/// Imports `name` with the `chemgnn` binary into `<work>/potentials/<name>` (once).
fn import(binary: &Path, work: &Path, name: &str, source: &str) -> anyhow::Result<PathBuf> {
    let dir = work.join("potentials").join(name);
    if !dir.join("config.json").exists() {
        let status = Command::new(binary).args(["import", "--from", source, name, "--out"]).arg(&dir).status()?;
        ensure!(status.success(), "chemgnn import --from {source} {name} failed ({status})");
    }
    Ok(dir)
}

/// What the suite measured and what the reference script reads.
pub struct PotentialsRun {
    /// chemgnn's timings.
    pub measurements: Vec<Measurement>,
    /// One entry per (model, structure) for `benches/reference/potentials.py`.
    pub manifest: Vec<serde_json::Value>,
}

/// Times chemgnn on every (model, size) and writes the inputs and manifest entries.
pub fn run(work: &Path, quick: bool, budget: f64) -> anyhow::Result<PotentialsRun> {
    let binary = crate::train_compare::build_chemgnn()?;
    let dir = work.join("potentials");
    std::fs::create_dir_all(&dir)?;
    let mut measurements = Vec::new();
    let mut manifest = Vec::new();
    for (name, source, label) in MODELS {
        let checkpoint = import(&binary, work, name, source)?;
        let model = Model::load_on(&checkpoint, DType::F32, &Device::Cpu)?;
        for &n in sizes(name, quick) {
            let structure = rattled_silicon(n, 7)?;
            let atoms = structure.len();
            let file = dir.join(format!("si_{atoms}.extxyz"));
            write_extxyz_file(&file, std::slice::from_ref(&structure))?;
            let case = format!("{label}, energy + forces + stress, rattled Si, {atoms} atoms (f32)");
            let mut energy = 0.0;
            let mut call = || {
                let p = model.predict_with_stress(std::slice::from_ref(&structure), 1).expect("prediction");
                energy = p[0].values[0];
            };
            for (threads, seconds) in time_threads(budget, &mut call)? {
                measurements.push(measurement(&case, thread_label("chemgnn in-process", threads), seconds, atoms));
            }
            for threads in [1, 2] {
                let out = dir.join("predict.json");
                let mut process = || {
                    let status = Command::new(&binary)
                        .args(["predict", "--stress", "--model"])
                        .arg(&checkpoint)
                        .arg(&file)
                        .arg("--output")
                        .arg(&out)
                        .env("RAYON_NUM_THREADS", threads.to_string())
                        .status()
                        .expect("chemgnn runs");
                    assert!(status.success(), "chemgnn predict failed on {}", file.display());
                };
                let seconds = time_median(budget, &mut process);
                let implementation = thread_label("chemgnn predict (whole process)", threads);
                measurements.push(measurement(&case, implementation, seconds, atoms));
            }
            manifest.push(json!({"case": case, "model": name, "checkpoint": checkpoint, "file": file,
                                 "atoms": atoms, "energy": energy, "binary": binary}));
        }
        if !quick && name == "sevennet-0" {
            let structure = rattled_silicon(11, 7)?;
            let file = dir.join(format!("si_{}.extxyz", structure.len()));
            write_extxyz_file(&file, std::slice::from_ref(&structure))?;
            let case = format!("{label}, peak memory of one energy + forces + stress, {} atoms", structure.len());
            manifest.push(json!({"case": case, "model": name, "checkpoint": checkpoint, "file": file,
                                 "atoms": structure.len(), "memory": true, "binary": binary}));
        }
    }
    Ok(PotentialsRun { measurements, manifest })
}

fn measurement(case: &str, implementation: String, seconds: f64, atoms: usize) -> Measurement {
    Measurement {
        suite: "potentials".into(),
        case: case.into(),
        implementation,
        seconds,
        work: atoms as f64,
        unit: "atoms".into(),
        identical: None,
    }
}

/// The peak-memory table from the reference script's `potentials.python.memory.json`.
pub fn memory_table(work: &Path) -> anyhow::Result<Option<Table>> {
    let path = work.join("potentials.python.memory.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut table =
        Table::new("Peak resident memory of one evaluation (2 threads)", &["case", "implementation", "peak RSS (MiB)"]);
    for r in rows {
        let peak = r["peak_rss_bytes"].as_f64().map_or("did not fit".into(), |b| format!("{:.0}", b / 1048576.0));
        table.rows.push(vec![
            r["case"].as_str().unwrap_or_default().into(),
            r["implementation"].as_str().unwrap_or_default().into(),
            peak,
        ]);
    }
    Ok(Some(table))
}
