//! Turning dataset indices into model-ready batches: graphs built in parallel (once, when cached),
//! seeded shuffling per epoch, batches by structure count and optional atom budget, and a
//! background thread that prepares the next batches while the current one trains.

use crate::dataset::{read_samples, Dataset};
use crate::error::{Error, Result};
use chem_graph::{Graph, GraphBatch};
use gnn_models::{build_asu_graph_list, build_graph_list, ModelConfig};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

/// A batch ready for the model.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The batched graphs.
    pub graphs: GraphBatch,
    /// Targets row by row (`[structures][targets]`).
    pub targets: Vec<Vec<f64>>,
    /// Reference forces, flattened `[atoms · 3]`, when the dataset has them.
    pub forces: Option<Vec<f64>>,
}

/// One structure's graph and labels.
#[derive(Clone, Debug)]
struct Entry {
    graph: Graph,
    targets: Vec<f64>,
    forces: Option<Vec<[f64; 3]>>,
}

/// Where batches come from: the dataset and the model's graph construction, with graphs built
/// once for the cached indices.
pub struct GraphSource {
    model: ModelConfig,
    /// Reduce crystals to asymmetric units symmetrised at this tolerance (Å).
    asu: Option<f64>,
    dataset: Arc<dyn Dataset>,
    cache: Vec<Option<Entry>>,
    atoms: Vec<usize>,
}

impl GraphSource {
    /// A source for `dataset`; the graphs of `cached` indices are built now, in parallel. Atom
    /// counts (for atom budgets) are known for cached indices and, when `count_atoms`, for all.
    pub fn new(model: &ModelConfig, dataset: Arc<dyn Dataset>, cached: &[usize], count_atoms: bool) -> Result<Self> {
        Self::with_asu(model, None, dataset, cached, count_atoms)
    }

    /// [`GraphSource::new`] whose crystal graphs are reduced to asymmetric units when `asu` gives
    /// a symmetry tolerance (Å); atom counts are then node counts of the reduced graphs.
    pub fn with_asu(
        model: &ModelConfig,
        asu: Option<f64>,
        dataset: Arc<dyn Dataset>,
        cached: &[usize],
        count_atoms: bool,
    ) -> Result<Self> {
        let mut cache: Vec<Option<Entry>> = (0..dataset.len()).map(|_| None).collect();
        for chunk in cached.chunks(4096) {
            for (i, entry) in chunk.iter().zip(build_entries(model, asu, dataset.as_ref(), chunk)?) {
                cache[*i] = Some(entry);
            }
        }
        let atoms = if count_atoms {
            (0..dataset.len())
                .into_par_iter()
                .map(|i| match &cache[i] {
                    Some(e) => Ok(e.graph.num_nodes()),
                    None => Ok(dataset.sample(i)?.structure.len()),
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            cache.iter().map(|e| e.as_ref().map_or(0, |e| e.graph.num_nodes())).collect()
        };
        Ok(Self { model: model.clone(), asu, dataset, cache, atoms })
    }

    /// Splits `order` into batches of at most `batch_size` structures and, with `max_atoms`, at
    /// most that many atoms (a structure larger than the budget gets a batch of its own).
    pub fn batches(&self, order: &[usize], batch_size: usize, max_atoms: Option<usize>) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = Vec::new();
        let mut atoms = 0;
        for &i in order {
            let n = self.atoms[i];
            let full = out
                .last()
                .is_none_or(|b| b.len() >= batch_size || max_atoms.is_some_and(|m| !b.is_empty() && atoms + n > m));
            if full {
                out.push(Vec::with_capacity(batch_size));
                atoms = 0;
            }
            out.last_mut().expect("just pushed").push(i);
            atoms += n;
        }
        out
    }

    /// The batch of `indices`, from the cache or built now.
    pub fn prepare(&self, indices: &[usize]) -> Result<Prepared> {
        let missing: Vec<usize> = indices.iter().copied().filter(|&i| self.cache[i].is_none()).collect();
        let built = build_entries(&self.model, self.asu, self.dataset.as_ref(), &missing)?;
        let mut built = missing.iter().zip(built).collect::<std::collections::HashMap<_, _>>();
        let entries: Vec<Entry> = indices
            .iter()
            .map(|i| match &self.cache[*i] {
                Some(e) => e.clone(),
                None => built.remove(i).expect("built above"),
            })
            .collect();
        let graphs: Vec<Graph> = entries.iter().map(|e| e.graph.clone()).collect();
        let forces = entries
            .iter()
            .map(|e| e.forces.as_ref().map(|f| f.iter().flatten().copied().collect::<Vec<_>>()))
            .collect::<Option<Vec<_>>>()
            .map(|f| f.concat());
        let mut batch = GraphBatch::from_graphs(&graphs)?;
        if self.model.uses_line_graph() {
            batch = batch.with_line_graph()?;
        }
        Ok(Prepared { graphs: batch, targets: entries.into_iter().map(|e| e.targets).collect(), forces })
    }

    /// Prepares `batches` in order on a background thread (two ahead) and hands each to `train`,
    /// which returns `false` to stop early.
    pub fn prefetch(
        &self,
        batches: &[Vec<usize>],
        mut train: impl FnMut(usize, Prepared) -> Result<bool>,
    ) -> Result<()> {
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel::<Result<Prepared>>(2);
            scope.spawn(move || {
                for b in batches {
                    if tx.send(self.prepare(b)).is_err() {
                        break;
                    }
                }
            });
            for (k, prepared) in rx.iter().enumerate() {
                if !train(k, prepared?)? {
                    break;
                }
            }
            Ok(())
        })
    }
}

