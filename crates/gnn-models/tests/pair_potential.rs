//! The model as an interatomic potential on an MD engine's neighbour lists ([`PairPotential`]):
//! crystals given as LAMMPS gives them to a pair style on one rank — local atoms, ghost images out
//! to `layers × cutoff`, a full pair list with a skin over all of them — give the energy, forces
//! and stress that the model predicts for the periodic crystals (which tests/stress.rs checks
//! against schnetpack).

mod common;

use chem_graph::structure::determinant;
use chem_graph::{Graph, RadiusOptions, Structure};
use common::{relative_error, schnetpack_stress_crystals, schnetpack_stress_model};
use gnn_models::{Model, PairInput, PairOutput, PairPotential};

/// A crystal as an engine sees it: the cell's atoms, then ghost images, each with its owner.
struct EngineView {
    numbers: Vec<u8>,
    local: usize,
    owner: Vec<usize>,
    receivers: Vec<u32>,
    senders: Vec<u32>,
    vectors: Vec<[f64; 3]>,
}

impl EngineView {
    /// Ghosts: every image within `ghost_cutoff` of a cell atom. Pairs: every pair of atoms (local
    /// or ghost) closer than `list_cutoff`, both directions.
    fn new(crystal: &Structure, ghost_cutoff: f64, list_cutoff: f64) -> Self {
        let cell = crystal.cell.unwrap();
        let atoms = crystal.numbers.len();
        let (mut numbers, mut positions, mut owner) = (crystal.numbers.clone(), crystal.positions.clone(), Vec::new());
        owner.extend(0..atoms);
        let reach = heights(&cell).map(|h| (ghost_cutoff / h).ceil() as i32 + 1);
        for a in -reach[0]..=reach[0] {
            for b in -reach[1]..=reach[1] {
                for c in -reach[2]..=reach[2] {
                    if (a, b, c) == (0, 0, 0) {
                        continue;
                    }
                    for (k, r) in crystal.positions.iter().enumerate() {
                        let image: [f64; 3] = std::array::from_fn(|x| {
                            r[x] + a as f64 * cell[0][x] + b as f64 * cell[1][x] + c as f64 * cell[2][x]
                        });
                        if crystal.positions.iter().any(|p| distance(p, &image) <= ghost_cutoff) {
                            numbers.push(crystal.numbers[k]);
                            positions.push(image);
                            owner.push(k);
                        }
                    }
                }
            }
        }
        let everything = Structure::molecule(numbers.clone(), positions).unwrap();
        let edges = Graph::radius(&everything, &RadiusOptions::new(list_cutoff)).unwrap().edges;
        Self { numbers, local: atoms, owner, receivers: edges.target, senders: edges.source, vectors: edges.vector }
    }

    fn input(&self) -> PairInput<'_> {
        PairInput {
            numbers: &self.numbers,
            local: self.local,
            receivers: &self.receivers,
            senders: &self.senders,
            vectors: &self.vectors,
        }
    }

    /// Pair forces summed onto atoms, ghosts' forces onto their owners (LAMMPS' reverse
    /// communication).
    fn atom_forces(&self, out: &PairOutput) -> Vec<[f64; 3]> {
        let mut forces = vec![[0.0; 3]; self.local];
        for (k, f) in out.pair_forces.iter().enumerate() {
            let (i, j) = (self.owner[self.receivers[k] as usize], self.owner[self.senders[k] as usize]);
            for x in 0..3 {
                forces[j][x] += f[x];
                forces[i][x] -= f[x];
            }
        }
        forces
    }
}

