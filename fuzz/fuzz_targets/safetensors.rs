//! Any bytes given as a safetensors file — a state dict to import, a PyG, kgcnn or e3nn batch, a
//! converted QM9 dataset — must be read or refused with an error naming the tensor, never panic.
#![no_main]

use chem_graph::qm9::Qm9Dataset;
use gnn_models::checkpoint::import::{import, Source};
use gnn_models::{E3nnBatch, GatePointsConfig, KgcnnGraphs, PygBatch, StateDict};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let _ = Qm9Dataset::from_bytes(data, "qm9.safetensors");
    let Ok(tensors) = candle_core::safetensors::load_buffer(data, &candle_core::Device::Cpu) else { return };
    let _ = PygBatch::from_tensors(&tensors, "batch.safetensors");
    let _ = KgcnnGraphs::from_tensors(&tensors, "graphs.safetensors");
    let e3nn: GatePointsConfig = serde_json::from_value(json!({
        "irreps_in": null, "irreps_hidden": "4x0e+2x1o", "irreps_out": "1x0e", "irreps_node_attr": "2x0e",
        "irreps_edge_attr": "0e+1o", "layers": 2, "max_radius": 2.5, "number_of_basis": 4,
        "radial_layers": 1, "radial_neurons": 8, "num_neighbors": 3.0, "num_nodes": 4.0, "reduce_output": true
    }))
    .expect("a valid gate_points configuration");
    let _ = E3nnBatch::from_tensors(&tensors, "data.safetensors", &e3nn);
    let weights = || StateDict::new("weights.safetensors", tensors.clone().into_iter().collect());
    let schnet = json!({"hidden_channels": 8, "num_filters": 8, "num_interactions": 2, "num_gaussians": 5, "cutoff": 5.0});
    let _ = import(Source::Pyg, "schnet", &schnet, "ARGS.json", weights(), Vec::new());
    let mpnn = json!({"dim": 8, "num_features": 11, "num_edge_features": 4, "edge_hidden": 16, "steps": 2, "processing_steps": 2});
    let _ = import(Source::Pyg, "mpnn", &mpnn, "ARGS.json", weights(), Vec::new());
});
