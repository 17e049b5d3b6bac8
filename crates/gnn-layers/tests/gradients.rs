//! Gradients against central finite differences in f64, including second-order gradients (a loss on
//! forces) taken without setting any environment variable.

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use chem_graph::{neighbors::RadiusOptions, GraphBatch, Structure};
use gnn_layers::autograd::{enable_higher_order_gradients, forces, higher_order_gradients_active};
use gnn_layers::nn::{softplus, Activation, GaussianBasis, InteractionBlock, Mlp, MlpConfig};
use gnn_layers::ops::{self, bias_activation, SegmentIndex};
use gnn_layers::GraphTensors;

/// The crate's deterministic test inputs (`values`, `tensor`), shared with its unit tests.
#[path = "../src/test_support.rs"]
#[allow(dead_code)]
mod test_support;
use test_support::tensor;

/// Checks ∂f/∂x from backward against central differences, element by element.
fn check_gradient(what: &str, x: &Var, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<()> {
    let grads = f(x.as_tensor())?.backward()?;
    let analytic = grads.get(x.as_tensor()).map(|g| g.flatten_all()).transpose()?;
    let analytic = match analytic {
        Some(g) => g.to_vec1::<f64>()?,
        None => vec![0.0; x.elem_count()],
    };
    let base = x.as_tensor().flatten_all()?.to_vec1::<f64>()?;
    let h = 1e-6;
    for (k, &a) in analytic.iter().enumerate() {
        let at = |delta: f64| -> Result<f64> {
            let mut v = base.clone();
            v[k] += delta;
            f(&Tensor::from_vec(v, x.shape(), &Device::Cpu)?)?.to_scalar::<f64>()
        };
        let numeric = (at(h)? - at(-h)?) / (2.0 * h);
        assert!((a - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()), "{what}[{k}]: analytic {a} vs numeric {numeric}");
    }
    Ok(())
}

/// 9 nodes in segments of 4, 0, 1 and 4 rows; node 8 and segment 1 receive nothing.
fn graph() -> (SegmentIndex, SegmentIndex) {
    let dev = Device::Cpu;
    let source = vec![0, 1, 2, 3, 1, 5, 6, 7, 5, 2, 0, 4];
    let target = vec![1, 0, 0, 2, 3, 6, 5, 5, 7, 2, 4, 4];
    (SegmentIndex::new(source, 9, &dev).unwrap(), SegmentIndex::new(target, 9, &dev).unwrap())
}

fn weighted_sum(t: &Tensor, seed: u64) -> Result<Tensor> {
    t.mul(&tensor(t.dims(), seed))?.sum_all()
}

#[test]
fn first_order_gradients_match_finite_differences() -> Result<()> {
    let (source, target) = graph();
    let nodes = Var::from_tensor(&tensor(&[9, 3], 1))?;
    let edges = Var::from_tensor(&tensor(&[12, 3], 2))?;
    check_gradient("gather", &nodes, |x| weighted_sum(&ops::gather(x, &source)?, 10))?;
    for reduce in [ops::Reduce::Sum, ops::Reduce::Mean, ops::Reduce::Max, ops::Reduce::Min] {
        check_gradient(&format!("{reduce:?}"), &edges, |x| weighted_sum(&ops::scatter(x, &target, reduce)?, 11))?;
    }
    check_gradient("softmax", &edges, |x| weighted_sum(&ops::segment_softmax(x, &target, 0.0)?, 12))?;
    check_gradient("gather_mul_scatter x", &nodes, |x| {
        weighted_sum(&ops::gather_mul_scatter(x, edges.as_tensor(), &source, &target)?, 13)
    })?;
    check_gradient("gather_mul_scatter w", &edges, |w| {
        weighted_sum(&ops::gather_mul_scatter(nodes.as_tensor(), w, &source, &target)?, 13)
    })?;
    let w = Var::from_tensor(&tensor(&[12, 6], 3))?;
    check_gradient("row_matvec x", &edges, |x| weighted_sum(&ops::row_matvec(x, w.as_tensor(), 3, 2)?, 14))?;
    check_gradient("row_matvec w", &w, |w| weighted_sum(&ops::row_matvec(edges.as_tensor(), w, 3, 2)?, 14))?;
    let wide = Var::from_tensor(&tensor(&[12, 2], 4))?;
    check_gradient("row_matvec_transposed", &wide, |y| {
        weighted_sum(&ops::row_matvec_transposed(y, w.as_tensor(), 3, 2)?, 15)
    })?;
    // One 3×2 matrix per node, shared by the edges leaving it.
    let m = Var::from_tensor(&tensor(&[9, 6], 6))?;
    check_gradient("row_matvec_indexed x", &edges, |x| {
        weighted_sum(&ops::row_matvec_indexed(x, m.as_tensor(), &source, 3, 2)?, 17)
    })?;
    check_gradient("row_matvec_indexed m", &m, |m| {
        weighted_sum(&ops::row_matvec_indexed(edges.as_tensor(), m, &source, 3, 2)?, 17)
    })?;
    check_gradient("row_matvec_indexed_transposed y", &wide, |y| {
        weighted_sum(&ops::row_matvec_indexed_transposed(y, m.as_tensor(), &target, 3, 2)?, 18)
    })?;
    check_gradient("row_matvec_indexed_transposed m", &m, |m| {
        weighted_sum(&ops::row_matvec_indexed_transposed(wide.as_tensor(), m, &target, 3, 2)?, 18)
    })?;
    for (name, index) in [("outer_products", None), ("outer_products indexed", Some(&target))] {
        check_gradient(&format!("{name} a"), &edges, |a| {
            weighted_sum(&ops::outer_products(a, wide.as_tensor(), index)?, 19)
        })?;
        check_gradient(&format!("{name} b"), &wide, |b| {
            weighted_sum(&ops::outer_products(edges.as_tensor(), b, index)?, 19)
        })?;
    }
    let x = Var::from_tensor(&tensor(&[40], 5).affine(25.0, 0.0)?)?;
    check_gradient("softplus", &x, |x| weighted_sum(&softplus(x)?, 16))?;
    fused_first_order_gradients(&nodes, &edges, &source, &target)
}

/// Edges 0..12 of `graph()` shared in groups of one or two rows (as pairs of opposite edges are).
fn groups() -> SegmentIndex {
    SegmentIndex::new(vec![0, 0, 1, 2, 3, 4, 4, 5, 6, 1, 7, 7], 8, &Device::Cpu).unwrap()
}

/// The fused kernels of the SchNet/MPNN fast paths.
fn fused_first_order_gradients(nodes: &Var, edges: &Var, source: &SegmentIndex, target: &SegmentIndex) -> Result<()> {
    let rows = groups();
    let shared = Var::from_tensor(&tensor(&[8, 3], 6))?;
    check_gradient("gather_mul_scatter_indexed x", nodes, |x| {
        weighted_sum(&ops::gather_mul_scatter_indexed(x, shared.as_tensor(), source, target, &rows)?, 41)
    })?;
    check_gradient("gather_mul_scatter_indexed w", &shared, |w| {
        weighted_sum(&ops::gather_mul_scatter_indexed(nodes.as_tensor(), w, source, target, &rows)?, 41)
    })?;
    for out in [Some(&rows), None] {
        check_gradient("edge_products a", nodes, |a| {
            weighted_sum(&ops::edge_products(a, &tensor(&[9, 3], 60), source, target, out)?, 42)
        })?;
        check_gradient("edge_products b", nodes, |b| {
            weighted_sum(&ops::edge_products(&tensor(&[9, 3], 61), b, source, target, out)?, 42)
        })?;
    }
    let (w, b) = (Var::from_tensor(&tensor(&[5, 3], 7))?, Var::from_tensor(&tensor(&[5], 8))?);
    check_gradient("dense x", edges, |x| weighted_sum(&ops::dense(x, w.as_tensor(), Some(b.as_tensor()))?, 43))?;
    check_gradient("dense w", &w, |w| weighted_sum(&ops::dense(edges.as_tensor(), w, Some(b.as_tensor()))?, 43))?;
    check_gradient("dense b", &b, |b| weighted_sum(&ops::dense(edges.as_tensor(), w.as_tensor(), Some(b))?, 43))?;
    let s = Var::from_tensor(&tensor(&[12], 9))?;
    check_gradient("scale_rows x", edges, |x| weighted_sum(&ops::scale_rows(x, s.as_tensor())?, 44))?;
    check_gradient("scale_rows s", &s, |s| weighted_sum(&ops::scale_rows(edges.as_tensor(), s)?, 44))?;
    check_gradient("row_dot", edges, |x| weighted_sum(&ops::row_dot(x, &x.sin()?)?, 45))?;
    check_gradient("column_sums", edges, |x| weighted_sum(&ops::column_sums(x)?, 46))?;
    let bias = Var::from_tensor(&tensor(&[3], 10))?;
    for activation in ACTIVATIONS {
        let wide = Var::from_tensor(&edges.as_tensor().affine(6.0, 0.0)?)?;
        check_gradient(&format!("{activation:?} x"), &wide, |x| {
            weighted_sum(&bias_activation(x, Some(bias.as_tensor()), activation)?, 47)
        })?;
        check_gradient(&format!("{activation:?} bias"), &bias, |b| {
            weighted_sum(&bias_activation(wide.as_tensor(), Some(b), activation)?, 47)
        })?;
    }
    let d = Var::from_tensor(&tensor(&[12], 11).affine(1.5, 1.6)?)?;
    let basis = GaussianBasis::pyg(0.0, 3.0, 7, VarBuilder::from_varmap(&VarMap::new(), DType::F64, &Device::Cpu))?;
    check_gradient("gaussian basis", &d, |d| weighted_sum(&basis.forward(d)?, 48))
}

const ACTIVATIONS: [Activation; 7] = [
    Activation::ShiftedSoftplus,
    Activation::ShiftedSoftplusPyg,
    Activation::Softplus,
    Activation::Silu,
    Activation::Sigmoid,
    Activation::Relu,
    Activation::Identity,
];

/// The gradient of `g(x) = Σ R ⊙ ∂(Σ S ⊙ op(x))/∂x` exercises every op's backward of the backward.
#[test]
fn second_order_gradients_match_finite_differences() -> Result<()> {
    assert!(higher_order_gradients_active(), "the first higher-order use on a fresh thread enables them");
    let (source, target) = graph();
    let nodes = Var::from_tensor(&tensor(&[9, 3], 21))?;
    let edges = Var::from_tensor(&tensor(&[12, 3], 22))?;
    let matrices = Var::from_tensor(&tensor(&[9, 6], 23))?;
    // Non-linear inner functions so that the second derivative is not trivially zero.
    let twice = |x: &Tensor, inner: &dyn Fn(&Tensor) -> Result<Tensor>| -> Result<Tensor> {
        let v = Var::from_tensor(x)?;
        let g = gnn_layers::autograd::gradients_with_graph(&inner(v.as_tensor())?)?;
        weighted_sum(g.get(v.as_tensor()).expect("first gradient"), 99)
    };
    let cases: Vec<(&str, &Var, ScalarFn)> = vec![
        ("gather", &nodes, Box::new(|x| weighted_sum(&ops::gather(&x.sqr()?, &source)?.tanh()?, 31))),
        ("sum", &edges, Box::new(|x| weighted_sum(&ops::scatter_sum(&x.sin()?, &target)?.sqr()?, 32))),
        ("mean", &edges, Box::new(|x| weighted_sum(&ops::scatter_mean(x, &target)?.sqr()?, 33))),
        ("softmax", &edges, Box::new(|x| weighted_sum(&ops::segment_softmax(x, &target, 0.0)?, 34))),
        (
            "gather_mul_scatter",
            &nodes,
            Box::new(|x| {
                weighted_sum(&ops::gather_mul_scatter(x, &gather_sq(x, &source)?, &source, &target)?.tanh()?, 35)
            }),
        ),
        ("softplus", &edges, Box::new(|x| weighted_sum(&softplus(&x.affine(4.0, 0.0)?)?, 36))),
        (
            "gather_mul_scatter_indexed",
            &nodes,
            Box::new(|x| {
                let w = ops::scatter_sum(&gather_sq(x, &source)?, &groups())?;
                weighted_sum(&ops::gather_mul_scatter_indexed(x, &w, &source, &target, &groups())?.tanh()?, 37)
            }),
        ),
        (
            "edge_products",
            &nodes,
            Box::new(|x| {
                weighted_sum(&ops::edge_products(x, &x.sin()?, &source, &target, Some(&groups()))?.sqr()?, 38)
            }),
        ),
        ("scale_rows", &edges, Box::new(|x| weighted_sum(&ops::scale_rows(x, &x.sum(1)?.sin()?)?.sqr()?, 39))),
        ("column_sums", &edges, Box::new(|x| weighted_sum(&ops::column_sums(&x.sqr()?)?.sqr()?, 40))),
        (
            "dense",
            &edges,
            Box::new(|x| {
                weighted_sum(&ops::dense(&x.sqr()?, &tensor(&[4, 3], 51), Some(&tensor(&[4], 52)))?.tanh()?, 41)
            }),
        ),
        (
            "gaussian basis",
            &edges,
            Box::new(|x| {
                let basis =
                    GaussianBasis::pyg(0.0, 3.0, 5, VarBuilder::from_varmap(&VarMap::new(), DType::F64, &Device::Cpu))?;
                weighted_sum(&basis.forward(&x.sum(1)?.affine(1.0, 1.5)?)?, 42)
            }),
        ),
        (
            "row_matvec",
            &matrices,
            Box::new(|m| {
                let x = ops::gather(&m.narrow(1, 0, 3)?.sqr()?, &source)?;
                weighted_sum(&ops::row_matvec(&x, &ops::gather(m, &target)?, 3, 2)?.tanh()?, 37)
            }),
        ),
        (
            "row_matvec_indexed",
            &matrices,
            Box::new(|m| {
                let x = ops::gather(&m.narrow(1, 0, 3)?.sqr()?, &source)?;
                weighted_sum(&ops::row_matvec_indexed(&x, m, &source, 3, 2)?.tanh()?, 38)
            }),
        ),
        (
            "row_matvec_indexed_transposed",
            &matrices,
            Box::new(|m| {
                let y = ops::gather(&m.narrow(1, 1, 2)?.sin()?, &target)?;
                weighted_sum(&ops::row_matvec_indexed_transposed(&y, m, &source, 3, 2)?.tanh()?, 39)
            }),
        ),
        (
            "outer_products",
            &nodes,
            Box::new(|x| {
                let (a, b) = (ops::gather(&x.sqr()?, &source)?, ops::gather(&x.sin()?.narrow(1, 0, 2)?, &target)?);
                let summed = ops::outer_products(&a, &b, Some(&target))?.tanh()?;
                weighted_sum(&summed, 40)?.add(&weighted_sum(&ops::outer_products(&a, &b, None)?.tanh()?, 41)?)
            }),
        ),
    ];
    let bias = tensor(&[3], 53);
    for activation in ACTIVATIONS {
        let inner = |x: &Tensor| weighted_sum(&bias_activation(&x.affine(4.0, 0.0)?, Some(&bias), activation)?, 43);
        check_gradient(&format!("{activation:?}"), &edges, |x| twice(x, &inner))?;
        // Third derivatives: the gradient of a loss on the second derivative.
        let second = |x: &Tensor| -> Result<Tensor> {
            let v = Var::from_tensor(x)?;
            let g = gnn_layers::autograd::gradients_with_graph(&inner(v.as_tensor())?)?;
            weighted_sum(&g.get(v.as_tensor()).expect("first gradient").sqr()?, 44)
        };
        check_gradient(&format!("{activation:?} (third order)"), &edges, |x| twice(x, &second))?;
    }
    for (name, var, inner) in &cases {
        // The analytic gradient of g is taken through the graph of the first gradient.
        check_gradient(name, var, |x| twice(x, inner.as_ref()))?;
    }
    Ok(())
}

/// A scalar function of one tensor.
type ScalarFn<'a> = Box<dyn Fn(&Tensor) -> Result<Tensor> + 'a>;

/// `w[e] = x[source[e]]²`: makes the fused op's second argument depend on the first.
fn gather_sq(x: &Tensor, source: &SegmentIndex) -> Result<Tensor> {
    ops::gather(&x.sqr()?, source)
}

fn molecules() -> Vec<Structure> {
    let water =
        Structure::molecule(vec![8, 1, 1], vec![[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]]);
    let methane = Structure::molecule(
        vec![6, 1, 1, 1, 1],
        vec![[0.0, 0.0, 0.0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]],
    );
    let atom = Structure::molecule(vec![10], vec![[1.0, 2.0, 3.0]]);
    vec![water.unwrap(), atom.unwrap(), methane.unwrap()]
}

/// A small SchNet-like energy: embedding by atomic number, one interaction, per-atom MLP, sum.
struct ToyModel {
    embedding: Tensor,
    basis: GaussianBasis,
    interaction: InteractionBlock,
    readout: Mlp,
    /// Whether filters are computed once per pair of opposite edges ([`GraphTensors::pairs`]).
    paired: bool,
}

impl ToyModel {
    fn new(vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            embedding: vb.get_with_hints((11, 8), "embedding", candle_nn::Init::Randn { mean: 0.0, stdev: 1.0 })?,
            basis: GaussianBasis::pyg(0.0, 3.0, 6, vb.pp("basis"))?,
            interaction: InteractionBlock::new(8, 6, 8, 3.0, Activation::ShiftedSoftplus, vb.pp("interaction"))?,
            readout: Mlp::new(&MlpConfig::new(&[8, 4, 1], Activation::ShiftedSoftplus), vb.pp("readout"))?,
            paired: false,
        })
    }

    fn energy(&self, g: &GraphTensors, positions: &Tensor) -> Result<Tensor> {
        let d = GraphTensors::edge_lengths(&g.edge_vectors(positions)?)?;
        let (d, rows) = match (&g.pairs, self.paired) {
            (Some(pairs), true) => (ops::gather(&d, &pairs.representative)?, Some(&pairs.pair_of_edge)),
            _ => (d, None),
        };
        let h = self.embedding.index_select(&g.numbers, 0)?;
        let rbf = self.basis.forward(&d)?;
        let h = h.add(&self.interaction.forward_shared(&h, &rbf, &d, &g.source, &g.target, rows)?)?;
        let atomic = candle_core::Module::forward(&self.readout, &h)?;
        ops::scatter_sum(&atomic, &g.node_graph)?.squeeze(1)
    }
}

