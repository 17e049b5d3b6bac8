//! Parity of the o3 module with e3nn 0.6.0 (f64, ≤ 1e-10 relative), from the fixtures in
//! `tests/fixtures/e3nn/` (written by `tests/reference/e3nn_o3.py`, `e3nn_tensor_products.py` and
//! `e3nn_nn.py`).

use candle_core::{DType, Device, Tensor, Var};
use gnn_layers::nn::Activation;
use gnn_layers::o3::{
    smooth_cutoff, soft_one_hot_linspace, soft_unit_step, spherical_harmonics, wigner_3j_tensor, wigner_d,
    FullyConnectedNet, Gate, GateConfig, Irreps, Linear, LinearConfig, Parity, PathNormalization, SoftOneHotBasis,
    SphNormalization, TensorProduct, TensorProductConfig,
};
use std::collections::HashMap;

fn fixture() -> HashMap<String, Tensor> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/e3nn/o3.safetensors");
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()
}

fn assert_close(name: &str, ours: &Tensor, theirs: &Tensor) {
    let scale = theirs.abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap().max(1e-300);
    let diff = ours.sub(theirs).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
    assert!(diff <= 1e-10 * scale, "{name}: differs from e3nn by {diff} (scale {scale})");
}

#[test]
fn spherical_harmonics_and_their_gradients_match_e3nn_up_to_degree_8() {
    let f = fixture();
    let irreps = Irreps::spherical_harmonics(8, Parity::Odd);
    for normalize in [true, false] {
        for (name, normalization) in [
            ("component", SphNormalization::Component),
            ("norm", SphNormalization::Norm),
            ("integral", SphNormalization::Integral),
        ] {
            let key = format!("sh.{}.{name}", if normalize { "normalized" } else { "raw" });
            let x = Var::from_tensor(&f["sh.x"]).unwrap();
            let y = spherical_harmonics(&irreps, x.as_tensor(), normalize, normalization).unwrap();
            assert_close(&format!("{key}.y"), &y, &f[&format!("{key}.y")]);
            let grads = y.mul(&f["sh.grad_weights"]).unwrap().sum_all().unwrap().backward().unwrap();
            assert_close(&format!("{key}.grad"), grads.get(x.as_tensor()).unwrap(), &f[&format!("{key}.grad")]);
        }
    }
}

#[test]
fn wigner_3j_tensors_match_e3nn_signs_included() {
    let f = fixture();
    let mut checked = 0;
    for (name, theirs) in &f {
        let Some(triple) = name.strip_prefix("w3j.") else { continue };
        let l: Vec<u32> = triple.split('.').map(|v| v.parse().unwrap()).collect();
        let ours = wigner_3j_tensor(l[0], l[1], l[2], DType::F64, &Device::Cpu).unwrap();
        assert_close(name, &ours, theirs);
        checked += 1;
    }
    assert_eq!(checked, 69);
}

#[test]
fn harmonics_rotate_with_wigner_d() {
    let (s, c) = 0.7f64.sin_cos();
    // A rotation about an oblique axis: about x, then about y.
    let rx = [[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]];
    let ry = [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]];
    let r: [[f64; 3]; 3] = std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| ry[i][k] * rx[k][j]).sum()));
    let v = [0.3, -0.5, 0.8];
    let rv: [f64; 3] = std::array::from_fn(|i| (0..3).map(|j| r[i][j] * v[j]).sum());
    let y = |v: [f64; 3]| {
        let irreps = Irreps::spherical_harmonics(8, Parity::Odd);
        let t = Tensor::new(&[v], &Device::Cpu).unwrap();
        spherical_harmonics(&irreps, &t, true, SphNormalization::Component)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    let (yv, yrv) = (y(v), y(rv));
    for l in 0..=8usize {
        let n = 2 * l + 1;
        let d = wigner_d(l as u32, r);
        for i in 0..n {
            let rotated: f64 = (0..n).map(|j| d[i * n + j] * yv[l * l + j]).sum();
            assert!((rotated - yrv[l * l + i]).abs() < 1e-9, "l = {l}, m index {i}");
        }
    }
}

#[test]
fn tensor_products_match_e3nn_in_every_mode_and_normalisation() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/e3nn/");
    let f = candle_core::safetensors::load(format!("{dir}tensor_products.safetensors"), &Device::Cpu).unwrap();
    let configs: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}tensor_products.json")).unwrap()).unwrap();
    assert_eq!(configs.len(), 5);
    for (name, config) in &configs {
        let irreps = |k: &str| config[k].as_str().unwrap().parse::<Irreps>().unwrap();
        let (config, layouts) = if config.get("fully_connected").is_some() {
            let c =
                TensorProductConfig::fully_connected(irreps("irreps_in1"), irreps("irreps_in2"), irreps("irreps_out"));
            (c, vec!["shared", "batch"])
        } else if config.get("elementwise").is_some() {
            (
                TensorProductConfig::elementwise(&irreps("irreps_in1"), &irreps("irreps_in2"), None).unwrap(),
                vec!["shared"],
            )
        } else if config.get("full").is_some() {
            (TensorProductConfig::full(&irreps("irreps_in1"), &irreps("irreps_in2"), None), vec!["shared"])
        } else {
            (serde_json::from_value(config.clone()).unwrap(), vec!["shared", "batch"])
        };
        let tp = TensorProduct::new(config).unwrap();
        for layout in layouts {
            let key = |t: &str| format!("{name}.{layout}.{t}");
            let (x1, x2, w) = (
                Var::from_tensor(&f[&key("x1")]).unwrap(),
                Var::from_tensor(&f[&key("x2")]).unwrap(),
                Var::from_tensor(&f[&key("w")]).unwrap(),
            );
            assert_eq!(tp.weight_numel(), *w.dims().last().unwrap(), "{name}");
            let out = tp.forward(x1.as_tensor(), x2.as_tensor(), w.as_tensor()).unwrap();
            assert_close(&key("out"), &out, &f[&key("out")]);
            let grads = out.mul(&f[&key("loss_weights")]).unwrap().sum_all().unwrap().backward().unwrap();
            for (t, v) in [("grad_x1", &x1), ("grad_x2", &x2), ("grad_w", &w)] {
                if t == "grad_w" && tp.weight_numel() == 0 {
                    continue;
                }
                assert_close(&key(t), grads.get(v.as_tensor()).unwrap(), &f[&key(t)]);
            }
        }
    }
}

