//! SevenNet-0 (both releases) and SevenNet-l3i5 imported from sevenn 0.13.0's wheel against the original:
//! the patched weights against `SevenNetCheckpoint(path).build_model().state_dict()`
//! (tests/reference/sevenn_state_dict.py) and energies, forces, stress and per-atom energies on
//! tests/fixtures/potentials/structures.extxyz against `SevenNetCalculator`
//! (tests/reference/sevenn_calculator.py); f64 against f32; invariances; bad files and elements.

mod common;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use chem_graph::Structure;
use common::{flat, relative_error};
use gnn_models::checkpoint::import::import_sevenn;
use gnn_models::models::Elements;
use gnn_models::{Model, ModelConfig, PairPotential};
use serde_json::Value;

/// The fixture name and pretrained name of each model (SevenNet-0 of 22 May 2024 is a sevenn 0.9.1
/// file with the old module names and unnormalised harmonics).
const MODELS: [(&str, &str); 3] = [
    ("sevennet_0", "sevennet-0"),
    ("sevennet_l3i5", "sevennet-l3i5"),
    ("sevennet_0_22may2024", "sevennet-0-22may2024"),
];

/// The checkpoint file of a pretrained name (fetched into the workspace's cache if missing).
fn sevenn(name: &str) -> PathBuf {
    common::pretrained(name)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/potentials").join(name)
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn numbers(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        Value::Number(n) => vec![n.as_f64().unwrap()],
        other => panic!("not numbers: {other}"),
    }
}

fn model(path: &str, dtype: DType) -> Model {
    gnn_models::gnn_layers::runtime::init();
    Model::from_checkpoint(&import_sevenn(&sevenn(path)).unwrap(), dtype, &Device::Cpu).unwrap()
}

fn structures() -> Vec<Structure> {
    chem_graph::io::read_structures(fixture("structures.extxyz")).unwrap()
}

/// Energy, forces, stress (periodic structures) and per-atom energies of each structure.
struct Output {
    energy: f64,
    forces: Vec<f64>,
    stress: Option<Vec<f64>>,
    energies: Vec<f64>,
}

fn predict(model: &Model, s: &Structure) -> Output {
    let one = std::slice::from_ref(s);
    let p = if s.is_periodic() { model.predict_with_stress(one, 1) } else { model.predict_structures(one, true, 1) };
    let p = p.unwrap().remove(0);
    Output {
        energy: p.values[0],
        forces: p.forces.unwrap().concat(),
        stress: p.stress.map(|s| s.to_vec()),
        energies: PairPotential::new(model).unwrap().atom_energies(s).unwrap(),
    }
}

#[test]
fn imported_weights_equal_sevenn_build_model_state_dict() {
    let reference = json("sevenn_state_dict.json");
    for (name, path) in MODELS {
        let checkpoint = import_sevenn(&sevenn(path)).unwrap();
        let ModelConfig::Sevennet(config) = &checkpoint.config.model else { panic!("{name}: not a sevennet") };
        let expected = reference[name].as_object().unwrap();
        let tensors = &checkpoint.weights.tensors;
        for (key, sums) in expected {
            let (found, want): (Vec<f64>, Vec<f64>) = if let Some(t) = key.strip_suffix("_convolution.denominator") {
                (vec![config.conv_denominator[t.parse::<usize>().unwrap()]], numbers(&sums["sum"]))
            } else {
                let t = tensors.get(key).unwrap_or_else(|| panic!("{name}: `{key}` not imported"));
                let t = t.to_dtype(DType::F64).unwrap();
                if t.rank() == 1 {
                    let n = t.dim(0).unwrap();
                    let ramp = candle_core::Tensor::arange(1.0, n as f64 + 1.0, &Device::Cpu).unwrap();
                    let found =
                        vec![flat(&t.sum_all().unwrap())[0], flat(&t.mul(&ramp).unwrap().sum_all().unwrap())[0]];
                    (found, [numbers(&sums["sum"]), numbers(&sums["ramp"])].concat())
                } else {
                    let found = [flat(&t.sum(1).unwrap()), flat(&t.sum(0).unwrap())].concat();
                    (found, [numbers(&sums["rows"]), numbers(&sums["cols"])].concat())
                }
            };
            let err = relative_error(&found, &want);
            assert!(err < 1e-9, "{name}: `{key}` differs from sevenn's by {err:e} (relative)");
        }
        let extra: Vec<&String> = tensors.keys().filter(|k| !expected.contains_key(*k)).collect();
        assert!(extra.is_empty(), "{name}: tensors sevenn does not have: {extra:?}");
    }
}