fn batch(structures: &[Structure]) -> GraphTensors {
    let b = GraphBatch::from_structures(structures, &RadiusOptions::new(3.0)).unwrap();
    GraphTensors::new(&b, DType::F64, &Device::Cpu).unwrap()
}

#[test]
fn forces_and_force_loss_gradients_match_finite_differences() -> Result<()> {
    force_gradients(false)?;
    force_gradients(true)
}

/// Filters shared by the two edges of each pair give the per-edge energies and forces.
#[test]
fn pair_shared_filters_equal_per_edge_filters() -> Result<()> {
    let varmap = VarMap::new();
    let mut model = ToyModel::new(VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu))?;
    let g = batch(&molecules());
    let pairs = g.pairs.as_ref().expect("radius graphs of molecules are symmetric");
    assert_eq!(2 * pairs.len(), g.num_edges());
    let run = |model: &ToyModel| -> Result<(Tensor, Tensor)> {
        let p = Var::from_tensor(&g.positions)?;
        let e = model.energy(&g, p.as_tensor())?;
        Ok((e.clone(), forces(&e, &p, false)?))
    };
    let (e0, f0) = run(&model)?;
    model.paired = true;
    let (e1, f1) = run(&model)?;
    common_close(&e0, &e1, 1e-12);
    common_close(&f0, &f1, 1e-12);
    Ok(())
}

