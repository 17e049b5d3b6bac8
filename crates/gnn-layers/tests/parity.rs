//! Parity with PyTorch / PyTorch Geometric / schnetpack: outputs and gradients with respect to
//! inputs and parameters, in f64 (≤ 1e-10) and f32 (≤ 1e-5), from `tests/fixtures/gnn_layers.safetensors`
//! (written by `tests/reference/gnn_layers.py`).

mod common;

use candle_core::{Module, Result, Tensor};
use common::{assert_close, fixtures, tolerance};
use gnn_layers::nn::{
    cosine_cutoff, polynomial_cutoff, Activation, BatchNorm, BesselBasis, Embedding, GaussianBasis, Gru, GruCell,
    InteractionBlock, LayerNorm, Lstm, LstmState, Mlp, MlpConfig, NnConv, NnConvMode, Set2Set, NORM_EPS,
};
use gnn_layers::ops::{self, Reduce};

#[test]
fn gather_and_scatter_match_torch_geometric() -> Result<()> {
    for f in fixtures() {
        let (source, target) = (f.source(), f.target());
        let case = f.case("gather");
        case.check(&[("", ops::gather(&case.input("x"), &source)?)])?;
        for reduce in [Reduce::Sum, Reduce::Mean, Reduce::Max, Reduce::Min] {
            let name = format!("scatter_{}", format!("{reduce:?}").to_lowercase());
            let case = f.case(&name);
            case.check(&[("", ops::scatter(&case.input("src"), &target, reduce)?)])?;
        }
        let case = f.case("graph_sum");
        case.check(&[("", ops::scatter_sum(&case.input("x"), &f.node_graph())?)])?;
    }
    Ok(())
}

#[test]
fn segment_softmax_matches_torch_geometric() -> Result<()> {
    for f in fixtures() {
        let case = f.case("softmax");
        case.check(&[("", ops::segment_softmax(&case.input("src"), &f.target(), ops::PYG_SOFTMAX_EPS)?)])?;
    }
    Ok(())
}

#[test]
fn fused_message_ops_match_torch() -> Result<()> {
    for f in fixtures() {
        let case = f.case("gather_mul_scatter");
        let out = ops::gather_mul_scatter(&case.input("x"), &case.input("w"), &f.source(), &f.target())?;
        case.check(&[("", out)])?;
        let case = f.case("row_matvec");
        case.check(&[("", ops::row_matvec(&case.input("x"), &case.input("w"), 3, 4)?)])?;
    }
    Ok(())
}

#[test]
fn linear_mlp_and_embedding_match_torch() -> Result<()> {
    for f in fixtures() {
        let case = f.case("linear");
        let lin = gnn_layers::nn::linear(5, 4, true, case.vb())?;
        case.check(&[("", lin.forward(&case.input("input"))?)])?;
        let case = f.case("mlp");
        let mlp = Mlp::new(&MlpConfig::new(&[5, 8, 3], Activation::Relu), case.vb())?;
        case.check(&[("", mlp.forward(&case.input("input"))?)])?;
        let case = f.case("embedding");
        let emb = Embedding::new(10, 4, Some(0), case.vb())?;
        case.check(&[("", emb.forward(&f.tensor("embedding.ids"))?)])?;
    }
    Ok(())
}

#[test]
fn recurrent_cells_match_torch() -> Result<()> {
    for f in fixtures() {
        let case = f.case("gru_cell");
        let cell = GruCell::new(5, 4, case.vb())?;
        case.check(&[("", cell.step(&case.input("input"), &case.input("hx"))?)])?;

        let case = f.case("gru");
        let gru = Gru::new(5, 4, 2, case.vb())?;
        let h = case.input("h");
        let out = gru.step(&case.input("x"), &[h.get(0)?, h.get(1)?])?;
        case.check(&[("l0", out[0].clone()), ("l1", out[1].clone())])?;

        let case = f.case("lstm");
        let lstm = Lstm::new(5, 4, 2, case.vb())?;
        let (h, c) = (case.input("h"), case.input("c"));
        let state: Vec<LstmState> = (0..2).map(|k| LstmState { h: h.get(k).unwrap(), c: c.get(k).unwrap() }).collect();
        let out = lstm.step(&case.input("x"), &state)?;
        case.check(&[
            ("h0", out[0].h.clone()),
            ("h1", out[1].h.clone()),
            ("c0", out[0].c.clone()),
            ("c1", out[1].c.clone()),
        ])?;
    }
    Ok(())
}

