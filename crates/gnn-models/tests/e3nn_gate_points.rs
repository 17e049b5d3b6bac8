//! e3nn's `gate_points_2101.Network` from its constructor arguments (ARGS.json) and `state_dict`
//! (safetensors), against e3nn 0.6.0 in f64 (≤ 1e-10 relative) and in f32 (≤ 1e-5 relative):
//! per-graph outputs and their gradients with respect to the positions, on random molecules and on
//! real QM9 molecules (fixtures from `tests/reference/e3nn_gate_points.py`).

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarBuilder;
use gnn_layers::ops::{gather, SegmentIndex};
use gnn_models::{GatePoints, GatePointsConfig};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/e3nn/");

/// e3nn's radius graph: ordered pairs in one graph with `0 < r < r_max`, row-major by (src, dst).
fn radius_graph(pos: &[[f64; 3]], batch: &[i64], r_max: f64) -> (SegmentIndex, SegmentIndex) {
    let (mut src, mut dst) = (vec![], vec![]);
    for i in 0..pos.len() {
        for j in 0..pos.len() {
            let r = (0..3).map(|k| (pos[i][k] - pos[j][k]).powi(2)).sum::<f64>().sqrt();
            if batch[i] == batch[j] && r > 0.0 && r < r_max {
                src.push(i as u32);
                dst.push(j as u32);
            }
        }
    }
    let n = pos.len();
    (SegmentIndex::new(src, n, &Device::Cpu).unwrap(), SegmentIndex::new(dst, n, &Device::Cpu).unwrap())
}

fn assert_close(name: &str, ours: &Tensor, theirs: &Tensor, tolerance: f64) {
    let (ours, theirs) = (ours.to_dtype(DType::F64).unwrap(), theirs.to_dtype(DType::F64).unwrap());
    let scale = theirs.abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
    let diff = ours.sub(&theirs).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
    assert!(diff <= tolerance * scale, "{name}: differs from e3nn by {diff} (scale {scale})");
}

#[test]
fn gate_points_2101_reproduces_e3nn_with_imported_weights() {
    for name in ["full", "minimal", "qm9"] {
        let config: GatePointsConfig =
            serde_json::from_str(&std::fs::read_to_string(format!("{DIR}gate_points_{name}.json")).unwrap()).unwrap();
        let weights =
            candle_core::safetensors::load(format!("{DIR}gate_points_{name}.safetensors"), &Device::Cpu).unwrap();
        let io =
            candle_core::safetensors::load(format!("{DIR}gate_points_{name}_io.safetensors"), &Device::Cpu).unwrap();
        let pos: Vec<[f64; 3]> = io["pos"].to_vec2::<f64>().unwrap().into_iter().map(|r| [r[0], r[1], r[2]]).collect();
        let batch: Vec<i64> = io["batch"].to_vec1::<i64>().unwrap();
        let (src, dst) = radius_graph(&pos, &batch, config.max_radius);
        let graphs = *batch.iter().max().unwrap() as usize + 1;
        let node_graph = SegmentIndex::new(batch.iter().map(|&b| b as u32).collect(), graphs, &Device::Cpu).unwrap();
        for (dtype, suffix, tolerance) in [(DType::F64, "", 1e-10), (DType::F32, "32", 1e-5)] {
            let vb = VarBuilder::from_tensors(weights.clone(), dtype, &Device::Cpu);
            let net = GatePoints::new(&config, vb).unwrap();
            let positions = Var::from_tensor(&io["pos"].to_dtype(dtype).unwrap()).unwrap();
            let onehot = io["onehot"].to_dtype(dtype).unwrap();
            let x = config.irreps_in.as_ref().map(|_| &onehot);
            let z = config.irreps_node_attr.as_ref().map(|_| &onehot);
            let p = positions.as_tensor();
            let vec = gather(p, &src).unwrap().sub(&gather(p, &dst).unwrap()).unwrap();
            let y = net.forward(&vec, pos.len(), x, z, &src, &dst, &node_graph).unwrap();
            let what = format!("{name} ({dtype:?})");
            assert_close(&format!("{what}: outputs"), &y, &io[&format!("y{suffix}")], tolerance);
            let loss_weights = io["loss_weights"].to_dtype(dtype).unwrap();
            let grads = y.mul(&loss_weights).unwrap().sum_all().unwrap().backward().unwrap();
            let grad = grads.get(positions.as_tensor()).unwrap();
            assert_close(&format!("{what}: ∂/∂positions"), grad, &io[&format!("grad_pos{suffix}")], tolerance);
        }
    }
}
