//! The GPU path (`--features cuda`, needs a CUDA device): every graph op's CUDA kernel against the
//! CPU kernel (forward, first and second derivatives, f32 and f64; the CPU kernels are themselves
//! checked against PyTorch and finite differences), a finite-difference gradient check on the GPU,
//! and imported PyG/schnetpack models predicting the PyTorch fixtures' outputs and forces on the GPU.
//!
//! `aggregation_throughput` (ignored by default) prints kernel timings and effective memory
//! bandwidth: `cargo test --release --features cuda -p gnn-models --test cuda -- --ignored --nocapture`.
#![cfg(feature = "cuda")]

mod common;

use candle_core::{DType, Device, Tensor, Var};
use common::{flat, relative_error};
use gnn_layers::ops::{
    edge_products, gather, gather_mul_scatter, gather_mul_scatter_indexed, outer_products, row_matvec,
    row_matvec_indexed, row_matvec_indexed_transposed, scatter_max, scatter_mean, scatter_min, scatter_sum,
    segment_softmax, SegmentIndex, PYG_SOFTMAX_EPS,
};
use gnn_models::checkpoint::import::Source;

fn gpu() -> Device {
    Device::new_cuda(0).expect("these tests need a CUDA device")
}

/// A reproducible pseudo-random sequence in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// An unsorted index of `len` rows into `segments` segments (segment 1 left empty).
fn index_values(len: usize, segments: usize, seed: u64) -> Vec<u32> {
    values(len, seed)
        .into_iter()
        .map(|v| {
            let s = (((v + 1.0) / 2.0) * segments as f64) as usize % segments;
            if s == 1 {
                0
            } else {
                s as u32
            }
        })
        .collect()
}

fn tolerance(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-12
    } else {
        1e-5
    }
}

/// The same inputs on the CPU and on the GPU.
struct Case {
    device: Device,
    dtype: DType,
}

impl Case {
    fn tensor(&self, dims: &[usize], seed: u64) -> Var {
        let n = dims.iter().product();
        let t = Tensor::from_vec(values(n, seed), dims, &Device::Cpu).unwrap();
        Var::from_tensor(&t.to_dtype(self.dtype).unwrap().to_device(&self.device).unwrap()).unwrap()
    }

    fn index(&self, len: usize, segments: usize, seed: u64) -> SegmentIndex {
        SegmentIndex::new(index_values(len, segments, seed), segments, &self.device).unwrap()
    }
}