fn distance(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    (0..3).map(|x| (a[x] - b[x]).powi(2)).sum::<f64>().sqrt()
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// Distances between opposite faces of the cell.
fn heights(cell: &[[f64; 3]; 3]) -> [f64; 3] {
    let volume = determinant(cell).abs();
    [(1, 2), (2, 0), (0, 1)].map(|(a, b)| volume / cross(cell[a], cell[b]).iter().map(|x| x * x).sum::<f64>().sqrt())
}

#[test]
fn engine_neighbour_lists_with_ghosts_give_the_periodic_energy_forces_and_stress() {
    let model = schnetpack_stress_model();
    let potential = PairPotential::new(&model).unwrap();
    assert_eq!((potential.cutoff(), potential.layers()), (5.0, 3));
    let crystals = schnetpack_stress_crystals();
    let predictions = model.predict_with_stress(&crystals, 1).unwrap();
    for (crystal, expected) in crystals.iter().zip(&predictions) {
        // A list with a 1 Å skin, as an engine builds it: pairs beyond the cutoff must not count.
        let view = EngineView::new(crystal, potential.ghost_cutoff(), potential.cutoff() + 1.0);
        assert!(view.vectors.iter().any(|r| distance(r, &[0.0; 3]) > potential.cutoff()));
        let out = potential.compute(&view.input()).unwrap();
        let label = crystal.label();

        let energy = expected.values[0];
        assert!(relative_error(&[out.energy], &[energy]) <= 1e-10, "{label}: energy {} vs {energy}", out.energy);
        let local_sum: f64 = out.atom_energies[..view.local].iter().sum();
        assert!(relative_error(&[local_sum], &[energy]) <= 1e-10, "{label}: per-atom energies sum to {local_sum}");

        let forces: Vec<f64> = view.atom_forces(&out).into_iter().flatten().collect();
        let expected_forces: Vec<f64> = expected.forces.clone().unwrap().into_iter().flatten().collect();
        // Relative to 1 eV/Å at least: forces of a symmetric crystal are zero up to rounding.
        let err = relative_error(&[forces, vec![1.0]].concat(), &[expected_forces, vec![1.0]].concat());
        assert!(err <= 1e-10, "{label}: forces differ by {err:e}");

        // W = −V·σ; σ in ASE's order (xx, yy, zz, yz, xz, xy), W in LAMMPS' (xx, yy, zz, xy, xz, yz).
        let volume = determinant(&crystal.cell.unwrap()).abs();
        let s = expected.stress.unwrap();
        let expected_virial: Vec<f64> = [s[0], s[1], s[2], s[5], s[4], s[3]].iter().map(|x| -volume * x).collect();
        let err = relative_error(&out.virial, &expected_virial);
        assert!(err <= 1e-10, "{label}: virial {:?} vs {expected_virial:?} ({err:e})", out.virial);
    }
}

/// A distorted three-atom triclinic cell smaller than the cutoff (images interact).
fn triclinic_crystal() -> Structure {
    let cell = [[3.1, 0.2, -0.1], [0.4, 2.9, 0.3], [-0.2, 0.5, 3.3]];
    Structure::periodic(vec![11, 17, 8], vec![[0.1, 0.2, 0.0], [1.6, 1.4, 1.7], [2.4, 0.3, 1.1]], cell, [true; 3])
        .unwrap()
}

#[test]
fn an_l1net_on_engine_lists_gives_its_periodic_energy_forces_and_stress() {
    let model = common::l1net_model();
    let potential = PairPotential::new(&model).unwrap();
    let crystal = triclinic_crystal();
    let expected = model.predict_with_stress(std::slice::from_ref(&crystal), 1).unwrap().remove(0);
    let view = EngineView::new(&crystal, potential.ghost_cutoff(), potential.cutoff() + 0.5);
    let out = potential.compute(&view.input()).unwrap();
    assert!(relative_error(&[out.energy], &expected.values) <= 1e-10, "{} vs {:?}", out.energy, expected.values);
    let forces: Vec<f64> = view.atom_forces(&out).into_iter().flatten().collect();
    let expected_forces: Vec<f64> = expected.forces.unwrap().into_iter().flatten().collect();
    assert!(relative_error(&forces, &expected_forces) <= 1e-10);
    let s = expected.stress.unwrap();
    let volume = determinant(&crystal.cell.unwrap()).abs();
    let expected_virial: Vec<f64> = [s[0], s[1], s[2], s[5], s[4], s[3]].iter().map(|x| -volume * x).collect();
    assert!(relative_error(&out.virial, &expected_virial) <= 1e-10, "{:?} vs {expected_virial:?}", out.virial);
}

#[test]
fn pairs_beyond_the_cutoff_get_no_force_and_ghost_energies_do_not_count() {
    let model = schnetpack_stress_model();
    let potential = PairPotential::new(&model).unwrap();
    let crystal = &schnetpack_stress_crystals()[0];
    let view = EngineView::new(crystal, potential.ghost_cutoff(), potential.cutoff() + 1.0);
    let out = potential.compute(&view.input()).unwrap();
    for (r, f) in view.vectors.iter().zip(&out.pair_forces) {
        if distance(r, &[0.0; 3]) > potential.cutoff() {
            assert_eq!(*f, [0.0; 3]);
        }
    }
    assert_eq!(out.atom_energies.len(), view.numbers.len());
    let everything: f64 = out.atom_energies.iter().sum();
    assert!((everything - out.energy).abs() > 1e-3, "ghost energies were summed");
}

#[test]
fn per_atom_energies_of_crystals_and_molecules_sum_to_the_prediction() {
    for model in [schnetpack_stress_model(), common::l1net_model()] {
        let potential = PairPotential::new(&model).unwrap();
        let crystal = triclinic_crystal();
        let mut molecule = crystal.clone();
        (molecule.cell, molecule.pbc) = (None, [false; 3]);
        for structure in [crystal, molecule] {
            let energies = potential.atom_energies(&structure).unwrap();
            let predicted = model.predict(std::slice::from_ref(&structure)).unwrap()[0].values[0];
            assert_eq!(energies.len(), structure.numbers.len());
            let sum: f64 = energies.iter().sum();
            assert!(relative_error(&[sum], &[predicted]) <= 1e-12, "{sum} vs {predicted}");
            assert!(energies.iter().any(|&e| (e - energies[0]).abs() > 1e-6), "all atoms alike: {energies:?}");
        }
    }
}

fn error(model: &Model, input: PairInput) -> String {
    PairPotential::new(model).unwrap().compute(&input).unwrap_err().to_string()
}

#[test]
fn bad_input_is_an_error_naming_the_atom_or_pair() {
    let model = schnetpack_stress_model();
    let input = |numbers: &'static [u8], vectors: &'static [[f64; 3]], senders: &'static [u32]| PairInput {
        numbers,
        local: numbers.len(),
        receivers: &[0, 1],
        senders,
        vectors,
    };
    let good =
        PairPotential::new(&model).unwrap().compute(&input(&[11, 17], &[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], &[1, 0]));
    assert!(good.is_ok());
    let message = error(&model, input(&[11, 200], &[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], &[1, 0]));
    assert!(message.contains("atom 1 has atomic number 200"), "{message}");
    let message = error(&model, input(&[11, 17], &[[f64::NAN, 0.0, 0.0], [-1.0, 0.0, 0.0]], &[1, 0]));
    assert!(message.contains("pair 0") && message.contains("non-finite"), "{message}");
    let message = error(&model, input(&[11, 17], &[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], &[1, 5]));
    assert!(message.contains("pair 1 joins atoms 1 and 5, but there are 2 atoms"), "{message}");
    let message = error(&model, input(&[11, 17], &[[0.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], &[1, 0]));
    assert!(message.contains("length zero"), "{message}");
    let message =
        error(&model, PairInput { local: 3, ..input(&[11, 17], &[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]], &[1, 0]) });
    assert!(message.contains("3 local atoms"), "{message}");
}

