//! The `e3nn` suite: spherical harmonics, the point convolution's tensor product (gather → TP →
//! scatter) and e3nn's whole `gate_points_2101.Network` (inference, forces, a training step) on a
//! batch of QM9 molecules, in f32, against e3nn 0.6 (`benches/reference/e3nn_models.py`) on the
//! same molecules, edges and weights. The network's radius graph is built beforehand on both sides
//! (e3nn's module-level `radius_graph` is replaced by one returning our edges), so the model is
//! what is timed; e3nn's inference output is compared with ours. Then the same for L1Net (the
//! paper preset `LNetConfig::l1net()`: `32x0e+10x1o`, 4 blocks, 10 Å), built in the
//! Python script from e3nn 0.6's layers with our parameter names and edges.

use std::collections::HashMap;
use std::path::Path;

use chem_graph::GraphBatch;
use gnn_layers::candle::{DType, Device, Tensor, Var, D};
use gnn_layers::o3::{spherical_harmonics, Irreps, SphNormalization, TensorProduct, TensorProductConfig};
use gnn_layers::GraphTensors;
use gnn_models::inputs::pipeline::model_graphs;
use gnn_models::{GatePointsConfig, GatePointsModelConfig, LNetConfig, ModelConfig, Network};
use serde_json::json;

use super::inputs::qm9_molecules;
use super::models::model_cases;
use super::ops::Case;

/// Manifest entries for the Python reference.
type Manifest = Vec<serde_json::Value>;

/// Molecules per batch.
const BATCH: usize = 32;

/// The network: e3nn's QM9-style settings (one-hot H, C, N, O, F as inputs and attributes, l ≤ 2
/// features of both parities, 3 gated layers, r = 5 Å).
fn network(quick: bool, num_neighbors: f64) -> anyhow::Result<GatePointsConfig> {
    let hidden = if quick { "8x0e+8x0o+4x1e+4x1o+2x2e+2x2o" } else { "32x0e+32x0o+16x1e+16x1o+8x2e+8x2o" };
    Ok(GatePointsConfig {
        irreps_in: Some("5x0e".parse()?),
        irreps_hidden: hidden.parse()?,
        irreps_out: "1x0e".parse()?,
        irreps_node_attr: Some("5x0e".parse()?),
        irreps_edge_attr: "1x0e+1x1o+1x2e".parse()?,
        layers: if quick { 2 } else { 3 },
        max_radius: 5.0,
        number_of_basis: 10,
        radial_layers: 1,
        radial_neurons: 64,
        num_neighbors,
        num_nodes: 18.0,
        reduce_output: true,
    })
}

/// The cases (with the molecules each pass handles) and the manifest entry; writes
/// `<work>/e3nn.safetensors` (the batch, our edges, weights and output) and `<work>/e3nn_args.json`.
pub fn cases(work: &Path, quick: bool) -> anyhow::Result<(Vec<(Case, f64)>, Manifest)> {
    let molecules = qm9_molecules(if quick { 4 } else { BATCH })?;
    let n = molecules.len() as f64;
    let probe =
        ModelConfig::GatePoints(GatePointsModelConfig { network: network(quick, 1.0)?, elements: vec![1, 6, 7, 8, 9] });
    let batch = GraphBatch::from_graphs(&model_graphs(&probe, &molecules)?)?;
    let (atoms, edges) = (batch.num_nodes(), batch.num_edges());
    let args = network(quick, edges as f64 / atoms as f64)?;
    let config =
        ModelConfig::GatePoints(GatePointsModelConfig { network: args.clone(), elements: vec![1, 6, 7, 8, 9] });
    let g = GraphTensors::new(&batch, DType::F32, &Device::Cpu)?;
    let prefix = format!("{} QM9 molecules ({atoms} atoms, {edges} edges)", molecules.len());
    let mut cases: Vec<(Case, f64)> = Vec::new();

    let vectors = g.edge_vectors(&g.positions)?;
    let sh: Irreps = "1x0e+1x1o+1x2e+1x3o".parse()?;
    let sh_case = format!("{prefix}: spherical harmonics l ≤ 3 of the edge vectors");
    let v = vectors.clone();
    let sh_irreps = sh.clone();
    cases.push((
        (
            sh_case.clone(),
            Box::new(move || {
                drop(spherical_harmonics(&sh_irreps, &v, true, SphNormalization::Component).expect("harmonics"))
            }),
        ),
        n,
    ));

    let features: Irreps = args.irreps_hidden.clone();
    let tp = TensorProduct::new(TensorProductConfig::channelwise(
        features.clone(),
        args.irreps_edge_attr.clone(),
        &features,
    ))?;
    let tp_case = format!(
        "{prefix}: convolution tensor product `{features}` ⊗ `{}` (uvu, {} paths, {} outputs, per-edge weights), gather → TP → scatter",
        args.irreps_edge_attr,
        tp.config().instructions.len(),
        tp.config().irreps_out.dim()
    );
    let x = Var::from_tensor(&Tensor::randn(0f32, 1f32, (atoms, features.dim()), &Device::Cpu)?)?;
    let attr =
        Var::from_tensor(&spherical_harmonics(&args.irreps_edge_attr, &vectors, true, SphNormalization::Component)?)?;
    let w = Var::from_tensor(&Tensor::randn(0f32, 1f32, (edges, tp.weight_numel()), &Device::Cpu)?)?;
    let cotangent = Tensor::randn(0f32, 1f32, (atoms, tp.config().irreps_out.dim()), &Device::Cpu)?;
    let (src, dst) = (g.source.clone(), g.target.clone());
    let (tp1, x1, a1, w1, s1, d1) = (tp.clone(), x.clone(), attr.clone(), w.clone(), src.clone(), dst.clone());
    cases.push((
        (
            format!("{tp_case}, forward"),
            Box::new(move || {
                drop(tp1.convolve(x1.as_tensor(), &s1, a1.as_tensor(), w1.as_tensor(), &d1).expect("convolution"))
            }),
        ),
        n,
    ));
    cases.push((
        (
            format!("{tp_case}, forward + backward"),
            Box::new(move || {
                let y = tp.convolve(x.as_tensor(), &src, attr.as_tensor(), w.as_tensor(), &dst).expect("convolution");
                drop(y.mul(&cotangent).and_then(|y| y.sum_all()?.backward()).expect("backward"));
            }),
        ),
        n,
    ));

    let weights = gnn_models::initial_weights(&config, 0)?;
    let output = Network::new(&config, weights.var_builder(DType::F32, &Device::Cpu)?)?.forward(&g, &g.positions)?;
    let net_case = format!("{prefix}: gate_points_2101 `{}`, {} layers", args.irreps_hidden, args.layers);
    cases.extend(model_cases(&net_case, &config, g.clone(), true)?.into_iter().map(|c| (c, n)));

    let (l1_cases, l1_tensors, l1_config, l1_case) = l1net_cases(&molecules, quick)?;
    cases.extend(l1_cases.into_iter().map(|c| (c, n)));

    let file = work.join("e3nn.safetensors");
    let mut tensors: HashMap<String, Tensor> =
        weights.tensors.iter().map(|(k, v)| (format!("state.{k}"), v.clone())).collect();
    tensors.extend(l1_tensors);
    let one_hot = g.numbers.to_vec1::<u32>()?;
    let one_hot: Vec<f32> =
        one_hot.iter().flat_map(|&z| [1, 6, 7, 8, 9].map(|e| if e == z { 1.0 } else { 0.0 })).collect();
    tensors.insert("pos".into(), g.positions.clone());
    tensors.insert("onehot".into(), Tensor::from_vec(one_hot, (atoms, 5), &Device::Cpu)?);
    tensors.insert("batch".into(), int64(&batch.node_graph)?);
    tensors.insert("edge_index".into(), edge_index(&batch)?);
    tensors.insert("y".into(), output.flatten_to(D::Minus1)?);
    gnn_layers::candle::safetensors::save(&tensors, &file)?;
    let args_file = work.join("e3nn_args.json");
    std::fs::write(&args_file, serde_json::to_string_pretty(&args)?)?;
    let manifest = vec![json!({
        "file": file, "args": args_file, "molecules": molecules.len(),
        "sh_case": sh_case, "sh_lmax": 3,
        "tp_case": tp_case, "tp_irreps": features.to_string(), "edge_irreps": args.irreps_edge_attr.to_string(),
        "net_case": net_case,
        "l1_case": l1_case, "l1_config": l1_config,
    })];
    Ok((cases, manifest))
}

