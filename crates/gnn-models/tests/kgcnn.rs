//! coGN and coNGN imported from kgcnn 3.1.0 reproduce kgcnn's predictions (fixtures written by
//! `tests/reference/kgcnn_cogn.py`, described in `tests/fixtures/kgcnn/README.md`): from kgcnn's own
//! graph tensors, and from the graphs chemgnn builds itself (kNN-24 and Voronoi, full cells and
//! asymmetric units), also of hexagonal crystals read from their CIF files as written
//! (`tests/reference/kgcnn_hexagonal.py`, `tests/fixtures/kgcnn/README_hexagonal.md`). Tolerance:
//! 1e-5 of the largest prediction (f32).

use std::collections::BTreeMap;
use std::path::PathBuf;

use gnn_layers::candle::{DType, Device, Tensor};
use gnn_models::checkpoint::import::{import, Source};
use gnn_models::inputs::pipeline::{graph_list, model_graphs};
use gnn_models::{Checkpoint, GraphOptions, KgcnnGraphs, Model, StateDict};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kgcnn").join(name)
}

fn imported(model: &str) -> Checkpoint {
    let args_path = fixture(&format!("{model}_args.json"));
    let args: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args_path).unwrap()).unwrap();
    let weights = StateDict::read(fixture(&format!("{model}_weights.safetensors"))).unwrap();
    import(Source::Kgcnn, model, &args, &args_path.display().to_string(), weights, vec![]).unwrap()
}

fn loaded(model: &str) -> Model {
    let mut checkpoint = imported(model);
    checkpoint.config.targets = vec![gnn_models::Target { name: "y".into(), unit: "".into() }];
    Model::from_checkpoint(&checkpoint, DType::F32, &Device::Cpu).unwrap()
}

fn reference(model: &str, key: &str) -> Vec<f64> {
    let tensors =
        gnn_layers::candle::safetensors::load(fixture(&format!("{model}_predictions.safetensors")), &Device::Cpu)
            .unwrap();
    tensors[key].to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap()
}

fn crystals() -> Vec<chem_crystal::Structure> {
    chem_crystal::read_crystals(fixture("crystals.json")).unwrap()
}

/// Largest difference relative to the largest reference value; also checks the predictions differ
/// between crystals (the comparison is not vacuous).
fn assert_close(ours: &[f64], theirs: &[f64], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}");
    let scale = theirs.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    let worst = ours.iter().zip(theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale;
    assert!(worst <= 1e-5, "{what}: relative difference {worst:e}\nours   {ours:?}\nkgcnn  {theirs:?}");
    assert!(theirs.windows(2).any(|w| (w[0] - w[1]).abs() > 1e-3 * scale), "{what}: constant predictions");
}

fn values(predictions: Vec<gnn_models::Prediction>) -> Vec<f64> {
    predictions.into_iter().map(|p| p.values[0]).collect()
}

#[test]
fn cogn_reproduces_kgcnn_from_its_graph_files() {
    let model = loaded("cogn");
    for (file, key) in [("cogn_asu_graphs.safetensors", "asu"), ("cogn_unit_cell_graphs.safetensors", "unit_cell")] {
        let graphs = KgcnnGraphs::read(fixture(file)).unwrap();
        let ours = values(model.predict_batch(&graphs.batch, false).unwrap());
        assert_close(&ours, &reference("cogn", key), file);
    }
}

#[test]
fn cogn_reproduces_kgcnn_from_its_own_graphs() {
    let model = loaded("cogn");
    let crystals = crystals();
    let config = &model.config().model;
    let full = gnn_graph_batch(model_graphs(config, &crystals).unwrap());
    assert_close(&values(model.predict_batch(&full, false).unwrap()), &reference("cogn", "unit_cell"), "full cells");
    let asu = gnn_graph_batch(graph_list(config, &crystals, &GraphOptions::asu(1e-3)).unwrap().graphs);
    assert_close(&values(model.predict_batch(&asu, false).unwrap()), &reference("cogn", "asu"), "asymmetric units");
}

#[test]
fn congn_reproduces_kgcnn_from_its_graph_files_and_its_own_graphs() {
    let model = loaded("congn");
    let graphs = KgcnnGraphs::read(fixture("congn_asu_graphs.safetensors")).unwrap();
    let expected = reference("congn", "asu");
    assert_close(&values(model.predict_batch(&graphs.batch, false).unwrap()), &expected, "kgcnn graphs");
    let crystals = crystals();
    let config = &model.config().model;
    let asu = gnn_graph_batch(graph_list(config, &crystals, &GraphOptions::asu(1e-3)).unwrap().graphs);
    assert_close(&values(model.predict_batch(&asu, false).unwrap()), &expected, "our asymmetric units");
    let full = gnn_graph_batch(model_graphs(config, &crystals).unwrap());
    assert_close(&values(model.predict_batch(&full, false).unwrap()), &expected, "our full cells");
}

