//! The `real-crystals` suite: symmetry search → symmetrisation → periodic graph → asymmetric unit
//! on the Materials Project crystals of the `matminer==0.4.0` sdist (3,938 + 1,181 + 1,056 + 941),
//! with the positions as given and symmetrised; and the small default SchNet on full cells against
//! asymmetric units of every crystal.
//!
//! The sets come from `chemgnn data fetch matminer`'s code (downloaded once into its cache); with
//! `--quick`, from the three-row snippets committed in `crates/chem-crystal/tests/data/matminer`,
//! so that the suite runs without network.

use std::path::Path;

use chem_crystal::io::matminer::{default_cache_dir, fetch_matminer, MatminerSet, MatminerTable, MATMINER_SETS};
use chem_crystal::io::read_crystals;
use chem_crystal::{periodic_graph, AsymmetricUnitGraph, Connectivity, Positions, PreparedCrystal, SymmetryOptions};
use chem_graph::{Graph, GraphBatch, Structure};
use gnn_layers::candle::{DType, Device};
use gnn_layers::GraphTensors;
use gnn_models::inputs::pipeline::model_graphs;
use gnn_models::{ModelConfig, Network};
use rayon::prelude::*;

use super::report::Table;
use super::{thread_label, time_threads, Measurement};

const SUITE: &str = "real-crystals";
const SNIPPETS: &str = "crates/chem-crystal/tests/data/matminer";
/// The connectivities of coGN (`knn:24`), coNGN (`voronoi`) and SchNet-like models (`radius:5`).
const CONNECTIVITIES: [&str; 3] = ["knn:24", "voronoi", "radius:5"];
/// Largest relative difference allowed between full-cell and ASU predictions (f32).
const PREDICTION_TOLERANCE: f64 = 1e-5;
/// kgcnn 3.1.0's ASU preprocessing per crystal (pyxtal + spglib + pymatgen + kNN graph), from
/// ../shared/notes/ngn.md §2; not rerun here.
const KGCNN_MS_PER_CRYSTAL: f64 = 47.0;

/// Runs the suite: measurements (per-crystal times of each step) and its tables.
pub fn run(quick: bool, budget: f64) -> anyhow::Result<(Vec<Measurement>, Vec<Table>)> {
    let sets = load(quick)?;
    let options = SymmetryOptions::default();
    let mut failures = Table::new(
        format!(
            "Asymmetric-unit graphs on real crystals (symprec {:e} Å): crystals whose ASU graph cannot be built, \
             by connectivity and positions; P1 = symmetry not used (detection failed or symmetrisation refused)",
            options.symprec
        ),
        &[
            "set",
            "crystals",
            "positions",
            "P1",
            "failures knn:24",
            "failures voronoi",
            "failures radius:5",
            "largest displacement (Å)",
            "largest cell change (Å)",
        ],
    );
    let mut measurements = Vec::new();
    let mut schnet_table = Table::new(
        "SchNet (gnn-train default, seeded weights, f32, radius graph without neighbour cap) on symmetrised \
         crystals: full cells against asymmetric units, and symmetrised against original positions \
         (differences relative to the set's largest |prediction|)",
        &[
            "set",
            "crystals",
            "Σ atoms → Σ ASU nodes",
            "largest relative difference ASU vs full",
            "above 1e-5",
            "largest relative change from symmetrising",
        ],
    );
    for (set, structures) in &sets {
        eprintln!("  {}: {} crystals", set.name, structures.len());
        let mut symmetrized = Vec::new();
        for positions in [Positions::Original, Positions::Symmetrized] {
            let prepared: Vec<PreparedCrystal> = structures
                .par_iter()
                .map(|s| PreparedCrystal::new(s, &options, positions))
                .collect::<chem_crystal::Result<_>>()?;
            let p1 = prepared.iter().filter(|c| c.symmetry.fallback.is_some()).count();
            let mut row =
                vec![set.name.to_string(), structures.len().to_string(), positions.to_string(), p1.to_string()];
            for connectivity in CONNECTIVITIES {
                let connectivity: Connectivity = connectivity.parse()?;
                let failed: Vec<&str> = prepared
                    .par_iter()
                    .filter(|c| {
                        let full = periodic_graph(&c.structure, &connectivity).expect("a graph of a valid crystal");
                        AsymmetricUnitGraph::new(&full, &c.structure, &c.symmetry).is_err()
                    })
                    .map(|c| c.structure.name.as_str())
                    .collect();
                if !failed.is_empty() {
                    let shown: Vec<&str> = failed.iter().take(8).copied().collect();
                    eprintln!("    {positions}, {connectivity}: {} failures ({} …)", failed.len(), shown.join(", "));
                }
                row.push(failed.len().to_string());
            }
            let largest = |f: fn(&PreparedCrystal) -> f64| prepared.iter().map(f).fold(0.0, f64::max);
            row.push(format!("{:.1e}", largest(|c| c.max_displacement)));
            row.push(format!("{:.1e}", largest(|c| c.max_lattice_change)));
            failures.rows.push(row);
            if positions == Positions::Symmetrized {
                symmetrized = prepared;
            }
        }
        schnet_table.rows.push(schnet(set.name, structures, &symmetrized)?);
        measurements.extend(timings(set.name, structures, &options, budget)?);
    }
    let mut cost = Table::new(
        format!(
            "Per crystal: symmetry search, symmetrisation and ASU graph (ms per crystal, median run over the set; \
             kgcnn 3.1.0's ASU preprocessing takes ~{KGCNN_MS_PER_CRYSTAL} ms per crystal, notes/ngn.md §2)"
        ),
        &["set", "step", "threads", "ms per crystal", "kgcnn / chemgnn"],
    );
    for m in &measurements {
        let ms = m.seconds * 1e3 / m.work;
        let step = m.case.split_once(": ").map_or(m.case.as_str(), |(_, step)| step);
        let set = m.case.split_once(':').map_or("", |(set, _)| set);
        let threads = m.implementation.trim_start_matches("chemgnn (").trim_end_matches(')');
        let ratio = if step.starts_with("symmetry + symmetrisation + ") {
            format!("{:.0}×", KGCNN_MS_PER_CRYSTAL / ms)
        } else {
            String::new()
        };
        cost.rows.push(vec![set.to_string(), step.to_string(), threads.to_string(), format!("{ms:.3}"), ratio]);
    }
    Ok((measurements, vec![failures, cost, schnet_table]))
}

