//! The `ops` suite: gnn-layers' graph operations and message-passing layers, forward + backward,
//! at QM9-batch sizes (128 molecules, 10 Å cutoff), in f32.

use std::path::Path;
use std::sync::Arc;

use chem_graph::neighbors::RadiusOptions;
use chem_graph::GraphBatch;
use gnn_layers::candle::Module;
use gnn_layers::candle::{DType, Device, Tensor, Var};
use gnn_layers::candle_nn::{VarBuilder, VarMap};
use gnn_layers::nn::{cosine_cutoff, Activation, GaussianBasis, InteractionBlock, Mlp, MlpConfig, NnConv};
use gnn_layers::ops::{self, bias_activation, Reduce};
use gnn_layers::GraphTensors;
use serde_json::json;

use super::inputs::{qm9_molecules, write_npy_i64};

/// A timed case: its name and a closure running one forward + backward pass.
pub type Case = (String, Box<dyn FnMut() + Send>);

/// Builds the cases and writes `<work>/ops_{source,target}.npy` plus the manifest entry that the
/// PyTorch script reads.
pub fn cases(work: &Path, quick: bool) -> anyhow::Result<(Vec<Case>, serde_json::Value)> {
    let molecules = qm9_molecules(if quick { 16 } else { 128 })?;
    let batch = GraphBatch::from_structures(&molecules, &RadiusOptions::new(10.0))?;
    let g = GraphTensors::new(&batch, DType::F32, &Device::Cpu)?;
    let (n, e) = (g.num_nodes(), g.num_edges());
    let source = work.join("ops_source.npy");
    let target = work.join("ops_target.npy");
    write_npy_i64(&source, &[e], batch.edges.source.iter().map(|&v| v as i64))?;
    write_npy_i64(&target, &[e], batch.edges.target.iter().map(|&v| v as i64))?;
    let prefix = format!("{} molecules, {n} atoms, {e} edges: ", molecules.len());
    let manifest = json!({"prefix": prefix, "nodes": n, "edges": e, "source": source, "target": target});

    let randn = |rows: usize, cols: usize| Tensor::randn(0f32, 1f32, (rows, cols), &Device::Cpu);
    let var = |rows: usize, cols: usize| -> anyhow::Result<Var> { Ok(Var::from_tensor(&randn(rows, cols)?)?) };
    let mut cases: Vec<Case> = Vec::new();
    // Each op is timed forward only, and forward + backward of `sum(out ⊙ R)`.
    let mut add = |name: String, r: Tensor, forward: Arc<dyn Fn() -> Tensor + Send + Sync>| {
        let f = forward.clone();
        cases.push((format!("{name}, forward"), Box::new(move || drop(f()))));
        cases.push((
            format!("{name}, forward + backward"),
            Box::new(move || drop(forward().mul(&r).and_then(|t| t.sum_all()?.backward()).expect("backward"))),
        ));
    };
    let (src, tgt) = (g.source.clone(), g.target.clone());

    let (x, index) = (var(n, 128)?, src.clone());
    add(
        format!("{prefix}gather [{n},128] → [{e},128]"),
        randn(e, 128)?,
        Arc::new(move || ops::gather(&x, &index).unwrap()),
    );
    for reduce in [Reduce::Sum, Reduce::Mean, Reduce::Max] {
        let (x, index) = (var(e, 128)?, tgt.clone());
        let name = format!("{prefix}scatter {} [{e},128] → [{n},128]", format!("{reduce:?}").to_lowercase());
        add(name, randn(n, 128)?, Arc::new(move || ops::scatter(&x, &index, reduce).unwrap()));
    }
    let (x, index) = (var(e, 4)?, tgt.clone());
    add(
        format!("{prefix}segment softmax [{e},4]"),
        randn(e, 4)?,
        Arc::new(move || ops::segment_softmax(&x, &index, ops::PYG_SOFTMAX_EPS).unwrap()),
    );

    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let net = MlpConfig::new(&[5, 128, 64 * 64], Activation::Relu);
    let conv = NnConv::new(64, 64, &net, Reduce::Mean, true, true, vb.pp("nnconv"))?;
    let (x, attr) = (var(n, 64)?, randn(e, 5)?);
    let (s, t) = (src.clone(), tgt.clone());
    add(
        format!("{prefix}NNConv 64→64, edge network 5→128→4096, mean"),
        randn(n, 64)?,
        Arc::new(move || conv.forward(&x, &attr, &s, &t).unwrap()),
    );
    let block = InteractionBlock::new(128, 50, 128, 10.0, Activation::ShiftedSoftplusPyg, vb.pp("interaction"))?;
    let (h, rbf) = (var(n, 128)?, randn(e, 50)?);
    let distance = GraphTensors::edge_lengths(&g.edge_vectors(&g.positions)?)?;
    let (b, hs, rbfs, ds, s, t) = (block.clone(), h.clone(), rbf.clone(), distance.clone(), src.clone(), tgt.clone());
    add(
        format!("{prefix}SchNet interaction (CFConv) 128 features, 50 Gaussians, 128 filters"),
        randn(n, 128)?,
        Arc::new(move || b.forward(&hs, &rbfs, &ds, &s, &t).unwrap()),
    );
    // The same block with one filter per pair of opposite edges (chemgnn only: PyG has no such path).
    let pairs = g.pairs.clone().expect("a radius graph is symmetric");
    let (pair_rbf, pair_distance) =
        (ops::gather(&rbf, &pairs.representative)?, ops::gather(&distance, &pairs.representative)?);
    add(
        format!("{prefix}SchNet interaction (CFConv), filters shared by the {} pairs of opposite edges", pairs.len()),
        randn(n, 128)?,
        Arc::new(move || {
            block.forward_shared(&h, &pair_rbf, &pair_distance, &src, &tgt, Some(&pairs.pair_of_edge)).unwrap()
        }),
    );

    // The fused kernels of the SchNet path, against the PyTorch ops PyG runs for the same work.
    let (x, bias) = (var(e, 128)?, randn(1, 128)?.squeeze(0)?);
    add(
        format!("{prefix}bias + shifted softplus [{e},128]"),
        randn(e, 128)?,
        Arc::new(move || bias_activation(&x, Some(&bias), Activation::ShiftedSoftplusPyg).unwrap()),
    );
    let d = Var::from_tensor(&Tensor::rand(0.5f32, 9.5f32, e, &Device::Cpu)?)?;
    let basis = GaussianBasis::pyg(0.0, 10.0, 50, vb.pp("expansion"))?;
    let (dd, bb) = (d.clone(), basis.clone());
    add(
        format!("{prefix}Gaussian expansion [{e}] → [{e},50]"),
        randn(e, 50)?,
        Arc::new(move || bb.forward(&dd).unwrap()),
    );
    let mlp = Mlp::new(&MlpConfig::new(&[50, 128, 128], Activation::ShiftedSoftplusPyg), vb.pp("filter"))?;
    add(
        format!("{prefix}SchNet filter network per edge (Gaussians → 50→128→128 MLP → cosine cutoff)"),
        randn(e, 128)?,
        Arc::new(move || {
            let filter = mlp.forward(&basis.forward(&d).unwrap()).unwrap();
            ops::scale_rows(&filter, &cosine_cutoff(&d, 10.0, false).unwrap()).unwrap()
        }),
    );
    let (x, w, b) = (var(e, 128)?, randn(128, 128)?, randn(1, 128)?.squeeze(0)?);
    add(
        format!("{prefix}linear [{e},128]·[128,128]ᵀ + bias"),
        randn(e, 128)?,
        Arc::new(move || ops::dense(&x, &w, Some(&b)).unwrap()),
    );
    Ok((cases, manifest))
}
