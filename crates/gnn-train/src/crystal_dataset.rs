//! Crystal datasets: MatBench task tables (`matbench_*.json.gz`, as MatBench v0.1 ships them), the
//! four Materials Project sets `chemgnn data fetch matminer` converts to the same format
//! (`matminer:<set>` for the main target, `matminer:<set>:<target>` for another, e.g.
//! `matminer:elastic_tensor:G_VRH`), and the committed sample `crystal-sample` (500 structures of the
//! formation-energy set) for tests and offline demos.

use crate::dataset::{InMemoryDataset, Sample, TargetInfo};
use crate::error::{Error, Result};
use chem_crystal::io::matminer::{default_cache_dir, MATMINER_SETS};
use chem_crystal::MatbenchDataset;
use std::path::{Path, PathBuf};

/// The committed crystal sample (relative to the workspace root).
pub const CRYSTAL_SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/crystal_sample.json.gz");

/// The file behind a crystal dataset name, or `None` when `name` is not one.
pub fn crystal_dataset_path(name: &str) -> Result<Option<PathBuf>> {
    if name == "crystal-sample" {
        return Ok(Some(PathBuf::from(CRYSTAL_SAMPLE)));
    }
    if let Some(spec) = name.strip_prefix("matminer:") {
        let (set_name, target) = spec.split_once(':').map_or((spec, None), |(s, t)| (s, Some(t)));
        let set = MATMINER_SETS.iter().find(|s| s.name == set_name).ok_or_else(|| {
            let names: Vec<&str> = MATMINER_SETS.iter().map(|s| s.name).collect();
            Error::Data(format!("unknown matminer set `{set_name}` (expected one of {})", names.join(", ")))
        })?;
        let target = target.unwrap_or(set.targets[0]);
        if !set.targets.contains(&target) {
            return Err(Error::Data(format!("matminer set `{set_name}` has no target `{target}` ({:?})", set.targets)));
        }
        let path = default_cache_dir().join(set.table_file(target));
        if !path.exists() {
            return Err(Error::Data(format!(
                "{} does not exist: run `chemgnn data fetch matminer` first (or set CHEMGNN_DATA_DIR)",
                path.display()
            )));
        }
        return Ok(Some(path));
    }
    let lower = name.to_lowercase();
    let table = (lower.ends_with(".json") || lower.ends_with(".json.gz")) && Path::new(name).exists();
    Ok(table.then(|| PathBuf::from(name)))
}

/// The unit of a MatBench/matminer target column.
fn unit_of(target: &str) -> &'static str {
    match target {
        "e_form" | "formation_energy_per_atom" | "e_above_hull" => "eV/atom",
        "n" => "1",
        "gap pbe" | "band_gap" | "gap" => "eV",
        "log10(K_VRH)" | "log10(G_VRH)" => "log10(GPa)",
        "K_VRH" | "G_VRH" => "GPa",
        "exfoliation_en" => "meV/atom",
        "last phdos peak" => "1/cm",
        "eij_max" => "C/m²",
        _ => "",
    }
}

/// The crystals of a MatBench-style table at `path`, with its target column, which `targets`
/// names (or `log10(<column>)`, MatBench's form of the elastic moduli; an empty list means the
/// column itself).
pub fn crystal_dataset(path: &Path, targets: &[String]) -> Result<InMemoryDataset> {
    let table = MatbenchDataset::read(path)?;
    let name = path.display().to_string();
    if table.is_empty() {
        return Err(Error::Data(format!("{name}: the table has no structures")));
    }
    let column = table.target_name.clone();
    let logarithm = format!("log10({column})");
    let wanted = match targets {
        [] => column.clone(),
        [t] if *t == column || *t == logarithm => t.clone(),
        _ => {
            return Err(Error::Data(format!(
                "{name}: the table's target is `{column}` (or `{logarithm}`), not {}",
                targets.join(", ")
            )))
        }
    };
    let mut values = table.targets;
    if wanted == logarithm {
        if let Some(k) = values.iter().position(|&y| y.is_nan() || y <= 0.0) {
            return Err(Error::Data(format!(
                "{name}: {} has {column} = {}, which has no logarithm",
                table.ids[k], values[k]
            )));
        }
        values.iter_mut().for_each(|y| *y = y.log10());
    }
    let target = TargetInfo {
        name: wanted.clone(),
        unit: unit_of(&wanted).to_string(),
        // MatBench's regression targets are per atom or intensive.
        extensive: false,
        chemical_accuracy: None,
        qm9: None,
    };
    let samples = table
        .structures
        .into_iter()
        .zip(values)
        .map(|(structure, y)| Sample { structure, targets: vec![y], forces: None })
        .collect();
    Ok(InMemoryDataset { name, targets: vec![target], samples })
}