/// The four sets: fetched (and cached) for a full run, the committed snippets for `--quick`.
fn load(quick: bool) -> anyhow::Result<Vec<(MatminerSet, Vec<Structure>)>> {
    if quick {
        let options = Default::default();
        return MATMINER_SETS
            .iter()
            .map(|set| {
                let path = Path::new(SNIPPETS).join(format!("{}.csv", set.name));
                Ok((*set, MatminerTable::read(*set, &path, &options)?.structures))
            })
            .collect();
    }
    let dir = default_cache_dir();
    fetch_matminer(None, &dir, false, &mut |m| eprintln!("  {m}")).map_err(|e| {
        anyhow::anyhow!(
            "the real-crystals suite needs the matminer sets in {} ({e}); fetch them with `chemgnn data fetch \
             matminer --source matminer-0.4.0.tar.gz`, or leave the suite out with --suites",
            dir.display()
        )
    })?;
    MATMINER_SETS.iter().map(|set| Ok((*set, read_crystals(dir.join(set.table_file(set.targets[0])))?))).collect()
}

/// Times, per crystal of a set, the symmetry search alone, search + symmetrisation, and the whole
/// pipeline (`PreparedCrystal::new` then `graphs`) for each connectivity.
fn timings(
    set: &str,
    structures: &[Structure],
    options: &SymmetryOptions,
    budget: f64,
) -> anyhow::Result<Vec<Measurement>> {
    let n = structures.len() as f64;
    let mut out = Vec::new();
    let mut time = |step: String, f: &mut (dyn FnMut() + Send)| -> anyhow::Result<()> {
        for (threads, seconds) in time_threads(budget, f)? {
            out.push(Measurement {
                suite: SUITE.into(),
                case: format!("{set}: {step}"),
                implementation: thread_label("chemgnn", threads),
                seconds,
                work: n,
                unit: "crystals".into(),
                identical: None,
            });
        }
        Ok(())
    };
    time("symmetry search".into(), &mut || {
        let p: Vec<_> = structures
            .par_iter()
            .map(|s| PreparedCrystal::new(s, options, Positions::Original).expect("a crystal"))
            .collect();
        drop(p);
    })?;
    time("symmetry + symmetrisation".into(), &mut || {
        let p: Vec<_> = structures
            .par_iter()
            .map(|s| PreparedCrystal::new(s, options, Positions::Symmetrized).expect("a crystal"))
            .collect();
        drop(p);
    })?;
    for connectivity in CONNECTIVITIES {
        let parsed: Connectivity = connectivity.parse()?;
        time(format!("symmetry + symmetrisation + {connectivity} graph + reduction"), &mut || {
            let g: Vec<_> = structures
                .par_iter()
                .map(|s| {
                    PreparedCrystal::new(s, options, Positions::Symmetrized)
                        .and_then(|c| c.graphs(&parsed))
                        .expect("an ASU graph")
                })
                .collect();
            drop(g);
        })?;
    }
    Ok(out)
}

