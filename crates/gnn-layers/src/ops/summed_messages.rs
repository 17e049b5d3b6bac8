//! `Σ_{target[e] = i} MLP(e)` for a GN edge MLP whose first layer is split into an edge part and
//! node terms, computed by one fused kernel without materialising the messages (see the kernel's
//! docs: `kernels/summed_messages.rs`); other devices and activations compose the same computation.

use candle_core::{DType, Error, Result, Tensor};
use candle_nn::{Linear, Module};

use crate::kernels::bias_activation::Kind;
use crate::kernels::summed_messages::{FusedMlp, SummedMessages};
use crate::nn::Activation;
use crate::ops::{dense, gather, scatter_sum, SegmentIndex};

/// A GN edge MLP whose first layer is split into an edge part (here) and node parts (given to
/// [`summed_mlp_messages`] as `terms`).
#[derive(Clone, Copy, Debug)]
pub struct SplitMlp<'a> {
    /// The first layer's columns for the edge features, `[W, F]`.
    pub edge_weight: &'a Tensor,
    /// The first layer's bias, `[W]`.
    pub bias: Option<&'a Tensor>,
    /// The later layers.
    pub later: &'a [Linear],
    /// The activation after every layer but the last.
    pub activation: Activation,
    /// Whether the activation also follows the last layer.
    pub activate_last: bool,
}