#[test]
fn energies_forces_stress_and_atom_energies_match_sevennet_calculator_in_f32() {
    let frames = structures();
    for (name, path) in MODELS {
        let reference = json(&format!("{name}.json"));
        let expected = reference["frames"].as_array().unwrap();
        assert_eq!(expected.len(), frames.len());
        let model = model(path, DType::F32);
        let mut worst = [0.0f64; 4];
        for (s, want) in frames.iter().zip(expected) {
            let out = predict(&model, s);
            let e = want["energy"].as_f64().unwrap();
            let errors = [
                (out.energy - e).abs() / e.abs(),
                relative_error(&out.forces, &numbers(&want["forces"])),
                match (&out.stress, &want["stress"]) {
                    (Some(found), w @ Value::Array(_)) => relative_error(found, &numbers(w)),
                    (None, Value::Null) => 0.0,
                    (found, w) => panic!("{name} {}: stress {found:?} vs {w}", s.name),
                },
                relative_error(&out.energies, &numbers(&want["energies"])),
            ];
            let tolerances = [1e-5, 1e-4, 1e-4, 1e-5];
            for (k, (err, tol)) in errors.iter().zip(tolerances).enumerate() {
                assert!(
                    *err <= tol,
                    "{name} {}: {} relative error {err:e}",
                    s.name,
                    ["energy", "forces", "stress", "atom energies"][k]
                );
                worst[k] = worst[k].max(*err);
            }
            let sum: f64 = out.energies.iter().sum();
            assert!(
                (sum - out.energy).abs() <= 1e-5 * out.energy.abs(),
                "{name} {}: Σ atom energies {sum} ≠ {}",
                s.name,
                out.energy
            );
        }
        println!(
            "{name}: worst relative errors energy {:.1e}, forces {:.1e}, stress {:.1e}, atom energies {:.1e}",
            worst[0], worst[1], worst[2], worst[3]
        );
    }
}

#[test]
fn f64_agrees_with_f32_within_f32_rounding() {
    let frames = structures();
    for (name, path) in MODELS {
        let (m32, m64) = (model(path, DType::F32), model(path, DType::F64));
        for s in frames.iter().filter(|s| s.numbers.len() <= 16) {
            let (a, b) = (predict(&m32, s), predict(&m64, s));
            assert!(
                (a.energy - b.energy).abs() <= 1e-6 * b.energy.abs(),
                "{name} {}: {} vs {}",
                s.name,
                a.energy,
                b.energy
            );
            // f32 rounding of five blocks' features, relative to the largest force component.
            let err = relative_error(&a.forces, &b.forces);
            assert!(err <= 1e-4, "{name} {}: forces f32 vs f64 {err:e}", s.name);
            if let (Some(x), Some(y)) = (&a.stress, &b.stress) {
                let err = relative_error(x, y);
                assert!(err <= 1e-4, "{name} {}: stress f32 vs f64 {err:e}", s.name);
            }
        }
    }
}

fn rotate(r: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| r[i][0] * v[0] + r[i][1] * v[1] + r[i][2] * v[2])
}