/// The default SchNet of gnn-train with seeded weights on `crystals` (symmetrised): full cells
/// against asymmetric units, and the full cells of the original `structures`; one table row. Fails
/// when a full-cell and an ASU prediction differ by more than [`PREDICTION_TOLERANCE`].
fn schnet(set: &str, structures: &[Structure], crystals: &[PreparedCrystal]) -> anyhow::Result<Vec<String>> {
    // No neighbour cap: a cap cutting through a shell of equidistant neighbours keeps atoms chosen by
    // index, which symmetry-equivalent atoms need not share.
    let ModelConfig::Schnet(mut c) = gnn_train::TrainConfig::default().model else {
        anyhow::bail!("gnn-train's default model is not SchNet")
    };
    c.max_num_neighbors = None;
    let config = ModelConfig::Schnet(c);
    let weights = gnn_models::initial_weights(&config, 0)?;
    let network = Network::new(&config, weights.var_builder(DType::F32, &Device::Cpu)?)?;
    let predict = |graphs: &[Graph]| -> anyhow::Result<Vec<f32>> {
        let mut out = Vec::with_capacity(graphs.len());
        for chunk in graphs.chunks(64) {
            let g = GraphTensors::new(&GraphBatch::from_graphs(chunk)?, DType::F32, &Device::Cpu)?;
            out.extend(network.forward(&g, &g.positions)?.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    };
    let symmetrized: Vec<Structure> = crystals.iter().map(|c| c.structure.clone()).collect();
    let full = model_graphs(&config, &symmetrized)?;
    let asu: Vec<Graph> =
        full.par_iter().zip(crystals).map(|(g, c)| Ok(c.reduce(g)?.graph)).collect::<anyhow::Result<_>>()?;
    let original = model_graphs(&config, structures)?;
    let [full_y, asu_y, original_y] = [predict(&full)?, predict(&asu)?, predict(&original)?];
    // Differences relative to the set's largest |prediction| (as tests/asu.rs measures them): f32
    // rounding scales with the summed hidden states, not with a prediction that happens to be ~0.
    let relative = |a: &[f32], b: &[f32]| -> Vec<f64> {
        let scale = a.iter().fold(f32::MIN_POSITIVE, |m, x| m.max(x.abs())) as f64;
        a.iter().zip(b).map(|(&x, &y)| (x - y).abs() as f64 / scale).collect()
    };
    let asu_vs_full = relative(&full_y, &asu_y);
    let worst = asu_vs_full.iter().copied().fold(0.0, f64::max);
    let above = asu_vs_full.iter().filter(|&&d| d > PREDICTION_TOLERANCE).count();
    let moved = relative(&original_y, &full_y).into_iter().fold(0.0, f64::max);
    eprintln!(
        "    SchNet: ASU vs full {worst:.1e} (relative; {above} above {PREDICTION_TOLERANCE:e}), symmetrising \
         changed predictions by ≤ {moved:.1e}"
    );
    anyhow::ensure!(
        above == 0,
        "{set}: SchNet predictions on full-cell and asymmetric-unit graphs differ by up to {worst:.2e} \
         (relative) on {above} crystals"
    );
    let atoms: usize = full.iter().map(Graph::num_nodes).sum();
    let nodes: usize = asu.iter().map(Graph::num_nodes).sum();
    Ok(vec![
        set.to_string(),
        structures.len().to_string(),
        format!("{atoms} → {nodes} ({:.2}×)", atoms as f64 / nodes.max(1) as f64),
        format!("{worst:.1e}"),
        above.to_string(),
        format!("{moved:.1e}"),
    ])
}
