//! The `crystals` suite: chem-crystal's periodic graphs (radius, kNN with ties, Voronoi), symmetry
//! detection and asymmetric-unit (ASU) graphs, and the small default SchNet on full-cell against
//! asymmetric-unit graphs.
//!
//! File parsing: the real CIF and POSCAR fixtures, the fixture crystals written as P1 CIFs and as a
//! MatBench table.
//!
//! Inputs: the 138 crystals of `tests/fixtures/crystal_symmetry.json` (pyxtal random crystals in 121
//! space groups and 17 real crystals) and, for scale (not with `--quick`), 2×2×2 supercells of the 17
//! real crystals and a 3×3×3 garnet supercell. Fractional coordinates are wrapped into [0, 1), and
//! each set is written to `<work>/crystals_<set>.json` (lattice rows, fractional and Cartesian
//! coordinates, atomic numbers) for the Python references, with our edge lists in `.npy` files and
//! our space groups and orbits in the manifest for the comparison.

use std::collections::BTreeMap;
use std::path::Path;

use chem_crystal::io::{read_crystals_with, structure_to_dict, CrystalFormat};
use chem_crystal::{
    periodic_edges, write_crystal, AsymmetricUnitGraph, Connectivity, Lattice, PartialOccupancy, ReadOptions,
    Structure, Symmetry, SymmetryOptions,
};
use chem_graph::{Edges, Graph, GraphBatch};
use gnn_layers::candle::{DType, Device, Tensor, Var};
use gnn_layers::candle_nn::{VarBuilder, VarMap};
use gnn_layers::GraphTensors;
use gnn_models::{ModelConfig, Network};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde_json::json;

use super::inputs::write_edges_npy;
use super::report::Table;
use super::{thread_label, time_threads, Measurement};

const SUITE: &str = "crystals";
const FIXTURE: &str = "tests/fixtures/crystal_symmetry.json";
/// The real crystal files (CIF written by pymatgen, ICSD-style, disordered, POSCARs).
const CRYSTAL_FILES: &str = "tests/fixtures/crystals";
/// Largest relative difference allowed between full-cell and ASU predictions (f32).
const PREDICTION_TOLERANCE: f64 = 1e-5;
const CRYSTAL_SYSTEMS: [&str; 7] =
    ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"];

/// What the suite hands back to `suites::run`.
pub struct CrystalRun {
    pub measurements: Vec<Measurement>,
    pub manifest: Vec<serde_json::Value>,
    pub tables: Vec<Table>,
}

/// A crystal as the inputs define it: lattice rows, fractional coordinates in [0, 1) and atomic
/// numbers, with the `Structure` built from them (positions = fractional · lattice).
struct Crystal {
    frac: Vec<[f64; 3]>,
    structure: Structure,
}

impl Crystal {
    fn new(name: String, lattice: [[f64; 3]; 3], frac: Vec<[f64; 3]>, numbers: Vec<u8>) -> anyhow::Result<Self> {
        let l = Lattice::new(lattice)?;
        let frac: Vec<[f64; 3]> = frac.iter().map(|f| f.map(wrap)).collect();
        let positions = frac.iter().map(|f| l.to_cartesian(f)).collect();
        let mut structure = Structure::periodic(numbers, positions, lattice, [true; 3])?;
        structure.name = name;
        Ok(Crystal { frac, structure })
    }

    fn lattice(&self) -> [[f64; 3]; 3] {
        self.structure.cell.expect("crystals have a cell")
    }

    /// The `reps[0]×reps[1]×reps[2]` supercell (atoms ordered image by image).
    fn supercell(&self, reps: [usize; 3]) -> anyhow::Result<Self> {
        let l = self.lattice();
        let lattice = std::array::from_fn(|k| l[k].map(|x| x * reps[k] as f64));
        let (mut frac, mut numbers) = (Vec::new(), Vec::new());
        for a in 0..reps[0] {
            for b in 0..reps[1] {
                for c in 0..reps[2] {
                    let t = [a, b, c];
                    for (f, &z) in self.frac.iter().zip(&self.structure.numbers) {
                        frac.push(std::array::from_fn(|k| (f[k] + t[k] as f64) / reps[k] as f64));
                        numbers.push(z);
                    }
                }
            }
        }
        let name = format!("{}_{}x{}x{}", self.structure.name, reps[0], reps[1], reps[2]);
        Crystal::new(name, lattice, frac, numbers)
    }
}