#[test]
fn rotations_permutations_and_periodic_images_leave_the_energy_unchanged() {
    let model = model(MODELS[0].1, DType::F64);
    let frames = structures();
    let (a, b) = (std::f64::consts::FRAC_PI_3, 0.4f64);
    // A rotation about z followed by one about x.
    let rz = [[a.cos(), -a.sin(), 0.0], [a.sin(), a.cos(), 0.0], [0.0, 0.0, 1.0]];
    let rx = [[1.0, 0.0, 0.0], [0.0, b.cos(), -b.sin()], [0.0, b.sin(), b.cos()]];
    let r: [[f64; 3]; 3] = [0, 1, 2].map(|i| [0, 1, 2].map(|j| (0..3).map(|k| rx[i][k] * rz[k][j]).sum()));
    for s in [&frames[0], &frames[11]] {
        let base = predict(&model, s);
        let mut turned = s.clone();
        turned.positions = s.positions.iter().map(|&p| rotate(&r, p)).collect();
        turned.cell = s.cell.map(|c| c.map(|v| rotate(&r, v)));
        let out = predict(&model, &turned);
        assert!((out.energy - base.energy).abs() < 1e-9 * base.energy.abs(), "{}: rotated energy", s.name);
        let forces: Vec<f64> = base.forces.chunks(3).flat_map(|f| rotate(&r, [f[0], f[1], f[2]])).collect();
        assert!(relative_error(&out.forces, &forces) < 1e-9, "{}: forces do not rotate with the atoms", s.name);

        let n = s.numbers.len();
        let order: Vec<usize> = (0..n).rev().collect();
        let mut permuted = s.clone();
        permuted.numbers = order.iter().map(|&i| s.numbers[i]).collect();
        permuted.positions = order.iter().map(|&i| s.positions[i]).collect();
        let out = predict(&model, &permuted);
        assert!((out.energy - base.energy).abs() < 1e-9 * base.energy.abs(), "{}: permuted energy", s.name);
        let forces: Vec<f64> = order.iter().flat_map(|&i| base.forces[3 * i..3 * i + 3].to_vec()).collect();
        assert!(relative_error(&out.forces, &forces) < 1e-9, "{}: forces do not follow the atoms", s.name);
    }
    // A 2×1×1 supercell has twice the energy and the same forces on each image.
    let s = &frames[0];
    let cell = s.cell.unwrap();
    let mut double = s.clone();
    double.numbers = [s.numbers.clone(), s.numbers.clone()].concat();
    let shifted = s.positions.iter().map(|p| [0, 1, 2].map(|k| p[k] + cell[0][k]));
    double.positions = s.positions.iter().copied().chain(shifted).collect();
    double.cell = Some([[2.0 * cell[0][0], 2.0 * cell[0][1], 2.0 * cell[0][2]], cell[1], cell[2]]);
    let (one, two) = (predict(&model, s), predict(&model, &double));
    assert!(
        (two.energy - 2.0 * one.energy).abs() < 1e-9 * two.energy.abs(),
        "supercell energy {} vs 2 × {}",
        two.energy,
        one.energy
    );
    assert!(relative_error(&two.forces, &[one.forces.clone(), one.forces.clone()].concat()) < 1e-8);
    assert!(relative_error(two.stress.as_ref().unwrap(), one.stress.as_ref().unwrap()) < 1e-8);
}

#[test]
fn other_checkpoints_truncated_files_and_unknown_elements_are_errors() {
    let chgnet = common::pretrained("chgnet-0.3.0");
    let err = import_sevenn(&chgnet).unwrap_err().to_string();
    assert!(err.contains("chgnet_0.3.0") && err.contains("not a sevenn checkpoint"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(sevenn(MODELS[0].1)).unwrap();
    let truncated = dir.path().join("truncated.pth");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = import_sevenn(&truncated).unwrap_err().to_string();
    assert!(err.contains("truncated.pth"), "{err}");
    let err = import_sevenn(Path::new("/nonexistent/checkpoint.pth")).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/checkpoint.pth"), "{err}");

    let model = model(MODELS[0].1, DType::F32);
    let Elements::Listed(known) = model.config().model.capabilities().elements else { panic!("elements not listed") };
    assert_eq!(known.len(), 89);
    let outside = (1..=118).find(|z| !known.contains(z)).unwrap();
    let mut s = structures().remove(10);
    s.numbers[4] = outside;
    let err = model.predict_structures(&[s], true, 1).unwrap_err().to_string();
    assert!(err.contains("atom 4") && err.contains(&outside.to_string()), "{err}");
}

/// The fine-tuning hook: δ added to a species' row of `rescale_atomic_energy.shift` moves the
/// energy by (atoms of it) · δ.
#[test]
fn rescale_shift_is_the_species_shift_table() {
    let checkpoint = import_sevenn(&sevenn("sevennet-0")).unwrap();
    let shifts = checkpoint.config.model.species_shifts().expect("SevenNet declares its shifts");
    assert!(!shifts.mean && shifts.elements.len() == 89);
    let structure = structures().into_iter().find(|s| s.is_periodic() && s.len() > 6).unwrap();
    // Not a one-element crystal: the shift of one element is told apart from a global offset.
    assert!(structure.numbers.iter().any(|&n| n != structure.numbers[0]));
    common::assert_shift_table_moves_energy(checkpoint, &structure);
}
