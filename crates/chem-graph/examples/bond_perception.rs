//! Agreement of bond perception from QM9 geometries with QM9's own SMILES.
//!
//! ```text
//! cargo run --release -p chem-graph --example bond_perception -- data/cache/qm9.safetensors
//! cargo run --release -p chem-graph --example bond_perception -- dsgdb9nsd.xyz.tar.bz2
//! ```
//! The converted dataset holds the 130,831 characterized molecules; the original archive holds
//! all 133,885. Each molecule's graph perceived from its relaxed geometry is compared (heavy atoms,
//! hydrogen counts, charges, bond types with aromaticity) with the graph of its relaxed-geometry
//! SMILES, and with its GDB-17 SMILES when given.

use std::collections::BTreeMap;
use std::path::Path;

use chem_graph::mol::{compare, perceive, Comparison, PerceiveOptions};
use chem_graph::qm9::{read_qm9_archive, uncharacterized, Qm9Dataset};
use chem_graph::{smiles, Structure};
use rayon::prelude::*;

/// One molecule: GDB index, geometry and SMILES (relaxed, then GDB-17 when known).
struct Entry {
    index: u32,
    structure: Structure,
    smiles: Vec<String>,
}

/// The outcome for one molecule against one SMILES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Compared(Comparison),
    PerceptionFailed,
    SmilesFailed,
    CompareFailed,
}

fn main() -> chem_graph::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "data/cache/qm9.safetensors".into());
    let entries = load(Path::new(&path))?;
    let skip = uncharacterized();
    let options = PerceiveOptions::default();
    let outcomes: Vec<Vec<Outcome>> = entries
        .par_iter()
        .map(|e| {
            let perceived = perceive(&e.structure, &options);
            e.smiles
                .iter()
                .map(|s| match (&perceived, smiles::parse(s)) {
                    (Err(_), _) => Outcome::PerceptionFailed,
                    (_, Err(_)) => Outcome::SmilesFailed,
                    (Ok(p), Ok(g)) => compare(p, &g).map_or(Outcome::CompareFailed, Outcome::Compared),
                })
                .collect()
        })
        .collect();
    println!("{path}: {} molecules", entries.len());
    let columns = outcomes.first().map_or(0, Vec::len);
    for (column, label) in ["relaxed-geometry SMILES", "GDB-17 SMILES"].iter().enumerate().take(columns) {
        let mixed = entries.iter().any(|e| skip.binary_search(&e.index).is_ok());
        let subsets: &[(&str, Option<bool>)] = if mixed {
            &[("all", None), ("characterized", Some(false)), ("uncharacterized", Some(true))]
        } else {
            &[("all (characterized only)", None)]
        };
        for &(subset, keep) in subsets {
            let mut counts: BTreeMap<Outcome, usize> = BTreeMap::new();
            let mut examples: BTreeMap<Outcome, Vec<String>> = BTreeMap::new();
            let mut total = 0;
            for (e, o) in entries.iter().zip(&outcomes) {
                if keep.is_some_and(|k| k != skip.binary_search(&e.index).is_ok()) {
                    continue;
                }
                total += 1;
                *counts.entry(o[column]).or_default() += 1;
                let list = examples.entry(o[column]).or_default();
                if list.len() < 4 {
                    list.push(format!("gdb_{} {}", e.index, e.smiles[column]));
                }
            }
            if total == 0 {
                continue;
            }
            let same = counts.get(&Outcome::Compared(Comparison::Identical)).copied().unwrap_or(0);
            println!("\n{label}, {subset}: {same}/{total} identical ({:.3} %)", 100.0 * same as f64 / total as f64);
            for (outcome, count) in &counts {
                if *outcome != Outcome::Compared(Comparison::Identical) {
                    println!("  {outcome:?}: {count}   e.g. {}", examples[outcome].join(", "));
                }
            }
        }
    }
    Ok(())
}

/// Reads the original archive (all molecules, both SMILES) or a converted dataset.
fn load(path: &Path) -> chem_graph::Result<Vec<Entry>> {
    if path.to_string_lossy().ends_with(".tar.bz2") {
        return read_qm9_archive(path)?
            .into_iter()
            .map(|m| {
                Ok(Entry {
                    index: m.index,
                    structure: m.to_structure()?,
                    smiles: vec![m.smiles[1].clone(), m.smiles[0].clone()],
                })
            })
            .collect();
    }
    let d = Qm9Dataset::load(path)?;
    Ok((0..d.len())
        .map(|m| Entry { index: d.index[m], structure: d.structure(m), smiles: vec![d.smiles[m].clone()] })
        .collect())
}
