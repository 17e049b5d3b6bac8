//! Stress of an imported schnetpack SchNet on periodic crystals against schnetpack's own
//! (`spk.atomistic.Strain` + `Forces(calc_stress=True)`; fixture from
//! tests/reference/schnetpack_stress.py), with energies and forces, in f64.

mod common;

use candle_core::Device;
use common::{case_dir, flat, relative_error, schnetpack_stress_crystals, schnetpack_stress_model};

#[test]
fn imported_schnetpack_schnet_reproduces_schnetpacks_stress() {
    let model = schnetpack_stress_model();
    let structures = schnetpack_stress_crystals();

    let dir = case_dir("schnetpack_stress_f64");
    let predictions = model.predict_with_stress(&structures, 2).unwrap();
    let expected = candle_core::safetensors::load(dir.join("expected.safetensors"), &Device::Cpu).unwrap();
    let energy: Vec<f64> = predictions.iter().map(|p| p.values[0]).collect();
    let forces: Vec<f64> = predictions.iter().flat_map(|p| p.forces.clone().unwrap()).flatten().collect();
    // schnetpack's 3 × 3 stress in Voigt order (xx, yy, zz, yz, xz, xy).
    let stress: Vec<f64> = predictions.iter().flat_map(|p| p.stress.unwrap()).collect();
    let voigt: Vec<f64> = expected["stress"]
        .to_vec3::<f64>()
        .unwrap()
        .iter()
        .flat_map(|s| [s[0][0], s[1][1], s[2][2], s[1][2], s[0][2], s[0][1]])
        .collect();
    for (name, ours, theirs) in [
        ("energy", energy, flat(&expected["energy"])),
        ("forces", forces, flat(&expected["forces"])),
        ("stress", stress, voigt),
    ] {
        let err = relative_error(&ours, &theirs);
        assert!(err <= 1e-10, "{name} differs from schnetpack's by {err:e} (relative)");
    }
}

#[test]
fn predictions_through_a_verlet_list_equal_fresh_ones_step_after_step() {
    let model = schnetpack_stress_model();
    let mut crystal = schnetpack_stress_crystals()[2].clone();
    let mut list = model.verlet_list(1.0).unwrap();
    for step in 0..12 {
        for (a, p) in crystal.positions.iter_mut().enumerate() {
            p[a % 3] += 0.04 * ((step * 7 + a) as f64).sin();
        }
        let fresh = model.predict_with_stress(std::slice::from_ref(&crystal), 1).unwrap().remove(0);
        assert_eq!(model.predict_with_verlet(&crystal, &mut list).unwrap(), fresh, "step {step}");
    }
    assert!(list.searches() < 12, "{} searches in 12 steps", list.searches());
    let mut molecule = crystal.clone();
    molecule.cell = None;
    molecule.pbc = [false; 3];
    let fresh = model.predict_structures(std::slice::from_ref(&molecule), true, 1).unwrap().remove(0);
    assert_eq!(model.predict_with_verlet(&molecule, &mut list).unwrap(), fresh);
}

#[test]
fn capped_radius_graphs_have_no_verlet_list() {
    let pyg = common::imported("pyg_schnet_default", gnn_models::checkpoint::import::Source::Pyg, "schnet");
    assert!(pyg.verlet_list(1.0).is_none());
}
