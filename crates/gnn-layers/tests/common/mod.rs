//! Shared helpers: the PyTorch fixture file and tolerance checks.
#![allow(dead_code)]

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use gnn_layers::ops::SegmentIndex;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Written by `tests/reference/gnn_layers.py` (torch + torch_geometric).
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/gnn_layers.safetensors");

fn all() -> &'static HashMap<String, Tensor> {
    static TENSORS: OnceLock<HashMap<String, Tensor>> = OnceLock::new();
    TENSORS.get_or_init(|| candle_core::safetensors::load(FIXTURE, &Device::Cpu).expect("fixture loads"))
}

/// Tolerance of the comparison with PyTorch: relative to the largest reference magnitude.
pub fn tolerance(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        1e-5
    }
}

/// Asserts `max |ours − reference| ≤ tol · max(max |reference|, 1)`… scaled by the reference.
pub fn assert_close(what: &str, ours: &Tensor, reference: &Tensor, tol: f64) {
    assert_eq!(ours.dims(), reference.dims(), "{what}: shape");
    let a = ours.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let b = reference.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let scale = b.iter().fold(0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
    let err = a.iter().zip(&b).fold(0f64, |m, (x, y)| m.max((x - y).abs()));
    assert!(err <= tol * scale, "{what}: max abs error {err:e} exceeds {tol:e} × {scale:e}");
}

/// One dtype's part of the fixture.
pub struct Fixture {
    pub dtype: DType,
    prefix: &'static str,
}

/// Both dtypes.
pub fn fixtures() -> [Fixture; 2] {
    [Fixture { dtype: DType::F64, prefix: "f64" }, Fixture { dtype: DType::F32, prefix: "f32" }]
}

/// A case: its input variables and parameters, ready for a forward pass and a gradient check.
pub struct Case<'a> {
    fixture: &'a Fixture,
    name: String,
    pub varmap: VarMap,
    inputs: HashMap<String, Var>,
}

impl Fixture {
    pub fn tensor(&self, key: &str) -> Tensor {
        all().get(&format!("{}.{key}", self.prefix)).unwrap_or_else(|| panic!("fixture has no {key}")).clone()
    }

    pub fn has(&self, key: &str) -> bool {
        all().contains_key(&format!("{}.{key}", self.prefix))
    }

    fn index(&self, key: &str) -> Vec<u32> {
        self.tensor(key).to_dtype(DType::U32).unwrap().to_vec1::<u32>().unwrap()
    }

    pub fn num_nodes(&self) -> usize {
        self.index("graph.node_graph").len()
    }

    pub fn num_graphs(&self) -> usize {
        self.index("graph.num_graphs")[0] as usize
    }

    pub fn source(&self) -> SegmentIndex {
        SegmentIndex::new(self.index("graph.source"), self.num_nodes(), &Device::Cpu).unwrap()
    }

    pub fn target(&self) -> SegmentIndex {
        SegmentIndex::new(self.index("graph.target"), self.num_nodes(), &Device::Cpu).unwrap()
    }

    pub fn node_graph(&self) -> SegmentIndex {
        SegmentIndex::new(self.index("graph.node_graph"), self.num_graphs(), &Device::Cpu).unwrap()
    }

    /// Loads case `name`: its inputs as variables and its parameters into a `VarMap`.
    pub fn case(&self, name: &str) -> Case<'_> {
        let varmap = VarMap::new();
        let mut inputs = HashMap::new();
        for (key, t) in all() {
            let Some(rest) = key.strip_prefix(&format!("{}.{name}.", self.prefix)) else { continue };
            if let Some(p) = rest.strip_prefix("param.") {
                varmap.data().lock().unwrap().insert(p.to_string(), Var::from_tensor(t).unwrap());
            } else if let Some(i) = rest.strip_prefix("in.") {
                inputs.insert(i.to_string(), Var::from_tensor(t).unwrap());
            }
        }
        Case { fixture: self, name: name.to_string(), varmap, inputs }
    }
}

impl Case<'_> {
    pub fn vb(&self) -> VarBuilder<'_> {
        VarBuilder::from_varmap(&self.varmap, self.fixture.dtype, &Device::Cpu)
    }

    pub fn input(&self, name: &str) -> Tensor {
        self.inputs.get(name).unwrap_or_else(|| panic!("{}: no input {name}", self.name)).as_tensor().clone()
    }

    /// Compares outputs (`""` is the single output) and the gradients of `Σ out · R` with respect to
    /// every input and parameter with PyTorch's.
    pub fn check(&self, outputs: &[(&str, Tensor)]) -> Result<()> {
        let tol = tolerance(self.fixture.dtype);
        let f = self.fixture;
        let mut loss = Tensor::zeros((), f.dtype, &Device::Cpu)?;
        for (k, out) in outputs {
            let suffix = if k.is_empty() { String::new() } else { format!(".{k}") };
            let what = format!("{} {}.out{suffix}", f.prefix, self.name);
            assert_close(&what, out, &f.tensor(&format!("{}.out{suffix}", self.name)), tol);
            let r = f.tensor(&format!("{}.R{suffix}", self.name));
            loss = loss.add(&out.mul(&r)?.sum_all()?)?;
        }
        let grads = loss.backward()?;
        let params = self.varmap.data().lock().unwrap();
        let wrt = self
            .inputs
            .iter()
            .map(|(k, v)| (format!("in.{k}"), v))
            .chain(params.iter().map(|(k, v)| (format!("param.{k}"), v)));
        let mut checked = 0;
        for (key, var) in wrt {
            if !f.has(&format!("{}.grad.{key}", self.name)) {
                continue; // a buffer (e.g. running statistics), not a parameter
            }
            let reference = f.tensor(&format!("{}.grad.{key}", self.name));
            let ours = grads.get(var.as_tensor()).cloned().unwrap_or(reference.zeros_like()?);
            assert_close(&format!("{} {} ∂/∂{key}", f.prefix, self.name), &ours, &reference, tol);
            checked += 1;
        }
        assert!(checked > 0 || outputs.is_empty(), "{}: nothing to check", self.name);
        Ok(())
    }
}
