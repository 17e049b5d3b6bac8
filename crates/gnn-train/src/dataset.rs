//! Datasets of structures with targets (and optionally forces): QM9 (the embedded sample or the
//! converted full set), extended-xyz files (in memory or read frame by frame from disk), and
//! graph-batch safetensors files with a `y` tensor.

use crate::config::DataConfig;
use crate::error::{Error, Result};
use chem_graph::qm9::{default_cache_path, Qm9Dataset, Qm9Target};
use chem_graph::xyz::XyzFrames;
use chem_graph::Structure;
use gnn_models::inputs::batch_file::read_tensors;
use gnn_models::PygBatch;
use rayon::prelude::*;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// One training example.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The structure.
    pub structure: Structure,
    /// One value per target, in the target's unit.
    pub targets: Vec<f64>,
    /// Reference forces per atom (target unit per Å), when the dataset has them.
    pub forces: Option<Vec<[f64; 3]>>,
    /// Reference stress in Voigt order `xx yy zz yz xz xy` (target unit per Å³, ASE's sign), when
    /// the dataset has it.
    pub stress: Option<[f64; 6]>,
}

/// A predicted quantity and how to judge it.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetInfo {
    /// Name (`U0`, `energy`, …).
    pub name: String,
    /// Unit of the values.
    pub unit: String,
    /// Whether the value grows with the number of atoms (energies), which decides per-atom
    /// statistics and reference energies.
    pub extensive: bool,
    /// Chemical accuracy in the target unit (QM9 targets; Gilmer et al. Table 5).
    pub chemical_accuracy: Option<f64>,
    /// The QM9 column, for QM9 datasets.
    pub qm9: Option<Qm9Target>,
}

impl TargetInfo {
    /// The QM9 target `t`: intensive for μ, HOMO, LUMO, gap and the rotational constants.
    pub fn qm9(t: Qm9Target) -> Self {
        use Qm9Target::*;
        Self {
            name: t.name().to_string(),
            unit: t.unit().to_string(),
            extensive: !matches!(t, Mu | Homo | Lumo | Gap | A | B | C),
            chemical_accuracy: t.chemical_accuracy(),
            qm9: Some(t),
        }
    }
}

/// A random-access set of samples. Implementations are cheap to share between threads.
pub trait Dataset: Send + Sync {
    /// A short description (file name, `qm9-sample`, …).
    fn name(&self) -> String;
    /// Number of samples.
    fn len(&self) -> usize;
    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Sample `i` (`i < len()`).
    fn sample(&self, i: usize) -> Result<Sample>;
    /// The targets, in the order of [`Sample::targets`].
    fn targets(&self) -> &[TargetInfo];
    /// Whether samples carry forces.
    fn has_forces(&self) -> bool;
    /// Whether samples carry a stress.
    fn has_stress(&self) -> bool {
        false
    }
}

/// Samples held in memory.
#[derive(Clone, Debug)]
pub struct InMemoryDataset {
    /// Description.
    pub name: String,
    /// Targets.
    pub targets: Vec<TargetInfo>,
    /// The samples.
    pub samples: Vec<Sample>,
}

impl Dataset for InMemoryDataset {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn len(&self) -> usize {
        self.samples.len()
    }
    fn sample(&self, i: usize) -> Result<Sample> {
        self.samples.get(i).cloned().ok_or_else(|| Error::Data(format!("{}: no sample {i}", self.name)))
    }
    fn targets(&self) -> &[TargetInfo] {
        &self.targets
    }
    fn has_forces(&self) -> bool {
        self.samples.first().is_some_and(|s| s.forces.is_some())
    }
    fn has_stress(&self) -> bool {
        self.samples.first().is_some_and(|s| s.stress.is_some())
    }
}

