//! `chemgnn predict`: predictions (and forces) of a checkpoint for structure files or PyG batches.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chem_graph::Structure;
use clap::Args;
use gnn_models::{BatchInput, DeviceSpec, GraphOptions, Model, Positions, Precision, Prediction};
use serde::Serialize;

use super::data::load_structures;

#[derive(Args)]
#[command(after_help = super::model_kinds_help())]
pub struct PredictArgs {
    /// Checkpoint directory (config.json + model.safetensors), from `chemgnn import` or training.
    #[arg(long)]
    model: PathBuf,
    /// Inputs: XYZ, extended XYZ, QM9 files, `qm9-sample`, crystal files (CIF, POSCAR/*.vasp,
    /// pymatgen JSON, MatBench .json.gz), a PyG graph batch (.safetensors with `z`, `pos`,
    /// `batch` and optionally `x`, `edge_index`, `edge_attr`, `cell`), a kgcnn graph file for
    /// coGN/coNGN (.safetensors with `atomic_number`, `edge_indices`, `offset`, … and their
    /// `.row_lengths`; see docs/crystal_models.md), or e3nn's data dict for gate_points networks
    /// (.safetensors with `pos`, `batch` and, where the network reads them, float `x` and `z`).
    #[arg(required = true)]
    inputs: Vec<String>,
    /// Also compute forces −∂E/∂r (unit of the target per Å).
    #[arg(long, conflicts_with = "asu")]
    forces: bool,
    /// Also compute forces and the stress (1/V)·∂E/∂ε of periodic structures: ASE's sign (negative
    /// under compression) and Voigt order xx, yy, zz, yz, xz, xy, in the target's unit per Å³.
    /// Structure files only (not graph batches).
    #[arg(long, conflicts_with = "asu")]
    stress: bool,
    /// Also print magnetic moments per atom (μ_B) for models that predict them (CHGNet); JSON
    /// output, structure files only.
    #[arg(long, conflicts_with = "asu")]
    magmoms: bool,
    /// Run crystals through their asymmetric-unit graphs (one node per symmetry orbit, weighted by
    /// its multiplicity): the same predictions from fewer atoms. The crystals are symmetrised first
    /// (as with --symmetrize), so that the asymmetric unit stands for the cell. SchNet, coGN and
    /// coNGN.
    #[arg(long)]
    asu: bool,
    /// The crystal positions the full-cell graphs are built from: `symmetrized` (snapped to the
    /// symmetry found at --symprec; a crystal whose atoms would move by more than --symprec is
    /// predicted as given, with a warning) or `original` (as written). Default: `symmetrized` for
    /// models trained on symmetrised crystals (kgcnn's asymmetric-unit models, `chemgnn train
    /// --asu`; the checkpoint records it, and a note says so) when no derivatives are asked for,
    /// `original` otherwise.
    #[arg(long, value_name = "original|symmetrized")]
    positions: Option<Positions>,
    /// Same as `--positions symmetrized`.
    #[arg(long, conflicts_with = "positions")]
    symmetrize: bool,
    /// Distance tolerance in Å of the symmetry search behind --asu and symmetrised positions
    /// [default: the model's training tolerance, else 0.001].
    #[arg(long)]
    symprec: Option<f64>,
    /// Structures per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Write here instead of standard output; `.csv` gives CSV, anything else JSON.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Float precision: f32 or f64.
    #[arg(long, default_value_t = Precision::F32)]
    precision: Precision,
    /// Device: cpu, cuda or cuda:N (builds with `--features cuda`).
    #[arg(long, default_value_t = DeviceSpec::Cpu)]
    device: DeviceSpec,
}

/// One output record.
#[derive(Serialize)]
struct Record {
    name: String,
    prediction: serde_json::Value,
    unit: String,
    /// The irreps of an equivariant model's output vector (e3nn's component order).
    #[serde(skip_serializing_if = "Option::is_none")]
    irreps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forces: Option<Vec<[f64; 3]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forces_unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stress: Option<[f64; 6]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stress_unit: Option<String>,
    /// Magnetic moments per atom in μ_B (`--magmoms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    magmoms: Option<Vec<f64>>,
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let model = Model::load_on(&args.model, args.precision.dtype(), &args.device.device()?)?;
    let (options, symmetrized_by_default) = graph_options(&model, &args);
    let csv = args.output.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")));
    if args.magmoms && csv {
        anyhow::bail!("--magmoms is written as JSON, not CSV");
    }
    let mut records = Vec::new();
    for input in &args.inputs {
        let (names, predictions, magmoms) = predict_input(&model, input, &args, &options, symmetrized_by_default)?;
        let mut magmoms = magmoms.map(Vec::into_iter);
        records.extend(names.into_iter().zip(predictions).map(|(name, p)| {
            let mut r = record(&model, name, p);
            r.magmoms = magmoms.as_mut().and_then(Iterator::next);
            r
        }));
    }
    let text = if csv { to_csv(&model, &records) } else { serde_json::to_string_pretty(&records)? + "\n" };
    match &args.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}

