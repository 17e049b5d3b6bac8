//! Inputs found by fuzzing (`fuzz/`) that once crashed or exhausted memory: each must now be an
//! error naming its source, quickly and without large allocations.

use std::collections::{BTreeMap, HashMap};

use gnn_layers::candle::{Device, Tensor};
use gnn_models::checkpoint::import::{import, Source};
use gnn_models::{PygBatch, StateDict};

#[test]
fn a_batch_vector_naming_a_huge_graph_is_an_error() {
    // `batch` = [0, 2^60]: the graph offsets were allocated for 2^60 graphs.
    let cpu = &Device::Cpu;
    let tensors = HashMap::from([
        ("z".to_string(), Tensor::new(&[1i64, 1], cpu).unwrap()),
        ("pos".to_string(), Tensor::zeros((2, 3), gnn_layers::candle::DType::F32, cpu).unwrap()),
        ("batch".to_string(), Tensor::new(&[0i64, 1 << 60], cpu).unwrap()),
    ]);
    let err = PygBatch::from_tensors(&tensors, "batch.safetensors").unwrap_err().to_string();
    assert!(err.contains("batch.safetensors") && err.contains("more than its 2 atoms"), "{err}");
}

#[test]
fn huge_constructor_arguments_are_checked_without_allocating_the_model() {
    // 10^9 hidden channels: the expected shapes were found by building (allocating) the model.
    let args = serde_json::json!({"hidden_channels": 1_000_000_000, "num_filters": 1_000_000_000, "num_gaussians": 50});
    let empty = StateDict::new("w.safetensors", BTreeMap::new());
    let err = import(Source::Pyg, "schnet", &args, "args.json", empty, Vec::new()).unwrap_err().to_string();
    assert!(err.contains("w.safetensors") && err.contains("missing") && err.contains("[1000000000, 50]"), "{err}");
}

#[test]
fn an_absurd_layer_count_is_an_error_not_a_hang() {
    // 3·10¹⁴ interaction blocks: the expected shapes were built block by block.
    // 2·10⁷ blocks: the weights were renamed for every block index (PyG and schnetpack).
    for blocks in [344444444444444u64, 22222222] {
        let schnetpack = serde_json::json!({"n_atom_basis": 32, "n_interactions": blocks, "cutoff": 5.0});
        let pyg = serde_json::json!({"hidden_channels": 32, "num_interactions": blocks});
        for (source, args) in [(Source::Schnetpack, schnetpack), (Source::Pyg, pyg)] {
            let empty = StateDict::new("w.safetensors", BTreeMap::new());
            let start = std::time::Instant::now();
            let err = import(source, "schnet", &args, "args.json", empty, Vec::new()).unwrap_err().to_string();
            assert!(err.contains("layer count is out of range"), "{err}");
            assert!(start.elapsed().as_secs() < 10);
        }
    }
}
