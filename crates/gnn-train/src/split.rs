//! Train / validation / test splits: a seeded random permutation cut by counts or fractions, the
//! indices of a saved `split.json`, or a fold of MatBench's official cross-validation.

use crate::config::{SplitConfig, SplitSize};
use crate::error::{Error, Result};
use chem_crystal::io::matbench_splits::MatbenchSplits;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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
            let empty = [(train, "training"), (val, "validation"), (test, "test")]
                .iter()
                .filter(|(n, _)| *n == 0)
                .map(|(_, name)| *name)
                .collect::<Vec<_>>()
                .join(" and ");
            return Err(Error::config(
                "split",
                format!(
                    "the {empty} set would be empty ({train} train, {val} validation, {test} test of {size} \
                     structures): set [split] train, val and test to at least 1 each"
                ),
            ));
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

    /// Fold `fold` of MatBench's official cross-validation for the task whose entries are `ids`
    /// (the dataset's, in order): the fold's test entries are the test split, `config.val` of its
    /// training entries (a draw seeded like [`Split::new`]) validate, and the rest train.
    pub fn matbench(
        config: &SplitConfig,
        dataset: &str,
        ids: &[String],
        splits: &MatbenchSplits,
        fold: usize,
        seed: u64,
    ) -> Result<Self> {
        let invalid = |e: chem_crystal::Error| Error::config("split", e.to_string());
        let task = splits.task_of(ids).map_err(invalid)?;
        let folds = splits.fold(task, fold).map_err(invalid)?;
        let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        let indices = |ids: &[String]| -> Vec<usize> { ids.iter().map(|id| index[id.as_str()]).collect() };
        let mut training = indices(&folds.train);
        let seed = config.seed.unwrap_or(seed);
        training.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let val = match config.val {
            SplitSize::Count(n) => n,
            SplitSize::Fraction(f) => (f * training.len() as f64).round() as usize,
        };
        if val == 0 || val >= training.len() {
            return Err(Error::config(
                "split",
                format!("{val} validation structures out of fold {fold}'s {} training entries", training.len()),
            ));
        }
        Ok(Self {
            dataset: dataset.to_string(),
            size: ids.len(),
            seed: Some(seed),
            train: training[val..].to_vec(),
            val: training[..val].to_vec(),
            test: indices(&folds.test),
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
    use chem_crystal::io::matbench_splits::Fold;

    #[test]
    fn a_matbench_fold_tests_on_its_test_entries_and_validates_on_some_training_ones() {
        let ids: Vec<String> = (0..20).map(|i| format!("mb-x-{i:03}")).collect();
        let folds = (0..5)
            .map(|k| Fold {
                test: ids[4 * k..4 * k + 4].to_vec(),
                train: ids.iter().filter(|id| !ids[4 * k..4 * k + 4].contains(id)).cloned().collect(),
            })
            .collect();
        let splits = MatbenchSplits { tasks: [("matbench_x".to_string(), folds)].into() };
        // The dataset's order differs from the file's: indices follow the dataset.
        let mut shuffled = ids.clone();
        shuffled.reverse();
        let config = SplitConfig { val: SplitSize::Fraction(0.25), ..Default::default() };
        let s = Split::matbench(&config, "d", &shuffled, &splits, 2, 7).unwrap();
        let named = |idx: &[usize]| -> Vec<String> { idx.iter().map(|&i| shuffled[i].clone()).collect() };
        assert_eq!(named(&s.test), ids[8..12]);
        assert_eq!((s.train.len(), s.val.len()), (12, 4));
        s.check(20, Path::new("x")).unwrap();
        assert_eq!(s, Split::matbench(&config, "d", &shuffled, &splits, 2, 7).unwrap());
        assert_ne!(s.val, Split::matbench(&config, "d", &shuffled, &splits, 2, 8).unwrap().val);
        let err = Split::matbench(&config, "d", &ids[1..], &splits, 0, 7).unwrap_err().to_string();
        assert!(err.contains("not the entries of any MatBench v0.1 task"), "{err}");
        assert!(Split::matbench(&config, "d", &ids, &splits, 5, 7).unwrap_err().to_string().contains("not 5"));
    }

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