/// Graphs and labels of `indices`, built in parallel.
fn build_entries(
    model: &ModelConfig,
    asu: Option<f64>,
    dataset: &dyn Dataset,
    indices: &[usize],
) -> Result<Vec<Entry>> {
    let samples = read_samples(dataset, indices)?;
    let structures: Vec<_> = samples.iter().map(|s| s.structure.clone()).collect();
    let graphs = match asu {
        Some(symprec) => build_asu_graph_list(model, &structures, symprec)?,
        None => build_graph_list(model, &structures)?,
    };
    samples
        .into_iter()
        .zip(graphs)
        .map(|(s, graph)| {
            if let Some(f) = &s.forces {
                if f.len() != s.structure.len() {
                    return Err(Error::Data(format!(
                        "{}: {} force rows for {} atoms",
                        s.structure.label(),
                        f.len(),
                        s.structure.len()
                    )));
                }
            }
            Ok(Entry { graph, targets: s.targets, forces: s.forces })
        })
        .collect()
}

/// The training order of epoch `epoch` (0-based): a permutation fixed by `(seed, epoch)`, so a
/// resumed run shuffles exactly as an uninterrupted one.
pub fn epoch_order(train: &[usize], seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64 + 1);
    let mut order = train.to_vec();
    order.shuffle(&mut rng);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataConfig;
    use crate::dataset::open_dataset;
    use gnn_models::SchNetConfig;

    #[test]
    fn batches_respect_count_and_atom_budget_and_cache_matches_fresh_build() {
        let data: Arc<dyn Dataset> = open_dataset(&DataConfig::default()).unwrap().into();
        let model = ModelConfig::Schnet(SchNetConfig { cutoff: 4.0, ..Default::default() });
        let cached: Vec<usize> = (0..40).collect();
        let source = GraphSource::new(&model, data.clone(), &cached, false).unwrap();
        let order = epoch_order(&cached, 5, 0);
        assert_eq!(order, epoch_order(&cached, 5, 0));
        assert_ne!(order, epoch_order(&cached, 5, 1));
        let by_count = source.batches(&order, 16, None);
        assert_eq!(by_count.iter().map(Vec::len).collect::<Vec<_>>(), vec![16, 16, 8]);
        let by_atoms = source.batches(&order, 16, Some(100));
        assert!(by_atoms.iter().all(|b| b.iter().map(|&i| source.atoms[i]).sum::<usize>() <= 100));
        assert_eq!(by_atoms.concat(), order);
        // A batch from the cache equals one built on the spot.
        let uncached = GraphSource::new(&model, data, &[], false).unwrap();
        let (a, b) = (source.prepare(&by_count[0]).unwrap(), uncached.prepare(&by_count[0]).unwrap());
        assert_eq!(a.graphs, b.graphs);
        assert_eq!(a.targets, b.targets);
        let mut seen = vec![];
        source
            .prefetch(&by_count, |k, p| {
                seen.push((k, p.targets.len()));
                Ok(k < 1)
            })
            .unwrap();
        assert_eq!(seen, vec![(0, 16), (1, 16)]);
    }
}