/// `x` wrapped into [0, 1).
fn wrap(x: f64) -> f64 {
    let w = x - x.floor();
    if w >= 1.0 {
        0.0
    } else {
        w
    }
}

/// The crystals of the symmetry fixture, in its order, and whether each is a real crystal.
fn fixture() -> anyhow::Result<Vec<(Crystal, bool)>> {
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        source: String,
        lattice: [[f64; 3]; 3],
        frac_coords: Vec<[f64; 3]>,
        numbers: Vec<u8>,
    }
    let entries: Vec<Entry> = serde_json::from_str(&std::fs::read_to_string(FIXTURE)?)?;
    entries
        .into_iter()
        .map(|e| Ok((Crystal::new(e.name, e.lattice, e.frac_coords, e.numbers)?, e.source == "real")))
        .collect()
}

/// A named input set.
struct CrystalSet {
    /// File stem under the work directory.
    tag: &'static str,
    /// How cases and tables name the set.
    label: String,
    crystals: Vec<Crystal>,
}

impl CrystalSet {
    fn new(tag: &'static str, label: &str, crystals: Vec<Crystal>) -> Self {
        CrystalSet { tag, label: label.to_string(), crystals }
    }

    fn structures(&self) -> Vec<Structure> {
        self.crystals.iter().map(|c| c.structure.clone()).collect()
    }

    fn atoms(&self) -> usize {
        self.crystals.iter().map(|c| c.structure.len()).sum()
    }

    /// Writes the set for the Python references.
    fn write(&self, path: &Path) -> anyhow::Result<()> {
        let entries: Vec<serde_json::Value> = self
            .crystals
            .iter()
            .map(|c| {
                json!({
                    "name": c.structure.name,
                    "lattice": c.lattice(),
                    "frac": c.frac,
                    "positions": c.structure.positions,
                    "numbers": c.structure.numbers,
                })
            })
            .collect();
        std::fs::write(path, serde_json::to_string(&entries)?)?;
        Ok(())
    }
}

/// Collects measurements and manifest entries.
struct Recorder {
    budget: f64,
    measurements: Vec<Measurement>,
    manifest: Vec<serde_json::Value>,
}

impl Recorder {
    /// Times `f` with 1 thread and the default pool as `name (N threads)`; returns both
    /// `(threads, seconds)`.
    fn time(
        &mut self,
        case: &str,
        name: &str,
        work: f64,
        unit: &str,
        f: &mut (dyn FnMut() + Send),
    ) -> anyhow::Result<[(usize, f64); 2]> {
        let times = time_threads(self.budget, f)?;
        for (threads, seconds) in times {
            self.measurements.push(Measurement {
                suite: SUITE.into(),
                case: case.into(),
                implementation: thread_label(name, threads),
                seconds,
                work,
                unit: unit.into(),
                identical: None,
            });
        }
        Ok(times)
    }
}

