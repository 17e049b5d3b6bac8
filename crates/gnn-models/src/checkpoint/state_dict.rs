//! Named tensors as written from a PyTorch `state_dict`, and strict checking of them against a
//! model's parameters (like `load_state_dict(strict=True)`: all problems reported at once).

use crate::error::{Error, Result};
use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

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
/// No parameter is allocated (each is a broadcast scalar), so any size can be asked for.
pub fn parameter_shapes<M>(build: impl FnOnce(VarBuilder) -> candle_core::Result<M>) -> Result<Shapes> {
    let recorder = ShapeRecorder::default();
    let shapes = recorder.shapes.clone();
    build(VarBuilder::from_backend(Box::new(recorder), DType::F32, Device::Cpu))?;
    let shapes = shapes.lock().map_err(|_| Error::Input("shape recorder lock poisoned".into()))?;
    Ok(shapes.clone())
}

/// More parameter tensors than any real model has (a 1,000-layer network has about 10⁴): the limit
/// that stops a configuration with an absurd layer count early.
pub const MAX_PARAMETER_TENSORS: usize = 100_000;

/// A `VarBuilder` backend that records the requested parameter shapes and hands out broadcast
/// zeros instead of allocating.
#[derive(Default)]
struct ShapeRecorder {
    shapes: Arc<Mutex<Shapes>>,
}

impl SimpleBackend for ShapeRecorder {
    fn get(&self, s: Shape, name: &str, _: Init, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let mut shapes =
            self.shapes.lock().map_err(|_| candle_core::Error::Msg("shape recorder lock poisoned".into()))?;
        if shapes.len() >= MAX_PARAMETER_TENSORS {
            return Err(candle_core::Error::Msg(format!(
                "the model asks for more than {MAX_PARAMETER_TENSORS} parameter tensors: a layer count is out of range"
            )));
        }
        shapes.insert(name.to_string(), s.dims().to_vec());
        Tensor::zeros((), dtype, dev)?.broadcast_as(s)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        Err(candle_core::Error::Msg(format!("parameter `{name}` requested without a shape")))
    }

    fn contains_tensor(&self, _: &str) -> bool {
        false
    }
}