#[test]
fn models_without_per_atom_energies_are_refused() {
    let mpnn = common::imported("pyg_qm9_mpnn", gnn_models::checkpoint::import::Source::Pyg, "mpnn");
    let message = PairPotential::new(&mpnn).err().unwrap().to_string();
    assert!(message.contains("mpnn model cannot be used as an interatomic potential"), "{message}");
}

/// CHGNet imported from the chgnet 0.4.2 wheel (`CHEMGNN_PRETRAINED_DIR`, else
/// data/cache/pretrained; see tests/chgnet.rs), in f64.
fn chgnet_model() -> Model {
    let dir = std::env::var_os("CHEMGNN_PRETRAINED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/cache/pretrained"));
    let file = dir.join("chgnet-0.4.2/chgnet/pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar");
    let checkpoint = gnn_models::checkpoint::import::import_chgnet(&file).unwrap();
    Model::from_checkpoint(&checkpoint, candle_core::DType::F64, &candle_core::Device::Cpu).unwrap()
}

/// CHGNet's ghost shell is 4 × 6 Å (its 3 Å bond graph reaches no further; 18 Å is not enough:
/// the energy then differs by ~5e-8 eV).
#[test]
fn chgnet_on_engine_lists_with_its_ghost_shell_gives_its_periodic_energy_and_forces() {
    let model = chgnet_model();
    let potential = PairPotential::new(&model).unwrap();
    assert_eq!((potential.cutoff(), potential.layers()), (6.0, 4));
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/potentials/structures.extxyz");
    let crystal = chem_graph::io::read_structures(path).unwrap().swap_remove(6);
    let expected = model.predict_with_stress(std::slice::from_ref(&crystal), 1).unwrap().remove(0);
    let view = EngineView::new(&crystal, potential.ghost_cutoff(), potential.cutoff() + 0.5);
    let out = potential.compute(&view.input()).unwrap();
    let energy = expected.values[0];
    assert!(relative_error(&[out.energy], &[energy]) <= 1e-10, "energy {} vs {energy}", out.energy);
    let forces: Vec<f64> = view.atom_forces(&out).into_iter().flatten().collect();
    let expected_forces: Vec<f64> = expected.forces.unwrap().into_iter().flatten().collect();
    let err = relative_error(&forces, &expected_forces);
    assert!(err <= 1e-9, "forces differ by {err:e}");
}
