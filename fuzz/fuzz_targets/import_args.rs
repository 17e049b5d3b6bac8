//! Every importer must turn any constructor-argument JSON (`ARGS.json`) into a configuration or an
//! error, never panic (the weights are empty, so a valid configuration ends in a "missing tensors"
//! error).
#![no_main]

use gnn_models::checkpoint::import::{import, import_gate_points, Source};
use gnn_models::StateDict;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fuzz_target!(|data: &[u8]| {
    let Ok(args) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let empty = || StateDict::new("weights.safetensors", BTreeMap::new());
    for (source, model) in [
        (Source::Pyg, "schnet"),
        (Source::Schnetpack, "schnet"),
        (Source::Pyg, "mpnn"),
        (Source::Kgcnn, "cogn"),
        (Source::Kgcnn, "congn"),
    ] {
        let _ = import(source, model, &args, "ARGS.json", empty(), Vec::new());
    }
    let _ = import_gate_points(&args, "ARGS.json", empty(), vec![1, 6], None, "eV");
});