impl InMemoryDataset {
    /// QM9 molecules with the named targets.
    pub fn qm9(data: &Qm9Dataset, name: &str, targets: &[String]) -> Result<Self> {
        let targets = targets
            .iter()
            .map(|t| Qm9Target::from_name(t).map(TargetInfo::qm9))
            .collect::<chem_graph::Result<Vec<_>>>()?;
        let samples = (0..data.len())
            .map(|m| Sample {
                structure: data.structure(m),
                targets: targets.iter().map(|t| data.target(m, t.qm9.expect("QM9 target"))).collect(),
                forces: None,
                stress: None,
            })
            .collect();
        Ok(Self { name: name.to_string(), targets, samples })
    }
}

/// The samples `indices` of `dataset`, read in parallel.
pub fn read_samples(dataset: &dyn Dataset, indices: &[usize]) -> Result<Vec<Sample>> {
    indices.par_iter().map(|&i| dataset.sample(i)).collect()
}

/// Opens the dataset `config` names.
pub fn open_dataset(config: &DataConfig) -> Result<Box<dyn Dataset>> {
    let name = config.dataset.as_str();
    match name {
        "qm9-sample" => Ok(Box::new(InMemoryDataset::qm9(&Qm9Dataset::embedded_sample()?, name, &config.targets)?)),
        "qm9" => {
            let path = default_cache_path();
            if !path.exists() {
                return Err(Error::Data(format!(
                    "{} does not exist: run `chemgnn data fetch qm9` first (or set CHEMGNN_DATA_DIR)",
                    path.display()
                )));
            }
            Ok(Box::new(InMemoryDataset::qm9(&Qm9Dataset::load(&path)?, name, &config.targets)?))
        }
        _ => {
            if let Some(path) = crate::crystal_dataset::crystal_dataset_path(name)? {
                return Ok(Box::new(crate::crystal_dataset::crystal_dataset(&path, &config.targets)?));
            }
            let path = Path::new(name);
            if path.extension().is_some_and(|e| e == "safetensors") {
                return safetensors_dataset(path, config);
            }
            let spec = XyzSpec::new(path, config)?;
            if config.lazy {
                Ok(Box::new(LazyXyzDataset::open(spec)?))
            } else {
                let samples = chem_graph::io::read_structures(path)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, s)| spec.sample(s, i))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Box::new(InMemoryDataset { name: name.to_string(), targets: spec.targets, samples }))
            }
        }
    }
}

/// A QM9 dataset file (as written by `chemgnn data fetch`) or a graph-batch file with `y`.
fn safetensors_dataset(path: &Path, config: &DataConfig) -> Result<Box<dyn Dataset>> {
    let name = path.display().to_string();
    if let Ok(qm9) = Qm9Dataset::load(path) {
        return Ok(Box::new(InMemoryDataset::qm9(&qm9, &name, &config.targets)?));
    }
    let tensors = read_tensors(path)?;
    let batch = PygBatch::from_tensors(&tensors, &name)?;
    let y = tensors
        .get("y")
        .ok_or_else(|| Error::Data(format!("{name}: a graph-batch dataset needs a `y` tensor with the targets")))?;
    let graphs = batch.structures.len();
    let y = y.to_dtype(candle_core::DType::F64)?.reshape((graphs, ()))?.to_vec2::<f64>()?;
    let columns = y.first().map_or(0, Vec::len);
    let mut targets = Vec::new();
    for (k, t) in config.targets.iter().enumerate() {
        let column =
            t.strip_prefix('y').and_then(|c| c.parse::<usize>().ok()).filter(|&c| c < columns).ok_or_else(|| {
                Error::Data(format!("{name}: target `{t}` is not one of y0..y{}", columns.max(1) - 1))
            })?;
        targets.push((column, generic_target(t, config.units.get(k))));
    }
    let samples = batch
        .structures
        .into_iter()
        .zip(y)
        .map(|(structure, row)| Sample {
            structure,
            targets: targets.iter().map(|(c, _)| row[*c]).collect(),
            forces: None,
            stress: None,
        })
        .collect();
    Ok(Box::new(InMemoryDataset { name, targets: targets.into_iter().map(|(_, t)| t).collect(), samples }))
}