/// Runs `op(case)` on the CPU and the GPU; it returns an output and the variables it depends on.
/// Compares the outputs, the gradients of `Σ out ⊙ r` and the gradients of `Σ (∂/∂v₀ Σ out ⊙ r)²`
/// (second order) with respect to every variable.
fn compare(name: &str, dtype: DType, op: impl Fn(&Case) -> (Tensor, Vec<Var>)) {
    gnn_layers::autograd::enable_higher_order_gradients();
    let run = |device: Device| {
        let case = Case { device, dtype };
        let (out, vars) = op(&case);
        let r = Tensor::from_vec(values(out.elem_count(), 99), out.dims(), &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
            .to_device(&case.device)
            .unwrap();
        let loss = out.mul(&r).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let first: Vec<Tensor> = vars.iter().map(|v| grads.get(v).expect("a gradient").clone()).collect();
        let second_loss = first[0].sqr().unwrap().sum_all().unwrap();
        let second = second_loss.backward().unwrap();
        let second: Vec<Option<Tensor>> = vars.iter().map(|v| second.get(v).cloned()).collect();
        (flat(&out), first.iter().map(flat).collect::<Vec<_>>(), second)
    };
    let (cpu_out, cpu_first, cpu_second) = run(Device::Cpu);
    let (gpu_out, gpu_first, gpu_second) = run(gpu());
    let tol = tolerance(dtype);
    let err = relative_error(&gpu_out, &cpu_out);
    assert!(err <= tol, "{name} {dtype:?}: outputs differ by {err:e}");
    for (k, (g, c)) in gpu_first.iter().zip(&cpu_first).enumerate() {
        let err = relative_error(g, c);
        assert!(err <= tol, "{name} {dtype:?}: gradient {k} differs by {err:e}");
    }
    for (k, (g, c)) in gpu_second.iter().zip(&cpu_second).enumerate() {
        match (g, c) {
            (Some(g), Some(c)) => {
                let err = relative_error(&flat(g), &flat(c));
                assert!(err <= tol, "{name} {dtype:?}: second derivative {k} differs by {err:e}");
            }
            (None, None) => {}
            _ => panic!("{name} {dtype:?}: second derivative {k} exists on one device only"),
        }
    }
}

const NODES: usize = 53;
const EDGES: usize = 611;
const COLUMNS: usize = 37;

fn both_dtypes(name: &str, op: impl Fn(&Case) -> (Tensor, Vec<Var>)) {
    for dtype in [DType::F32, DType::F64] {
        compare(name, dtype, &op);
    }
}

#[test]
fn gather_and_segment_reductions() {
    both_dtypes("gather", |c| {
        let x = c.tensor(&[NODES, COLUMNS], 1);
        (gather(&x, &c.index(EDGES, NODES, 2)).unwrap(), vec![x])
    });
    both_dtypes("scatter_sum", |c| {
        let x = c.tensor(&[EDGES, 3, 5], 3);
        (scatter_sum(&x, &c.index(EDGES, NODES, 4)).unwrap(), vec![x])
    });
    both_dtypes("scatter_sum over a sorted index", |c| {
        let x = c.tensor(&[EDGES, COLUMNS], 5);
        let mut sorted = index_values(EDGES, NODES, 6);
        sorted.sort_unstable();
        (scatter_sum(&x, &SegmentIndex::new(sorted, NODES, &c.device).unwrap()).unwrap(), vec![x])
    });
    both_dtypes("scatter_mean", |c| {
        let x = c.tensor(&[EDGES, COLUMNS], 7);
        (scatter_mean(&x, &c.index(EDGES, NODES, 8)).unwrap(), vec![x])
    });
    both_dtypes("scatter_max", |c| {
        let x = c.tensor(&[EDGES, COLUMNS], 9);
        (scatter_max(&x, &c.index(EDGES, NODES, 10)).unwrap(), vec![x])
    });
    both_dtypes("scatter_min", |c| {
        let x = c.tensor(&[EDGES, COLUMNS], 11);
        (scatter_min(&x, &c.index(EDGES, NODES, 12)).unwrap(), vec![x])
    });
    both_dtypes("segment_softmax", |c| {
        let x = c.tensor(&[EDGES, 4], 13);
        (segment_softmax(&x, &c.index(EDGES, NODES, 14), PYG_SOFTMAX_EPS).unwrap(), vec![x])
    });
}

#[test]
fn fused_message_passing() {
    both_dtypes("gather_mul_scatter", |c| {
        let (x, w) = (c.tensor(&[NODES, COLUMNS], 21), c.tensor(&[EDGES, COLUMNS], 22));
        let (source, target) = (c.index(EDGES, NODES, 23), c.index(EDGES, NODES, 24));
        (gather_mul_scatter(&x, &w, &source, &target).unwrap(), vec![x, w])
    });
    both_dtypes("gather_mul_scatter_indexed", |c| {
        let (x, w) = (c.tensor(&[NODES, COLUMNS], 25), c.tensor(&[EDGES / 2, COLUMNS], 26));
        let (source, target) = (c.index(EDGES, NODES, 27), c.index(EDGES, NODES, 28));
        let pairs = c.index(EDGES, EDGES / 2, 29);
        (gather_mul_scatter_indexed(&x, &w, &source, &target, &pairs).unwrap(), vec![x, w])
    });
    both_dtypes("edge_products", |c| {
        let (a, b) = (c.tensor(&[NODES, COLUMNS], 31), c.tensor(&[NODES, COLUMNS], 32));
        let (ai, bi) = (c.index(EDGES, NODES, 33), c.index(EDGES, NODES, 34));
        (edge_products(&a, &b, &ai, &bi, None).unwrap(), vec![a, b])
    });
    both_dtypes("edge_products reduced", |c| {
        let (a, b) = (c.tensor(&[NODES, COLUMNS], 35), c.tensor(&[NODES, COLUMNS], 36));
        let (ai, bi, oi) = (c.index(EDGES, NODES, 37), c.index(EDGES, NODES, 38), c.index(EDGES, 90, 39));
        (edge_products(&a, &b, &ai, &bi, Some(&oi)).unwrap(), vec![a, b])
    });
}

#[test]
fn per_row_matrix_products() {
    let (inputs, outputs) = (11, 7);
    both_dtypes("row_matvec", |c| {
        let (x, w) = (c.tensor(&[EDGES, inputs], 41), c.tensor(&[EDGES, inputs * outputs], 42));
        (row_matvec(&x, &w, inputs, outputs).unwrap(), vec![x, w])
    });
    both_dtypes("row_matvec_indexed", |c| {
        let (x, w) = (c.tensor(&[EDGES, inputs], 43), c.tensor(&[NODES, inputs * outputs], 44));
        let index = c.index(EDGES, NODES, 45);
        (row_matvec_indexed(&x, &w, &index, inputs, outputs).unwrap(), vec![x, w])
    });
    both_dtypes("row_matvec_indexed_transposed", |c| {
        let (y, w) = (c.tensor(&[EDGES, outputs], 46), c.tensor(&[NODES, inputs * outputs], 47));
        let index = c.index(EDGES, NODES, 48);
        (row_matvec_indexed_transposed(&y, &w, &index, inputs, outputs).unwrap(), vec![y, w])
    });
    both_dtypes("outer_products", |c| {
        let (a, b) = (c.tensor(&[EDGES, inputs], 49), c.tensor(&[EDGES, outputs], 50));
        (outer_products(&a, &b, Some(&c.index(EDGES, NODES, 51))).unwrap(), vec![a, b])
    });
}

#[test]
fn empty_inputs_and_empty_segments() {
    let device = gpu();
    let index = SegmentIndex::new(vec![], 4, &device).unwrap();
    let x = Tensor::zeros((0, 3), DType::F32, &device).unwrap();
    let sum = scatter_sum(&x, &index).unwrap();
    assert_eq!(sum.dims(), [4, 3]);
    assert_eq!(flat(&sum), vec![0.0; 12]);
    let gathered = gather(&Tensor::ones((4, 3), DType::F32, &device).unwrap(), &index).unwrap();
    assert_eq!(gathered.dims(), [0, 3]);
}

#[test]
fn gather_mul_scatter_gradient_matches_finite_differences_on_the_gpu() {
    let device = gpu();
    let case = Case { device: device.clone(), dtype: DType::F64 };
    let (x, w) = (case.tensor(&[7, 3], 61), case.tensor(&[20, 3], 62));
    let (source, target) = (case.index(20, 7, 63), case.index(20, 7, 64));
    let loss = |x: &Tensor| gather_mul_scatter(x, &w, &source, &target).unwrap().sqr().unwrap().sum_all().unwrap();
    let grad = flat(loss(x.as_tensor()).backward().unwrap().get(&x).unwrap());
    let base = flat(&x);
    let h = 1e-6;
    for k in 0..base.len() {
        let shifted = |d: f64| {
            let mut v = base.clone();
            v[k] += d;
            let t = Tensor::from_vec(v, (7, 3), &device).unwrap();
            loss(&t).to_device(&Device::Cpu).unwrap().to_scalar::<f64>().unwrap()
        };
        let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
        assert!((numeric - grad[k]).abs() <= 1e-6 * (1.0 + numeric.abs()), "x[{k}]: {numeric} vs {}", grad[k]);
    }
}

#[test]
fn fused_adam_matches_the_composed_update() {
    let device = gpu();
    for (dtype, tol) in [(DType::F32, 1e-6), (DType::F64, 1e-14)] {
        for (l2, decay) in [(0.0, 1.0), (0.01, 1.0), (0.0, 1.0 - 1e-3 * 0.01)] {
            let host = |seed: u64| Tensor::from_vec(values(300, seed), (20, 15), &Device::Cpu).unwrap();
            let on_gpu = |t: &Tensor| t.to_dtype(dtype).unwrap().to_device(&device).unwrap();
            let (mut p, mut m, mut v) =
                (host(81), Tensor::zeros((20, 15), DType::F64, &Device::Cpu).unwrap(), host(82).sqr().unwrap());
            let (gp, gm, gv) = (on_gpu(&p), on_gpu(&m), on_gpu(&v));
            for t in 1..=3 {
                let g = host(83 + t);
                let (b1, b2, lr, eps) = (0.9, 0.999, 1e-3, 1e-8);
                let (bias1, bias2) = (1.0 - f64::powi(b1, t as i32), 1.0 - f64::powi(b2, t as i32));
                let step = gnn_layers::ops::AdamStep {
                    beta1: b1,
                    beta2: b2,
                    step_size: lr / bias1,
                    inv_sqrt_bias2: 1.0 / bias2.sqrt(),
                    eps,
                    l2,
                    decay,
                };
                gnn_layers::ops::adam_step_in_place(&gp, &gm, &gv, &on_gpu(&g), &step).unwrap();
                let g = (g + p.affine(l2, 0.0).unwrap()).unwrap();
                let decayed = p.affine(decay, 0.0).unwrap();
                m = (m.affine(b1, 0.0).unwrap() + g.affine(1.0 - b1, 0.0).unwrap()).unwrap();
                v = (v.affine(b2, 0.0).unwrap() + g.sqr().unwrap().affine(1.0 - b2, 0.0).unwrap()).unwrap();
                let denom = v.sqrt().unwrap().affine(1.0 / bias2.sqrt(), eps).unwrap();
                p = (decayed - m.div(&denom).unwrap().affine(lr / bias1, 0.0).unwrap()).unwrap();
            }
            for (name, gpu_t, cpu_t) in [("param", &gp, &p), ("m", &gm, &m), ("v", &gv, &v)] {
                let err = relative_error(&flat(gpu_t), &flat(cpu_t));
                assert!(err <= tol, "{dtype:?} l2 {l2} decay {decay}: {name} differs by {err:e}");
            }
        }
    }
}

#[test]
fn sum_of_squares_in_one_launch_matches_the_cpu() {
    let device = gpu();
    for dtype in [DType::F32, DType::F64] {
        let shapes: [&[usize]; 4] = [&[20, 15], &[1], &[3000], &[7, 1, 5]];
        let host: Vec<Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(k, s)| Tensor::from_vec(values(s.iter().product(), 90 + k as u64), *s, &Device::Cpu).unwrap())
            .collect();
        let on_gpu: Vec<Tensor> = host.iter().map(|t| t.to_dtype(dtype).unwrap().to_device(&device).unwrap()).collect();
        let expected = gnn_layers::ops::sum_of_squares(&host.iter().collect::<Vec<_>>()).unwrap();
        let got = gnn_layers::ops::sum_of_squares(&on_gpu.iter().collect::<Vec<_>>()).unwrap();
        assert!((got - expected).abs() <= tolerance(dtype) * expected, "{dtype:?}: {got} vs {expected}");
    }
}