/// Hexagonal and trigonal crystals as their CIF files write them (`0.3333`, `0.66666667`, ICSD's
/// `.`, repeated tags, unterminated quotes): read by chemgnn's CIF reader, their full-cell kNN-24
/// graphs have kgcnn's `KNNUnitCell(24)` edges of pymatgen's `CifParser` reading (the same edge
/// lengths to 1e-5 Å and in-degrees), and the coGN kgcnn's predictions. Reading the coordinates as
/// written (`fraction_tolerance` 0, chemgnn before issue #32) changes graphs and predictions.
#[test]
fn cogn_reproduces_kgcnn_on_hexagonal_cifs_as_written() {
    let model = loaded("cogn");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("hexagonal.json")).unwrap()).unwrap();
    let read = |options: &chem_crystal::ReadOptions| -> Vec<chem_crystal::Structure> {
        let mut out: Vec<chem_crystal::Structure> = Vec::new();
        for entry in list["crystals"].as_array().unwrap() {
            let file = entry["file"].as_str().unwrap();
            let blocks = chem_crystal::io::read_cif_with(root.join(file), options).unwrap();
            let block = chem_graph::Property::Str(entry["block"].as_str().unwrap().into());
            let s = blocks.into_iter().find(|s| s.properties["cif_block"] == block).unwrap();
            assert_eq!(s.len() as u64, entry["atoms"].as_u64().unwrap(), "{file}");
            out.push(s);
        }
        out
    };
    let crystals = read(&chem_crystal::ReadOptions::default());
    let config = &model.config().model;
    let graphs = model_graphs(config, &crystals).unwrap();

    // The graphs: per crystal the sorted edge lengths and in-degrees of kgcnn's graphs.
    let tensors = gnn_layers::candle::safetensors::load(fixture("hexagonal.safetensors"), &Device::Cpu).unwrap();
    let rows = |name: &str| -> Vec<usize> {
        tensors[&format!("{name}.row_lengths")].to_vec1::<i64>().unwrap().iter().map(|&n| n as usize).collect()
    };
    let distances = tensors["distance"].to_vec1::<f32>().unwrap();
    let degrees = tensors["in_degree"].to_vec1::<i64>().unwrap();
    let (mut d0, mut n0) = (0, 0);
    for (k, ((g, n_edges), n_atoms)) in graphs.iter().zip(rows("distance")).zip(rows("in_degree")).enumerate() {
        let name = list["crystals"][k]["name"].as_str().unwrap();
        assert_eq!(g.num_edges(), n_edges, "{name}: kNN-24 edges");
        let mut ours = g.edges.distance.clone();
        ours.sort_by(f64::total_cmp);
        let theirs = &distances[d0..d0 + n_edges];
        let worst = ours.iter().zip(theirs).map(|(a, &b)| (a - f64::from(b)).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-5, "{name}: edge lengths differ by {worst} Å");
        let mut in_degrees: Vec<i64> = g.edges.in_degrees(g.num_nodes()).iter().map(|&d| d as i64).collect();
        in_degrees.sort_unstable();
        assert_eq!(in_degrees, degrees[n0..n0 + n_atoms], "{name}: in-degrees");
        (d0, n0) = (d0 + n_edges, n0 + n_atoms);
    }

    // The predictions, and (not vacuous) those of the coordinates as written.
    let column = |key: &str| -> Vec<f64> {
        tensors[key].to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1().unwrap()
    };
    let expected = column("unit_cell");
    let predict =
        |graphs: Vec<chem_graph::Graph>| values(model.predict_batch(&gnn_graph_batch(graphs), false).unwrap());
    assert_close(&predict(graphs), &expected, "hexagonal CIFs");
    let as_written = read(&chem_crystal::ReadOptions::default().with_fraction_tolerance(0.0));
    let unsnapped = predict(model_graphs(config, &as_written).unwrap());
    let scale = expected.iter().fold(0.0f64, |m, y| m.max(y.abs()));
    let changed = unsnapped.iter().zip(&expected).filter(|(a, b)| (*a - *b).abs() > 1e-3 * scale).count();
    assert!(changed >= 5, "only {changed} crystals change when read as written");
    assert_close(&unsnapped, &column("as_written"), "hexagonal CIFs, coordinates as written");
}

fn gnn_graph_batch(graphs: Vec<chem_graph::Graph>) -> chem_graph::GraphBatch {
    chem_graph::GraphBatch::from_graphs(&graphs).unwrap()
}

