//! Our side of each suite: writes the shared inputs plus a manifest for the Python references,
//! and times chemgnn with 1 thread and with the default rayon pool.

use std::path::Path;

use chem_graph::neighbors::{radius_graph, radius_graph_many, RadiusOptions};
use chem_graph::qm9::{read_qm9_archive, read_qm9pack, Qm9Dataset};
use chem_graph::xyz::{read_xyz_file, write_extxyz_file};
use serde_json::json;

use super::inputs::{qm9_archive, qm9_molecules, random_periodic, write_edges_npy};
use super::report::Table;
use super::{thread_label, time_threads, Measurement};

/// Runs `suite`, leaving `<work>/<suite>.json` (the manifest the Python script reads); returns the
/// measurements and the suite's summary tables.
pub fn run(
    suite: &str,
    work: &Path,
    quick: bool,
    budget: f64,
    qm9pack: Option<&Path>,
) -> anyhow::Result<(Vec<Measurement>, Vec<Table>)> {
    let mut out = Vec::new();
    let mut manifest = Vec::new();
    let mut tables = Vec::new();
    let mut ours = |case: &str, work_units: f64, unit: &str, f: &mut (dyn FnMut() + Send)| {
        for (threads, seconds) in time_threads(budget, f).expect("a rayon pool") {
            out.push(Measurement {
                suite: suite.into(),
                case: case.into(),
                implementation: thread_label("chemgnn", threads),
                seconds,
                work: work_units,
                unit: unit.into(),
                identical: None,
            });
        }
    };
    match suite {
        "qm9-parse" => {
            let sample = Qm9Dataset::embedded_sample()?;
            let structures = sample.structures();
            let n = structures.len() as f64;
            let extxyz = work.join("qm9_sample.extxyz");
            write_extxyz_file(&extxyz, &structures)?;
            let case = format!("{} QM9 molecules, extended XYZ", structures.len());
            ours(&case, n, "molecules", &mut || drop(read_xyz_file(&extxyz).expect("readable")));
            manifest.push(json!({"case": case, "kind": "parse", "file": extxyz, "work": n, "unit": "molecules"}));
            let st = work.join("qm9_sample.safetensors");
            sample.save(&st)?;
            let case = format!("{} QM9 molecules, converted safetensors", structures.len());
            ours(&case, n, "molecules", &mut || drop(Qm9Dataset::load(&st).expect("readable")));
            if let Some(wheel) = qm9pack {
                // Parsed once here: the molecule count, and the archive below is written from them.
                let molecules = read_qm9pack(wheel)?;
                let count = Qm9Dataset::from_molecules(&molecules, "qm9pack")?.len();
                let case = format!("full QM9 ({count} molecules) from the qm9pack wheel");
                let n = count as f64;
                ours(&case, n, "molecules", &mut || drop(Qm9Dataset::read_source(wheel).expect("readable")));
                manifest.push(json!({"case": case, "kind": "qm9pack", "file": wheel, "work": n, "unit": "molecules"}));
                let archive = work.join("dsgdb9nsd.xyz.tar.bz2");
                qm9_archive(&archive, &molecules)?;
                let case = format!("full QM9 ({count} molecules), original files streamed from .tar.bz2");
                ours(&case, n, "molecules", &mut || drop(read_qm9_archive(&archive).expect("readable")));
            }
        }
        "neighbors-qm9" => {
            let mols = qm9_molecules(128)?;
            let file = work.join("qm9_batch128.extxyz");
            write_extxyz_file(&file, &mols)?;
            let atoms = mols.iter().map(|m| m.len()).sum::<usize>() as f64;
            for cutoff in [5.0, 10.0] {
                let opts = RadiusOptions::new(cutoff);
                let edges = radius_graph_many(&mols, &opts)?;
                let n_edges: usize = edges.iter().map(|e| e.len()).sum();
                let npy = work.join(format!("qm9_batch128_r{cutoff}.npy"));
                write_edges_npy(&npy, &edges)?;
                let case = format!("128 QM9 molecules ({atoms} atoms), r = {cutoff} Å, {n_edges} edges");
                ours(&case, atoms, "atoms", &mut || drop(radius_graph_many(&mols, &opts).expect("valid")));
                manifest.push(json!({"case": case, "kind": "neighbors", "file": file, "cutoff": cutoff, "edges": npy, "work": atoms, "unit": "atoms"}));
            }
        }
        "neighbors-periodic" => {
            let sizes: &[usize] = if quick { &[1000, 10_000] } else { &[1000, 10_000, 100_000] };
            for &n in sizes {
                let s = random_periodic(n, n as u64)?;
                let file = work.join(format!("periodic_{n}.extxyz"));
                write_extxyz_file(&file, std::slice::from_ref(&s))?;
                let opts = RadiusOptions::new(5.0);
                let edges = radius_graph(&s, &opts)?;
                let npy = work.join(format!("periodic_{n}.npy"));
                write_edges_npy(&npy, std::slice::from_ref(&edges))?;
                let case = format!("{n} atoms periodic triclinic, r = 5 Å, {} edges", edges.len());
                ours(&case, n as f64, "atoms", &mut || drop(radius_graph(&s, &opts).expect("valid")));
                manifest.push(json!({"case": case, "kind": "neighbors", "file": file, "cutoff": 5.0, "edges": npy, "work": n, "unit": "atoms"}));
            }
        }
        "ops" => {
            let (cases, entry) = super::ops::cases(work, quick)?;
            for (case, mut f) in cases {
                ours(&case, 1.0, "passes", &mut *f);
            }
            manifest.push(entry);
        }
        "models" => {
            let (cases, entries) = super::models::cases(work, quick)?;
            for ((case, mut f), molecules) in cases {
                ours(&case, molecules, "molecules", &mut *f);
            }
            manifest.extend(entries);
        }
        "crystal-models" => {
            let (cases, entries) = super::crystal_models::cases(work, quick)?;
            for ((case, mut f), crystals) in cases {
                ours(&case, crystals, "crystals", &mut *f);
            }
            manifest.extend(entries);
        }
        "e3nn" => {
            let (cases, entries) = super::e3nn::cases(work, quick)?;
            for ((case, mut f), molecules) in cases {
                ours(&case, molecules, "molecules", &mut *f);
            }
            manifest.extend(entries);
        }
        "cli" => {
            let (measurements, entry) = super::cli::run(work, quick, budget)?;
            out.extend(measurements);
            manifest.push(entry);
        }
        "potentials" => {
            let run = super::potentials::run(work, quick, budget)?;
            out.extend(run.measurements);
            manifest.extend(run.manifest);
        }
        "crystals" => {
            let run = super::crystals::run(work, quick, budget)?;
            out.extend(run.measurements);
            manifest.extend(run.manifest);
            tables.extend(run.tables);
        }
        "real-crystals" => {
            let (measurements, suite_tables) = super::real_crystals::run(quick, budget)?;
            out.extend(measurements);
            tables.extend(suite_tables);
        }
        other => anyhow::bail!("unknown suite '{other}'"),
    }
    std::fs::write(work.join(format!("{suite}.json")), serde_json::to_string_pretty(&manifest)?)?;
    Ok((out, tables))
}
