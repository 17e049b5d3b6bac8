//! Named tensors as written from a PyTorch `state_dict`, and strict checking of them against a
//! model's parameters (like `load_state_dict(strict=True)`: all problems reported at once).

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Tensor names and shapes a model expects.
pub type Shapes = BTreeMap<String, Vec<usize>>;

/// Named tensors (on the CPU, in the dtype they were stored in) and where they came from.
#[derive(Clone, Debug)]
pub struct StateDict {
    /// The file (or description) the tensors came from, used in error messages.
    pub origin: String,
    /// The tensors by name.
    pub tensors: BTreeMap<String, Tensor>,
}

impl StateDict {
    /// Reads a safetensors file; tensors of any dtype Candle supports (f16, bf16, f32, f64 and
    /// integers) are accepted.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| Error::Safetensors { path: path.to_path_buf(), message: e.to_string() })?;
        Ok(Self::new(path.display().to_string(), tensors.into_iter().collect()))
    }

    /// Wraps `tensors` coming from `origin`.
    pub fn new(origin: impl Into<String>, tensors: BTreeMap<String, Tensor>) -> Self {
        Self { origin: origin.into(), tensors }
    }

    /// Renames every tensor whose name starts with `from` to start with `to` instead.
    pub fn rename_prefix(&mut self, from: &str, to: &str) {
        let names: Vec<String> = self.tensors.keys().filter(|k| k.starts_with(from)).cloned().collect();
        for name in names {
            let tensor = self.tensors.remove(&name).expect("name was just listed");
            self.tensors.insert(format!("{to}{}", &name[from.len()..]), tensor);
        }
    }

    /// Checks the tensors against `required` (must all be present with these shapes) and `optional`
    /// (checked when present); anything else is unexpected. One error lists every problem.
    pub fn check(&self, required: &Shapes, optional: &Shapes) -> Result<()> {
        let mut problems = Vec::new();
        for (name, shape) in required {
            if !self.tensors.contains_key(name) {
                problems.push(format!("  missing `{name}` (expected shape {shape:?})"));
            }
        }
        for (name, tensor) in &self.tensors {
            let found = tensor.dims();
            match required.get(name).or_else(|| optional.get(name)) {
                None => problems.push(format!("  unexpected `{name}` (shape {found:?})")),
                Some(shape) if shape.as_slice() != found => {
                    problems.push(format!("  `{name}`: expected shape {shape:?}, found {found:?}"))
                }
                Some(_) if !tensor.dtype().is_float() => {
                    problems.push(format!("  `{name}`: expected a float tensor, found {:?}", tensor.dtype()))
                }
                Some(_) => {}
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Weights { origin: self.origin.clone(), problems })
        }
    }

    /// A `VarBuilder` over these tensors, converted to `dtype` on `device` (for inference).
    pub fn var_builder(&self, dtype: DType, device: &Device) -> Result<VarBuilder<'static>> {
        let tensors: HashMap<String, Tensor> = self
            .tensors
            .iter()
            .map(|(k, t)| Ok((k.clone(), t.to_dtype(dtype)?.to_device(device)?)))
            .collect::<Result<_>>()?;
        Ok(VarBuilder::from_tensors(tensors, dtype, device))
    }
}

/// The parameter names and shapes of the model that `build` constructs from a fresh `VarBuilder`.
pub fn parameter_shapes<M>(build: impl FnOnce(VarBuilder) -> candle_core::Result<M>) -> Result<Shapes> {
    let varmap = VarMap::new();
    build(VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
    let data = varmap.data().lock().map_err(|_| Error::Input("variable map lock poisoned".into()))?;
    Ok(data.iter().map(|(k, v)| (k.clone(), v.dims().to_vec())).collect())
}
