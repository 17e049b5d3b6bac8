//! Parity of the o3 module with e3nn 0.6.0 (f64, ≤ 1e-10 relative), from
//! `tests/fixtures/e3nn/o3.safetensors` (written by `tests/reference/e3nn_o3.py`).

use candle_core::{Device, Tensor, Var};
use gnn_layers::o3::{spherical_harmonics, Irreps, Parity, SphNormalization};
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
