//! Stress of an imported schnetpack SchNet on periodic crystals against schnetpack's own
//! (`spk.atomistic.Strain` + `Forces(calc_stress=True)`; fixture from
//! tests/reference/schnetpack_stress.py), with energies and forces, in f64.

mod common;

use candle_core::{DType, Device};
use chem_graph::Structure;
use common::{case_dir, flat, relative_error};
use gnn_models::import::{import, Source};
use gnn_models::{Model, StateDict, Target};

#[test]
fn imported_schnetpack_schnet_reproduces_schnetpacks_stress() {
    let dir = case_dir("schnetpack_stress_f64");
    let args: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("args.json")).unwrap()).unwrap();
    let weights = StateDict::read(dir.join("state_dict.safetensors")).unwrap();
    let target = vec![Target { name: "energy".into(), unit: "eV".into() }];
    let checkpoint = import(Source::Schnetpack, "schnet", &args, "args.json", weights, target).unwrap();
    let model = Model::from_checkpoint(&checkpoint, DType::F64, &Device::Cpu).unwrap();

    let crystals = candle_core::safetensors::load(dir.join("crystals.safetensors"), &Device::Cpu).unwrap();
    let numbers: Vec<i64> = crystals["numbers"].to_vec1().unwrap();
    let positions: Vec<Vec<f64>> = crystals["positions"].to_vec2().unwrap();
    let cells: Vec<Vec<Vec<f64>>> = crystals["cells"].to_vec3().unwrap();
    let offsets: Vec<i64> = crystals["atom_offsets"].to_vec1().unwrap();
    let structures: Vec<Structure> = cells
        .iter()
        .enumerate()
        .map(|(k, cell)| {
            let atoms = offsets[k] as usize..offsets[k + 1] as usize;
            Structure::periodic(
                numbers[atoms.clone()].iter().map(|&z| z as u8).collect(),
                positions[atoms].iter().map(|p| [p[0], p[1], p[2]]).collect(),
                [0, 1, 2].map(|r| [cell[r][0], cell[r][1], cell[r][2]]),
                [true; 3],
            )
            .unwrap()
        })
        .collect();

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
