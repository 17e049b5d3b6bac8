//! [`read_batch`]: the one reader of `.safetensors` inputs, which can hold a converted QM9
//! dataset, e3nn's data dict (gate_points networks), a kgcnn graph file or a PyG `Batch`.

use crate::error::{Error, Result};
use crate::inputs::e3nn_batch::E3nnBatch;
use crate::inputs::kgcnn_graphs::KgcnnGraphs;
use crate::inputs::pipeline::model_graphs;
use crate::inputs::pyg_batch::PygBatch;
use crate::models::ModelConfig;
use candle_core::{Device, Tensor};
use chem_graph::qm9::Qm9Dataset;
use chem_graph::{GraphBatch, Structure};
use std::collections::HashMap;
use std::path::Path;

/// What a batch file holds, for one model.
#[derive(Clone, Debug)]
pub enum BatchInput {
    /// Structures, to go through the input pipeline (a converted QM9 dataset).
    Structures(Vec<Structure>),
    /// Graphs ready for the model, one name per graph (`FILE#k`): what the reference model was
    /// fed, or built from the file's structures for this model.
    Graphs {
        /// Name of each graph.
        names: Vec<String>,
        /// The graphs.
        batch: Box<GraphBatch>,
    },
}

/// Reads a `.safetensors` input for `model`, recognising (in this order) a converted QM9 dataset,
/// e3nn's data dict (gate_points networks only), a kgcnn graph file and a PyG `Batch`; errors name
/// the file and the tensor.
pub fn read_batch(path: &Path, model: &ModelConfig) -> Result<BatchInput> {
    if let Ok(dataset) = Qm9Dataset::load(path) {
        return Ok(BatchInput::Structures(dataset.structures()));
    }
    let origin = path.display().to_string();
    let tensors = read_tensors(path)?;
    if let (ModelConfig::GatePoints(c), true) = (model, E3nnBatch::recognise(&tensors)) {
        let batch = E3nnBatch::from_tensors(&tensors, &origin, &c.network)?;
        let mut graphs = GraphBatch::from_graphs(&model_graphs(model, &batch.structures)?)?;
        graphs.node_features = batch.features;
        return Ok(BatchInput::Graphs { names: names(&batch.structures), batch: Box::new(graphs) });
    }
    if KgcnnGraphs::recognise(&tensors) {
        let graphs = KgcnnGraphs::from_tensors(&tensors, &origin)?;
        let names = (0..graphs.batch.num_graphs()).map(|k| format!("{origin}#{k}")).collect();
        return Ok(BatchInput::Graphs { names, batch: Box::new(graphs.batch) });
    }
    let pyg = PygBatch::from_tensors(&tensors, &origin)?;
    let names = names(&pyg.structures);
    let batch = match (model, pyg.graphs) {
        // The MPNN reads the file's own edges and features (exactly what the PyTorch model was fed).
        (ModelConfig::Mpnn(_), Some(g)) if g.node_features.is_some() && g.edge_features.is_some() => g,
        _ => GraphBatch::from_graphs(&model_graphs(model, &pyg.structures)?)?,
    };
    Ok(BatchInput::Graphs { names, batch: Box::new(batch) })
}

fn names(structures: &[Structure]) -> Vec<String> {
    structures.iter().map(|s| s.name.clone()).collect()
}

/// Every tensor of a safetensors file, on the CPU (errors name the file).
pub fn read_tensors(path: &Path) -> Result<HashMap<String, Tensor>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .map_err(|e| Error::Safetensors { path: path.to_path_buf(), message: e.to_string() })
}

/// The first atom of each graph (and the atom count last) of a PyG/e3nn `batch` vector, which
/// must be non-negative and sorted.
pub(crate) fn graph_starts(batch: &[i64]) -> std::result::Result<Vec<usize>, String> {
    if batch.windows(2).any(|w| w[1] < w[0]) || batch.first().is_some_and(|&b| b < 0) {
        return Err("`batch` must be non-negative and sorted (as PyG and e3nn write it)".into());
    }
    if batch.last().is_some_and(|&b| b as usize >= batch.len()) {
        return Err(format!(
            "`batch` numbers graphs up to {}, more than its {} atoms",
            batch[batch.len() - 1],
            batch.len()
        ));
    }
    let graphs = batch.last().map_or(0, |&b| b as usize + 1);
    let mut starts = vec![0usize; graphs + 1];
    for &b in batch {
        starts[b as usize + 1] += 1;
    }
    for g in 0..graphs {
        starts[g + 1] += starts[g];
    }
    Ok(starts)
}