/// The input pipeline's options: the flags given, else the model's defaults (symmetrised crystals
/// for a model trained on them, unless derivatives are asked for); and whether the model's default
/// is what symmetrises full cells (a note tells the user).
fn graph_options(model: &Model, args: &PredictArgs) -> (GraphOptions, bool) {
    let defaults = model.default_graph_options();
    let derivatives = args.forces || args.stress;
    let (positions, by_default) = match (args.positions, args.symmetrize) {
        (Some(positions), _) => (positions, false),
        (None, true) => (Positions::Symmetrized, false),
        (None, false) if derivatives => (Positions::Original, false),
        (None, false) => (defaults.positions, !args.asu && defaults.positions == Positions::Symmetrized),
    };
    (GraphOptions { positions, asu: args.asu, symprec: args.symprec.unwrap_or(defaults.symprec) }, by_default)
}

/// Names, predictions and (`--magmoms`) magnetic moments per atom of the structures of one input.
type InputPredictions = (Vec<String>, Vec<Prediction>, Option<Vec<Vec<f64>>>);

/// The [`InputPredictions`] of one input.
fn predict_input(
    model: &Model,
    input: &str,
    args: &PredictArgs,
    options: &GraphOptions,
    symmetrized_by_default: bool,
) -> anyhow::Result<InputPredictions> {
    let path = Path::new(input);
    let structures: Vec<Structure> = if path.extension().is_some_and(|e| e == "safetensors") {
        match model.read_batch(path)? {
            BatchInput::Structures(structures) => structures,
            BatchInput::Graphs { .. } if args.stress || args.magmoms => {
                anyhow::bail!("{input}: --stress and --magmoms need structure files, not a graph batch")
            }
            BatchInput::Graphs { names, batch } => return Ok((names, model.predict_batch(&batch, args.forces)?, None)),
        }
    } else {
        load_structures(input)?
    };
    let names: Vec<String> = structures
        .iter()
        .enumerate()
        .map(|(k, s)| if s.name.is_empty() { format!("{input}#{k}") } else { s.name.clone() })
        .collect();
    let symmetrized = options.asu || options.positions == Positions::Symmetrized;
    if symmetrized_by_default && structures.iter().any(|s| s.is_periodic()) {
        eprintln!(
            "note: the model was trained on symmetrised crystals: predicting on crystals symmetrised at symprec {} Å \
             (--positions original predicts on the positions as given)",
            options.symprec
        );
    }
    let graphs = model.graphs(&structures, options).with_context(|| {
        if symmetrized {
            format!("symmetrising {input}")
        } else {
            format!("reading {input}")
        }
    })?;
    for fallback in &graphs.p1_fallbacks {
        eprintln!("warning: {fallback}; predicted as P1 from the positions given");
    }
    let predictions = model
        .predict_graphs(&graphs.graphs, args.forces || args.stress, args.stress, args.batch_size)
        .with_context(|| {
            if options.asu {
                format!("predicting {input} through asymmetric units")
            } else {
                format!("predicting {input}")
            }
        })?;
    let magmoms = if args.magmoms {
        Some(model.magmoms(&structures).with_context(|| format!("predicting {input}"))?)
    } else {
        None
    };
    Ok((names, predictions, magmoms))
}

fn record(model: &Model, name: String, p: Prediction) -> Record {
    let targets = &model.config().targets;
    let prediction = match p.values.as_slice() {
        [v] => serde_json::json!(v),
        values => serde_json::json!(values),
    };
    let unit = targets.iter().map(|t| t.unit.as_str()).collect::<Vec<_>>().join(", ");
    let forces_unit = p.forces.as_ref().map(|_| format!("{}/Å", targets[0].unit));
    let irreps = model.config().model.output_irreps();
    let stress_unit = p.stress.as_ref().map(|_| format!("{}/Å³", targets[0].unit));
    Record {
        name,
        prediction,
        unit,
        irreps,
        forces: p.forces,
        forces_unit,
        stress: p.stress,
        stress_unit,
        magmoms: None,
    }
}

/// One row per structure (`name`, then each target with its unit, then the stress when computed);
/// with forces, one row per atom with the structure's prediction repeated.
fn to_csv(model: &Model, records: &[Record]) -> String {
    let targets = &model.config().targets;
    let quote =
        |s: &str| if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() };
    let mut header: Vec<String> = vec!["name".into()];
    header.extend(targets.iter().map(|t| quote(&format!("{} [{}]", t.name, t.unit))));
    let with_stress = records.iter().any(|r| r.stress.is_some());
    if with_stress {
        let unit = format!("{}/Å³", targets[0].unit);
        header.extend(["xx", "yy", "zz", "yz", "xz", "xy"].map(|c| format!("stress_{c} [{unit}]")));
    }
    let with_forces = records.iter().any(|r| r.forces.is_some());
    if with_forces {
        let unit = format!("{}/Å", targets[0].unit);
        header.extend(["atom".into(), format!("fx [{unit}]"), format!("fy [{unit}]"), format!("fz [{unit}]")]);
    }
    let mut out = header.join(",") + "\n";
    for r in records {
        let values = match &r.prediction {
            serde_json::Value::Array(v) => v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","),
            v => v.to_string(),
        };
        let mut row = format!("{},{values}", quote(&r.name));
        if let Some(stress) = &r.stress {
            row += &stress.iter().map(|x| format!(",{x}")).collect::<String>();
        }
        match &r.forces {
            Some(forces) => {
                for (a, f) in forces.iter().enumerate() {
                    out += &format!("{row},{a},{},{},{}\n", f[0], f[1], f[2]);
                }
            }
            None => out += &(row + "\n"),
        }
    }
    out
}
