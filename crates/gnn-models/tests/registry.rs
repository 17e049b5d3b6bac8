//! Every registered model kind keeps the promises of its registry entry: its preset is of its
//! kind and survives `config.json`, and each capability it declares (forces, per-atom energies,
//! elements, target scaling) is what the built model does.

mod common;

use chem_graph::Structure;
use gnn_models::models::{Elements, GraphInputs, Scaling, KINDS};
use gnn_models::{ModelConfig, PairPotential, TargetScaling};

/// Water, or rock salt for models of crystal graphs.
fn structure_for(config: &ModelConfig) -> Structure {
    match config.inputs() {
        GraphInputs::Crystal { .. } => {
            let a = 5.64;
            let half = a / 2.0;
            let mut positions = vec![];
            let mut numbers = vec![];
            for base in [[0.0, 0.0, 0.0], [0.0, half, half], [half, 0.0, half], [half, half, 0.0]] {
                positions.push(base);
                positions.push([(base[0] + half) % a, base[1], base[2]]);
                numbers.extend([11, 17]);
            }
            Structure::periodic(numbers, positions, [[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]], [true; 3]).unwrap()
        }
        _ => Structure::molecule(vec![8, 1, 1], vec![[0.0, 0.0, 0.119], [0.0, 0.763, -0.477], [0.0, -0.763, -0.477]])
            .unwrap(),
    }
}

/// Every kind with a preset.
fn presets() -> Vec<ModelConfig> {
    KINDS.iter().filter_map(|k| ModelConfig::preset(k.name)).collect()
}

#[test]
fn kinds_are_unique_and_presets_are_of_their_kind_and_survive_json() {
    let mut names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), KINDS.len(), "a kind is registered twice");
    assert!(presets().len() >= 6, "schnet, mpnn, cogn, congn, l0net and l1net have presets");
    for kind in KINDS {
        assert!(!kind.help.is_empty());
        let Some(preset) = ModelConfig::preset(kind.name) else { continue };
        assert_eq!(preset.kind(), kind.name);
        let json = serde_json::to_value(&preset).unwrap();
        assert_eq!(json["kind"], kind.name);
        assert_eq!(serde_json::from_value::<ModelConfig>(json).unwrap(), preset);
    }
    assert!(ModelConfig::preset("no-such-model").is_none());
}

#[test]
fn declared_capabilities_are_what_the_models_do() {
    for config in presets() {
        let kind = config.kind();
        let capabilities = config.capabilities();
        let structure = structure_for(&config);
        let model = common::model_of(config.clone());
        let plain = model.predict_structures(std::slice::from_ref(&structure), false, 8).unwrap();
        assert_eq!(plain[0].values.len(), config.outputs(), "{kind}");
        // Forces exist exactly where declared (non-zero on the molecule, which is not relaxed).
        let with_forces = model.predict_structures(std::slice::from_ref(&structure), true, 8);
        if capabilities.forces {
            let forces = with_forces.unwrap().remove(0).forces.unwrap();
            assert!(forces.iter().flatten().any(|f| f.abs() > 0.0) || structure.is_periodic(), "{kind}: zero forces");
        } else {
            let err = with_forces.unwrap_err().to_string();
            assert!(err.contains("not differentiated for forces"), "{kind}: {err}");
        }
        // Per-atom energies exist exactly where declared and sum to the prediction.
        match (&capabilities.atom_energies, PairPotential::new(&model)) {
            (Ok(locality), Ok(potential)) => {
                assert_eq!((potential.cutoff(), potential.layers()), (locality.cutoff, locality.layers), "{kind}");
                let energies = potential.atom_energies(&structure).unwrap();
                let sum: f64 = energies.iter().sum();
                assert!((sum - plain[0].values[0]).abs() <= 1e-10 * sum.abs().max(1.0), "{kind}: {sum} vs {plain:?}");
            }
            (Err(why), Err(e)) => assert!(e.to_string().contains(why.as_str()), "{kind}: {e}"),
            (declared, built) => panic!("{kind}: declared {declared:?}, PairPotential::new gave {:?}", built.err()),
        }
        // An element outside the model's set is refused, naming the atom.
        let unknown = match &capabilities.elements {
            Elements::Below(n) => u8::try_from(*n).ok().filter(|&z| (1..=118).contains(&z)),
            Elements::Listed(list) => (1..=118).find(|z| !list.contains(z)),
            Elements::UpTo(_) | Elements::Any => None,
        };
        if let Some(z) = unknown {
            let mut odd = structure.clone();
            odd.numbers[0] = z;
            let err = model.predict(&[odd]).unwrap_err().to_string();
            assert!(err.contains(&format!("atom 0 has atomic number {z}")), "{kind}: {err}");
        }
    }
}

#[test]
fn target_scaling_enters_per_atom_or_per_structure_as_declared() {
    let scaling = TargetScaling { standardize: Some((vec![2.0], vec![3.0])), extensive: vec![true], atomref: None };
    for config in presets() {
        let kind = config.kind();
        let structure = structure_for(&config);
        let raw = common::model_of(config.clone()).predict(std::slice::from_ref(&structure)).unwrap()[0].values[0];
        let mut scaled_config = config.clone();
        let result = scaled_config.set_target_scaling(&scaling);
        let expected = match config.capabilities().scaling {
            Scaling::None => {
                assert!(result.is_err(), "{kind} declares no scaling but accepted it");
                continue;
            }
            // y = Σ_i (h_i·3 + 2) with raw = Σ_i h_i (the presets start unscaled).
            Scaling::PerAtom => 3.0 * raw + 2.0 * structure.len() as f64,
            Scaling::PerStructure => 3.0 * raw + 2.0,
        };
        result.unwrap();
        let scaled = common::model_of(scaled_config).predict(std::slice::from_ref(&structure)).unwrap()[0].values[0];
        assert!((scaled - expected).abs() <= 1e-10 * expected.abs().max(1.0), "{kind}: {scaled} vs {expected}");
    }
}
