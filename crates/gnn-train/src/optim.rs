//! Adam and AdamW with PyTorch's update rule, with state that can be saved and restored exactly.

use crate::config::{OptimizerConfig, OptimizerKind};
use crate::error::Result;
use candle_core::{Tensor, Var};
use gnn_layers::ops::{adam_step_in_place, fused_adam_available, sum_of_squares, AdamStep};
use std::collections::BTreeMap;

/// Adam / AdamW over named variables.
#[derive(Debug)]
pub struct Adam {
    config: OptimizerConfig,
    vars: Vec<(String, Var)>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    steps: u64,
    lr: f64,
}

impl Adam {
    /// An optimiser for `vars` with zero moments.
    pub fn new(config: &OptimizerConfig, vars: Vec<(String, Var)>) -> Result<Self> {
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        let first = vars.iter().map(|(_, v)| zeros(v)).collect::<candle_core::Result<Vec<_>>>()?;
        // Separate allocations: on GPUs the moments are updated in place.
        let second = vars.iter().map(|(_, v)| zeros(v)).collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self { config: config.clone(), vars, first, second, steps: 0, lr: config.lr })
    }

    /// The variables, in the order [`Adam::step`] expects gradients.
    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// Sets the learning rate of the next steps.
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One update; `grads[k]` is the gradient of variable `k` (`None`: the variable did not take
    /// part in the loss and is left alone, as PyTorch does for parameters without `.grad`).
    pub fn step(&mut self, grads: &[Option<Tensor>]) -> Result<()> {
        self.steps += 1;
        let [b1, b2] = self.config.betas;
        let (lr, wd, eps) = (self.lr, self.config.weight_decay, self.config.eps);
        let t = self.steps as i32;
        let (bias1, bias2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for (k, grad) in grads.iter().enumerate() {
            let Some(grad) = grad else { continue };
            let var = &self.vars[k].1;
            if fused_adam_available(var.device()) {
                let adam = self.config.kind == OptimizerKind::Adam;
                let step = AdamStep {
                    beta1: b1,
                    beta2: b2,
                    step_size: lr / bias1,
                    inv_sqrt_bias2: 1.0 / bias2.sqrt(),
                    eps,
                    l2: if adam { wd } else { 0.0 },
                    decay: if adam { 1.0 } else { 1.0 - lr * wd },
                };
                adam_step_in_place(var.as_tensor(), &self.first[k], &self.second[k], grad, &step)?;
                continue;
            }
            let mut param = var.as_tensor().detach();
            let mut g = grad.detach();
            match self.config.kind {
                OptimizerKind::Adam if wd != 0.0 => g = (g + param.affine(wd, 0.0)?)?,
                OptimizerKind::AdamW if wd != 0.0 => param = param.affine(1.0 - lr * wd, 0.0)?,
                _ => {}
            }
            let m = (self.first[k].affine(b1, 0.0)? + g.affine(1.0 - b1, 0.0)?)?;
            let v = (self.second[k].affine(b2, 0.0)? + g.sqr()?.affine(1.0 - b2, 0.0)?)?;
            let denom = v.sqrt()?.affine(1.0 / bias2.sqrt(), eps)?;
            var.set(&(param - m.div(&denom)?.affine(lr / bias1, 0.0)?)?)?;
            (self.first[k], self.second[k]) = (m, v);
        }
        Ok(())
    }

    /// The moments as named tensors (`exp_avg.NAME`, `exp_avg_sq.NAME`) and the step count.
    pub fn state(&self) -> (BTreeMap<String, Tensor>, u64) {
        let mut out = BTreeMap::new();
        for (k, (name, _)) in self.vars.iter().enumerate() {
            out.insert(format!("exp_avg.{name}"), self.first[k].clone());
            out.insert(format!("exp_avg_sq.{name}"), self.second[k].clone());
        }
        (out, self.steps)
    }

    /// Restores moments saved by [`Adam::state`]; a missing or mis-shaped tensor is an error naming it.
    pub fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>, steps: u64) -> std::result::Result<(), String> {
        for (k, (name, var)) in self.vars.iter().enumerate() {
            for (prefix, slot) in [("exp_avg", &mut self.first[k]), ("exp_avg_sq", &mut self.second[k])] {
                let key = format!("{prefix}.{name}");
                let t = tensors.get(&key).ok_or_else(|| format!("missing tensor `{key}`"))?;
                if t.dims() != var.dims() {
                    return Err(format!("tensor `{key}` has shape {:?}, expected {:?}", t.dims(), var.dims()));
                }
                *slot = t
                    .to_dtype(var.dtype())
                    .and_then(|t| t.to_device(var.device()))
                    .map_err(|e| format!("tensor `{key}`: {e}"))?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}

/// The global L2 norm of all gradients (computed in f64), as `torch.nn.utils.clip_grad_norm_`
/// measures it.
pub fn global_norm(grads: &[Option<Tensor>]) -> Result<f64> {
    let grads: Vec<&Tensor> = grads.iter().flatten().collect();
    Ok(sum_of_squares(&grads)?.sqrt())
}

/// Scales the gradients by `max / (norm + 1e-6)` when their global norm `norm` exceeds `max`
/// (PyTorch's `clip_grad_norm_`).
pub fn clip_global_norm(grads: &mut [Option<Tensor>], norm: f64, max: f64) -> Result<()> {
    if norm > max {
        let factor = max / (norm + 1e-6);
        for g in grads.iter_mut().flatten() {
            *g = g.affine(factor, 0.0)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// Three steps on p = [1, −2] with gradients g_t = p + t; the expected values were printed by
    /// torch 2.15 (`torch.optim.Adam` / `AdamW`, lr 0.1, weight_decay 0.01, float64).
    #[test]
    fn matches_pytorch() {
        for (kind, expected) in [
            (OptimizerKind::Adam, [0.7016505970099159, -1.8553166981042215]),
            (OptimizerKind::AdamW, [0.6989755715125613, -1.8536526821861037]),
        ] {
            let config = OptimizerConfig { kind, lr: 0.1, weight_decay: 0.01, ..Default::default() };
            let var = Var::from_tensor(&Tensor::new(&[1.0f64, -2.0], &Device::Cpu).unwrap()).unwrap();
            let mut adam = Adam::new(&config, vec![("p".into(), var.clone())]).unwrap();
            for t in 1..=3 {
                let g = (var.as_tensor() + t as f64).unwrap();
                adam.step(&[Some(g)]).unwrap();
            }
            let got = var.as_tensor().to_vec1::<f64>().unwrap();
            for (a, b) in got.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-14, "{kind:?}: {got:?} vs {expected:?}");
            }
        }
    }

    /// Gradients [3, 4] and [12] (norm 13) clipped to 6.5: the values torch 2.15's
    /// `clip_grad_norm_` printed (float64).
    #[test]
    fn clipping_matches_pytorch() {
        let t = |v: &[f64]| Some(Tensor::new(v, &Device::Cpu).unwrap());
        let mut grads = vec![t(&[3.0, 4.0]), None, t(&[12.0])];
        let norm = global_norm(&grads).unwrap();
        assert_eq!(norm, 13.0);
        clip_global_norm(&mut grads, norm, 6.5).unwrap();
        let got: Vec<f64> = grads.iter().flatten().flat_map(|g| g.to_vec1::<f64>().unwrap()).collect();
        for (a, b) in got.iter().zip([1.4999998846153937, 1.9999998461538582, 5.999999538461575]) {
            assert!((a - b).abs() < 1e-15, "{got:?}");
        }
        clip_global_norm(&mut grads, 1.0, 6.5).unwrap(); // below the threshold: unchanged
        assert_eq!(grads[0].as_ref().unwrap().to_vec1::<f64>().unwrap()[0], got[0]);
    }

    #[test]
    fn state_round_trips_and_checks_shapes() {
        let var = Var::zeros((2, 3), DType::F32, &Device::Cpu).unwrap();
        let mut adam = Adam::new(&OptimizerConfig::default(), vec![("w".into(), var.clone())]).unwrap();
        adam.step(&[Some(Tensor::ones((2, 3), DType::F32, &Device::Cpu).unwrap())]).unwrap();
        let (state, steps) = adam.state();
        let mut other = Adam::new(&OptimizerConfig::default(), vec![("w".into(), var)]).unwrap();
        other.load_state(&state, steps).unwrap();
        assert_eq!(other.steps(), 1);
        let mut bad = state.clone();
        bad.insert("exp_avg.w".into(), Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap());
        assert!(other.load_state(&bad, 1).unwrap_err().contains("exp_avg.w"));
    }
}