fn force_gradients(paired: bool) -> Result<()> {
    // As the trainer does before a run with a force loss: Candle fixes whether gradients keep their
    // graph at a thread's first backward pass, and this test takes plain gradients first.
    enable_higher_order_gradients();
    let varmap = VarMap::new();
    let mut model = ToyModel::new(VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu))?;
    model.paired = paired;
    let g = batch(&molecules());
    let positions = Var::from_tensor(&g.positions)?;
    // Forces are −∂E/∂r.
    let energy_of = |p: &Tensor| model.energy(&g, p)?.sum_all();
    let f = forces(&model.energy(&g, positions.as_tensor())?, &positions, false)?;
    let neg = Var::from_tensor(&g.positions)?;
    check_gradient("energy", &neg, |p| energy_of(p))?;
    let grads = energy_of(neg.as_tensor())?.backward()?;
    let expected = grads.get(neg.as_tensor()).unwrap().neg()?;
    common_close(&f, &expected, 1e-12);

    // A loss on forces, differentiated with respect to a weight.
    let force_loss = |model: &ToyModel| -> Result<f64> {
        let p = Var::from_tensor(&g.positions)?;
        forces(&model.energy(&g, p.as_tensor())?, &p, true)?.sqr()?.sum_all()?.to_scalar::<f64>()
    };
    let p = Var::from_tensor(&g.positions)?;
    let loss = forces(&model.energy(&g, p.as_tensor())?, &p, true)?.sqr()?.sum_all()?;
    let grads = loss.backward()?;
    let data = varmap.data().lock().unwrap().clone();
    for name in ["interaction.mlp.0.weight", "interaction.conv.lin1.weight", "readout.0.weight", "embedding"] {
        let var = &data[name];
        let analytic =
            grads.get(var.as_tensor()).expect("force loss reaches the weights").flatten_all()?.to_vec1::<f64>()?;
        let base = var.as_tensor().copy()?;
        let flat = base.flatten_all()?.to_vec1::<f64>()?;
        for k in [0, flat.len() / 2, flat.len() - 1] {
            let at = |delta: f64| -> Result<f64> {
                let mut v = flat.clone();
                v[k] += delta;
                var.set(&Tensor::from_vec(v, base.shape(), &Device::Cpu)?)?;
                force_loss(&model)
            };
            let h = 1e-6;
            let numeric = (at(h)? - at(-h)?) / (2.0 * h);
            var.set(&base)?;
            let a = analytic[k];
            assert!((a - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()), "{name}[{k}]: {a} vs {numeric}");
        }
    }
    Ok(())
}

