//! NNConv's factorised messages agree with the direct per-edge matrices (outputs and gradients),
//! and an ignored timing of both on a QM9-sized batch.

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use gnn_layers::nn::{Activation, MlpConfig, NnConv, NnConvMode};
use gnn_layers::ops::{Reduce, SegmentIndex};

/// A small deterministic generator of values in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> u32 {
        (self.next() * n as f64) as u32
    }

    fn tensor(&mut self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let v: Vec<f64> = (0..shape.iter().product()).map(|_| self.next() * 2.0 - 1.0).collect();
        Tensor::from_vec(v, shape, &Device::Cpu)?.to_dtype(dtype)
    }
}

/// `edges` random edges within blocks of `block` nodes among the first `connected` of `nodes`
/// (the rest have no edges), in random order when `shuffled`, else sorted by source.
fn graph(
    rng: &mut Lcg,
    nodes: usize,
    connected: usize,
    block: usize,
    edges: usize,
    shuffled: bool,
) -> [SegmentIndex; 2] {
    let mut pairs: Vec<(u32, u32)> = (0..edges)
        .map(|_| {
            let start = rng.below(connected / block) * block as u32;
            let s = start + rng.below(block);
            let t = start + (s - start + 1 + rng.below(block - 1)) % block as u32;
            (s, t)
        })
        .collect();
    if !shuffled {
        pairs.sort_unstable();
    }
    let index = |v: Vec<u32>| SegmentIndex::new(v, nodes, &Device::Cpu).unwrap();
    [index(pairs.iter().map(|p| p.0).collect()), index(pairs.iter().map(|p| p.1).collect())]
}

/// Largest |a − b| over the largest |b|.
fn relative_error(a: &Tensor, b: &Tensor) -> Result<f64> {
    let (a, b) = (a.to_dtype(DType::F64)?, b.to_dtype(DType::F64)?);
    let scale = b.abs()?.max_all()?.to_scalar::<f64>()?.max(f64::MIN_POSITIVE);
    Ok(a.sub(&b)?.abs()?.max_all()?.to_scalar::<f64>()? / scale)
}

#[test]
fn factorised_and_direct_messages_agree() -> Result<()> {
    for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
        for (reduce, shuffled, bias) in
            [(Reduce::Mean, true, true), (Reduce::Sum, false, true), (Reduce::Mean, false, false)]
        {
            let mut rng = Lcg(7);
            let [source, target] = graph(&mut rng, 40, 32, 8, 150, shuffled);
            let varmap = VarMap::new();
            let net = MlpConfig { bias, ..MlpConfig::new(&[3, 7, 6, 16], Activation::Tanh) };
            let mut conv =
                NnConv::new(4, 4, &net, reduce, true, true, VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu))?;
            let x = Var::from_tensor(&rng.tensor(&[40, 4], dtype)?)?;
            let attr = Var::from_tensor(&rng.tensor(&[150, 3], dtype)?)?;
            let r = rng.tensor(&[40, 4], dtype)?;
            let mut runs = vec![];
            for mode in [NnConvMode::Direct, NnConvMode::Factorised] {
                conv.set_mode(mode);
                let terms = conv.edge_terms(attr.as_tensor(), 40, 2)?;
                assert_eq!(terms.is_factorised(), mode == NnConvMode::Factorised);
                let once = conv.forward_with(x.as_tensor(), &terms, &source, &target)?;
                let out = conv.forward_with(&once.tanh()?, &terms, &source, &target)?;
                let grads = out.mul(&r)?.sum_all()?.backward()?;
                let mut tensors = vec![out];
                let data = varmap.data().lock().unwrap();
                for var in [&x, &attr].into_iter().chain(data.values()) {
                    tensors.push(grads.get(var.as_tensor()).expect("every input has a gradient").clone());
                }
                runs.push(tensors);
            }
            for (k, (f, d)) in runs[1].iter().zip(&runs[0]).enumerate() {
                let err = relative_error(f, d)?;
                assert!(err <= tol, "{dtype:?} {reduce:?} tensor {k}: relative error {err:e}");
            }
        }
    }
    Ok(())
}

#[test]
fn auto_mode_factorises_dense_graphs_with_a_linear_last_layer() -> Result<()> {
    let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
    let net = MlpConfig::new(&[5, 128, 64 * 64], Activation::Relu);
    let mut conv = NnConv::new(64, 64, &net, Reduce::Mean, true, true, vb.clone())?;
    assert!(conv.factorises(39830, 2289, 1) && conv.factorises(39830, 2289, 3));
    assert!(!conv.factorises(2289, 2289, 3), "sparse graphs stay direct");
    conv.set_mode(NnConvMode::Direct);
    assert!(!conv.factorises(39830, 2289, 3));
    let activated = NnConv::new(64, 64, &MlpConfig { activate_last: true, ..net }, Reduce::Mean, true, true, vb)?;
    assert!(!activated.factorises(39830, 2289, 3));
    let mut forced = activated.clone();
    forced.set_mode(NnConvMode::Factorised);
    assert!(forced.edge_terms(&Tensor::zeros((3, 5), DType::F32, &Device::Cpu)?, 2, 1).is_err());
    Ok(())
}

/// `RAYON_NUM_THREADS=1 cargo test --release -p gnn-layers --test nnconv -- --ignored --nocapture`
#[test]
#[ignore]
fn time_direct_and_factorised_on_a_qm9_sized_batch() -> Result<()> {
    let (nodes, edges) = (2289, 39830);
    let mut rng = Lcg(3);
    let [source, target] = graph(&mut rng, nodes, 2286, 18, edges, false);
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let net = MlpConfig::new(&[5, 128, 64 * 64], Activation::Relu);
    let mut conv = NnConv::new(64, 64, &net, Reduce::Mean, true, true, vb)?;
    let x = Var::from_tensor(&rng.tensor(&[nodes, 64], DType::F32)?)?;
    let attr = rng.tensor(&[edges, 5], DType::F32)?;
    let median = |f: &dyn Fn() -> Result<()>| -> Result<f64> {
        let mut times = vec![];
        for _ in 0..5 {
            let start = std::time::Instant::now();
            f()?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        Ok(times[2])
    };
    for mode in [NnConvMode::Direct, NnConvMode::Factorised] {
        conv.set_mode(mode);
        let forward = median(&|| conv.forward(x.as_tensor(), &attr, &source, &target).map(|_| ()))?;
        let backward =
            median(&|| conv.forward(x.as_tensor(), &attr, &source, &target)?.sum_all()?.backward().map(|_| ()))?;
        let steps = median(&|| {
            let terms = conv.edge_terms(&attr, nodes, 3)?;
            let mut h = x.as_tensor().clone();
            for _ in 0..3 {
                h = conv.forward_with(&h, &terms, &source, &target)?.relu()?;
            }
            h.sum_all()?.backward().map(|_| ())
        })?;
        println!(
            "NNConv {mode:?} [E={edges}, N={nodes}]: forward {forward:.1} ms, forward+backward {backward:.1} ms, \
             3 tied steps forward+backward {steps:.1} ms"
        );
    }
    Ok(())
}