/// Imports a fixture model, predicts its batch on the GPU and compares with PyTorch's outputs.
fn check_model(case: &str, source: Source, model: &str, dtype: DType, out_tol: f64, force_tol: f64) {
    common::check_on(&gpu(), case, source, model, dtype, out_tol, force_tol);
}

#[test]
fn imported_models_reproduce_pytorch_on_the_gpu() {
    check_model("pyg_schnet_default", Source::Pyg, "schnet", DType::F32, 1e-5, 1e-4);
    check_model("pyg_schnet_custom_f64", Source::Pyg, "schnet", DType::F64, 1e-10, 1e-10);
    check_model("schnetpack_schnet", Source::Schnetpack, "schnet", DType::F32, 1e-5, 1e-4);
    check_model("schnetpack_schnet_f64", Source::Schnetpack, "schnet", DType::F64, 1e-10, 1e-10);
    check_model("pyg_qm9_mpnn", Source::Pyg, "mpnn", DType::F32, 1e-5, 0.0);
}

/// Kernel time and effective bandwidth of the aggregations at GNN scale (ignored: a measurement):
/// 8 batches' worth of QM9 molecules with a 10 Å cutoff (~147k atoms, ~3.5M edges, 128 columns).
#[test]
#[ignore]
fn aggregation_throughput() {
    let device = gpu();
    let (nodes, edges, columns) = (147_456, 147_456 * 24, 128);
    // Inputs made from host values (no cuRAND: a machine without it runs the binary with a stub).
    let x = Tensor::from_vec(values(nodes * columns, 71), (nodes, columns), &Device::Cpu).unwrap();
    let x = x.to_dtype(DType::F32).unwrap().to_device(&device).unwrap();
    let mut target = index_values(edges, nodes, 73);
    target.sort_unstable();
    let target = SegmentIndex::new(target, nodes, &device).unwrap();
    let source = SegmentIndex::new(index_values(edges, nodes, 74), nodes, &device).unwrap();
    let w = gather(&x, &source).unwrap();
    let time = |name: &str, runs: usize, bytes: usize, f: &dyn Fn() -> Tensor| {
        f();
        device.synchronize().unwrap();
        let start = std::time::Instant::now();
        for _ in 0..runs {
            f();
        }
        device.synchronize().unwrap();
        let seconds = start.elapsed().as_secs_f64() / runs as f64;
        println!("{name}: {:.3} ms, {:.0} GB/s effective", seconds * 1e3, bytes as f64 / seconds / 1e9);
    };
    let row = columns * 4;
    println!("{nodes} nodes, {edges} edges, {columns} f32 columns");
    time("scatter_sum (edges → nodes, sorted)", 20, edges * row + nodes * row + edges * 4, &|| {
        scatter_sum(&w, &target).unwrap()
    });
    time("scatter_sum (edges → nodes, unsorted)", 20, edges * row + nodes * row + edges * 8, &|| {
        scatter_sum(&w, &source).unwrap()
    });
    time("gather (nodes → edges)", 20, edges * row * 2 + edges * 4, &|| gather(&x, &source).unwrap());
    time("gather_mul_scatter (SchNet's CFConv)", 20, 2 * edges * row + nodes * row + edges * 8, &|| {
        gather_mul_scatter(&x, &w, &source, &target).unwrap()
    });
    // Candle's own index_add loops over all edges in each of its `columns` threads: 1/8 of the problem.
    let (small_nodes, small_edges) = (nodes / 8, edges / 8);
    let small = w.narrow(0, 0, small_edges).unwrap().contiguous().unwrap();
    let mut small_target = index_values(small_edges, small_nodes, 75);
    small_target.sort_unstable();
    let small_target = Tensor::from_vec(small_target, small_edges, &device).unwrap();
    time("Candle index_add (1/8 of the edges → nodes)", 3, small_edges * row + small_nodes * row, &|| {
        Tensor::zeros((small_nodes, columns), DType::F32, &device).unwrap().index_add(&small_target, &small, 0).unwrap()
    });
}
