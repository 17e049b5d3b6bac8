//! `chemgnn._chemgnn`: the compiled part of the `chemgnn` Python package. A [`Model`] loaded from a
//! checkpoint directory computes energies, forces and (for periodic structures) stress of structures
//! given as NumPy arrays, with the GIL released while it runs. Errors are Python exceptions carrying
//! the CLI's messages.

use chem_graph::{Structure, VerletList};
use gnn_models::{PairPotential, Precision, Prediction};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;

/// Huge pages for huge tensors (see `gnn_layers::runtime`).
#[global_allocator]
static ALLOCATOR: gnn_models::gnn_layers::runtime::HugePageAllocator =
    gnn_models::gnn_layers::runtime::HugePageAllocator;

/// A chemgnn model (a checkpoint directory from `chemgnn import` or `chemgnn train`), on the CPU.
#[pyclass(module = "chemgnn._chemgnn", frozen)]
struct Model {
    inner: gnn_models::Model,
    /// The radius graph kept between `compute` calls (None for models whose graphs cannot be kept).
    verlet: Option<Mutex<VerletList>>,
}

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// One structure from NumPy arrays: periodic when a cell is given and some direction is periodic.
fn structure(
    numbers: PyReadonlyArray1<'_, i64>,
    positions: PyReadonlyArray2<'_, f64>,
    cell: Option<PyReadonlyArray2<'_, f64>>,
    pbc: Option<[bool; 3]>,
) -> PyResult<Structure> {
    let numbers = numbers.as_slice().map_err(value_error)?;
    let z = numbers
        .iter()
        .map(|&z| u8::try_from(z).map_err(|_| value_error(format!("atomic number {z} is out of range"))))
        .collect::<PyResult<Vec<u8>>>()?;
    let positions = positions.as_array();
    if positions.ncols() != 3 || positions.nrows() != z.len() {
        return Err(value_error(format!("positions have shape {:?}, expected ({}, 3)", positions.shape(), z.len())));
    }
    let positions: Vec<[f64; 3]> = positions.rows().into_iter().map(|r| [r[0], r[1], r[2]]).collect();
    let pbc = pbc.unwrap_or([cell.is_some(); 3]);
    match cell {
        Some(cell) if pbc.iter().any(|&p| p) => {
            let cell = cell.as_array();
            if cell.shape() != [3, 3] {
                return Err(value_error(format!("cell has shape {:?}, expected (3, 3)", cell.shape())));
            }
            let cell = [0, 1, 2].map(|r| [cell[[r, 0]], cell[[r, 1]], cell[[r, 2]]]);
            Structure::periodic(z, positions, cell, pbc).map_err(value_error)
        }
        _ => Structure::molecule(z, positions).map_err(value_error),
    }
}

#[pymethods]
impl Model {
    /// Loads the checkpoint in `path` (`config.json` + `model.safetensors`) in f64 (or `dtype="f32"`).
    /// `compute` keeps the model's radius graph between calls and searches pairs again only when an
    /// atom moved more than `skin / 2` Å (or the atoms or cell changed); `skin=0` searches every call.
    #[staticmethod]
    #[pyo3(signature = (path, dtype = "f64", skin = 1.0))]
    fn load(py: Python<'_>, path: std::path::PathBuf, dtype: &str, skin: f64) -> PyResult<Self> {
        if !skin.is_finite() || skin < 0.0 {
            return Err(value_error(format!("skin must be a finite, non-negative distance in Å, not {skin}")));
        }
        let dtype = dtype.parse::<Precision>().map_err(|e| value_error(format!("dtype: {e}")))?.dtype();
        let inner = py
            .allow_threads(|| gnn_models::Model::load_on(&path, dtype, &candle_core::Device::Cpu))
            .map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        let verlet = if skin > 0.0 { inner.verlet_list(skin).map(Mutex::new) } else { None };
        Ok(Self { inner, verlet })
    }