/// The connectivities of the suite, with how the cases name them.
fn connectivities() -> [(Connectivity, &'static str); 3] {
    [
        (Connectivity::Radius { cutoff: 5.0 }, "radius 5 Å"),
        (Connectivity::knn(24), "kNN 24 (ties within 1e-9 Å)"),
        (Connectivity::Voronoi { min_area: 1e-6 }, "Voronoi (faces > 1e-6 Å²)"),
    ]
}

/// Per set: what the tables need.
struct SetFigures {
    label: String,
    systems: Vec<&'static str>,
    atoms: Vec<usize>,
    orbits: Vec<usize>,
    /// Per connectivity: edges per crystal of the full and the ASU graph.
    edges: Vec<(Vec<usize>, Vec<usize>)>,
    /// Per connectivity: 1-thread seconds of the full graph and of the reduction.
    seconds: Vec<(f64, f64)>,
    /// 1-thread seconds of the symmetry search.
    symmetry_seconds: f64,
}

pub fn run(work: &Path, quick: bool, budget: f64) -> anyhow::Result<CrystalRun> {
    let mut rec = Recorder { budget, measurements: Vec::new(), manifest: Vec::new() };
    let all = fixture()?;
    let n = all.len();
    let mut sets = Vec::new();
    if !quick {
        let real: Vec<Crystal> =
            all.iter().filter(|(_, real)| *real).map(|(c, _)| c.supercell([2; 3])).collect::<anyhow::Result<_>>()?;
        let label = format!("{} real crystals, 2×2×2 supercells", real.len());
        sets.push(CrystalSet::new("real_222", &label, real));
        let garnet = all.iter().find(|(c, _)| c.structure.name == "garnet_y3al5o12").expect("garnet in the fixture");
        sets.push(CrystalSet::new("garnet_333", "garnet Y₃Al₅O₁₂, 3×3×3 supercell", vec![garnet.0.supercell([3; 3])?]));
    }
    let fixture_set =
        CrystalSet::new("fixture", &format!("{n} fixture crystals"), all.into_iter().map(|(c, _)| c).collect());
    sets.insert(0, fixture_set);

    parsing(work, &sets[0], &mut rec)?;
    let mut figures = Vec::new();
    let mut fixture_symmetry = Vec::new();
    for set in &sets {
        let (f, symmetry) = run_set(set, work, &mut rec)?;
        figures.push(f);
        if set.tag == "fixture" {
            fixture_symmetry = symmetry;
        }
    }
    let mut tables = vec![reduction_table(&figures), cost_table(&figures)];

    // SchNet on batches of fixture crystals spread over the set.
    let sizes: &[usize] = if quick { &[8] } else { &[32, n] };
    let mut schnet_table = None;
    for &b in sizes {
        let stride = (n / b).max(1);
        let picked: Vec<usize> = (0..n).step_by(stride).take(b).collect();
        let structures: Vec<Structure> = picked.iter().map(|&i| sets[0].crystals[i].structure.clone()).collect();
        let symmetry: Vec<Symmetry> = picked.iter().map(|&i| fixture_symmetry[i].clone()).collect();
        schnet(&structures, &symmetry, &mut rec, &mut schnet_table)?;
    }
    tables.extend(schnet_table);
    Ok(CrystalRun { measurements: rec.measurements, manifest: rec.manifest, tables })
}

/// Graphs, symmetry and ASU reduction of one set; returns the figures and the symmetry of each crystal.
fn run_set(set: &CrystalSet, work: &Path, rec: &mut Recorder) -> anyhow::Result<(SetFigures, Vec<Symmetry>)> {
    let file = work.join(format!("crystals_{}.json", set.tag));
    set.write(&file)?;
    let structures = set.structures();
    let atoms = set.atoms();
    let prefix = format!("{} ({atoms} atoms)", set.label);

    let mut full_graphs = Vec::new();
    let mut seconds = Vec::new();
    for (k, (connectivity, name)) in connectivities().into_iter().enumerate() {
        let edges: Vec<Edges> = structures
            .par_iter()
            .map(|s| Ok(periodic_edges(s, &connectivity)?.edges))
            .collect::<anyhow::Result<_>>()?;
        let total: usize = edges.iter().map(Edges::len).sum();
        let npy = work.join(format!("crystals_{}_{k}.npy", set.tag));
        write_edges_npy(&npy, &edges)?;
        let case = format!("{prefix}: {name}, {total} edges");
        let t = rec.time(&case, "chemgnn", atoms as f64, "atoms", &mut || {
            let e: Vec<_> = structures.par_iter().map(|s| periodic_edges(s, &connectivity).expect("graph")).collect();
            drop(e);
        })?;
        seconds.push(t[0].1);
        let mut entry = json!({"case": case, "file": file, "edges": npy, "work": atoms, "unit": "atoms"});
        match connectivity {
            Connectivity::Radius { cutoff } => {
                entry["kind"] = json!("radius");
                entry["cutoff"] = json!(cutoff);
            }
            Connectivity::Knn { k, tolerance } => {
                entry["kind"] = json!("knn");
                entry["k"] = json!(k);
                entry["tolerance"] = json!(tolerance);
            }
            Connectivity::Voronoi { min_area } => {
                entry["kind"] = json!("voronoi");
                entry["min_area"] = json!(min_area);
            }
        }
        rec.manifest.push(entry);
        let graphs: Vec<Graph> = structures
            .par_iter()
            .map(|s| Ok(chem_crystal::periodic_graph(s, &connectivity)?))
            .collect::<anyhow::Result<_>>()?;
        full_graphs.push(graphs);
    }

    let options = SymmetryOptions::default();
    let symmetry: Vec<Symmetry> =
        structures.par_iter().map(|s| Ok(Symmetry::find(s, &options)?)).collect::<anyhow::Result<_>>()?;
    let fallbacks: Vec<&str> =
        symmetry.iter().zip(&structures).filter(|(y, _)| y.fallback.is_some()).map(|(_, s)| s.name.as_str()).collect();
    if !fallbacks.is_empty() {
        eprintln!("  symmetry fell back to P1 for {}", fallbacks.join(", "));
    }
    let case = format!("{prefix}: symmetry (symprec {:e})", options.symprec);
    let count = structures.len() as f64;
    let symmetry_seconds = rec.time(&case, "chemgnn", count, "crystals", &mut || {
        let y: Vec<_> = structures.par_iter().map(|s| Symmetry::find(s, &options).expect("symmetry")).collect();
        drop(y);
    })?[0]
        .1;
    let ours: Vec<serde_json::Value> =
        symmetry.iter().map(|y| json!({"number": y.number, "orbits": y.orbits})).collect();
    rec.manifest.push(json!({
        "case": case, "kind": "symmetry", "file": file, "symprec": options.symprec, "ours": ours,
        "work": count, "unit": "crystals",
    }));

    let mut edges = Vec::new();
    let mut timings = Vec::new();
    for ((_, name), graphs) in connectivities().into_iter().zip(&full_graphs) {
        let reduce = || -> anyhow::Result<Vec<AsymmetricUnitGraph>> {
            graphs
                .par_iter()
                .zip(&structures)
                .zip(&symmetry)
                .map(|((g, s), y)| Ok(AsymmetricUnitGraph::new(g, s, y)?))
                .collect()
        };
        let asu = reduce()?;
        let full_edges: Vec<usize> = graphs.iter().map(Graph::num_edges).collect();
        let asu_edges: Vec<usize> = asu.iter().map(AsymmetricUnitGraph::num_edges).collect();
        let case = format!(
            "{prefix}: {name}, reduction to the asymmetric unit (AsymmetricUnitGraph::new), {} → {} edges",
            full_edges.iter().sum::<usize>(),
            asu_edges.iter().sum::<usize>()
        );
        let t = rec.time(&case, "chemgnn", atoms as f64, "atoms", &mut || drop(reduce().expect("reduction")))?;
        timings.push(t[0].1);
        edges.push((full_edges, asu_edges));
    }
    let figures = SetFigures {
        label: set.label.clone(),
        systems: symmetry.iter().map(Symmetry::crystal_system).collect(),
        atoms: structures.iter().map(Structure::len).collect(),
        orbits: symmetry.iter().map(|y| y.representatives().len()).collect(),
        edges,
        seconds: seconds.into_iter().zip(timings).collect(),
        symmetry_seconds,
    };
    Ok((figures, symmetry))
}

/// `a → b (a/b×)`.
fn reduction(a: usize, b: usize) -> String {
    format!("{a} → {b} ({:.2}×)", a as f64 / b.max(1) as f64)
}

/// Σ atoms / Σ orbits and Σ edges full / ASU per crystal system of the fixture, for the fixture as a
/// whole and for each supercell set.
fn reduction_table(figures: &[SetFigures]) -> Table {
    let mut header = vec!["crystals", "count", "Σ atoms", "Σ orbits (ASU nodes)", "node reduction"];
    let names: Vec<String> = connectivities().iter().map(|(c, _)| format!("`{c}` edges full → ASU")).collect();
    header.extend(names.iter().map(String::as_str));
    let mut table = Table::new(
        "Asymmetric-unit reduction (Σ over the crystals; symprec 1e-3; reduction factor in brackets)",
        &header,
    );
    let mut row = |label: String, f: &SetFigures, keep: &dyn Fn(usize) -> bool| {
        let idx: Vec<usize> = (0..f.atoms.len()).filter(|&i| keep(i)).collect();
        if idx.is_empty() {
            return;
        }
        let atoms: usize = idx.iter().map(|&i| f.atoms[i]).sum();
        let orbits: usize = idx.iter().map(|&i| f.orbits[i]).sum();
        let mut cells = vec![
            label,
            idx.len().to_string(),
            atoms.to_string(),
            orbits.to_string(),
            format!("{:.2}×", atoms as f64 / orbits as f64),
        ];
        for (full, asu) in &f.edges {
            cells.push(reduction(idx.iter().map(|&i| full[i]).sum(), idx.iter().map(|&i| asu[i]).sum()));
        }
        table.rows.push(cells);
    };
    if let Some(first) = figures.first() {
        for system in CRYSTAL_SYSTEMS {
            row(format!("{}: {system}", first.label), first, &|i| first.systems[i] == system);
        }
        row(format!("{}: all", first.label), first, &|_| true);
    }
    for f in figures.iter().skip(1) {
        row(f.label.clone(), f, &|_| true);
    }
    table
}

/// The cost of an ASU graph (full graph + symmetry + reduction) against the full graph alone.
fn cost_table(figures: &[SetFigures]) -> Table {
    let mut table = Table::new(
        "Building asymmetric-unit graphs: full graph + symmetry + reduction against the full graph alone (chemgnn, 1 thread)",
        &["crystals", "connectivity", "full graph (ms)", "symmetry (ms)", "reduction (ms)", "ASU graph (ms)", "ASU / full"],
    );
    for f in figures {
        for ((c, _), &(full, reduce)) in connectivities().iter().zip(&f.seconds) {
            let asu = full + f.symmetry_seconds + reduce;
            table.rows.push(vec![
                f.label.clone(),
                format!("`{c}`"),
                format!("{:.3}", full * 1e3),
                format!("{:.3}", f.symmetry_seconds * 1e3),
                format!("{:.3}", reduce * 1e3),
                format!("{:.3}", asu * 1e3),
                format!("{:.2}×", asu / full),
            ]);
        }
    }
    table
}

/// The small default SchNet of gnn-train (seeded weights) on `structures` as full-cell and as ASU
/// graphs: inference and a training step (forward, MSE loss, backward to the weights). Predictions
/// must agree within [`PREDICTION_TOLERANCE`]; adds a row per pass and thread count to `table`.
fn schnet(
    structures: &[Structure],
    symmetry: &[Symmetry],
    rec: &mut Recorder,
    table: &mut Option<Table>,
) -> anyhow::Result<()> {
    // Without a neighbour cap: a cap that cuts through a shell of equidistant neighbours keeps a part
    // chosen by atom index, which symmetry-equivalent atoms need not share, and the reduction refuses
    // such graphs (`AsymmetricUnitGraph::new` checks every neighbourhood).
    let ModelConfig::Schnet(mut c) = gnn_train::TrainConfig::default().model else {
        anyhow::bail!("gnn-train's default model is not SchNet")
    };
    c.max_num_neighbors = None;
    let config = ModelConfig::Schnet(c.clone());
    let description = format!(
        "SchNet (gnn-train default: {} features, {} interactions, {} Gaussians, {} Å; neighbours: {})",
        c.hidden_channels,
        c.num_interactions,
        c.num_gaussians,
        c.cutoff,
        c.max_num_neighbors.map_or("all within the cutoff".into(), |m| format!("at most {m}"))
    );
    let table = table.get_or_insert_with(|| {
        Table::new(
            format!(
                "{description}: full-cell against asymmetric-unit graphs, f32, seeded weights; *agreement* is the \
                 largest relative difference of the predictions (inference) and the relative L2 difference \
                 of the weight gradients (training step)"
            ),
            &["batch", "pass", "threads", "full cells (ms)", "asymmetric units (ms)", "speed-up", "agreement"],
        )
    });
    let full = gnn_models::inputs::pipeline::model_graphs(&config, structures)?;
    let asu: Vec<Graph> = full
        .iter()
        .zip(structures)
        .zip(symmetry)
        .map(|((g, s), y)| Ok(AsymmetricUnitGraph::new(g, s, y)?.graph))
        .collect::<anyhow::Result<_>>()?;
    let (cpu, f32) = (&Device::Cpu, DType::F32);
    let batches = [GraphBatch::from_graphs(&full)?, GraphBatch::from_graphs(&asu)?];
    let b = structures.len();
    let prefix = format!("SchNet (gnn-train default) on {b} fixture crystals");
    let names = [
        format!("full cells ({} atoms, {} edges)", batches[0].num_nodes(), batches[0].num_edges()),
        format!("asymmetric units ({} nodes, {} edges)", batches[1].num_nodes(), batches[1].num_edges()),
    ];

    let weights = gnn_models::initial_weights(&config, 0)?;
    let frozen = Network::new(&config, weights.var_builder(f32, cpu)?)?;
    let varmap = VarMap::new();
    let mut names_sorted: Vec<String> = weights.tensors.keys().cloned().collect();
    names_sorted.sort();
    {
        let mut data = varmap.data().lock().map_err(|_| anyhow::anyhow!("VarMap lock poisoned"))?;
        for (name, t) in &weights.tensors {
            data.insert(name.clone(), Var::from_tensor(&t.to_dtype(f32)?)?);
        }
    }
    let trained = Network::new(&config, VarBuilder::from_varmap(&varmap, f32, cpu))?;
    let vars: Vec<Var> = {
        let data = varmap.data().lock().map_err(|_| anyhow::anyhow!("VarMap lock poisoned"))?;
        names_sorted.iter().map(|n| data[n].clone()).collect()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let targets = Tensor::from_vec((0..b).map(|_| rng.random::<f32>() * 10.0 - 5.0).collect::<Vec<_>>(), (b, 1), cpu)?;

    let tensors = [GraphTensors::new(&batches[0], f32, cpu)?, GraphTensors::new(&batches[1], f32, cpu)?];
    let predictions: Vec<Vec<f32>> = tensors
        .iter()
        .map(|g| Ok(frozen.forward(g, &g.positions)?.flatten_all()?.to_vec1::<f32>()?))
        .collect::<anyhow::Result<_>>()?;
    let worst = predictions[0]
        .iter()
        .zip(&predictions[1])
        .map(|(&a, &b)| ((a - b).abs() / a.abs().max(f32::MIN_POSITIVE)) as f64)
        .fold(0.0f64, f64::max);
    eprintln!("  SchNet on {b} crystals: full-cell and ASU predictions differ by at most {worst:.2e} (relative)");
    anyhow::ensure!(
        worst <= PREDICTION_TOLERANCE,
        "SchNet predictions on full-cell and asymmetric-unit graphs differ by {worst:.2e} (relative), more than {PREDICTION_TOLERANCE:e}"
    );
    let prediction_agreement = format!("{worst:.1e}");
    let gradients: Vec<Vec<f32>> = tensors
        .iter()
        .map(|g| {
            let loss = trained.forward(g, &g.positions)?.sub(&targets)?.sqr()?.mean_all()?;
            let grads = loss.backward()?;
            let mut flat = Vec::new();
            for v in &vars {
                match grads.get(v.as_tensor()) {
                    Some(t) => flat.extend(t.flatten_all()?.to_vec1::<f32>()?),
                    None => flat.extend(std::iter::repeat_n(0.0, v.elem_count())),
                }
            }
            Ok(flat)
        })
        .collect::<anyhow::Result<_>>()?;
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    let gradient_difference = norm(&mut gradients[0].iter().zip(&gradients[1]).map(|(&a, &b)| (a - b) as f64))
        / norm(&mut gradients[0].iter().map(|&a| a as f64));
    eprintln!("  SchNet on {b} crystals: weight gradients differ by {gradient_difference:.2e} (relative L2)");

    let passes = ["inference", "training step (forward, MSE loss, backward to the weights)"];
    // (pass, 1 thread | default pool) → (threads, [full, ASU] seconds)
    let mut times: BTreeMap<(usize, usize), (usize, Vec<f64>)> = BTreeMap::new();
    let mut record = |pass: usize, t: [(usize, f64); 2]| {
        for (k, (threads, seconds)) in t.into_iter().enumerate() {
            times.entry((pass, k)).or_insert((threads, Vec::new())).1.push(seconds);
        }
    };
    for (variant, g) in tensors.into_iter().enumerate() {
        let (g1, net) = (g.clone(), frozen.clone());
        let case = format!("{prefix}, {}, {}", names[variant], passes[0]);
        let work = b as f64;
        record(
            0,
            rec.time(&case, "chemgnn", work, "crystals", &mut move || {
                drop(net.forward(&g1, &g1.positions).expect("forward"))
            })?,
        );
        let (net, targets) = (trained.clone(), targets.clone());
        let case = format!("{prefix}, {}, {}", names[variant], passes[1]);
        record(
            1,
            rec.time(&case, "chemgnn", work, "crystals", &mut move || {
                let y = net.forward(&g, &g.positions).expect("forward");
                let loss = y.sub(&targets).and_then(|d| d.sqr()?.mean_all()).expect("loss");
                drop(loss.backward().expect("backward"));
            })?,
        );
    }
    for ((pass, _), (threads, t)) in times {
        let agreement = if pass == 0 { prediction_agreement.clone() } else { format!("{gradient_difference:.1e}") };
        table.rows.push(vec![
            format!("{b} crystals"),
            passes[pass].to_string(),
            threads.to_string(),
            format!("{:.3}", t[0] * 1e3),
            format!("{:.3}", t[1] * 1e3),
            format!("{:.2}×", t[0] / t[1]),
            agreement,
        ]);
    }
    Ok(())
}

/// File parsing: the real CIF and POSCAR fixtures (symmetry expansion included), the fixture
/// crystals written as P1 CIFs, and the fixture as a MatBench table (pymatgen dicts, plain JSON).
fn parsing(work: &Path, set: &CrystalSet, rec: &mut Recorder) -> anyhow::Result<()> {
    let options = ReadOptions::default().with_partial_occupancy(PartialOccupancy::Majority);
    let fixtures: Vec<std::path::PathBuf> = {
        let mut files: Vec<_> =
            std::fs::read_dir(CRYSTAL_FILES)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
        files.retain(|p| CrystalFormat::from_path(p).is_some_and(|f| f != CrystalFormat::Json));
        files.sort();
        files
    };
    let p1_dir = work.join("crystals_p1");
    std::fs::create_dir_all(&p1_dir)?;
    let mut p1 = Vec::new();
    for (k, c) in set.crystals.iter().enumerate() {
        let path = p1_dir.join(format!("{k:03}.cif"));
        write_crystal(&path, &c.structure)?;
        p1.push(path);
    }
    let table = work.join("crystals_matbench.json");
    let data: Vec<serde_json::Value> = set
        .crystals
        .iter()
        .map(|c| Ok(json!([structure_to_dict(&c.structure)?, 0.0])))
        .collect::<anyhow::Result<_>>()?;
    let ids: Vec<String> = (0..data.len()).map(|k| format!("mb-{k:04}")).collect();
    std::fs::write(
        &table,
        serde_json::to_string(&json!({"index": ids, "columns": ["structure", "target"], "data": data}))?,
    )?;

    let groups: [(&str, Vec<std::path::PathBuf>, &str); 3] = [
        ("CIF and POSCAR fixtures (real crystals, symmetry operations expanded)", fixtures, "files"),
        ("the fixture crystals as P1 CIFs", p1, "cif"),
        ("the fixture crystals as a MatBench table (pymatgen dicts)", vec![table], "matbench"),
    ];
    for (label, files, kind) in groups {
        let read = |path: &Path| -> anyhow::Result<Vec<Structure>> { Ok(read_crystals_with(path, &options)?) };
        let atoms: Vec<usize> =
            files.iter().map(|f| Ok(read(f)?.iter().map(Structure::len).sum())).collect::<anyhow::Result<_>>()?;
        let total: usize = atoms.iter().sum();
        let case = format!("parsing {label}: {} files, {total} atoms", files.len());
        rec.time(&case, "chemgnn", total as f64, "atoms", &mut || {
            let s: Vec<_> = files.par_iter().map(|f| read(f).expect("readable")).collect();
            drop(s);
        })?;
        rec.manifest.push(json!({
            "case": case, "kind": "parse", "format": kind, "files": files, "ours": atoms,
            "work": total, "unit": "atoms",
        }));
    }
    Ok(())
}
