//! Turning dataset indices into model-ready batches: graphs built in parallel (once, when cached),
//! seeded shuffling per epoch, batches by structure count and optional atom budget, and a
//! background thread that prepares the next batches while the current one trains.

use crate::dataset::{read_samples, Dataset};
use crate::error::{Error, Result};
use candle_core::{DType, Device};
use chem_graph::{Graph, GraphBatch};
use gnn_layers::GraphTensors;
use gnn_models::inputs::pipeline::graph_list;
use gnn_models::{GraphOptions, ModelConfig};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

/// A batch ready for the model.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The batched graphs.
    pub graphs: GraphBatch,
    /// Targets row by row (`[structures][targets]`).
    pub targets: Vec<Vec<f64>>,
    /// Reference forces, flattened `[atoms · 3]`, when the dataset has them.
    pub forces: Option<Vec<f64>>,
    /// Reference stress, flattened `[structures · 6]` (Voigt), when the dataset has it.
    pub stress: Option<Vec<f64>>,
    /// The graphs already as tensors of the training dtype on the host, when
    /// [`GraphSource::prefetch`] was asked to build them (GPU training: the host-side work
    /// overlaps the GPU's; the copy to the GPU is made where the GPU is used).
    pub tensors: Option<GraphTensors>,
}

/// One structure's graph and labels.
#[derive(Clone, Debug)]
struct Entry {
    graph: Graph,
    targets: Vec<f64>,
    forces: Option<Vec<[f64; 3]>>,
    stress: Option<[f64; 6]>,
}

/// Where batches come from: the dataset and the model's graph construction, with graphs built
/// once for the cached indices.
pub struct GraphSource {
    model: ModelConfig,
    /// How structures become graphs (positions, asymmetric units).
    options: GraphOptions,
    dataset: Arc<dyn Dataset>,
    cache: Vec<Option<Entry>>,
    atoms: Vec<usize>,
    /// Crystals whose symmetrisation was refused so far (`"label: reason"`), when symmetrising.
    p1_fallbacks: Mutex<BTreeSet<String>>,
}

impl GraphSource {
    /// A source for `dataset`; the graphs of `cached` indices are built now, in parallel. Atom
    /// counts (for atom budgets) are known for cached indices and, when `count_atoms`, for all.
    pub fn new(model: &ModelConfig, dataset: Arc<dyn Dataset>, cached: &[usize], count_atoms: bool) -> Result<Self> {
        Self::with_options(model, &GraphOptions::default(), dataset, cached, count_atoms)
    }

