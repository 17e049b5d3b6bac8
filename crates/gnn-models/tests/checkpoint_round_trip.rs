//! Property test: any checkpoint written by `Checkpoint::save` reads back identical — the
//! configuration field for field (floats to the bit) and every tensor's name, dtype, shape and bits.
//! (It found serde_json's default float parsing one ulp off, e.g. for `-6.463640280349365e-159`:
//! the workspace now enables serde_json's `float_roundtrip`.)

use std::collections::BTreeMap;

use gnn_layers::candle::{DType, Device, Tensor};
use gnn_models::checkpoint::{CheckpointConfig, ModelConfig, Provenance, Target, FORMAT_VERSION};
use gnn_models::{Checkpoint, SchNetConfig, StateDict};
use proptest::prelude::*;

/// Any finite f64, the awkward ones (signed zero, subnormals, extremes) included.
fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 3.0),
        Just(f64::MAX),
        Just(0.1 + 0.2),
    ]
}

fn config() -> impl Strategy<Value = CheckpointConfig> {
    (finite(), proptest::option::of(finite()), proptest::option::of(finite()), 1usize..300, ".*", ".*", ".*").prop_map(
        |(cutoff, mean, std, hidden, name, unit, weights)| CheckpointConfig {
            format_version: FORMAT_VERSION,
            model: ModelConfig::Schnet(SchNetConfig {
                cutoff,
                mean,
                std,
                hidden_channels: hidden,
                ..Default::default()
            }),
            targets: vec![Target { name, unit }],
            provenance: Provenance {
                source: "pyg".into(),
                weights: Some(weights),
                arguments: Some(serde_json::json!({"cutoff": cutoff, "nested": [mean, std]})),
                chemgnn_version: "0.1.0".into(),
            },
            symmetrized: mean.map(f64::abs),
        },
    )
}

/// A tensor of f32, f64 or i64 with up to three dimensions (empty ones included), any bits.
fn tensor() -> impl Strategy<Value = Tensor> {
    (prop::collection::vec(0usize..4, 0..=3), 0u8..3).prop_flat_map(|(shape, kind)| {
        let n: usize = shape.iter().product();
        prop::collection::vec(any::<u64>(), n).prop_map(move |bits| {
            let cpu = &Device::Cpu;
            match kind {
                0 => Tensor::from_vec(
                    bits.iter().map(|&b| f32::from_bits(b as u32)).collect::<Vec<_>>(),
                    shape.clone(),
                    cpu,
                ),
                1 => Tensor::from_vec(bits.iter().map(|&b| f64::from_bits(b)).collect::<Vec<_>>(), shape.clone(), cpu),
                _ => Tensor::from_vec(bits.iter().map(|&b| b as i64).collect::<Vec<_>>(), shape.clone(), cpu),
            }
            .unwrap()
        })
    })
}

/// The tensor's raw bits, so that NaN payloads and signed zeros compare exactly.
fn bits(t: &Tensor) -> Vec<u64> {
    let flat = t.flatten_all().unwrap();
    match t.dtype() {
        DType::F32 => flat.to_vec1::<f32>().unwrap().iter().map(|x| x.to_bits() as u64).collect(),
        DType::F64 => flat.to_vec1::<f64>().unwrap().iter().map(|x| x.to_bits()).collect(),
        _ => flat.to_vec1::<i64>().unwrap().iter().map(|&x| x as u64).collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn checkpoints_read_back_exactly(
        config in config(),
        tensors in prop::collection::btree_map("[a-z][a-z0-9_.]{0,15}", tensor(), 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let checkpoint = Checkpoint { config, weights: StateDict::new("generated", tensors.clone()) };
        checkpoint.save(dir.path()).unwrap();
        let read = Checkpoint::read(dir.path()).unwrap();
        prop_assert_eq!(&read.config, &checkpoint.config);
        let read: &BTreeMap<String, Tensor> = &read.weights.tensors;
        prop_assert_eq!(read.keys().collect::<Vec<_>>(), tensors.keys().collect::<Vec<_>>());
        for (name, t) in &tensors {
            let r = &read[name];
            prop_assert_eq!((r.dtype(), r.dims()), (t.dtype(), t.dims()), "{}", name);
            prop_assert_eq!(bits(r), bits(t), "{}", name);
        }
    }
}
