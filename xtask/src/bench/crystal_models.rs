//! The `crystal-models` suite: coGN (kgcnn's `model_default`, width 128) and coNGN
//! (`model_default_nested`, width 160) on a batch of 64 crystals of the committed sample
//! (`data/crystal_sample.json.gz`, Materials Project formation energies) — inference and one
//! training step (forward, MAE loss, backward, Adam) on full cells and on asymmetric units, in f32,
//! against kgcnn 3.1.0 on the same graphs (`benches/reference/kgcnn_models.py`, run with the
//! environment of `../shared/reference/setup-kgcnn.sh`). The graphs are built beforehand and
//! written as kgcnn graph files, so both sides time the model only.

use std::path::Path;

use chem_crystal::read_crystals;
use gnn_layers::candle::{DType, Device, Tensor};
use gnn_layers::candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use gnn_layers::GraphTensors;
use gnn_models::inputs::pipeline::graph_list;
use gnn_models::{CoGnConfig, GraphOptions, KgcnnGraphs, ModelConfig, Network};
use serde_json::json;

use super::ops::Case;

/// Manifest entries for the Python reference.
type Manifest = Vec<serde_json::Value>;

/// Crystals per batch (kgcnn's MatBench recipe).
const BATCH: usize = 64;

/// The cases (with the crystals each pass handles) and the manifest entries for the Python side.
pub fn cases(work: &Path, quick: bool) -> anyhow::Result<(Vec<(Case, f64)>, Manifest)> {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/crystal_sample.json.gz");
    let batch = if quick { 4 } else { BATCH };
    let crystals: Vec<_> = read_crystals(sample)?.into_iter().take(batch).collect();
    let widths = if quick { (16, 16) } else { (128, 160) };
    let models = [
        ("coGN", ModelConfig::Cogn(CoGnConfig::cogn(widths.0))),
        ("coNGN", ModelConfig::Congn(CoGnConfig::congn(widths.1))),
    ];
    let mut cases = Vec::new();
    let mut manifest = Vec::new();
    for (name, config) in models {
        for asu in [false, true] {
            let options = if asu { GraphOptions::asu(1e-3) } else { GraphOptions::default() };
            let graphs = graph_list(&config, &crystals, &options)?.graphs;
            let mut batch_graphs = chem_graph::GraphBatch::from_graphs(&graphs)?;
            if config.inputs().line_graph() {
                batch_graphs = batch_graphs.with_line_graph()?;
            }
            let what = if asu { "asymmetric units" } else { "full cells" };
            let mut prefix = format!(
                "{name} ({}): {} crystals, {what} ({} nodes, {} edges",
                if widths.0 == 128 { "paper widths" } else { "reduced widths" },
                crystals.len(),
                batch_graphs.num_nodes(),
                batch_graphs.num_edges()
            );
            if let Some(lg) = &batch_graphs.line_graph {
                prefix += &format!(", {} line-graph edges", lg.len());
            }
            prefix += ")";
            let file = work.join(format!(
                "crystal_models_{}_{}.safetensors",
                name.to_lowercase(),
                if asu { "asu" } else { "cell" }
            ));
            gnn_layers::candle::safetensors::save(&KgcnnGraphs::to_tensors(&batch_graphs)?, &file)?;
            manifest.push(json!({"prefix": prefix, "file": file, "model": name, "units": if name == "coGN" { widths.0 } else { widths.1 }, "crystals": crystals.len()}));
            let g = GraphTensors::new(&batch_graphs, DType::F32, &Device::Cpu)?;
            let n = crystals.len() as f64;
            cases.extend(model_cases(&prefix, &config, g)?.into_iter().map(|c| (c, n)));
        }
    }
    Ok((cases, manifest))
}

/// Inference and a training step (MAE, Adam) of `config`'s model on `g`.
fn model_cases(name: &str, config: &ModelConfig, g: GraphTensors) -> anyhow::Result<Vec<Case>> {
    let weights = gnn_models::initial_weights(config, 0)?;
    let frozen = Network::new(config, weights.var_builder(DType::F32, &Device::Cpu)?)?;
    let varmap = VarMap::new();
    let trained = Network::new(config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
    let mut cases: Vec<Case> = Vec::new();
    let g1 = g.clone();
    cases.push((
        format!("{name}, inference"),
        Box::new(move || drop(frozen.forward(&g1, &g1.positions).expect("forward"))),
    ));
    let targets = Tensor::randn(0f32, 1f32, (g.num_graphs(), 1), &Device::Cpu)?;
    let mut adam = AdamW::new(varmap.all_vars(), ParamsAdamW { lr: 5e-4, weight_decay: 0.0, ..Default::default() })?;
    cases.push((
        format!("{name}, training step (forward, MAE, backward, Adam)"),
        Box::new(move || {
            let y = trained.forward(&g, &g.positions).expect("forward");
            let loss = y.sub(&targets).and_then(|d| d.abs()?.mean_all()).expect("loss");
            adam.backward_step(&loss).expect("step");
        }),
    ));
    Ok(cases)
}
