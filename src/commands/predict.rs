//! `chemgnn predict`: predictions (and forces) of a checkpoint for structure files or PyG batches.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chem_crystal::{AsymmetricUnitGraph, Positions, PreparedCrystal, SymmetryOptions};
use chem_graph::qm9::Qm9Dataset;
use chem_graph::{Graph, GraphBatch, Structure};
use clap::{Args, ValueEnum};
use gnn_models::gnn_layers::candle::{DType, Device};
use gnn_models::{build_graph_list, E3nnBatch, KgcnnGraphs, Model, ModelConfig, Prediction, PygBatch};
use rayon::prelude::*;
use serde::Serialize;

use super::data::load_structures;

/// Float precision of the computation.
#[derive(Clone, Copy, ValueEnum)]
pub enum Precision {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

impl Precision {
    /// The Candle dtype.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }
}

/// Where the model runs.
#[derive(Clone, Copy, ValueEnum)]
pub enum DeviceKind {
    /// The CPU.
    Cpu,
    /// The first CUDA GPU (build with `--features cuda`).
    Cuda,
}

impl DeviceKind {
    /// The Candle device.
    pub fn device(self) -> anyhow::Result<Device> {
        Ok(match self {
            DeviceKind::Cpu => Device::Cpu,
            DeviceKind::Cuda => {
                gnn_layers::runtime::cuda_device(0).context("no CUDA device (build chemgnn with --features cuda)")?
            }
        })
    }
}

#[derive(Args)]
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
    /// Run crystals through their asymmetric-unit graphs (one node per symmetry orbit, weighted by
    /// its multiplicity): the same predictions from fewer atoms. The crystals are symmetrised first
    /// (as with --symmetrize), so that the asymmetric unit stands for the cell. SchNet, coGN and
    /// coNGN.
    #[arg(long)]
    asu: bool,
    /// Snap crystals to the symmetry found at --symprec before predicting on the full cell (the
    /// structures --asu predicts on). A crystal whose atoms would move by more than --symprec is
    /// predicted as given, with a warning.
    #[arg(long)]
    symmetrize: bool,
    /// Distance tolerance in Å of the symmetry search behind --asu and --symmetrize.
    #[arg(long, default_value_t = 1e-3)]
    symprec: f64,
    /// Structures per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Write here instead of standard output; `.csv` gives CSV, anything else JSON.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Float precision.
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// Device.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    device: DeviceKind,
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
}