fn common_close(a: &Tensor, b: &Tensor, tol: f64) {
    let diff = a.sub(b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
    assert!(diff <= tol, "max difference {diff}");
}

/// Rotating and translating the molecules leaves energies unchanged and rotates the forces;
/// permuting atoms permutes the forces.
#[test]
fn energy_is_invariant_and_forces_equivariant() -> Result<()> {
    let varmap = VarMap::new();
    let model = ToyModel::new(VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu))?;
    let structures = molecules();
    let run = |s: &[Structure]| -> Result<(Tensor, Tensor)> {
        let g = batch(s);
        let p = Var::from_tensor(&g.positions)?;
        let e = model.energy(&g, p.as_tensor())?;
        Ok((e.clone(), forces(&e, &p, false)?))
    };
    let (e0, f0) = run(&structures)?;
    let (c, s) = (0.3f64.cos(), 0.3f64.sin());
    let rot = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
    let rot = [[rot[0][0], 0.0, rot[0][1]], [0.0, 1.0, 0.0], [rot[1][0], 0.0, rot[1][1]]];
    let apply =
        |v: [f64; 3]| -> [f64; 3] { std::array::from_fn(|i| (0..3).map(|k| rot[i][k] * v[k]).sum::<f64>() + 1.5) };
    let moved: Vec<Structure> = structures
        .iter()
        .map(|m| Structure::molecule(m.numbers.clone(), m.positions.iter().map(|&p| apply(p)).collect()).unwrap())
        .collect();
    let (e1, f1) = run(&moved)?;
    common_close(&e0, &e1, 1e-10);
    let r = Tensor::new(&rot, &Device::Cpu)?;
    common_close(&f0.matmul(&r.t()?)?, &f1, 1e-10);

    let order = [2, 0, 4, 1, 3];
    let methane = structures[2].permuted(&order);
    let (e2, f2) = run(&[structures[0].clone(), structures[1].clone(), methane])?;
    common_close(&e0, &e2, 1e-10);
    let idx: Vec<u32> = [0, 1, 2, 3].into_iter().chain(order.iter().map(|&k| 4 + k as u32)).collect();
    common_close(&f0.index_select(&Tensor::new(idx.as_slice(), &Device::Cpu)?, 0)?, &f2, 1e-10);
    Ok(())
}
