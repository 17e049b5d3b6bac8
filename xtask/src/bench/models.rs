//! The `models` suite: SchNet with PyG's default arguments and PyG's QM9 MPNN on QM9 batches —
//! inference, inference with forces (SchNet), and one training step (forward, MSE loss, backward,
//! Adam) — in f32. Graphs are built beforehand on both sides (PyG's SchNet gets the same edges
//! through its `interaction_graph`), so the model computation is what is timed.

use std::collections::HashMap;
use std::path::Path;

use chem_graph::neighbors::RadiusOptions;
use chem_graph::{Edges, Features, Graph, GraphBatch, Structure};
use gnn_layers::autograd::forces;
use gnn_layers::candle::{DType, Device, Tensor, Var};
use gnn_layers::candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use gnn_layers::GraphTensors;
use gnn_models::{ModelConfig, MpnnConfig, Network, SchNetConfig};
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::inputs::qm9_molecules;
use super::ops::Case;

/// Manifest entries for the Python reference.
type Manifest = Vec<serde_json::Value>;

/// Builds the cases (with the molecules each pass handles) for each batch size and writes `<work>/models_{B}.safetensors` (PyG `Batch`
/// fields: `z`, `pos`, `batch`, `edge_index` of the SchNet radius graph, and the MPNN's complete
/// graph `mpnn_edge_index` with `x`, `edge_attr`) plus the manifest entries.
pub fn cases(work: &Path, quick: bool) -> anyhow::Result<(Vec<(Case, f64)>, Manifest)> {
    let sizes: &[usize] = if quick { &[8] } else { &[32, 128] };
    let mut cases = Vec::new();
    let mut manifest = Vec::new();
    let [m, k, n] = GEMM;
    let (a, b) = (Tensor::randn(0f32, 1f32, (m, k), &Device::Cpu)?, Tensor::randn(0f32, 1f32, (k, n), &Device::Cpu)?);
    cases.push(((gemm_case(), Box::new(move || drop(a.matmul(&b).expect("matmul"))) as Box<dyn FnMut() + Send>), 1.0));
    manifest.push(json!({"prefix": "gemm", "gemm": GEMM, "case": gemm_case(), "molecules": 1}));
    for &b in sizes {
        let molecules = qm9_molecules(b)?;
        let schnet_batch = GraphBatch::from_structures(&molecules, &RadiusOptions::new(10.0).with_max_neighbors(32))?;
        let mpnn_batch = complete_graphs(&molecules)?;
        let file = work.join(format!("models_{b}.safetensors"));
        write_inputs(&file, &schnet_batch, &mpnn_batch)?;
        let atoms = schnet_batch.num_nodes();
        let prefix = format!("{b} QM9 molecules ({atoms} atoms)");
        manifest.push(json!({"prefix": prefix, "file": file, "molecules": b}));
        let n = b as f64;

        let schnet = ModelConfig::Schnet(SchNetConfig::default());
        let g = GraphTensors::new(&schnet_batch, DType::F32, &Device::Cpu)?;
        let name = format!("{prefix}: SchNet (PyG defaults, {} edges)", schnet_batch.num_edges());
        record_flops(&name, schnet_gflop(schnet_batch.num_nodes(), schnet_batch.num_edges()));
        cases.extend(model_cases(&name, &schnet, g, true)?.into_iter().map(|c| (c, n)));

        let mpnn = ModelConfig::Mpnn(MpnnConfig::pyg_qm9());
        let g = GraphTensors::new(&mpnn_batch, DType::F32, &Device::Cpu)?;
        let name = format!("{prefix}: MPNN (PyG QM9 example, {} edges)", mpnn_batch.num_edges());
        record_flops(&name, mpnn_gflop(mpnn_batch.num_nodes(), mpnn_batch.num_edges()));
        cases.extend(model_cases(&name, &mpnn, g, false)?.into_iter().map(|c| (c, n)));
    }
    Ok((cases, manifest))
}

