//! `chemgnn train --model l0net|l1net` end to end on the embedded QM9 sample (tiny networks, a few
//! seconds): the training loss falls, an extensive target gets atom references and a sum readout,
//! an intensive one a mean readout, the dipole head learns |μ| from charges and atomic dipoles, and
//! the best checkpoint predicts with forces.

mod common;
use common::{chemgnn, ok, train_losses};

/// 64/16/16 molecules, 4 epochs (the target follows in `[data]`).
const RUN: &str = r#"
epochs = 4
batch_size = 16
eval_batch_size = 16
[split]
train = 64
val = 16
test = 16
[optimizer]
lr = 0.005
"#;

/// The model section of a tiny network of `kind` with `features`.
fn model(kind: &str, features: &str, lmax_filter: u32) -> String {
    format!(
        r#"
[model]
kind = "{kind}"
elements = [1, 6, 7, 8, 9]
embedding = 8
features = "{features}"
layers = 2
lmax_filter = {lmax_filter}
cutoff = 5.0
radial_basis = 8
radial_neurons = 16
radial_layers = 1
residual = true
num_neighbors = 12.0
readout = "add"
mean = 0.0
std = 1.0
"#
    )
}

#[test]
fn l0net_and_l1net_train_from_the_cli_and_predict_forces() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, features, lmax, target, head) in [
        ("l1net", "8x0e+3x1o", 1, "U0", "scalar"),
        ("l0net", "12x0e", 0, "gap", "scalar"),
        ("l1net", "8x0e+3x1o", 1, "mu", "dipole"),
    ] {
        let config = dir.path().join(format!("{kind}.toml"));
        let data = format!("[data]\ndataset = \"qm9-sample\"\ntargets = [\"{target}\"]\n");
        std::fs::write(&config, format!("{RUN}{data}{}head = \"{head}\"\n", model(kind, features, lmax))).unwrap();
        let run = dir.path().join(format!("{kind}-{target}"));
        let report =
            ok(chemgnn(&["train", "--config", config.to_str().unwrap(), "--out", run.to_str().unwrap(), "-q"]));
        assert!(report.contains(&format!("{target}: MAE")), "{kind}: {report}");
        let losses = train_losses(&run);
        assert!(losses.len() == 4 && losses[3] < losses[0], "{kind}: the training loss does not fall: {losses:?}");
        let saved: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("best/config.json")).unwrap()).unwrap();
        let m = &saved["model"];
        assert_eq!((&m["kind"], &m["head"]), (&kind.into(), &head.into()));
        if head == "dipole" {
            // A magnitude: no shift, no references, the spread of |μ| as the scale.
            assert!(m["mean"] == 0.0 && m["atomref"].is_null() && m["std"].as_f64().unwrap() > 0.1, "{m}");
        } else {
            // U0 is extensive: QM9's atom references and a sum; the gap is intensive: a mean.
            assert_eq!(m["readout"], if target == "U0" { "add" } else { "mean" }, "{kind}: {m}");
            assert_eq!(m["atomref"].is_array(), target == "U0", "{kind}: {m}");
        }
        let best = run.join("best");
        let out = ok(chemgnn(&[
            "predict",
            "--model",
            best.to_str().unwrap(),
            "qm9-sample",
            "--forces",
            "--batch-size",
            "64",
        ]));
        let records: serde_json::Value = serde_json::from_str(&out).unwrap();
        let first = &records[0];
        let atoms = first["forces"].as_array().unwrap().len();
        let prediction = first["prediction"].as_f64().unwrap();
        assert!(atoms > 0 && prediction.is_finite(), "{kind}: {first}");
        assert!(head != "dipole" || prediction > 0.0, "|μ| must be positive: {first}");
    }
}
