//! CHGNet 0.3.0 imported from the chgnet 0.4.2 wheel against chgnet's own `CHGNetCalculator`
//! (fixture from tests/reference/chgnet_calculator.py on tests/fixtures/potentials/structures.extxyz):
//! energy, forces, stress, per-atom energies and magnetic moments; f64 against f32; invariances;
//! bad input.

mod common;

use candle_core::{DType, Device};
use chem_graph::Structure;
use common::relative_error;
use gnn_models::checkpoint::import::import_chgnet;
use gnn_models::{Model, PairPotential, Prediction};
use std::path::PathBuf;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model(dtype: DType) -> Model {
    let checkpoint = import_chgnet(&common::pretrained("chgnet-0.3.0")).unwrap();
    Model::from_checkpoint(&checkpoint, dtype, &Device::Cpu).unwrap()
}

fn structures() -> Vec<Structure> {
    chem_graph::io::read_structures(workspace().join("tests/fixtures/potentials/structures.extxyz")).unwrap()
}

fn fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(workspace().join("tests/fixtures/potentials/chgnet_0.3.0.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn numbers(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(items) => items.iter().flat_map(numbers).collect(),
        other => vec![other.as_f64().unwrap()],
    }
}

/// Energy, forces and (periodic structures) stress of each structure.
fn predict(model: &Model, structures: &[Structure]) -> Vec<Prediction> {
    structures
        .iter()
        .map(|s| {
            let one = std::slice::from_ref(s);
            let mut p = if s.is_periodic() {
                model.predict_with_stress(one, 1)
            } else {
                model.predict_structures(one, true, 1)
            };
            p.as_mut().unwrap().remove(0)
        })
        .collect()
}

fn forces(p: &Prediction) -> Vec<f64> {
    p.forces.as_ref().unwrap().iter().flatten().copied().collect()
}

#[test]
fn imported_chgnet_reproduces_chgnets_calculator() {
    let model = model(DType::F32);
    let structures = structures();
    let frames = fixture()["frames"].as_array().unwrap().clone();
    assert_eq!(frames.len(), structures.len());
    let predictions = predict(&model, &structures);
    let magmoms = model.magmoms(&structures).unwrap();
    let potential = PairPotential::new(&model).unwrap();
    let mut worst = [0.0f64; 5];
    for ((s, p), (frame, m)) in structures.iter().zip(&predictions).zip(frames.iter().zip(&magmoms)) {
        // The molecule without periodicity was given to chgnet in a 20 Å box (it needs a cell).
        assert_eq!(s.is_periodic(), frame.get("boxed").is_none(), "{}", s.label());
        let energy = frame["energy"].as_f64().unwrap();
        let atom_energies = potential.atom_energies(s).unwrap();
        let errors = [
            ((p.values[0] - energy) / energy).abs(),
            relative_error(&forces(p), &numbers(&frame["forces"])),
            p.stress.map_or(0.0, |stress| relative_error(&stress, &numbers(&frame["stress"]))),
            relative_error(&atom_energies, &numbers(&frame["energies"])),
            relative_error(m, &numbers(&frame["magmoms"])),
        ];
        let sum: f64 = atom_energies.iter().sum();
        assert!(
            (sum - p.values[0]).abs() <= 1e-5 * energy.abs(),
            "{}: Σ atom energies {sum} ≠ {}",
            s.label(),
            p.values[0]
        );
        for (w, e) in worst.iter_mut().zip(errors) {
            *w = w.max(e);
        }
    }
    eprintln!(
        "CHGNet f32 against chgnet (energy, forces, stress, atom energies, magmoms): {:?}",
        worst.map(|w| format!("{w:.1e}"))
    );
    for (name, err, tol) in [
        ("energy", worst[0], 1e-5),
        ("forces", worst[1], 1e-4),
        ("stress", worst[2], 1e-4),
        ("atom energies", worst[3], 1e-5),
        ("magmoms", worst[4], 1e-4),
    ] {
        assert!(err <= tol, "{name}: {err:e} > {tol:e} (relative)");
    }
}

#[test]
fn f64_agrees_with_f32_within_f32_rounding() {
    let structures = structures();
    let (single, double) = (predict(&model(DType::F32), &structures), predict(&model(DType::F64), &structures));
    let mut worst = [0.0f64; 3];
    for (a, b) in single.iter().zip(&double) {
        worst[0] = worst[0].max(((a.values[0] - b.values[0]) / b.values[0]).abs());
        worst[1] = worst[1].max(relative_error(&forces(a), &forces(b)));
        if let (Some(x), Some(y)) = (a.stress, b.stress) {
            worst[2] = worst[2].max(relative_error(&x, &y));
        }
    }
    eprintln!("CHGNet f32 against f64 (energy, forces, stress): {:?}", worst.map(|w| format!("{w:.1e}")));
    assert!(worst[0] <= 1e-6 && worst[1] <= 1e-4 && worst[2] <= 1e-4, "{worst:?}");
}