/// Inference, inference with forces (when `with_forces`), and a training step of `config`'s model.
pub(super) fn model_cases(
    name: &str,
    config: &ModelConfig,
    g: GraphTensors,
    with_forces: bool,
) -> anyhow::Result<Vec<Case>> {
    let varmap = VarMap::new();
    let trained = Network::new(config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
    // Inference uses plain tensors (no autograd bookkeeping), like `torch.no_grad()`.
    let weights = gnn_models::initial_weights(config, 0)?;
    let frozen = Network::new(config, weights.var_builder(DType::F32, &Device::Cpu)?)?;
    let mut cases: Vec<Case> = Vec::new();
    let (g1, net) = (g.clone(), frozen.clone());
    cases.push((
        format!("{name}, inference"),
        Box::new(move || drop(net.forward(&g1, &g1.positions).expect("forward"))),
    ));
    if with_forces {
        let (g2, net) = (g.clone(), frozen);
        cases.push((
            format!("{name}, inference + forces"),
            Box::new(move || {
                let positions = Var::from_tensor(&g2.positions).expect("var");
                let energy = net.forward(&g2, positions.as_tensor()).expect("forward");
                drop(forces(&energy, &positions, false).expect("forces"));
            }),
        ));
    }
    let targets = Tensor::randn(0f32, 1f32, (g.num_graphs(), 1), &Device::Cpu)?;
    let mut adam = AdamW::new(varmap.all_vars(), ParamsAdamW { lr: 1e-4, weight_decay: 0.0, ..Default::default() })?;
    cases.push((
        format!("{name}, training step (forward, backward, Adam)"),
        Box::new(move || {
            let y = trained.forward(&g, &g.positions).expect("forward");
            let loss = y.sub(&targets).and_then(|d| d.sqr()?.mean_all()).expect("loss");
            adam.backward_step(&loss).expect("step");
        }),
    ));
    Ok(cases)
}

/// All ordered pairs within each molecule, with random PyG-QM9-shaped features (11 per atom, 4 bond
/// one-hots and the distance per edge): the MPNN's cost does not depend on the feature values.
fn complete_graphs(molecules: &[Structure]) -> anyhow::Result<GraphBatch> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut random = move || rng.random::<f64>();
    let graphs = molecules
        .iter()
        .map(|s| {
            let n = s.len();
            let mut edges = Edges::default();
            let mut attr = Vec::new();
            for j in 0..n {
                for i in (0..n).filter(|&i| i != j) {
                    let v = [0, 1, 2].map(|k| s.positions[j][k] - s.positions[i][k]);
                    let d = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                    edges.push(j as u32, i as u32, [0; 3], v, d);
                    attr.extend([random(), random(), random(), random(), d]);
                }
            }
            let mut g = Graph::new(s, edges)?;
            g.node_features = Some(Features { width: 11, data: (0..11 * n).map(|_| random()).collect() });
            g.edge_features = Some(Features { width: 5, data: attr });
            Ok(g)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(GraphBatch::from_graphs(&graphs)?)
}

fn write_inputs(path: &Path, schnet: &GraphBatch, mpnn: &GraphBatch) -> anyhow::Result<()> {
    let cpu = &Device::Cpu;
    let ints = |v: Vec<i64>| Tensor::new(v, cpu);
    let edge_index = |b: &GraphBatch| -> anyhow::Result<Tensor> {
        let e = b.num_edges();
        let rows: Vec<i64> = b.edges.source.iter().chain(&b.edges.target).map(|&v| v as i64).collect();
        Ok(Tensor::from_vec(rows, (2, e), cpu)?)
    };
    let features = |f: &Option<Features>| -> anyhow::Result<Tensor> {
        let f = f.as_ref().expect("features");
        Ok(Tensor::from_vec(f.data.clone(), (f.rows(), f.width), cpu)?.to_dtype(DType::F32)?)
    };
    let n = schnet.num_nodes();
    let tensors = HashMap::from([
        ("z".to_string(), ints(schnet.numbers.iter().map(|&z| z as i64).collect())?),
        (
            "pos".into(),
            Tensor::from_vec(schnet.positions.iter().flatten().copied().collect::<Vec<_>>(), (n, 3), cpu)?
                .to_dtype(DType::F32)?,
        ),
        ("batch".into(), ints(schnet.node_graph.iter().map(|&g| g as i64).collect())?),
        ("edge_index".into(), edge_index(schnet)?),
        ("mpnn_edge_index".into(), edge_index(mpnn)?),
        ("x".into(), features(&mpnn.node_features)?),
        ("edge_attr".into(), features(&mpnn.edge_features)?),
    ]);
    gnn_layers::candle::safetensors::save(&tensors, path)?;
    Ok(())
}

/// The matmul whose speed is the roofline: `[m, k]·[k, n]`, a SchNet filter layer on a 128-molecule
/// batch.
const GEMM: [usize; 3] = [40_000, 128, 128];

/// The name of the matmul case (the same on both sides).
fn gemm_case() -> String {
    let [m, k, n] = GEMM;
    format!("matmul [{m}×{k}]·[{k}×{n}] f32 (the roofline)")
}

/// Matmul GFLOP of one forward pass of each model case, as PyG computes it.
static FLOPS: std::sync::Mutex<Vec<(String, f64)>> = std::sync::Mutex::new(Vec::new());

fn record_flops(case: &str, gflop: f64) {
    FLOPS.lock().expect("not poisoned").push((case.to_string(), gflop));
}

/// SchNet with PyG's defaults (H = F = 128, G = 50, 6 interactions): per interaction the filter
/// network `E·(G·F + F·F)` and the node linears `N·3·H·F` multiply–adds, then the readout.
fn schnet_gflop(nodes: usize, edges: usize) -> f64 {
    let (n, e) = (nodes as f64, edges as f64);
    let interaction = e * (50.0 * 128.0 + 128.0 * 128.0) + n * 3.0 * 128.0 * 128.0;
    2.0 * (6.0 * interaction + n * (128.0 * 64.0 + 64.0)) / 1e9
}

/// PyG's QM9 MPNN: per step (3) the edge network `E·(5·128 + 128·4096)` (PyG recomputes it), the
/// messages `E·64·64`, the GRU `N·6·64·64`; plus `lin0`.
fn mpnn_gflop(nodes: usize, edges: usize) -> f64 {
    let (n, e) = (nodes as f64, edges as f64);
    let step = e * (5.0 * 128.0 + 128.0 * 4096.0 + 64.0 * 64.0) + n * 6.0 * 64.0 * 64.0;
    2.0 * (3.0 * step + n * 11.0 * 64.0) / 1e9
}

/// Matmul FLOPs of a pass relative to a forward pass: the backward of a product costs two products
/// (inputs and weights); forces need only the input side.
fn pass_factor(case: &str) -> f64 {
    if case.ends_with("inference + forces") {
        2.0
    } else if case.contains("training step") {
        3.0
    } else {
        1.0
    }
}

/// The fraction of the matmul roofline each model case reaches: its matmul FLOPs (as PyG computes
/// the model) ÷ its time ÷ the GFLOP/s the same implementation reaches on [`GEMM`] with the same
/// thread count. Above 100 %: the implementation does less arithmetic than PyG's formulation.
pub fn roofline_table(results: &[super::Measurement]) -> Option<super::report::Table> {
    let gemm = gemm_case();
    let [m, k, n] = GEMM;
    let gemm_gflop = 2.0 * (m * k * n) as f64 / 1e9;
    let rates: HashMap<&str, f64> = results
        .iter()
        .filter(|r| r.case == gemm)
        .map(|r| (r.implementation.as_str(), gemm_gflop / r.seconds))
        .collect();
    if rates.is_empty() {
        return None;
    }
    let flops = FLOPS.lock().expect("not poisoned").clone();
    let mut table = super::report::Table::new(
        format!(
            "Fraction of the matmul roofline: model matmul GFLOP (PyG's formulation) ÷ time ÷ the implementation's own GFLOP/s on {gemm} at the same thread count"
        ),
        &["case", "implementation", "model GFLOP", "GFLOP/s reached", "matmul GFLOP/s", "fraction"],
    );
    for r in results {
        let Some(rate) = rates.get(r.implementation.as_str()) else { continue };
        let Some((_, base)) = flops.iter().find(|(name, _)| r.case.starts_with(name.as_str())) else { continue };
        let gflop = base * pass_factor(&r.case);
        let reached = gflop / r.seconds;
        table.rows.push(vec![
            r.case.clone(),
            r.implementation.clone(),
            format!("{gflop:.2}"),
            format!("{reached:.1}"),
            format!("{rate:.1}"),
            format!("{:.0} %", 100.0 * reached / rate),
        ]);
    }
    Some(table)
}