    /// Energy (the model's first output), forces `(n, 3)` and, for a periodic structure, the stress
    /// (Voigt `xx, yy, zz, yz, xz, xy`, ASE's sign, energy unit per Å³) of one structure: a dict
    /// with `energy` (float), `forces` and `stress` (NumPy arrays; `stress` absent for molecules).
    /// With `energies=True` also every atom's energy (`energies`, summing to `energy`; models with a
    /// sum readout: SchNet, L0Net/L1Net).
    #[pyo3(signature = (numbers, positions, cell = None, pbc = None, energies = false))]
    fn compute<'py>(
        &self,
        py: Python<'py>,
        numbers: PyReadonlyArray1<'py, i64>,
        positions: PyReadonlyArray2<'py, f64>,
        cell: Option<PyReadonlyArray2<'py, f64>>,
        pbc: Option<[bool; 3]>,
        energies: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let s = structure(numbers, positions, cell, pbc)?;
        let periodic = s.cell.is_some();
        let model = &self.inner;
        let prediction: Prediction = py
            .allow_threads(|| {
                if let Some(list) = &self.verlet {
                    let mut list = list.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    return model.predict_with_verlet(&s, &mut list);
                }
                let structures = std::slice::from_ref(&s);
                let out = if periodic {
                    model.predict_with_stress(structures, 1)
                } else {
                    model.predict_structures(structures, true, 1)
                };
                out.map(|mut p| p.remove(0))
            })
            .map_err(value_error)?;
        let out = result_dict(py, prediction)?;
        if energies {
            let atoms = py.allow_threads(|| PairPotential::new(model)?.atom_energies(&s)).map_err(value_error)?;
            out.set_item("energies", PyArray1::from_vec(py, atoms))?;
        }
        Ok(out)
    }

    /// [`Model::compute`] for many structures at once, in batches of `batch_size` (one graph batch and
    /// one backward pass per batch): `structures` is a sequence of `(numbers, positions, cell, pbc)`
    /// tuples (`cell`, `pbc` may be `None`); molecules and periodic structures must not be mixed.
    #[pyo3(signature = (structures, batch_size = 64))]
    fn compute_many<'py>(
        &self,
        py: Python<'py>,
        structures: Vec<StructureArgs<'py>>,
        batch_size: usize,
    ) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let structures = structures
            .into_iter()
            .map(|(numbers, positions, cell, pbc)| structure(numbers, positions, cell, pbc))
            .collect::<PyResult<Vec<Structure>>>()?;
        let periodic = structures.iter().filter(|s| s.cell.is_some()).count();
        if periodic != 0 && periodic != structures.len() {
            return Err(value_error("compute_many: give either only molecules or only periodic structures"));
        }
        let model = &self.inner;
        let predictions = py
            .allow_threads(|| {
                if periodic > 0 {
                    model.predict_with_stress(&structures, batch_size)
                } else {
                    model.predict_structures(&structures, true, batch_size)
                }
            })
            .map_err(value_error)?;
        predictions.into_iter().map(|p| result_dict(py, p)).collect()
    }

    /// How many times `compute` searched for neighbour pairs (`None` without a kept radius graph).
    #[getter]
    fn neighbour_searches(&self) -> Option<usize> {
        let list = self.verlet.as_ref()?;
        Some(list.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).searches())
    }

    /// The names and units of the model's outputs, e.g. `[("energy", "eV")]`.
    fn targets(&self) -> Vec<(String, String)> {
        self.inner.config().targets.iter().map(|t| (t.name.clone(), t.unit.clone())).collect()
    }
}

/// `(numbers, positions, cell, pbc)` of one structure, as `compute_many` takes them.
type StructureArgs<'py> =
    (PyReadonlyArray1<'py, i64>, PyReadonlyArray2<'py, f64>, Option<PyReadonlyArray2<'py, f64>>, Option<[bool; 3]>);

/// `{"energy": float, "forces": (n, 3), "stress": (6,)}` (no `stress` for a molecule).
fn result_dict(py: Python<'_>, prediction: Prediction) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("energy", prediction.values[0])?;
    let rows: Vec<Vec<f64>> = prediction.forces.unwrap_or_default().iter().map(|f| f.to_vec()).collect();
    out.set_item("forces", PyArray2::from_vec2(py, &rows).map_err(value_error)?)?;
    if let Some(stress) = prediction.stress {
        out.set_item("stress", PyArray1::from_slice(py, &stress))?;
    }
    Ok(out)
}

/// The compiled module; importing it applies chemgnn's runtime policy (`gnn_layers::runtime::init`).
#[pymodule]
fn _chemgnn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    gnn_models::gnn_layers::runtime::init();
    m.add_class::<Model>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