pub fn run(args: PredictArgs) -> anyhow::Result<()> {
    let model = Model::load_on(&args.model, args.precision.dtype(), &args.device.device()?)?;
    let mut records = Vec::new();
    for input in &args.inputs {
        let (names, predictions) = predict_input(&model, input, &args)?;
        records.extend(names.into_iter().zip(predictions).map(|(name, p)| record(&model, name, p)));
    }
    let csv = args.output.as_ref().is_some_and(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")));
    let text = if csv { to_csv(&model, &records) } else { serde_json::to_string_pretty(&records)? + "\n" };
    match &args.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?,
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}

/// Names and predictions of the structures in one input.
fn predict_input(model: &Model, input: &str, args: &PredictArgs) -> anyhow::Result<(Vec<String>, Vec<Prediction>)> {
    let path = Path::new(input);
    // A .safetensors input is a converted QM9 dataset, a kgcnn graph file or a PyG batch.
    let structures: Vec<Structure> = if path.extension().is_some_and(|e| e == "safetensors") {
        match Qm9Dataset::load(path) {
            Ok(dataset) => dataset.structures(),
            Err(_) if args.stress => anyhow::bail!("{input}: --stress needs structure files, not a graph batch"),
            Err(_) => {
                let tensors = gnn_models::graphs::read_tensors(path)?;
                if let (ModelConfig::GatePoints(c), true) = (&model.config().model, E3nnBatch::recognise(&tensors)) {
                    let batch = E3nnBatch::from_tensors(&tensors, input, &c.network)?;
                    let names = batch.structures.iter().map(|s| s.name.clone()).collect();
                    let graphs = model.e3nn_batch_graphs(&batch)?;
                    return Ok((names, model.predict_batch(&graphs, args.forces)?));
                }
                if KgcnnGraphs::recognise(&tensors) {
                    let graphs = KgcnnGraphs::from_tensors(&tensors, input)?;
                    let names = (0..graphs.batch.num_graphs()).map(|k| format!("{input}#{k}")).collect();
                    return Ok((names, model.predict_batch(&graphs.batch, args.forces)?));
                }
                let batch = PygBatch::from_tensors(&tensors, input)?;
                let names = batch.structures.iter().map(|s| s.name.clone()).collect();
                let graphs: GraphBatch = model.pyg_batch_graphs(&batch)?;
                return Ok((names, model.predict_batch(&graphs, args.forces)?));
            }
        }
    } else {
        load_structures(input)?
    };
    let names: Vec<String> = structures
        .iter()
        .enumerate()
        .map(|(k, s)| if s.name.is_empty() { format!("{input}#{k}") } else { s.name.clone() })
        .collect();
    let predictions = if args.asu || args.symmetrize {
        let crystals = symmetrize(&structures, args.symprec).with_context(|| format!("symmetrising {input}"))?;
        for (c, name) in crystals.iter().zip(&names) {
            if let Some(reason) = &c.symmetry.fallback {
                eprintln!("warning: {name}: {reason}; predicted as P1 from the positions given");
            }
        }
        if args.asu {
            predict_asu(model, &crystals, args)
                .with_context(|| format!("predicting {input} through asymmetric units"))?
        } else {
            let symmetrized: Vec<Structure> = crystals.into_iter().map(|c| c.structure).collect();
            predict_structures(model, &symmetrized, args).with_context(|| format!("predicting {input}"))?
        }
    } else {
        predict_structures(model, &structures, args).with_context(|| format!("predicting {input}"))?
    };
    Ok((names, predictions))
}

/// Predictions with the derivatives asked for.
fn predict_structures(
    model: &Model,
    structures: &[Structure],
    args: &PredictArgs,
) -> gnn_models::Result<Vec<Prediction>> {
    if args.stress {
        model.predict_with_stress(structures, args.batch_size)
    } else {
        model.predict_structures(structures, args.forces, args.batch_size)
    }
}

/// Each crystal with the symmetry found at `symprec`, snapped to it (P1 where that is refused).
fn symmetrize(structures: &[Structure], symprec: f64) -> chem_crystal::Result<Vec<PreparedCrystal>> {
    let options = SymmetryOptions { symprec, angle_tolerance: None };
    structures.par_iter().map(|s| PreparedCrystal::new(s, &options, Positions::Symmetrized)).collect()
}

/// Predictions from the asymmetric-unit graphs of symmetrised crystals (the model's own full-cell
/// graph, reduced with the crystal's symmetry), in batches of `--batch-size`.
fn predict_asu(model: &Model, crystals: &[PreparedCrystal], args: &PredictArgs) -> anyhow::Result<Vec<Prediction>> {
    let structures: Vec<Structure> = crystals.iter().map(|c| c.structure.clone()).collect();
    let full = build_graph_list(&model.config().model, &structures)?;
    let reduced = crystals
        .par_iter()
        .zip(&full)
        .map(|(c, g)| Ok(AsymmetricUnitGraph::new(g, &c.structure, &c.symmetry)?.graph))
        .collect::<chem_crystal::Result<Vec<Graph>>>()?;
    let mut predictions = Vec::with_capacity(structures.len());
    for chunk in reduced.chunks(args.batch_size.max(1)) {
        predictions.extend(model.predict_batch(&GraphBatch::from_graphs(chunk)?, false)?);
    }
    Ok(predictions)
}

fn record(model: &Model, name: String, p: Prediction) -> Record {
    let targets = &model.config().targets;
    let prediction = match p.values.as_slice() {
        [v] => serde_json::json!(v),
        values => serde_json::json!(values),
    };
    let unit = targets.iter().map(|t| t.unit.as_str()).collect::<Vec<_>>().join(", ");
    let forces_unit = p.forces.as_ref().map(|_| format!("{}/Å", targets[0].unit));
    let irreps = match &model.config().model {
        ModelConfig::GatePoints(c) => Some(c.network.irreps_out.to_string()),
        _ => None,
    };
    let stress_unit = p.stress.as_ref().map(|_| format!("{}/Å³", targets[0].unit));
    Record { name, prediction, unit, irreps, forces: p.forces, forces_unit, stress: p.stress, stress_unit }
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