/// A rotation about an oblique axis.
fn rotate(v: [f64; 3]) -> [f64; 3] {
    let (a, b) = (0.7f64, -1.1f64);
    let (ca, sa, cb, sb) = (a.cos(), a.sin(), b.cos(), b.sin());
    let x = [ca * v[0] - sa * v[1], sa * v[0] + ca * v[1], v[2]];
    [x[0], cb * x[1] - sb * x[2], sb * x[1] + cb * x[2]]
}

#[test]
fn invariant_under_rotation_permutation_and_periodic_images() {
    let model = model(DType::F64);
    let all = structures();
    let crystal = all[2].clone();
    let base = predict(&model, std::slice::from_ref(&crystal)).remove(0);
    let (energy, f) = (base.values[0], forces(&base));

    let mut rotated = crystal.clone();
    rotated.positions = rotated.positions.iter().map(|&p| rotate(p)).collect();
    rotated.cell = rotated.cell.map(|c| [rotate(c[0]), rotate(c[1]), rotate(c[2])]);
    let r = predict(&model, std::slice::from_ref(&rotated)).remove(0);
    let turned: Vec<f64> = base.forces.as_ref().unwrap().iter().flat_map(|&v| rotate(v)).collect();
    assert!(((r.values[0] - energy) / energy).abs() < 1e-12, "rotation: {} vs {energy}", r.values[0]);
    assert!(relative_error(&forces(&r), &turned) < 1e-9, "rotated forces");

    let order: Vec<usize> = (0..crystal.len()).rev().collect();
    let permuted = predict(&model, std::slice::from_ref(&crystal.permuted(&order))).remove(0);
    let reordered: Vec<f64> = order.iter().flat_map(|&a| base.forces.as_ref().unwrap()[a]).collect();
    assert!(((permuted.values[0] - energy) / energy).abs() < 1e-12);
    assert!(relative_error(&forces(&permuted), &reordered) < 1e-9);
    assert!(relative_error(&permuted.stress.unwrap(), &base.stress.unwrap()) < 1e-9);

    // A 2 × 1 × 1 supercell: twice the energy, the same forces on both copies, the same stress.
    let cell = crystal.cell.unwrap();
    let mut supercell = crystal.clone();
    for p in &crystal.positions {
        supercell.positions.push([p[0] + cell[0][0], p[1] + cell[0][1], p[2] + cell[0][2]]);
    }
    supercell.numbers.extend(crystal.numbers.clone());
    supercell.cell = Some([[2.0 * cell[0][0], 2.0 * cell[0][1], 2.0 * cell[0][2]], cell[1], cell[2]]);
    supercell.atom_arrays.clear();
    let s = predict(&model, std::slice::from_ref(&supercell)).remove(0);
    assert!(((s.values[0] - 2.0 * energy) / energy).abs() < 1e-12, "supercell {} vs 2 × {energy}", s.values[0]);
    assert!(relative_error(&forces(&s), &[f.clone(), f].concat()) < 1e-9);
    assert!(relative_error(&s.stress.unwrap(), &base.stress.unwrap()) < 1e-9);
}

#[test]
fn bad_inputs_are_errors() {
    // A truncated checkpoint.
    let bytes = std::fs::read(common::pretrained("chgnet-0.3.0")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.pth.tar");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = import_chgnet(&truncated).unwrap_err().to_string();
    assert!(err.contains("truncated.pth.tar"), "{err}");
    // A SevenNet checkpoint.
    let sevennet = common::pretrained("sevennet-0");
    let err = import_chgnet(&sevennet).unwrap_err().to_string();
    assert!(err.contains("model"), "{err}");
    // An element outside the table (Z = 95).
    let model = model(DType::F32);
    let mut s = structures()[0].clone();
    s.numbers[1] = 95;
    let err = model.predict_with_stress(&[s], 1).unwrap_err().to_string();
    assert!(err.contains("95"), "{err}");
    assert!(model.magmoms(&structures()[..1]).is_ok());
}

/// The fine-tuning hook: δ added to an element's AtomRef moves the energy by (atoms of it) · δ.
#[test]
fn atomref_is_the_species_shift_table() {
    let checkpoint = import_chgnet(&common::pretrained("chgnet-0.3.0")).unwrap();
    let shifts = checkpoint.config.model.species_shifts().expect("CHGNet declares its AtomRef");
    assert!(!shifts.mean && shifts.elements.len() == 94);
    let structure = structures().into_iter().find(|s| s.numbers.contains(&14) || s.len() > 6).unwrap();
    common::assert_shift_table_moves_energy(checkpoint, &structure);
}