/// A target of a file that does not describe it: extensive, no chemical accuracy.
fn generic_target(name: &str, unit: Option<&String>) -> TargetInfo {
    TargetInfo {
        name: name.to_string(),
        unit: unit.cloned().unwrap_or_else(|| "eV".into()),
        extensive: true,
        chemical_accuracy: None,
        qm9: None,
    }
}

/// How to read targets, forces and stress from extended-xyz frames.
#[derive(Clone, Debug)]
struct XyzSpec {
    path: PathBuf,
    targets: Vec<TargetInfo>,
    forces: Option<String>,
    stress: Option<String>,
}

impl XyzSpec {
    fn new(path: &Path, config: &DataConfig) -> Result<Self> {
        let targets = config.targets.iter().enumerate().map(|(k, t)| generic_target(t, config.units.get(k))).collect();
        Ok(Self { path: path.to_path_buf(), targets, forces: config.forces.clone(), stress: config.stress.clone() })
    }

    /// Frame `i`'s sample, naming the frame when a property or array is missing.
    fn sample(&self, structure: Structure, i: usize) -> Result<Sample> {
        let whence = || format!("{} frame {}", self.path.display(), i + 1);
        let targets = self
            .targets
            .iter()
            .map(|t| {
                let y = structure
                    .property_f64(&t.name)
                    .ok_or_else(|| Error::Data(format!("{}: no numeric property `{}`", whence(), t.name)))?;
                if !y.is_finite() {
                    return Err(Error::Data(format!(
                        "{}: property `{}` is {y}, not a finite number",
                        whence(),
                        t.name
                    )));
                }
                Ok(y)
            })
            .collect::<Result<Vec<_>>>()?;
        let forces = match &self.forces {
            None => None,
            Some(key) => {
                let values =
                    structure.atom_arrays.get(key).and_then(|a| a.as_real().filter(|_| a.width() == 3)).ok_or_else(
                        || Error::Data(format!("{}: no per-atom real array `{key}` with 3 columns", whence())),
                    )?;
                if let Some(k) = values.iter().position(|f| !f.is_finite()) {
                    return Err(Error::Data(format!(
                        "{}: `{key}` of atom {} is {}, not a finite number",
                        whence(),
                        k / 3 + 1,
                        values[k]
                    )));
                }
                Some(values.chunks_exact(3).map(|f| [f[0], f[1], f[2]]).collect())
            }
        };
        let stress = self.stress.as_ref().map(|key| read_stress(&structure, key, &whence)).transpose()?;
        Ok(Sample { structure, targets, forces, stress })
    }
}

/// The stress property `key` of a frame in Voigt order: 9 values (a 3 × 3 tensor, row-major, as
/// ASE writes it; symmetrised) or 6 (Voigt); the frame must be periodic in all directions.
fn read_stress(structure: &Structure, key: &str, whence: &dyn Fn() -> String) -> Result<[f64; 6]> {
    use chem_graph::Property;
    let values: Vec<f64> = match structure.properties.get(key) {
        Some(Property::FloatArray(v)) => v.clone(),
        Some(Property::IntArray(v)) => v.iter().map(|&x| x as f64).collect(),
        Some(_) => return Err(Error::Data(format!("{}: stress `{key}` is not an array of numbers", whence()))),
        None => return Err(Error::Data(format!("{}: no stress `{key}` (needed for the stress loss)", whence()))),
    };
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::Data(format!(
            "{}: stress `{key}` value {} is {}, not a finite number",
            whence(),
            k + 1,
            values[k]
        )));
    }
    if structure.cell.is_none() || structure.pbc != [true; 3] {
        return Err(Error::Data(format!("{}: a stress needs a cell periodic in all three directions", whence())));
    }
    match values.as_slice() {
        &[xx, yy, zz, yz, xz, xy] => Ok([xx, yy, zz, yz, xz, xy]),
        &[a, b, c, d, e, f, g, h, i] => Ok([a, e, i, 0.5 * (f + h), 0.5 * (c + g), 0.5 * (b + d)]),
        other => Err(Error::Data(format!(
            "{}: stress `{key}` has {} values, expected 9 (3 × 3) or 6 (Voigt)",
            whence(),
            other.len()
        ))),
    }
}

