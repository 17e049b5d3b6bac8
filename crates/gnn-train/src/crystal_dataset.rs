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
    if let Some(k) = values.iter().position(|y| !y.is_finite()) {
        return Err(Error::Data(format!("{name}: {} has {column} = {}, not a finite number", table.ids[k], values[k])));
    }
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
        .map(|(structure, y)| Sample { structure, targets: vec![y], forces: None, stress: None })
        .collect();
    Ok(InMemoryDataset { name, targets: vec![target], samples })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Dataset;

    #[test]
    fn the_committed_sample_loads_with_its_target_and_unit() {
        let path = crystal_dataset_path("crystal-sample").unwrap().unwrap();
        let data = crystal_dataset(&path, &[]).unwrap();
        assert_eq!(data.len(), 500);
        let target = &data.targets()[0];
        assert_eq!(
            (target.name.as_str(), target.unit.as_str(), target.extensive),
            ("formation_energy_per_atom", "eV/atom", false)
        );
        assert!(data.samples.iter().all(|s| s.structure.is_periodic() && s.targets[0].is_finite()));
        assert_eq!(crystal_dataset_path("no-such-table.json").unwrap(), None);
        assert_eq!(crystal_dataset_path("qm9-sample").unwrap(), None);
    }

    #[test]
    fn log10_targets_are_transformed_and_bad_names_and_values_are_errors() {
        let sample = MatbenchDataset::read(CRYSTAL_SAMPLE).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("moduli.json.gz");
        let moduli = MatbenchDataset {
            target_name: "K_VRH".into(),
            ids: sample.ids[..3].to_vec(),
            structures: sample.structures[..3].to_vec(),
            targets: vec![10.0, 100.0, 250.0],
        };
        moduli.write(&path).unwrap();
        let data = crystal_dataset(&path, &["log10(K_VRH)".into()]).unwrap();
        let values: Vec<f64> = data.samples.iter().map(|s| s.targets[0]).collect();
        assert!(values.iter().zip([1.0, 2.0, 250f64.log10()]).all(|(a, b)| (a - b).abs() < 1e-12), "{values:?}");
        assert_eq!(data.targets()[0].unit, "log10(GPa)");
        assert_eq!(crystal_dataset(&path, &[]).unwrap().targets()[0].unit, "GPa");
        let err = crystal_dataset(&path, &["G_VRH".into()]).unwrap_err().to_string();
        assert!(err.contains("`K_VRH` (or `log10(K_VRH)`)"), "{err}");
        // Formation energies are mostly negative: no logarithm, and the error names the entry.
        let err = crystal_dataset(Path::new(CRYSTAL_SAMPLE), &["log10(formation_energy_per_atom)".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mp-10059 has formation_energy_per_atom = -0.55") && err.contains("no logarithm"),
            "{err}"
        );
        let err = crystal_dataset_path("matminer:no_such_set").unwrap_err().to_string();
        assert!(err.contains("unknown matminer set `no_such_set`") && err.contains("elastic_tensor"), "{err}");
        let err = crystal_dataset_path("matminer:elastic_tensor:volume").unwrap_err().to_string();
        assert!(err.contains("no target `volume`"), "{err}");
        let empty = dir.path().join("empty.json.gz");
        MatbenchDataset { ids: vec![], structures: vec![], targets: vec![], ..moduli }.write(&empty).unwrap();
        let err = crystal_dataset(&empty, &[]).unwrap_err().to_string();
        assert!(err.contains("no structures"), "{err}");
    }
}