#[test]
fn set2set_matches_torch_geometric_with_an_empty_graph() -> Result<()> {
    for f in fixtures() {
        for (name, channels, steps, layers) in [("set2set", 5, 3, 1), ("set2set_2layers", 3, 2, 2)] {
            let case = f.case(name);
            let s2s = Set2Set::new(channels, steps, layers, case.vb())?;
            case.check(&[("", s2s.forward(&case.input("x"), &f.node_graph())?)])?;
        }
    }
    Ok(())
}

#[test]
fn nnconv_matches_torch_geometric() -> Result<()> {
    for f in fixtures() {
        for (name, reduce) in [("nnconv_mean", Reduce::Mean), ("nnconv_add", Reduce::Sum)] {
            let case = f.case(name);
            let net = MlpConfig::new(&[2, 8, 12], Activation::Relu);
            let mut conv = NnConv::new(3, 4, &net, reduce, true, true, case.vb())?;
            for mode in [NnConvMode::Auto, NnConvMode::Direct, NnConvMode::Factorised] {
                conv.set_mode(mode);
                let out = conv.forward(&case.input("x"), &case.input("edge_attr"), &f.source(), &f.target())?;
                case.check(&[("", out)])?;
            }
        }
    }
    Ok(())
}

#[test]
fn schnet_blocks_match_torch_geometric() -> Result<()> {
    for f in fixtures() {
        let case = f.case("gaussian_smearing");
        let smearing = GaussianBasis::pyg(0.0, 4.0, 5, case.vb())?;
        case.check(&[("", smearing.forward(&case.input("dist"))?)])?;

        let case = f.case("interaction");
        let block = InteractionBlock::new(6, 5, 7, 4.0, Activation::ShiftedSoftplusPyg, case.vb())?;
        let out = block.forward(
            &case.input("h"),
            &case.input("edge_attr"),
            &case.input("edge_weight"),
            &f.source(),
            &f.target(),
        )?;
        case.check(&[("", out)])?;
    }
    Ok(())
}

#[test]
fn norms_match_torch() -> Result<()> {
    for f in fixtures() {
        let case = f.case("layer_norm");
        let ln = LayerNorm::new(5, NORM_EPS, case.vb())?;
        case.check(&[("", ln.forward(&case.input("input"))?)])?;

        let case = f.case("batch_norm");
        let bn = BatchNorm::new(5, NORM_EPS, 0.1, case.vb())?;
        let x = case.input("input");
        case.check(&[("", bn.forward(&x)?)])?;
        let tol = tolerance(f.dtype);
        let (mean, var) = bn.running_stats();
        assert_close("running_mean", mean, &f.tensor("batch_norm.running_mean"), tol);
        assert_close("running_var", var, &f.tensor("batch_norm.running_var"), tol);
        bn.set_training(false);
        assert_close("eval", &bn.forward(&x)?, &f.tensor("batch_norm.eval_out"), tol);
    }
    Ok(())
}

#[test]
fn activations_and_cutoffs_match_torch() -> Result<()> {
    for f in fixtures() {
        for (name, act) in [
            ("ssp_pyg", Activation::ShiftedSoftplusPyg),
            ("softplus", Activation::Softplus),
            ("silu", Activation::Silu),
        ] {
            let case = f.case(name);
            let input = if name == "ssp_pyg" { "x" } else { "input" };
            case.check(&[("", act.apply(&case.input(input))?)])?;
        }
        let case = f.case("polynomial_cutoff");
        case.check(&[("", polynomial_cutoff(&case.input("d"), 4.0, 6)?)])?;
    }
    Ok(())
}