/// L1Net's cases on `molecules` (radius graphs at its cutoff), the tensors the Python side needs
/// (`l1.state.*`, `l1.ids` embedding rows, `l1.edge_index`, `l1.y` our inference output), its
/// configuration and the case name.
#[allow(clippy::type_complexity)]
fn l1net_cases(
    molecules: &[chem_graph::Structure],
    quick: bool,
) -> anyhow::Result<(Vec<Case>, HashMap<String, Tensor>, serde_json::Value, String)> {
    let mut net = LNetConfig::l1net();
    if quick {
        net = LNetConfig {
            embedding: 8,
            features: "8x0e+2x1o".parse()?,
            layers: 2,
            radial_basis: 8,
            radial_neurons: 16,
            ..net
        };
    }
    let config = ModelConfig::L1net(net.clone());
    let batch = GraphBatch::from_graphs(&model_graphs(&config, molecules)?)?;
    let g = GraphTensors::new(&batch, DType::F32, &Device::Cpu)?;
    let weights = gnn_models::initial_weights(&config, 0)?;
    let output = Network::new(&config, weights.var_builder(DType::F32, &Device::Cpu)?)?.forward(&g, &g.positions)?;
    let name = format!(
        "{} QM9 molecules ({} atoms, {} edges at {} Å): L1Net `{}`, {} blocks, filters l ≤ {}",
        molecules.len(),
        batch.num_nodes(),
        batch.num_edges(),
        net.cutoff,
        net.features,
        net.layers,
        net.lmax_filter
    );
    let cases = model_cases(&name, &config, g.clone(), true)?;
    let rows: Vec<u32> = g
        .numbers
        .to_vec1::<u32>()?
        .iter()
        .map(|z| net.elements.iter().position(|e| u32::from(*e) == *z).map(|r| r as u32))
        .collect::<Option<_>>()
        .ok_or_else(|| anyhow::anyhow!("a molecule has an element L1Net does not embed"))?;
    let mut tensors: HashMap<String, Tensor> =
        weights.tensors.iter().map(|(k, v)| (format!("l1.state.{k}"), v.clone())).collect();
    tensors.insert("l1.ids".into(), int64(&rows)?);
    tensors.insert("l1.edge_index".into(), edge_index(&batch)?);
    tensors.insert("l1.y".into(), output.flatten_to(D::Minus1)?);
    Ok((cases, tensors, serde_json::to_value(&net)?, name))
}

/// Indices as PyTorch's int64.
fn int64(v: &[u32]) -> anyhow::Result<Tensor> {
    Ok(Tensor::new(v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>(), &Device::Cpu)?)
}

/// `[2, edges]`: sources, then targets (PyG's `edge_index`).
fn edge_index(batch: &GraphBatch) -> anyhow::Result<Tensor> {
    Ok(Tensor::stack(&[int64(&batch.edges.source)?, int64(&batch.edges.target)?], 0)?)
}
