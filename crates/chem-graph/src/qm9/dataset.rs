//! [`Qm9Dataset`]: all molecules with their 19 targets in one compact safetensors file.
//!
//! File layout (`format = "chemgnn-qm9"`, version 1): tensors `index` (u32 [M], GDB index),
//! `atom_offsets` (i64 [M+1]), `numbers` (u8 [A]), `positions` (f64 [A,3], Å), `charges`
//! (f64 [A], Mulliken, e), `targets` (f64 [M,19], PyG order and units), `smiles` (u8, the
//! newline-joined SMILES); metadata keys `format`, `version`, `targets`, `units`, `source`.
//! Any safetensors reader (e.g. Python's) can open it.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::element;
use crate::error::{Error, Result};
use crate::io::Format;
use crate::qm9::molecule::{qm9_structure, Qm9Molecule};
use crate::qm9::targets::Qm9Target;
use crate::qm9::{read_qm9_archive, read_qm9pack};
use crate::structure::Structure;

const FORMAT: &str = "chemgnn-qm9";
const VERSION: &str = "1";

/// Where the converted dataset is cached: `$CHEMGNN_DATA_DIR/qm9.safetensors`, by default
/// `data/cache/qm9.safetensors` below the current directory.
pub fn default_cache_path() -> std::path::PathBuf {
    let dir = std::env::var_os("CHEMGNN_DATA_DIR").map_or_else(|| "data/cache".into(), std::path::PathBuf::from);
    dir.join("qm9.safetensors")
}

/// The embedded QM9 sample (see `cargo xtask data qm9-sample` for how it was made).
static SAMPLE: &[u8] = include_bytes!("../../data/qm9_sample.safetensors");

/// QM9 molecules in structure-of-arrays form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Qm9Dataset {
    /// 1-based GDB index of each molecule.
    pub index: Vec<u32>,
    /// Molecule m owns atoms `atom_offsets[m]..atom_offsets[m + 1]`.
    pub atom_offsets: Vec<usize>,
    /// Atomic numbers of all atoms.
    pub numbers: Vec<u8>,
    /// Positions of all atoms in Å.
    pub positions: Vec<[f64; 3]>,
    /// Mulliken charges of all atoms in e.
    pub charges: Vec<f64>,
    /// The 19 targets of each molecule (see [`Qm9Target`]).
    pub targets: Vec<[f64; 19]>,
    /// SMILES of each molecule (relaxed geometry where the source has both).
    pub smiles: Vec<String>,
    /// Where the data came from (archive path, wheel, …).
    pub source: String,
}

/// GDB indices of the 3,054 molecules that failed QM9's geometry consistency check
/// (`uncharacterized.txt`; equal to the indices absent from qm9pack's tables).
pub fn uncharacterized() -> Vec<u32> {
    include_str!("uncharacterized.txt").lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// Fails when a GDB index occurs twice.
fn check_unique(index: &[u32]) -> std::result::Result<(), String> {
    let mut sorted = index.to_vec();
    sorted.sort_unstable();
    match sorted.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(format!("GDB index {} occurs more than once", w[0])),
        None => Ok(()),
    }
}

impl Qm9Dataset {
    /// Builds the dataset from parsed molecules, dropping the uncharacterized ones.
    pub fn from_molecules(mols: &[Qm9Molecule], source: &str) -> Result<Self> {
        let skip = uncharacterized();
        check_unique(&mols.iter().map(|m| m.index).collect::<Vec<_>>())
            .map_err(|e| Error::invalid(format!("{source}: {e}")))?;
        let mut d = Qm9Dataset { atom_offsets: vec![0], source: source.to_string(), ..Default::default() };
        for m in mols.iter().filter(|m| skip.binary_search(&m.index).is_err()) {
            d.targets.push(m.targets().map_err(|e| Error::invalid(format!("gdb_{}: {e}", m.index)))?);
            d.index.push(m.index);
            d.numbers.extend_from_slice(&m.numbers);
            d.positions.extend_from_slice(&m.positions);
            d.charges.extend_from_slice(&m.charges);
            d.smiles.push(m.smiles[1].clone());
            d.atom_offsets.push(d.numbers.len());
        }
        Ok(d)
    }

