//! `chemgnn data info` and `chemgnn data fetch`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chem_crystal::io::matbench_splits::{default_splits_path, fetch_matbench_splits};
use chem_crystal::io::matminer::{default_cache_dir, fetch_matminer};
use chem_crystal::io::CrystalFormat;
use chem_graph::neighbors::{radius_graph, RadiusOptions};
use chem_graph::qm9::{default_cache_path, fetch_qm9, Qm9Dataset};
use chem_graph::{element, io, Structure};
use clap::{Args, Subcommand};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Summarise structure files: counts, elements, properties and neighbour statistics.
    ///
    /// FILE may be XYZ/extended XYZ, a crystal file (CIF, POSCAR/CONTCAR/*.vasp, pymatgen JSON, a
    /// MatBench .json.gz table), an original QM9 file, the QM9 archive (.tar.bz2), a qm9pack
    /// wheel or CSV, a converted QM9 file (.safetensors), or the names `qm9` (the converted full
    /// set, see `chemgnn data fetch qm9`) and `qm9-sample` (the sample built into chemgnn).
    Info(InfoArgs),
    /// Fetch a dataset and convert it for training.
    #[command(subcommand)]
    Fetch(FetchCommand),
}

#[derive(Args)]
pub struct InfoArgs {
    /// Files (or `qm9`, `qm9-sample`).
    #[arg(required = true)]
    files: Vec<String>,
    /// Cutoff radius in Å for the neighbour statistics (0 skips them).
    #[arg(long, default_value_t = 5.0)]
    cutoff: f64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum FetchCommand {
    /// QM9: the official archive from figshare, or else the `qm9pack` wheel via `python3 -m pip`.
    /// Converted once to a compact safetensors file with the 19 PyG targets; the 3,054
    /// uncharacterized molecules are excluded (130,831 remain).
    Qm9 {
        /// Path or URL of dsgdb9nsd.xyz.tar.bz2, or a path to a qm9pack wheel, CSV or directory.
        #[arg(long)]
        source: Option<String>,
        /// Output file [default: $CHEMGNN_DATA_DIR/qm9.safetensors, else data/cache/qm9.safetensors].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fetch and convert again even if the output file already holds a valid dataset (an explicit
        /// --source is always fetched).
        #[arg(long)]
        force: bool,
    },
    /// The four Materials Project sets bundled in the matminer 0.4.0 source distribution (formation
    /// energies, elastic, dielectric and piezoelectric data of 941–3,938 crystals each), checked
    /// against pinned SHA-256 hashes and converted to MatBench-style tables: `<set>.json.gz` with
    /// the main target and `<set>_<target>.json.gz` for each further one.
    Matminer {
        /// Output directory [default: $CHEMGNN_DATA_DIR/matminer, else data/cache/matminer].
        #[arg(long)]
        out: Option<PathBuf>,
        /// matminer-0.4.0.tar.gz or a directory holding its four CSVs [default: downloaded with
        /// `python3 -m pip download --no-deps matminer==0.4.0`].
        #[arg(long)]
        source: Option<PathBuf>,
        /// Convert again even if the output directory already holds all tables (an explicit
        /// --source is always converted).
        #[arg(long)]
        force: bool,
    },
    /// MatBench v0.1's official 5-fold splits (ids per task and fold) from the `matbench==0.6` wheel,
    /// checked against a pinned SHA-256 and stored gzipped; `chemgnn train --matbench-fold K` uses
    /// them on MatBench task tables.
    MatbenchSplits {
        /// Output file [default: $CHEMGNN_DATA_DIR/matbench/matbench_v0.1_validation.json.gz, else
        /// under data/cache].
        #[arg(long)]
        out: Option<PathBuf>,
        /// The matbench 0.6 wheel or its matbench_v0.1_validation.json [default: downloaded with
        /// `python3 -m pip download --no-deps matbench==0.6`].
        #[arg(long)]
        source: Option<PathBuf>,
        /// Fetch again even if the output file already holds the splits.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cmd: DataCommand) -> anyhow::Result<()> {
    match cmd {
        DataCommand::Info(args) => info(&args),
        DataCommand::Fetch(FetchCommand::Qm9 { source, out, force }) => {
            let out = out.unwrap_or_else(default_cache_path);
            let d = fetch_qm9(source.as_deref(), &out, force, &mut |m| eprintln!("{m}"))?;
            println!("{}: {} molecules, {} atoms", out.display(), d.len(), d.numbers.len());
            Ok(())
        }
        DataCommand::Fetch(FetchCommand::Matminer { out, source, force }) => {
            let out = out.unwrap_or_else(default_cache_dir);
            for t in fetch_matminer(source.as_deref(), &out, force, &mut |m| eprintln!("{m}"))? {
                println!("{}: {} structures, target {}", t.path.display(), t.structures, t.target);
            }
            Ok(())
        }
        DataCommand::Fetch(FetchCommand::MatbenchSplits { out, source, force }) => {
            let out = out.unwrap_or_else(default_splits_path);
            let splits = fetch_matbench_splits(source.as_deref(), &out, force, &mut |m| eprintln!("{m}"))?;
            for (task, folds) in &splits.tasks {
                let sizes: Vec<String> = folds.iter().map(|f| format!("{}/{}", f.train.len(), f.test.len())).collect();
                println!("{task}: folds (train/test) {}", sizes.join(" "));
            }
            Ok(())
        }
    }
}

/// What `data info` reports for one file.
#[derive(Serialize)]
struct Summary {
    file: String,
    structures: usize,
    periodic: usize,
    atoms: usize,
    atoms_per_structure: Stats,
    elements: BTreeMap<String, usize>,
    properties: BTreeMap<String, usize>,
    atom_arrays: BTreeMap<String, usize>,
    neighbors: Option<NeighborSummary>,
}

#[derive(Serialize)]
struct NeighborSummary {
    cutoff: f64,
    edges: usize,
    neighbors_per_atom: Stats,
    seconds: f64,
}

#[derive(Serialize)]
struct Stats {
    min: usize,
    mean: f64,
    max: usize,
}

impl Stats {
    fn of(values: impl Iterator<Item = usize> + Clone) -> Stats {
        let n = values.clone().count().max(1);
        Stats {
            min: values.clone().min().unwrap_or(0),
            mean: values.clone().sum::<usize>() as f64 / n as f64,
            max: values.max().unwrap_or(0),
        }
    }
}

/// The structures of a file or of the names `qm9-sample` and `qm9`.
pub fn load_structures(file: &str) -> anyhow::Result<Vec<Structure>> {
    Ok(match file {
        "qm9-sample" => Qm9Dataset::embedded_sample()?.structures(),
        "qm9" => {
            let path = default_cache_path();
            Qm9Dataset::load(&path)
                .with_context(|| format!("run `chemgnn data fetch qm9` to create {}", path.display()))?
                .structures()
        }
        _ => {
            let path = Path::new(file);
            match CrystalFormat::from_path(path) {
                Some(CrystalFormat::Xyz) | None => io::read_structures(path)?,
                Some(_) => {
                    let crystals = chem_crystal::read_crystals(path)?;
                    print_read_warnings(file, &crystals);
                    crystals
                }
            }
        }
    })
}

/// Prints the warnings a reader attached to `structures` (a CIF's `cif_warnings`: coordinates
/// snapped to 1/3 and 2/3 as pymatgen does, tolerated quirks) to standard error.
pub fn print_read_warnings(file: &str, structures: &[Structure]) {
    for s in structures {
        if let Some(chem_graph::Property::Str(warnings)) = s.properties.get("cif_warnings") {
            for line in warnings.lines() {
                eprintln!("warning: {file}: {line}");
            }
        }
    }
}

fn summarise(file: &str, structures: &[Structure], cutoff: f64) -> anyhow::Result<Summary> {
    let mut elements = BTreeMap::new();
    let (mut properties, mut atom_arrays) = (BTreeMap::new(), BTreeMap::new());
    for s in structures {
        for &z in &s.numbers {
            *elements.entry(element::by_number(z).map_or("?", |e| e.symbol).to_string()).or_insert(0) += 1;
        }
        for k in s.properties.keys() {
            *properties.entry(k.clone()).or_insert(0) += 1;
        }
        for k in s.atom_arrays.keys() {
            *atom_arrays.entry(k.clone()).or_insert(0) += 1;
        }
    }
    let neighbors = if cutoff > 0.0 {
        let start = Instant::now();
        let options = RadiusOptions::new(cutoff);
        // In-degrees per structure; each structure's edges are dropped as soon as they are counted
        // (the full QM9 at 5 Å has 37 million edges).
        let degrees = structures
            .par_iter()
            .map(|s| radius_graph(s, &options).map(|e| e.in_degrees(s.len())).with_context(|| s.label()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let seconds = start.elapsed().as_secs_f64();
        let all = degrees.iter().flatten().copied();
        Some(NeighborSummary { cutoff, edges: all.clone().sum(), neighbors_per_atom: Stats::of(all), seconds })
    } else {
        None
    };
    Ok(Summary {
        file: file.to_string(),
        structures: structures.len(),
        periodic: structures.iter().filter(|s| s.is_periodic()).count(),
        atoms: structures.iter().map(Structure::len).sum(),
        atoms_per_structure: Stats::of(structures.iter().map(Structure::len)),
        elements,
        properties,
        atom_arrays,
        neighbors,
    })
}

fn info(args: &InfoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.cutoff.is_finite() && args.cutoff >= 0.0,
        "--cutoff must be a finite distance in Å (0 skips the neighbour statistics), got {}",
        args.cutoff
    );
    let mut summaries = Vec::new();
    for file in &args.files {
        let structures = load_structures(file)?;
        let summary = summarise(file, &structures, args.cutoff)?;
        if !args.json {
            print_text(&summary);
        }
        summaries.push(summary);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
    }
    Ok(())
}

fn print_text(s: &Summary) {
    let a = &s.atoms_per_structure;
    println!("{}", s.file);
    println!("  structures: {} ({} periodic)", s.structures, s.periodic);
    println!("  atoms:      {} (per structure: min {}, mean {:.2}, max {})", s.atoms, a.min, a.mean, a.max);
    let els: Vec<String> = s.elements.iter().map(|(e, n)| format!("{e} {n}")).collect();
    println!("  elements:   {}", els.join(", "));
    let props: Vec<&str> = s.properties.keys().map(String::as_str).collect();
    println!("  properties: {}", if props.is_empty() { "-".to_string() } else { props.join(", ") });
    let arrays: Vec<&str> = s.atom_arrays.keys().map(String::as_str).collect();
    println!("  per-atom:   {}", if arrays.is_empty() { "-".to_string() } else { arrays.join(", ") });
    if let Some(n) = &s.neighbors {
        let d = &n.neighbors_per_atom;
        println!(
            "  neighbours within {} Å: {} edges; per atom min {}, mean {:.2}, max {} ({:.3} s)",
            n.cutoff, n.edges, d.min, d.mean, d.max, n.seconds
        );
    }
}