/// An extended-xyz file indexed once (byte range of each frame) and read frame by frame.
#[derive(Debug)]
pub struct LazyXyzDataset {
    spec: XyzSpec,
    frames: Vec<(u64, u64)>,
}

impl LazyXyzDataset {
    fn open(spec: XyzSpec) -> Result<Self> {
        let path = &spec.path;
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = BufReader::new(file);
        let (mut frames, mut offset, mut line, mut line_no) = (Vec::new(), 0u64, String::new(), 0usize);
        loop {
            line.clear();
            let n = reader.read_line(&mut line).map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if line.trim().is_empty() {
                offset += n as u64;
                continue;
            }
            let atoms: usize = line.trim().parse().map_err(|_| {
                Error::Data(format!("{}:{line_no}: expected an atom count, found `{}`", path.display(), line.trim()))
            })?;
            let start = offset;
            offset += n as u64;
            for _ in 0..atoms + 1 {
                line.clear();
                let n = reader.read_line(&mut line).map_err(|e| Error::io(path, e))?;
                if n == 0 {
                    return Err(Error::Data(format!(
                        "{}: the file ends inside the frame at line {line_no}",
                        path.display()
                    )));
                }
                offset += n as u64;
                line_no += 1;
            }
            frames.push((start, offset - start));
        }
        Ok(Self { spec, frames })
    }
}