#[test]
fn wrong_variables_are_reported_together() {
    let args_path = fixture("cogn_args.json");
    let args: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&args_path).unwrap()).unwrap();
    let good = StateDict::read(fixture("cogn_weights.safetensors")).unwrap();
    let mut tensors: BTreeMap<String, Tensor> = good.tensors.clone();
    let names: Vec<String> = tensors.keys().cloned().collect();
    // One variable missing, one mis-shaped, one unknown.
    let dropped = names.iter().find(|n| n.contains("graph_network_2/") && n.ends_with("kernel:0")).unwrap().clone();
    tensors.remove(&dropped);
    let bias = names.iter().find(|n| n.starts_with("crystal_input_block/mlp/") && n.ends_with("bias:0")).unwrap();
    tensors.insert(bias.clone(), Tensor::zeros(7, DType::F32, &Device::Cpu).unwrap());
    tensors.insert("some_layer/kernel:0".into(), Tensor::zeros((2, 2), DType::F32, &Device::Cpu).unwrap());
    let bad = StateDict::new("cogn_weights (edited)", tensors);
    let err = import(Source::Kgcnn, "cogn", &args, "cogn_args.json", bad, vec![]).unwrap_err().to_string();
    assert!(err.contains("missing") && err.contains("blocks.2."), "{err}");
    assert!(err.contains("input.atom_dense.bias") && err.contains("[7]"), "{err}");
    assert!(err.contains("some_layer/kernel:0"), "{err}");
    // A coGN's arguments are not a coNGN's.
    let err = import(Source::Kgcnn, "congn", &args, "cogn_args.json", good, vec![]).unwrap_err().to_string();
    assert!(err.contains("describe a coGN"), "{err}");
}

/// Our graphs written as a kgcnn graph file read back to the same predictions; malformed files are
/// errors naming the tensor or crystal.
#[test]
fn graph_files_round_trip_and_malformed_ones_are_errors() {
    let model = loaded("congn");
    let crystals = crystals();
    let config = &model.config().model;
    let batch = gnn_graph_batch(graph_list(config, &crystals, &GraphOptions::asu(1e-3)).unwrap().graphs)
        .with_line_graph()
        .unwrap();
    let tensors = KgcnnGraphs::to_tensors(&batch).unwrap();
    let back = KgcnnGraphs::from_tensors(&tensors, "written").unwrap().batch;
    assert_eq!(back.num_edges(), batch.num_edges());
    assert_eq!(back.line_graph.as_ref().unwrap().len(), batch.line_graph.as_ref().unwrap().len());
    let (a, b) = (model.predict_batch(&batch, false).unwrap(), model.predict_batch(&back, false).unwrap());
    assert_close(&values(b), &values(a), "written and read back");

    let broken = |edit: &dyn Fn(&mut std::collections::HashMap<String, Tensor>)| {
        let mut t = tensors.clone();
        edit(&mut t);
        KgcnnGraphs::from_tensors(&t, "graphs.safetensors").unwrap_err().to_string()
    };
    let cpu = &Device::Cpu;
    let err = broken(&|t| drop(t.remove("offset.row_lengths")));
    assert!(err.contains("graphs.safetensors") && err.contains("`offset` has no `offset.row_lengths`"), "{err}");
    let err = broken(&|t| {
        let z = t["atomic_number"].to_vec1::<i64>().unwrap();
        let mut z = z.clone();
        z[0] = 119;
        t.insert("atomic_number".into(), Tensor::new(z, cpu).unwrap());
    });
    assert!(err.contains("crystal 0") && err.contains("atomic number 119"), "{err}");
    let err = broken(&|t| {
        let e = t["edge_indices"].to_vec2::<i64>().unwrap();
        let mut flat: Vec<i64> = e.concat();
        flat[1] = 99;
        let rows = e.len();
        t.insert("edge_indices".into(), Tensor::from_vec(flat, (rows, 2), cpu).unwrap());
    });
    assert!(err.contains("crystal 0") && err.contains("outside"), "{err}");
    let err = broken(&|t| {
        t.insert("offset".into(), Tensor::zeros((3, 3), DType::F32, cpu).unwrap());
    });
    assert!(err.contains("`offset` has shape [3, 3]"), "{err}");
}

#[test]
fn row_lengths_that_overflow_are_an_error_not_a_panic() {
    // Found by fuzzing (fuzz/fuzz_targets/safetensors.rs): the sum of the lengths overflowed.
    let tensors = std::collections::HashMap::from([
        ("atomic_number".to_string(), Tensor::new(&[6i64, 8], &Device::Cpu).unwrap()),
        ("atomic_number.row_lengths".to_string(), Tensor::new(&[i64::MAX, i64::MAX, 2], &Device::Cpu).unwrap()),
    ]);
    let err = KgcnnGraphs::from_tensors(&tensors, "graphs.safetensors").unwrap_err().to_string();
    assert!(err.contains("graphs.safetensors") && err.contains("atomic_number.row_lengths"), "{err}");
}
