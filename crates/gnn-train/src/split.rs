//! Train / validation / test splits: a seeded random permutation cut by counts or fractions, or the
//! indices of a saved `split.json`.

use crate::config::{SplitConfig, SplitSize};
use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Indices into a dataset, as saved in a run's `split.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// The dataset the indices refer to.
    pub dataset: String,
    /// Its number of samples.
    pub size: usize,
    /// Seed of the permutation (`None` when read from a file).
    pub seed: Option<u64>,
    /// Training indices.
    pub train: Vec<usize>,
    /// Validation indices.
    pub val: Vec<usize>,
    /// Test indices.
    pub test: Vec<usize>,
}

impl Split {
    /// Splits `size` samples of `dataset` as `config` says (`seed` unless the config has its own).
    pub fn new(config: &SplitConfig, dataset: &str, size: usize, seed: u64) -> Result<Self> {
        if let Some(file) = &config.file {
            let split = Self::read(Path::new(file))?;
            split.check(size, Path::new(file))?;
            return Ok(split);
        }
        let seed = config.seed.unwrap_or(seed);
        let count = |s: SplitSize| match s {
            SplitSize::Count(n) => n,
            SplitSize::Fraction(f) => (f * size as f64).round() as usize,
        };
        let (train, val) = (count(config.train), count(config.val));
        let test = config.test.map_or(size.saturating_sub(train + val), count);
        if train + val + test > size {
            return Err(Error::config(
                "split",
                format!("{train} train + {val} validation + {test} test structures, but the dataset has {size}"),
            ));
        }
        if train == 0 || val == 0 || test == 0 {
            return Err(Error::config("split", format!("empty split: {train} train, {val} validation, {test} test")));
        }
        let mut order: Vec<usize> = (0..size).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        Ok(Self {
            dataset: dataset.to_string(),
            size,
            seed: Some(seed),
            train: order[..train].to_vec(),
            val: order[train..train + val].to_vec(),
            test: order[train + val..train + val + test].to_vec(),
        })
    }

    /// Reads a `split.json`.
    pub fn read(path: &Path) -> Result<Self> {
        crate::run_dir::read_json(path)
    }

    /// Checks that the indices fit a dataset of `size` samples and do not overlap.
    pub fn check(&self, size: usize, origin: &Path) -> Result<()> {
        let mut seen = vec![false; size];
        for &i in self.train.iter().chain(&self.val).chain(&self.test) {
            match seen.get_mut(i) {
                None => return Err(Error::state(origin, format!("index {i} is outside the dataset of {size}"))),
                Some(true) => return Err(Error::state(origin, format!("index {i} is in the split twice"))),
                Some(s) => *s = true,
            }
        }
        if self.size != size {
            return Err(Error::state(
                origin,
                format!("the split is for {} samples, the dataset has {size}", self.size),
            ));
        }
        Ok(())
    }

    /// The split as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("splits serialise") + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_disjoint_and_sized() {
        let config = SplitConfig {
            train: SplitSize::Count(60),
            val: SplitSize::Fraction(0.1),
            test: Some(SplitSize::Count(20)),
            ..Default::default()
        };
        let a = Split::new(&config, "d", 100, 3).unwrap();
        assert_eq!((a.train.len(), a.val.len(), a.test.len()), (60, 10, 20));
        a.check(100, Path::new("x")).unwrap();
        assert_eq!(a, Split::new(&config, "d", 100, 3).unwrap());
        assert_ne!(a.train, Split::new(&config, "d", 100, 4).unwrap().train);
        let default = Split::new(&SplitConfig::default(), "d", 100, 0).unwrap();
        assert_eq!((default.train.len(), default.val.len(), default.test.len()), (80, 10, 10));
    }

    #[test]
    fn a_saved_split_file_is_reused_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("split.json");
        let saved = Split::new(&SplitConfig::default(), "d", 50, 9).unwrap();
        std::fs::write(&path, saved.to_json()).unwrap();
        let config = SplitConfig { file: Some(path.display().to_string()), ..Default::default() };
        assert_eq!(Split::new(&config, "d", 50, 0).unwrap(), saved);
        assert!(Split::new(&config, "d", 40, 0).unwrap_err().to_string().contains("outside"));
    }

    #[test]
    fn oversized_and_corrupt_splits_are_errors() {
        let config = SplitConfig { train: SplitSize::Count(95), val: SplitSize::Count(10), ..Default::default() };
        assert!(Split::new(&config, "d", 100, 0).unwrap_err().to_string().contains("dataset has 100"));
        let mut s = Split::new(&SplitConfig::default(), "d", 10, 0).unwrap();
        s.test.push(s.train[0]);
        assert!(s.check(10, Path::new("split.json")).unwrap_err().to_string().contains("twice"));
    }
}
