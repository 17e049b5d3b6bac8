//! `chemgnn train` / `eval` on crystals end to end: a tiny coNGN (nested line-graph blocks) on
//! asymmetric units of the committed crystal sample, and a tiny coGN on full cells (seconds).

mod common;
use common::{chemgnn, ok, train_losses};

/// Runs and data shared by both models: 48/16/16 crystals of the sample, 4 epochs.
const RUN: &str = r#"
epochs = 4
batch_size = 16
eval_batch_size = 16
[data]
dataset = "crystal-sample"
[split]
train = 48
val = 16
test = 16
[normalization]
standardize = true
atomref = "none"
[loss]
kind = "mae"
[optimizer]
lr = 0.005
"#;

/// coNGN at width 8: one block with one nested GRU-gated block on the line graph.
const CONGN: &str = r#"
[model]
kind = "congn"
connectivity = "voronoi:1e-6"
readout = "mean"
output = { widths = [8, 1], activation = "silu" }
angle = { bins = 4, max = 3.2 }
[model.input]
node_size = 8
edge_size = 8
distance = { bins = 8, max = 8.0 }
voronoi_area = { bins = 8, max = 30.0 }
[[model.blocks]]
edge_mlp = { widths = [24, 8], activation = "silu", activate_last = true }
node_mlp = { widths = [8, 8], activation = "silu", activate_last = true }
aggregation = "sum"
node_residual = true
[[model.blocks.nested]]
edge_mlp = { widths = [20, 8], activation = "silu", activate_last = true }
node_mlp = { widths = [8, 8], activation = "silu", activate_last = true }
aggregation = "sum"
node_gate = "gru"
"#;

/// coGN at width 8 with two blocks on kNN-12 graphs.
const COGN: &str = r#"
[model]
kind = "cogn"
connectivity = "knn:12"
readout = "mean"
output = { widths = [8, 1], activation = "silu" }
[model.input]
node_size = 8
edge_size = 8
distance = { bins = 8, max = 8.0 }
[[model.blocks]]
edge_mlp = { widths = [24, 8, 8], activation = "silu", activate_last = true }
node_mlp = { widths = [8, 8], activation = "silu", activate_last = true }
aggregation = "sum"
node_residual = true
[[model.blocks]]
edge_mlp = { widths = [24, 8, 8], activation = "silu", activate_last = true }
node_mlp = { widths = [8, 8], activation = "silu", activate_last = true }
aggregation = "sum"
node_residual = true
"#;

/// The sample's target column, chosen without being named in the configuration.
const TARGET: &str = "formation_energy_per_atom";

#[test]
fn congn_on_asymmetric_units_and_cogn_on_full_cells_train_and_evaluate_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    for (name, model, asu) in [("congn", CONGN, true), ("cogn", COGN, false)] {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, format!("{RUN}{model}")).unwrap();
        let run = dir.path().join(name);
        let mut args = vec!["train", "--config", config.to_str().unwrap(), "--out", run.to_str().unwrap(), "-q"];
        if asu {
            args.push("--asu");
        }
        let report = ok(chemgnn(&args));
        assert!(report.contains(&format!("{TARGET}: MAE")), "{name}: {report}");
        let losses = train_losses(&run);
        assert_eq!(losses.len(), 4, "{name}");
        assert!(losses[3] < losses[0], "{name}: the training loss does not fall: {losses:?}");
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
        let test_mae = summary["test"]["targets"][TARGET]["mae"].as_f64().unwrap();
        // A model trained on symmetrised crystals says so, for `predict` to symmetrise by default.
        let checkpoint: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("best/config.json")).unwrap()).unwrap();
        assert_eq!(checkpoint.get("symmetrized").and_then(|v| v.as_f64()), asu.then_some(1e-3), "{name}");
        // The same test split evaluated again, from the best checkpoint, on the same kind of graph.
        let mut eval = vec!["eval", "--model", run.to_str().unwrap(), "crystal-sample", "--split", "test", "--json"];
        if asu {
            eval.push("--asu");
        }
        let metrics: serde_json::Value = serde_json::from_str(&ok(chemgnn(&eval))).unwrap();
        let eval_mae = metrics["targets"][TARGET]["mae"].as_f64().unwrap();
        assert!((eval_mae - test_mae).abs() <= 1e-6 * test_mae.abs().max(1.0), "{name}: {eval_mae} vs {test_mae}");
    }
}
