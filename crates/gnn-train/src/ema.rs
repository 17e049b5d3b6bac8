//! Exponential moving average of the weights: `shadow ← d·shadow + (1 − d)·w` after every step.

use crate::error::Result;
use candle_core::{Tensor, Var};
use std::collections::BTreeMap;

/// Averaged copies of a list of variables.
#[derive(Clone, Debug)]
pub struct Ema {
    decay: f64,
    names: Vec<String>,
    /// The averages, in the order of the variables they follow.
    pub shadow: Vec<Tensor>,
}

impl Ema {
    /// Starts the averages at the current values of `vars`.
    pub fn new(decay: f64, vars: &[(String, Var)]) -> Result<Self> {
        let shadow = vars.iter().map(|(_, v)| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        Ok(Self { decay, names: vars.iter().map(|(n, _)| n.clone()).collect(), shadow })
    }

    /// The averages as named tensors (`ema.NAME`).
    pub fn state(&self) -> BTreeMap<String, Tensor> {
        self.names.iter().zip(&self.shadow).map(|(n, t)| (format!("ema.{n}"), t.clone())).collect()
    }

    /// Restores averages saved by [`Ema::state`]; a missing or mis-shaped tensor is an error naming it.
    pub fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>) -> std::result::Result<(), String> {
        for (name, slot) in self.names.iter().zip(&mut self.shadow) {
            let key = format!("ema.{name}");
            let t = tensors.get(&key).ok_or_else(|| format!("missing tensor `{key}`"))?;
            if t.dims() != slot.dims() {
                return Err(format!("tensor `{key}` has shape {:?}, expected {:?}", t.dims(), slot.dims()));
            }
            *slot = t
                .to_dtype(slot.dtype())
                .and_then(|t| t.to_device(slot.device()))
                .map_err(|e| format!("tensor `{key}`: {e}"))?;
        }
        Ok(())
    }

    /// Folds the current values of `vars` into the averages.
    pub fn update(&mut self, vars: &[(String, Var)]) -> Result<()> {
        for (s, (_, v)) in self.shadow.iter_mut().zip(vars) {
            *s = (s.affine(self.decay, 0.0)? + v.as_tensor().detach().affine(1.0 - self.decay, 0.0)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn averages_geometrically() {
        let var = Var::from_tensor(&Tensor::new(&[0.0f64], &Device::Cpu).unwrap()).unwrap();
        let vars = vec![("w".to_string(), var.clone())];
        let mut ema = Ema::new(0.5, &vars).unwrap();
        for x in [4.0, 8.0] {
            var.set(&Tensor::new(&[x], &Device::Cpu).unwrap()).unwrap();
            ema.update(&vars).unwrap();
        }
        // 0 → 0.5·0 + 0.5·4 = 2 → 0.5·2 + 0.5·8 = 5
        assert_eq!(ema.shadow[0].to_vec1::<f64>().unwrap(), vec![5.0]);
        let mut restored = Ema::new(0.5, &vars).unwrap();
        restored.load_state(&ema.state()).unwrap();
        assert_eq!(restored.shadow[0].to_vec1::<f64>().unwrap(), vec![5.0]);
        assert!(restored.load_state(&BTreeMap::new()).unwrap_err().contains("ema.w"));
    }
}
