//! Reproducible initial weights: every parameter is drawn from its layer's PyTorch-style
//! initialiser with a random stream fixed by `(seed, parameter name)`, so the same seed gives the
//! same model whatever the build order, thread count or device.

use crate::checkpoint::state_dict::StateDict;
use crate::checkpoint::ModelConfig;
use crate::error::{Error, Result};
use crate::models::Network;
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::init::NormalOrUniform;
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A fresh model for `config`, initialised reproducibly from `seed`, as f32 tensors on the CPU.
pub fn initial_weights(config: &ModelConfig, seed: u64) -> Result<StateDict> {
    let drawn = Arc::new(Mutex::new(BTreeMap::new()));
    let backend = SeededInit { seed, drawn: drawn.clone() };
    Network::new(config, VarBuilder::from_backend(Box::new(backend), DType::F32, Device::Cpu))?;
    let tensors = std::mem::take(&mut *drawn.lock().map_err(|_| Error::Input("initialiser lock poisoned".into()))?);
    Ok(StateDict::new(format!("fresh {} model (seed {seed})", config.kind()), tensors))
}

/// A `VarBuilder` backend that draws each requested tensor once from a stream seeded by the name.
struct SeededInit {
    seed: u64,
    drawn: Arc<Mutex<BTreeMap<String, Tensor>>>,
}

impl SeededInit {
    fn draw(&self, shape: &Shape, name: &str, init: Init) -> candle_core::Result<Tensor> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ fnv1a(name));
        let n = shape.elem_count();
        let values: Vec<f32> = match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Randn { mean, stdev } => sample(&mut rng, n, normal(mean, stdev)?),
            Init::Uniform { lo, up } => sample(&mut rng, n, uniform(lo, up)?),
            Init::Kaiming { dist, fan, non_linearity } => {
                let std = non_linearity.gain() / (fan.for_shape(shape) as f64).sqrt();
                match dist {
                    NormalOrUniform::Normal => sample(&mut rng, n, normal(0.0, std)?),
                    NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        sample(&mut rng, n, uniform(-bound, bound)?)
                    }
                }
            }
        };
        Tensor::from_vec(values, shape, &Device::Cpu)
    }
}

impl SimpleBackend for SeededInit {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let mut drawn = self.drawn.lock().map_err(|_| candle_core::Error::Msg("initialiser lock poisoned".into()))?;
        let tensor = match drawn.get(name) {
            Some(t) if t.shape() == &s => t.clone(),
            Some(t) => candle_core::bail!("parameter {name} requested as {s:?} and as {:?}", t.shape()),
            None => {
                let t = self.draw(&s, name, h)?;
                drawn.insert(name.to_string(), t.clone());
                t
            }
        };
        tensor.to_dtype(dtype)?.to_device(dev)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("a fresh model has no tensor {name} to load")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        false
    }
}

fn sample<D: Distribution<f64>>(rng: &mut impl Rng, n: usize, d: D) -> Vec<f32> {
    (0..n).map(|_| d.sample(rng) as f32).collect()
}

fn normal(mean: f64, std: f64) -> candle_core::Result<Normal<f64>> {
    Normal::new(mean, std).map_err(|e| candle_core::Error::Msg(format!("initialiser N({mean}, {std}): {e}")))
}

fn uniform(lo: f64, up: f64) -> candle_core::Result<Uniform<f64>> {
    Uniform::new(lo, up).map_err(|e| candle_core::Error::Msg(format!("initialiser U({lo}, {up}): {e}")))
}

/// 64-bit FNV-1a hash: a stable stream identifier per parameter name.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SchNetConfig;

    fn small() -> ModelConfig {
        ModelConfig::Schnet(SchNetConfig {
            hidden_channels: 8,
            num_filters: 8,
            num_interactions: 2,
            num_gaussians: 5,
            ..Default::default()
        })
    }

    #[test]
    fn same_seed_same_weights_other_seed_other_weights() {
        let a = initial_weights(&small(), 7).unwrap();
        let b = initial_weights(&small(), 7).unwrap();
        let c = initial_weights(&small(), 8).unwrap();
        assert_eq!(a.tensors.keys().collect::<Vec<_>>(), b.tensors.keys().collect::<Vec<_>>());
        let flat = |s: &StateDict, k: &str| s.tensors[k].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for k in a.tensors.keys() {
            assert_eq!(flat(&a, k), flat(&b, k), "{k}");
        }
        assert_ne!(flat(&a, "lin1.weight"), flat(&c, "lin1.weight"));
    }

    #[test]
    fn draws_follow_the_layer_initialiser() {
        let w = initial_weights(&small(), 1).unwrap();
        // PyG SchNet: xavier_uniform for lin1 [4, 8] → bound √(6/12); bias zero; embedding N(0, 1).
        let lin1 = w.tensors["lin1.weight"].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let bound = (6.0f32 / 12.0).sqrt();
        assert!(lin1.iter().all(|x| x.abs() <= bound) && lin1.iter().any(|x| x.abs() > bound / 2.0));
        let bias = w.tensors["lin1.bias"].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(bias.iter().all(|&x| x == 0.0));
        let emb = w.tensors["embedding.weight"].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let var = emb.iter().map(|x| x * x).sum::<f32>() / emb.len() as f32;
        assert!((var - 1.0).abs() < 0.2, "embedding variance {var}");
    }
}