fn nn_fixture() -> HashMap<String, Tensor> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/e3nn/nn.safetensors");
    candle_core::safetensors::load(path, &Device::Cpu).unwrap()
}

/// Checks `y = f(x)` and the gradient of `Σ loss_weights ⊙ y` against the fixture's `key`.
fn check(f: &HashMap<String, Tensor>, key: &str, x: &Tensor, run: impl Fn(&Tensor) -> Tensor) {
    let x = Var::from_tensor(x).unwrap();
    let y = run(x.as_tensor());
    assert_close(&format!("{key}.y"), &y, &f[&format!("{key}.y")]);
    let grads = y.mul(&f[&format!("{key}.loss_weights")]).unwrap().sum_all().unwrap().backward().unwrap();
    assert_close(&format!("{key}.grad0"), grads.get(x.as_tensor()).unwrap(), &f[&format!("{key}.grad0")]);
}

#[test]
fn radial_embeddings_and_cutoffs_match_e3nn() {
    let f = nn_fixture();
    for (name, basis) in [
        ("gaussian", SoftOneHotBasis::Gaussian),
        ("cosine", SoftOneHotBasis::Cosine),
        ("smooth_finite", SoftOneHotBasis::SmoothFinite),
        ("fourier", SoftOneHotBasis::Fourier),
        ("bessel", SoftOneHotBasis::Bessel),
    ] {
        for cutoff in [false, true] {
            let key = format!("soft.{name}.{}", if cutoff { "True" } else { "False" });
            check(&f, &key, &f["soft.x"], |x| soft_one_hot_linspace(x, 0.5, 4.0, 7, basis, cutoff).unwrap());
        }
    }
    check(&f, "soft_unit_step", &f["soft.x"], |x| soft_unit_step(&x.affine(1.0, -1.0).unwrap()).unwrap());
    check(&f, "cutoff", &f["cutoff.x"], |x| smooth_cutoff(x).unwrap());
}

#[test]
fn fully_connected_net_and_gate_match_e3nn() {
    let f = nn_fixture();
    let vb = candle_nn::VarBuilder::from_tensors(f.clone(), DType::F64, &Device::Cpu);
    let fc = FullyConnectedNet::new(&[4, 8, 6, 3], Some(Activation::Silu), vb.pp("fc")).unwrap();
    check(&f, "fc", &f["fc.x"], |x| fc.forward(x).unwrap());
    let irreps = |s: &str| s.parse::<Irreps>().unwrap();
    let gate = Gate::new(GateConfig {
        irreps_scalars: irreps("4x0e+2x0o"),
        act_scalars: vec![Activation::Silu, Activation::Tanh],
        irreps_gates: irreps("2x0e+1x0o"),
        act_gates: vec![Activation::Sigmoid, Activation::Tanh],
        irreps_gated: irreps("2x1o+1x2e"),
    })
    .unwrap();
    assert_eq!(gate.irreps_in().to_string(), "3x0o+6x0e+2x1o+1x2e");
    assert_eq!(gate.irreps_out().to_string(), "4x0e+2x0o+2x1o+1x2o");
    check(&f, "gate", &f["gate.x"], |x| gate.forward(x).unwrap());
}

#[test]
fn o3_linear_maps_match_e3nn_with_biases_and_both_normalisations() {
    let f = nn_fixture();
    let vb = candle_nn::VarBuilder::from_tensors(f.clone(), DType::F64, &Device::Cpu);
    let irreps = |s: &str| s.parse::<Irreps>().unwrap();
    let linear = Linear::new(
        LinearConfig {
            irreps_in: irreps("3x0e+2x1o+1x0e+1x2e"),
            irreps_out: irreps("2x0e+1x1o+2x0e+1x1e"),
            instructions: None,
            biases: true,
            path_normalization: PathNormalization::Element,
        },
        vb.pp("linear"),
    )
    .unwrap();
    check(&f, "linear", &f["linear.x"], |x| linear.forward(x).unwrap());
    let path = Linear::new(
        LinearConfig {
            irreps_in: irreps("3x0e+2x1o+1x0e"),
            irreps_out: irreps("2x0e+1x1o"),
            instructions: None,
            biases: false,
            path_normalization: PathNormalization::Path,
        },
        vb.pp("linear_path"),
    )
    .unwrap();
    check(&f, "linear_path", &f["linear_path.x"], |x| path.forward(x).unwrap());
}