#[test]
fn schnetpack_radial_bases_and_cutoff_match() -> Result<()> {
    for f in fixtures() {
        let case = f.case("spk_gaussian_rbf");
        let rbf = GaussianBasis::schnetpack(6, 5.0, 0.0, case.vb())?;
        case.check(&[("", rbf.forward(&case.input("inputs"))?)])?;
        let case = f.case("spk_bessel_rbf");
        let bessel = BesselBasis::new(6, 5.0, case.vb())?;
        case.check(&[("", bessel.forward(&case.input("inputs"))?)])?;
        let case = f.case("spk_cosine_cutoff");
        case.check(&[("", cosine_cutoff(&case.input("input"), 3.0, true)?)])?;
    }
    Ok(())
}

/// Bases computed from their constructor arguments equal the buffers PyTorch stores.
#[test]
fn radial_buffers_are_recomputed_exactly() -> Result<()> {
    let f = &fixtures()[0];
    let d = f.case("gaussian_smearing").input("dist");
    let empty = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&empty, f.dtype, &candle_core::Device::Cpu);
    let ours = GaussianBasis::pyg(0.0, 4.0, 5, vb.clone())?.forward(&d)?;
    assert_close("computed smearing", &ours, &f.tensor("gaussian_smearing.out"), 1e-12);
    let d = f.case("spk_gaussian_rbf").input("inputs");
    let ours = GaussianBasis::schnetpack(6, 5.0, 0.0, vb.clone())?.forward(&d)?;
    assert_close("computed rbf", &ours, &f.tensor("spk_gaussian_rbf.out"), 1e-12);
    // schnetpack computes `freqs` in float32 (`torch.arange(1, n + 1) * pi / cutoff`) even for a
    // float64 model; ours are exact, so the two agree to f32 precision only.
    let d: Tensor = f.case("spk_bessel_rbf").input("inputs");
    let ours = BesselBasis::new(6, 5.0, vb)?.forward(&d)?;
    assert_close("computed bessel", &ours, &f.tensor("spk_bessel_rbf.out"), 1e-7);
    Ok(())
}

/// Fresh parameters follow PyTorch's default initialisation: `U(±1/√fan_in)` for Linear and the
/// recurrent cells, `N(0, 1)` with a zero padding row for Embedding, ones/zeros for norms.
#[test]
fn fresh_parameters_follow_pytorch_initialisation() -> Result<()> {
    use candle_core::{DType, Device};
    let varmap = candle_nn::VarMap::new();
    let vb = candle_nn::VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
    let in_bounds = |t: &Tensor, bound: f64| {
        let v = t.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let max = v.iter().fold(0f64, |m, x| m.max(x.abs()));
        // Inside the bound, and spread over it (not constant).
        assert!(max <= bound && max > 0.5 * bound, "max |value| {max} for bound {bound}");
    };
    let lin = gnn_layers::nn::linear(400, 30, true, vb.pp("lin"))?;
    in_bounds(lin.weight(), 1.0 / 20.0);
    in_bounds(lin.bias().unwrap(), 1.0 / 20.0);
    GruCell::new(7, 25, vb.pp("gru"))?;
    let data = varmap.data().lock().unwrap().clone();
    for name in ["gru.weight_ih", "gru.weight_hh", "gru.bias_ih", "gru.bias_hh"] {
        in_bounds(data[name].as_tensor(), 1.0 / 5.0);
    }
    let emb = Embedding::new(100, 64, Some(0), vb.pp("emb"))?;
    let rows = emb.weight().to_vec2::<f64>()?;
    assert!(rows[0].iter().all(|&x| x == 0.0), "padding row starts at zero");
    let rest: Vec<f64> = rows[1..].iter().flatten().copied().collect();
    let mean = rest.iter().sum::<f64>() / rest.len() as f64;
    let var = rest.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / rest.len() as f64;
    assert!(mean.abs() < 0.05 && (var - 1.0).abs() < 0.1, "N(0,1): mean {mean}, variance {var}");
    let ln = LayerNorm::new(4, NORM_EPS, vb.pp("ln"))?;
    let x = Tensor::new(&[[1.0f64, 2.0, 3.0, 6.0]], &Device::Cpu)?;
    let y = ln.forward(&x)?.to_vec2::<f64>()?;
    assert!(y[0].iter().sum::<f64>().abs() < 1e-12, "unit scale, zero shift: output is centred");
    Ok(())
}