    /// Reads QM9 from a local archive, qm9pack wheel, directory or CSV, chosen by the path's form.
    pub fn read_source(path: &Path) -> Result<Qm9Dataset> {
        let name = path.display().to_string();
        let mols = match Format::detect(path)? {
            Format::Qm9Archive => read_qm9_archive(path)?,
            Format::Qm9Pack => read_qm9pack(path)?,
            other => {
                let expected = "expected the dsgdb9nsd.xyz.tar.bz2 archive or qm9pack tables";
                return Err(Error::parse(&name, 0, format!("not a QM9 source ({other:?}); {expected}")));
            }
        };
        Qm9Dataset::from_molecules(&mols, &name)
    }

    /// The sample of QM9 that ships inside the library.
    pub fn embedded_sample() -> Result<Self> {
        Self::from_bytes(SAMPLE, "embedded QM9 sample")
    }

    /// Number of molecules.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when there are no molecules.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Atom range of molecule `m`.
    pub fn atoms(&self, m: usize) -> std::ops::Range<usize> {
        self.atom_offsets[m]..self.atom_offsets[m + 1]
    }

    /// Target `t` of molecule `m`.
    pub fn target(&self, m: usize, t: Qm9Target) -> f64 {
        self.targets[m][t.index()]
    }

    /// Molecule `m` as a [`Structure`] named `gdb_N`, with per-atom `charges`, the 19 targets as
    /// properties under their names (see [`Qm9Target::name`]) and `smiles`.
    pub fn structure(&self, m: usize) -> Structure {
        let r = self.atoms(m);
        qm9_structure(
            self.index[m],
            &self.numbers[r.clone()],
            &self.positions[r.clone()],
            &self.charges[r],
            &self.targets[m],
            &self.smiles[m],
        )
    }

    /// All molecules as structures.
    pub fn structures(&self) -> Vec<Structure> {
        (0..self.len()).map(|m| self.structure(m)).collect()
    }

    /// The molecules at positions `which`, in that order.
    pub fn subset(&self, which: &[usize]) -> Self {
        let mut d = Qm9Dataset { atom_offsets: vec![0], source: self.source.clone(), ..Default::default() };
        for &m in which {
            let r = self.atoms(m);
            d.index.push(self.index[m]);
            d.numbers.extend_from_slice(&self.numbers[r.clone()]);
            d.positions.extend_from_slice(&self.positions[r.clone()]);
            d.charges.extend_from_slice(&self.charges[r]);
            d.targets.push(self.targets[m]);
            d.smiles.push(self.smiles[m].clone());
            d.atom_offsets.push(d.numbers.len());
        }
        d
    }