/// `Σ_{target[e] = i} MLP(x[e], terms[target[e], ..W], terms[source[e], W..])` (module docs) for edge
/// features `x` (`[E, F]`) and node terms (`[N, 2W]`); the result has `target.num_segments()` rows.
///
/// Differentiable once in `x`, `terms` and the MLP's parameters. Non-CPU devices, dtypes other
/// than f32/f64 and activations without a fused kernel (tanh) run the same computation with
/// materialised messages.
pub fn summed_mlp_messages(
    x: &Tensor,
    terms: &Tensor,
    mlp: &SplitMlp,
    source: &SegmentIndex,
    target: &SegmentIndex,
) -> Result<Tensor> {
    let (edges, features) = x.dims2()?;
    let (width, weight_features) = mlp.edge_weight.dims2()?;
    let (nodes, two_widths) = terms.dims2()?;
    if weight_features != features || two_widths != 2 * width || edges != source.len() || edges != target.len() {
        return Err(Error::Msg(format!(
            "summed_mlp_messages: edge features {:?}, first-layer edge weight {:?} and node terms {:?} do not \
             fit {} edges (terms need twice the layer's width)",
            x.dims(),
            mlp.edge_weight.dims(),
            terms.dims(),
            source.len()
        )));
    }
    if source.num_segments() != nodes || target.num_segments() != nodes {
        return Err(Error::Msg(format!("summed_mlp_messages: the indices do not address the {nodes} node rows")));
    }
    let mut layers: Vec<(&Tensor, Option<&Tensor>)> = vec![(mlp.edge_weight, mlp.bias)];
    layers.extend(mlp.later.iter().map(|l| (l.weight(), l.bias())));
    let mut shapes = Vec::with_capacity(layers.len());
    let mut inputs = features;
    for (k, (weight, bias)) in layers.iter().enumerate() {
        let (outputs, layer_inputs) = weight.dims2()?;
        if layer_inputs != inputs || bias.is_some_and(|b| b.dims() != [outputs]) {
            return Err(Error::Msg(format!(
                "summed_mlp_messages: layer {k} has weight {:?} and bias {:?} but receives {inputs} features",
                weight.dims(),
                bias.map(|b| b.dims().to_vec())
            )));
        }
        shapes.push((outputs, inputs));
        inputs = outputs;
    }
    let last = layers.len() - 1;
    let activation_of = |k: usize| if k < last || mlp.activate_last { mlp.activation } else { Activation::Identity };
    let kinds: Option<Vec<Kind>> = (0..layers.len()).map(|k| Kind::of(activation_of(k))).collect();
    let fused = x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64);
    let Some(kinds) = kinds.filter(|_| fused) else {
        let z = dense(x, mlp.edge_weight, mlp.bias)?
            .add(&gather(&terms.narrow(1, 0, width)?, target)?)?
            .add(&gather(&terms.narrow(1, width, width)?, source)?)?;
        let mut h = activation_of(0).apply(&z)?;
        for (k, layer) in mlp.later.iter().enumerate() {
            h = activation_of(k + 1).apply(&layer.forward(&h)?)?;
        }
        return scatter_sum(&h, target);
    };
    let mut flat = Vec::with_capacity(2 * layers.len());
    for (weight, bias) in layers {
        flat.push(weight.flatten_all()?);
        flat.push(match bias {
            Some(b) => b.clone(),
            None => Tensor::zeros(weight.dim(0)?, x.dtype(), x.device())?,
        });
    }
    let params = Tensor::cat(&flat, 0)?;
    let mlp = FusedMlp { kinds, shapes, source: source.clone(), target: target.clone() };
    x.contiguous()?.apply_op3(&terms.contiguous()?, &params, SummedMessages { mlp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{max_abs_diff, tensor};
    use candle_core::{Device, Var};

    /// 300 edges on 40 nodes with an unsorted target (so blocks hold rows out of order, and some
    /// segments are large), plus two empty segments.
    fn graph() -> (SegmentIndex, SegmentIndex) {
        let edges = 300u32;
        let target: Vec<u32> = (0..edges).map(|e| if e % 7 == 0 { 5 } else { (e * 13 + e / 3) % 38 }).collect();
        let source: Vec<u32> = (0..edges).map(|e| (e * 17 + 3) % 40).collect();
        let dev = Device::Cpu;
        (SegmentIndex::new(source, 40, &dev).unwrap(), SegmentIndex::new(target, 40, &dev).unwrap())
    }

    /// Linear layers of the given widths with variable parameters, in `dtype`.
    fn layers(widths: &[usize], seed: u64, dtype: DType) -> Vec<Linear> {
        let var = |shape: &[usize], seed: u64| {
            Var::from_tensor(&tensor(shape, seed).to_dtype(dtype).unwrap()).unwrap().as_tensor().clone()
        };
        widths
            .windows(2)
            .enumerate()
            .map(|(k, w)| {
                Linear::new(var(&[w[1], w[0]], seed + 2 * k as u64), Some(var(&[w[1]], seed + 2 * k as u64 + 1)))
            })
            .collect()
    }

    fn split(layers: &[Linear], activate_last: bool) -> SplitMlp<'_> {
        SplitMlp {
            edge_weight: layers[0].weight(),
            bias: layers[0].bias(),
            later: &layers[1..],
            activation: Activation::Silu,
            activate_last,
        }
    }

    /// The same computation with materialised messages, from Candle ops and this crate's gathers.
    fn reference(x: &Tensor, terms: &Tensor, mlp: &SplitMlp, source: &SegmentIndex, target: &SegmentIndex) -> Tensor {
        let width = mlp.edge_weight.dim(0).unwrap();
        let z = x
            .matmul(&mlp.edge_weight.t().unwrap())
            .unwrap()
            .broadcast_add(mlp.bias.unwrap())
            .unwrap()
            .add(&gather(&terms.narrow(1, 0, width).unwrap(), target).unwrap())
            .unwrap()
            .add(&gather(&terms.narrow(1, width, width).unwrap(), source).unwrap())
            .unwrap();
        let mut h = Activation::Silu.apply_unfused(&z).unwrap();
        for (k, layer) in mlp.later.iter().enumerate() {
            h = h.matmul(&layer.weight().t().unwrap()).unwrap().broadcast_add(layer.bias().unwrap()).unwrap();
            if k + 1 < mlp.later.len() || mlp.activate_last {
                h = Activation::Silu.apply_unfused(&h).unwrap();
            }
        }
        scatter_sum(&h, target).unwrap()
    }

    #[test]
    fn fused_messages_and_gradients_equal_the_materialised_ones() {
        let (source, target) = graph();
        for (widths, activate_last) in [(vec![3, 6], true), (vec![3, 6, 5, 4], true), (vec![3, 6, 8, 3], false)] {
            let x = Var::from_tensor(&tensor(&[300, 3], 1)).unwrap();
            let terms = Var::from_tensor(&tensor(&[40, 12], 2)).unwrap();
            let layers = layers(&widths, 10, DType::F64);
            let mlp = split(&layers, activate_last);
            let weights = tensor(&[40, *widths.last().unwrap()], 3);
            let fused = summed_mlp_messages(&x, &terms, &mlp, &source, &target).unwrap();
            let expected = reference(&x, &terms, &mlp, &source, &target);
            let diff = max_abs_diff(&fused, &expected);
            assert!(diff < 1e-13, "{widths:?}: forward differs by {diff}");
            let grads = fused.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
            let expected_grads = expected.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
            let mut checked: Vec<&Tensor> = vec![x.as_tensor(), terms.as_tensor()];
            for layer in &layers {
                checked.push(layer.weight());
                checked.extend(layer.bias());
            }
            for (k, t) in checked.into_iter().enumerate() {
                let diff = max_abs_diff(grads.get(t).unwrap(), expected_grads.get(t).unwrap());
                assert!(diff < 1e-12, "{widths:?}: gradient {k} differs by {diff}");
            }
        }
    }

    #[test]
    fn constant_edge_features_get_no_gradient_and_results_do_not_depend_on_the_thread_count() {
        let (source, target) = graph();
        let x = tensor(&[300, 3], 1).to_dtype(DType::F32).unwrap();
        let terms = Var::from_tensor(&tensor(&[40, 12], 2).to_dtype(DType::F32).unwrap()).unwrap();
        let layers = layers(&[3, 6, 7, 5], 10, DType::F32);
        let mlp = split(&layers, true);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let out = summed_mlp_messages(&x, &terms, &mlp, &source, &target).unwrap();
                let grads = out.sum_all().unwrap().backward().unwrap();
                assert!(grads.get(&x).is_none());
                let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                (flat(&out), flat(grads.get(layers[1].weight()).unwrap()), flat(grads.get(terms.as_tensor()).unwrap()))
            })
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    fn a_second_derivative_is_an_error_and_bad_shapes_are_reported() {
        let (source, target) = graph();
        let x = Var::from_tensor(&tensor(&[300, 3], 1)).unwrap();
        let terms = tensor(&[40, 12], 2);
        let layers = layers(&[3, 6, 4], 10, DType::F64);
        let mlp = split(&layers, true);
        let out = summed_mlp_messages(&x, &terms, &mlp, &source, &target).unwrap();
        let grad = out.sum_all().unwrap().backward().unwrap();
        let x_grad = grad.get(x.as_tensor()).unwrap();
        assert!(x_grad.sum_all().unwrap().backward().is_err());
        let wrong = tensor(&[40, 10], 2);
        let err = summed_mlp_messages(&x, &wrong, &mlp, &source, &target).unwrap_err();
        assert!(err.to_string().contains("node terms [40, 10]"), "{err}");
    }
}