impl Dataset for LazyXyzDataset {
    fn name(&self) -> String {
        self.spec.path.display().to_string()
    }
    fn len(&self) -> usize {
        self.frames.len()
    }
    fn sample(&self, i: usize) -> Result<Sample> {
        let path = &self.spec.path;
        let (start, len) =
            *self.frames.get(i).ok_or_else(|| Error::Data(format!("{}: no frame {i}", path.display())))?;
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::Start(start)).map_err(|e| Error::io(path, e))?;
        let frame = BufReader::new(file.take(len));
        let structure = XyzFrames::new(frame, path.display().to_string())
            .next()
            .ok_or_else(|| Error::Data(format!("{}: frame {} vanished", path.display(), i + 1)))??;
        self.spec.sample(structure, i)
    }
    fn targets(&self) -> &[TargetInfo] {
        &self.spec.targets
    }
    fn has_forces(&self) -> bool {
        self.spec.forces.is_some()
    }
    fn has_stress(&self) -> bool {
        self.spec.stress.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_extxyz(dir: &Path) -> PathBuf {
        let path = dir.join("set.extxyz");
        let frame = |e: f64, dx: f64| {
            format!("2\nProperties=species:S:1:pos:R:3:forces:R:3 energy={e}\nH 0 0 0 0.1 0 0\nH {dx} 0 0 -0.1 0 0\n")
        };
        std::fs::write(&path, frame(-1.0, 0.74) + &frame(-0.9, 0.80) + &frame(-0.8, 0.9)).unwrap();
        path
    }

    #[test]
    fn lazy_and_in_memory_extxyz_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_extxyz(dir.path());
        let mut config = DataConfig {
            dataset: path.display().to_string(),
            targets: vec!["energy".into()],
            forces: Some("forces".into()),
            ..Default::default()
        };
        let eager = open_dataset(&config).unwrap();
        config.lazy = true;
        let lazy = open_dataset(&config).unwrap();
        assert_eq!(lazy.len(), 3);
        for i in 0..3 {
            assert_eq!(eager.sample(i).unwrap(), lazy.sample(i).unwrap());
        }
        let s = lazy.sample(1).unwrap();
        assert_eq!(s.targets, vec![-0.9]);
        assert_eq!(s.forces.unwrap()[1], [-0.1, 0.0, 0.0]);
        assert!(lazy.has_forces());
    }

    #[test]
    fn missing_property_names_the_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_extxyz(dir.path());
        let config = DataConfig {
            dataset: path.display().to_string(),
            targets: vec!["free_energy".into()],
            ..Default::default()
        };
        let err = open_dataset(&config).err().unwrap().to_string();
        assert!(err.contains("frame 1") && err.contains("free_energy"), "{err}");
    }

    #[test]
    fn stress_as_ase_writes_it_or_voigt_and_bad_stress_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stress.extxyz");
        let frame = |stress: &str, lattice: &str| {
            format!("1\n{lattice}Properties=species:S:1:pos:R:3 energy=-1.0 stress=\"{stress}\"\nCu 0 0 0\n")
        };
        let cell = "Lattice=\"3 0 0 0 3 0 0 0 3\" pbc=\"T T T\" ";
        let config = |text: String| {
            std::fs::write(&path, text).unwrap();
            DataConfig {
                dataset: path.display().to_string(),
                targets: vec!["energy".into()],
                stress: Some("stress".into()),
                ..Default::default()
            }
        };
        // 3 × 3 (xx xy xz / yx yy yz / zx zy zz) and Voigt (xx yy zz yz xz xy).
        let data = open_dataset(&config(frame("1 6 5 6 2 4 5 4 3", cell) + &frame("1 2 3 4 5 6", cell))).unwrap();
        assert!(data.has_stress());
        for i in 0..2 {
            assert_eq!(data.sample(i).unwrap().stress, Some([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        }
        for (text, expected) in [
            (frame("1 2 3 4", cell), "has 4 values"),
            (frame("1 2 3 4 5 6", ""), "periodic in all three directions"),
            (frame("1 2 3 4 5 nan", cell), "value 6 is NaN"),
        ] {
            let err = open_dataset(&config(frame("1 2 3 4 5 6", cell) + &text)).err().unwrap().to_string();
            assert!(err.contains("stress.extxyz frame 2") && err.contains(expected), "{err}");
        }
    }

    #[test]
    fn graph_batch_file_with_y_columns() {
        use candle_core::{Device, Tensor};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch.safetensors");
        let d = Device::Cpu;
        let tensors = [
            ("z", Tensor::new(&[8i64, 1, 1, 6, 8], &d).unwrap()),
            (
                "pos",
                Tensor::new(
                    &[[0.0f32, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0], [0.0, 0.0, 0.0], [1.13, 0.0, 0.0]],
                    &d,
                )
                .unwrap(),
            ),
            ("batch", Tensor::new(&[0i64, 0, 0, 1, 1], &d).unwrap()),
            ("y", Tensor::new(&[[1.0f32, 10.0], [2.0, 20.0]], &d).unwrap()),
        ];
        candle_core::safetensors::save(&tensors.into_iter().map(|(k, v)| (k.to_string(), v)).collect(), &path).unwrap();
        let config = DataConfig {
            dataset: path.display().to_string(),
            targets: vec!["y1".into()],
            units: vec!["kcal/mol".into()],
            ..Default::default()
        };
        let data = open_dataset(&config).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.sample(1).unwrap().targets, vec![20.0]);
        assert_eq!(data.sample(1).unwrap().structure.numbers, vec![6, 8]);
        assert_eq!(data.targets()[0].unit, "kcal/mol");
        let bad = DataConfig { targets: vec!["y2".into()], ..config };
        assert!(open_dataset(&bad).err().unwrap().to_string().contains("y0..y1"));
    }

    #[test]
    fn qm9_targets_by_name() {
        let config = DataConfig { targets: vec!["U0".into(), "gap".into()], ..Default::default() };
        let d = open_dataset(&config).unwrap();
        assert_eq!(d.len(), 3000);
        assert!(d.targets()[0].extensive && !d.targets()[1].extensive);
        assert_eq!(d.targets()[1].chemical_accuracy, Some(0.043));
        let bad = DataConfig { targets: vec!["U7".into()], ..Default::default() };
        assert!(open_dataset(&bad).err().unwrap().to_string().contains("U7"));
    }
}