    /// [`GraphSource::new`] whose graphs are built under `options` (symmetrised crystals,
    /// asymmetric units); atom counts are then node counts of the graphs.
    pub fn with_options(
        model: &ModelConfig,
        options: &GraphOptions,
        dataset: Arc<dyn Dataset>,
        cached: &[usize],
        count_atoms: bool,
    ) -> Result<Self> {
        let mut cache: Vec<Option<Entry>> = (0..dataset.len()).map(|_| None).collect();
        let mut p1_fallbacks = BTreeSet::new();
        for chunk in cached.chunks(4096) {
            let (entries, fallbacks) = build_entries(model, options, dataset.as_ref(), chunk)?;
            p1_fallbacks.extend(fallbacks);
            for (i, entry) in chunk.iter().zip(entries) {
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
        Ok(Self {
            model: model.clone(),
            options: *options,
            dataset,
            cache,
            atoms,
            p1_fallbacks: Mutex::new(p1_fallbacks),
        })
    }

    /// When symmetrising: the crystals whose symmetrisation was refused and that were taken as P1
    /// (full cell), among those built so far — `"label: reason"`, sorted.
    pub fn p1_fallbacks(&self) -> Vec<String> {
        self.p1_fallbacks.lock().map(|f| f.iter().cloned().collect()).unwrap_or_default()
    }

    /// A warning naming the P1 fallbacks (the first five and a count), if there were any.
    pub fn p1_warning(&self) -> Option<String> {
        let fallbacks = self.p1_fallbacks();
        if fallbacks.is_empty() {
            return None;
        }
        let shown: Vec<&str> = fallbacks.iter().take(5).map(String::as_str).collect();
        let more = fallbacks.len().saturating_sub(shown.len());
        Some(format!(
            "warning: {} crystal(s) could not be symmetrised at symprec {} Å and use their full cell (P1) as \
             asymmetric unit: {}{}",
            fallbacks.len(),
            self.options.symprec,
            shown.join("; "),
            if more > 0 { format!("; and {more} more") } else { String::new() }
        ))
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
        let (built, fallbacks) = build_entries(&self.model, &self.options, self.dataset.as_ref(), &missing)?;
        if let Ok(mut known) = self.p1_fallbacks.lock() {
            known.extend(fallbacks);
        }
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
        let stress = entries.iter().map(|e| e.stress).collect::<Option<Vec<_>>>().map(|s| s.concat());
        let mut batch = GraphBatch::from_graphs(&graphs)?;
        if self.model.inputs().line_graph() {
            batch = batch.with_line_graph()?;
        }
        let targets = entries.into_iter().map(|e| e.targets).collect();
        Ok(Prepared { graphs: batch, targets, forces, stress, tensors: None })
    }

    /// Prepares `batches` in order on a background thread (two ahead) and hands each to `train`,
    /// which returns `false` to stop early. With `dtype`, the thread also turns each batch into
    /// host [`GraphTensors`] of that dtype ([`Prepared::tensors`]).
    pub fn prefetch(
        &self,
        batches: &[Vec<usize>],
        dtype: Option<DType>,
        mut train: impl FnMut(usize, Prepared) -> Result<bool>,
    ) -> Result<()> {
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel::<Result<Prepared>>(2);
            scope.spawn(move || {
                for b in batches {
                    let prepared = self.prepare(b).and_then(|mut p| {
                        if let Some(dtype) = dtype {
                            p.tensors = Some(GraphTensors::new(&p.graphs, dtype, &Device::Cpu)?);
                        }
                        Ok(p)
                    });
                    if tx.send(prepared).is_err() {
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

/// Graphs and labels of `indices`, built in parallel, and the crystals taken as P1.
fn build_entries(
    model: &ModelConfig,
    options: &GraphOptions,
    dataset: &dyn Dataset,
    indices: &[usize],
) -> Result<(Vec<Entry>, Vec<String>)> {
    let samples = read_samples(dataset, indices)?;
    let structures: Vec<_> = samples.iter().map(|s| s.structure.clone()).collect();
    let built = graph_list(model, &structures, options)?;
    let (graphs, fallbacks) = (built.graphs, built.p1_fallbacks);
    let entries = samples
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
            Ok(Entry { graph, targets: s.targets, forces: s.forces, stress: s.stress })
        })
        .collect::<Result<_>>()?;
    Ok((entries, fallbacks))
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
            .prefetch(&by_count, None, |k, p| {
                seen.push((k, p.targets.len()));
                Ok(k < 1)
            })
            .unwrap();
        assert_eq!(seen, vec![(0, 16), (1, 16)]);
    }

    #[test]
    fn asymmetric_units_report_the_crystals_reduced_as_p1() {
        use crate::crystal_dataset::{crystal_dataset, CRYSTAL_SAMPLE};
        let mut data = crystal_dataset(std::path::Path::new(CRYSTAL_SAMPLE), &[]).unwrap();
        data.samples.truncate(4);
        // Two atoms on top of each other: no consistent symmetry, so the crystal stays P1.
        let bad = &mut data.samples[2].structure;
        bad.positions[1] = bad.positions[0];
        let label = bad.label();
        let model = ModelConfig::Cogn(gnn_models::CoGnConfig::cogn(8));
        let data: Arc<dyn Dataset> = Arc::new(data);
        let source =
            GraphSource::with_options(&model, &GraphOptions::asu(1e-3), data.clone(), &[0, 1, 2, 3], false).unwrap();
        let fallbacks = source.p1_fallbacks();
        assert_eq!(fallbacks.len(), 1, "{fallbacks:?}");
        assert!(fallbacks[0].starts_with(&format!("{label}: ")), "{fallbacks:?}");
        assert!(source.p1_warning().unwrap().contains("1 crystal(s) could not be symmetrised at symprec 0.001"));
        // Without the cache the fallback is found when its batch is built.
        let lazy = GraphSource::with_options(&model, &GraphOptions::asu(1e-3), data, &[], false).unwrap();
        assert!(lazy.p1_warning().is_none());
        lazy.prepare(&[0, 2]).unwrap();
        assert_eq!(lazy.p1_fallbacks(), fallbacks);
    }
}