    /// Serialises to the safetensors layout described in the module docs.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let le = |it: &mut dyn Iterator<Item = [u8; 8]>| it.flatten().collect::<Vec<u8>>();
        let index: Vec<u8> = self.index.iter().flat_map(|i| i.to_le_bytes()).collect();
        let offsets = le(&mut self.atom_offsets.iter().map(|&o| (o as i64).to_le_bytes()));
        let positions = le(&mut self.positions.iter().flatten().map(|x| x.to_le_bytes()));
        let charges = le(&mut self.charges.iter().map(|x| x.to_le_bytes()));
        let targets = le(&mut self.targets.iter().flatten().map(|x| x.to_le_bytes()));
        let smiles = self.smiles.join("\n").into_bytes();
        let (m, a) = (self.len(), self.numbers.len());
        fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>> {
            TensorView::new(dtype, shape, data).map_err(|e| Error::invalid(format!("QM9 dataset: {e}")))
        }
        let tensors = vec![
            ("index", view(Dtype::U32, vec![m], &index)?),
            ("atom_offsets", view(Dtype::I64, vec![m + 1], &offsets)?),
            ("numbers", view(Dtype::U8, vec![a], &self.numbers)?),
            ("positions", view(Dtype::F64, vec![a, 3], &positions)?),
            ("charges", view(Dtype::F64, vec![a], &charges)?),
            ("targets", view(Dtype::F64, vec![m, 19], &targets)?),
            ("smiles", view(Dtype::U8, vec![smiles.len()], &smiles)?),
        ];
        let names: Vec<&str> = Qm9Target::ALL.iter().map(|t| t.name()).collect();
        let units: Vec<&str> = Qm9Target::ALL.iter().map(|t| t.unit()).collect();
        let meta = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("version".to_string(), VERSION.to_string()),
            ("targets".to_string(), serde_json::to_string(&names).expect("strings serialise")),
            ("units".to_string(), serde_json::to_string(&units).expect("strings serialise")),
            ("source".to_string(), self.source.clone()),
        ]);
        safetensors::serialize(tensors, Some(meta)).map_err(|e| Error::invalid(format!("QM9 dataset: {e}")))
    }

    /// Writes the dataset atomically (to a temporary file beside `path`, then renamed).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_atomically(path, &self.to_bytes()?)
    }

    /// Reads a file written by [`Qm9Dataset::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Parses the safetensors layout; `name` is used in error messages.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Self> {
        let bad = |msg: String| Error::parse(name, 0, msg);
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta = meta.metadata().clone().unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(bad(format!("not a chemgnn QM9 file (metadata format is not '{FORMAT}')")));
        }
        if meta.get("version").map(String::as_str) != Some(VERSION) {
            return Err(bad(format!("unsupported QM9 file version {:?} (expected {VERSION})", meta.get("version"))));
        }
        let get = |key: &str, dtype: Dtype, width: usize| -> Result<Vec<u8>> {
            let t = st.tensor(key).map_err(|_| bad(format!("tensor '{key}' is missing")))?;
            if t.dtype() != dtype || t.shape().iter().skip(1).product::<usize>() != width {
                return Err(bad(format!("tensor '{key}' has dtype {:?} and shape {:?}", t.dtype(), t.shape())));
            }
            Ok(t.data().to_vec())
        };
        let f64s = |b: Vec<u8>| {
            b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect::<Vec<_>>()
        };
        let index: Vec<u32> = get("index", Dtype::U32, 1)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let atom_offsets: Vec<usize> = get("atom_offsets", Dtype::I64, 1)?
            .chunks_exact(8)
            .map(|c| usize::try_from(i64::from_le_bytes(c.try_into().expect("8 bytes"))).unwrap_or(usize::MAX))
            .collect();
        let numbers = get("numbers", Dtype::U8, 1)?;
        let positions =
            f64s(get("positions", Dtype::F64, 3)?).chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect::<Vec<_>>();
        let charges = f64s(get("charges", Dtype::F64, 1)?);
        let targets = f64s(get("targets", Dtype::F64, 19)?)
            .chunks_exact(19)
            .map(|t| t.try_into().expect("19"))
            .collect::<Vec<_>>();
        let smiles_text =
            String::from_utf8(get("smiles", Dtype::U8, 1)?).map_err(|_| bad("SMILES are not UTF-8".into()))?;
        let smiles: Vec<String> =
            if index.is_empty() { vec![] } else { smiles_text.split('\n').map(String::from).collect() };
        let m = index.len();
        let a = numbers.len();
        let offsets_ok = atom_offsets.len() == m + 1
            && atom_offsets.first() == Some(&0)
            && atom_offsets.last() == Some(&a)
            && atom_offsets.windows(2).all(|w| w[0] <= w[1]);
        if !offsets_ok || positions.len() != a || charges.len() != a || targets.len() != m || smiles.len() != m {
            return Err(bad(format!("inconsistent array sizes for {m} molecules and {a} atoms")));
        }
        if let Some(a) = numbers.iter().position(|&z| element::by_number(z).is_none()) {
            return Err(bad(format!("atom {a} has unknown atomic number {}", numbers[a])));
        }
        if let Some(a) = positions.iter().position(|p| p.iter().any(|x| !x.is_finite())) {
            return Err(bad(format!("atom {a} has a non-finite position")));
        }
        check_unique(&index).map_err(bad)?;
        Ok(Qm9Dataset {
            index,
            atom_offsets,
            numbers,
            positions,
            charges,
            targets,
            smiles,
            source: meta.get("source").cloned().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qm9::molecule::{parse_qm9_xyz, tests::METHANE};

    #[test]
    fn save_load_round_trip_and_exclusion() {
        let m1 = parse_qm9_xyz(METHANE, "m").unwrap();
        let mut m58 = m1.clone();
        m58.index = 58; // listed as uncharacterized
        let mut m2 = m1.clone();
        m2.index = 2;
        m2.smiles[1] = "N".into();
        let twice = Qm9Dataset::from_molecules(&[m1.clone(), m1.clone()], "t").unwrap_err();
        assert!(twice.to_string().contains("GDB index 1 occurs more than once"), "{twice}");
        let d = Qm9Dataset::from_molecules(&[m1, m58, m2], "test").unwrap();
        assert_eq!(d.index, vec![1, 2]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/qm9.safetensors");
        d.save(&path).unwrap();
        let back = Qm9Dataset::load(&path).unwrap();
        assert_eq!(back, d);
        let s = back.structure(1);
        assert_eq!((s.name.as_str(), s.property_f64("U0").unwrap()), ("gdb_2", -40.47893 * 27.211386246));
        assert_eq!(back.subset(&[1]).index, vec![2]);
    }

    #[test]
    fn corrupt_files_are_reported() {
        assert!(Qm9Dataset::from_bytes(b"garbage", "x").unwrap_err().to_string().contains("x: not a safetensors file"));
        let mut bytes = Qm9Dataset::from_molecules(&[], "empty").unwrap().to_bytes().unwrap();
        bytes.truncate(bytes.len() - 1);
        assert!(Qm9Dataset::from_bytes(&bytes, "x").is_err());
    }

    #[test]
    fn embedded_sample_is_consistent() {
        let d = Qm9Dataset::embedded_sample().unwrap();
        assert_eq!(d.len(), 3000);
        assert!(d.index.windows(2).all(|w| w[0] < w[1]));
        let skip = uncharacterized();
        assert!(d.index.iter().all(|i| skip.binary_search(i).is_err()));
        // Atomization energies are total energies minus atom references: recompute one.
        let m = 17;
        let refs: f64 = d.numbers[d.atoms(m)]
            .iter()
            .map(|z| crate::qm9::ATOMREF_HARTREE[crate::qm9::ATOMREF_ELEMENTS.iter().position(|e| e == z).unwrap()][0])
            .sum();
        let u0 = d.target(m, Qm9Target::U0);
        assert!((d.target(m, Qm9Target::U0Atom) - (u0 - refs * crate::qm9::HARTREE_TO_EV)).abs() < 1e-9);
    }

    #[test]
    fn stored_content_is_validated() {
        let mut d = Qm9Dataset::embedded_sample().unwrap().subset(&[0, 1]);
        d.numbers[3] = 0;
        let err = Qm9Dataset::from_bytes(&d.to_bytes().unwrap(), "bad").unwrap_err().to_string();
        assert!(err.contains("bad: atom 3 has unknown atomic number 0"), "{err}");
        let mut d = Qm9Dataset::embedded_sample().unwrap().subset(&[0, 1]);
        d.positions[1][2] = f64::NAN;
        assert!(Qm9Dataset::from_bytes(&d.to_bytes().unwrap(), "bad").unwrap_err().to_string().contains("non-finite"));
    }

    #[test]
    fn uncharacterized_list_is_complete() {
        let u = uncharacterized();
        assert_eq!(u.len(), 3054);
        assert!(u.windows(2).all(|w| w[0] < w[1]));
    }
}
