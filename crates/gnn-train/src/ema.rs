//! Exponential moving average of the weights: `shadow ← d·shadow + (1 − d)·w` after every step.

use crate::error::Result;
use candle_core::{Tensor, Var};

/// Averaged copies of a list of variables.
#[derive(Clone, Debug)]
pub struct Ema {
    decay: f64,
    /// The averages, in the order of the variables they follow.
    pub shadow: Vec<Tensor>,
}

impl Ema {
    /// Starts the averages at the current values of `vars`.
    pub fn new(decay: f64, vars: &[(String, Var)]) -> Result<Self> {
        let shadow = vars.iter().map(|(_, v)| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        Ok(Self { decay, shadow })
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
    }
}
