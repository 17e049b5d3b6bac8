//! The C ABI called as C calls it: a saved checkpoint loaded by path, pair input in flat arrays,
//! results equal to [`PairPotential`]'s, errors as status + message, never a panic.

use candle_core::{DType, Device};
use chemgnn_capi::*;
use gnn_models::checkpoint::import::{import, Source};
use gnn_models::{Model, PairInput, PairPotential, StateDict, Target};
use std::ffi::{c_char, CStr, CString};
use std::path::{Path, PathBuf};

fn fixture(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/models").join(case)
}

/// The fixture's weights imported and saved as a chemgnn checkpoint in `out`.
fn saved_checkpoint(case: &str, source: Source, kind: &str, out: &Path) {
    let dir = fixture(case);
    let args: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("args.json")).unwrap()).unwrap();
    let weights = StateDict::read(dir.join("state_dict.safetensors")).unwrap();
    let target = vec![Target { name: "energy".into(), unit: "eV".into() }];
    import(source, kind, &args, "args.json", weights, target).unwrap().save(out).unwrap();
}

fn load(dir: &Path) -> Result<*mut ChemgnnModel, String> {
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    let mut error = [0 as c_char; 512];
    // SAFETY: valid string and buffer.
    let model = unsafe { chemgnn_model_load(path.as_ptr(), 1, error.as_mut_ptr(), error.len()) };
    if model.is_null() {
        Err(message(&error))
    } else {
        Ok(model)
    }
}

fn message(buffer: &[c_char]) -> String {
    // SAFETY: chemgnn NUL-terminates what it writes.
    unsafe { CStr::from_ptr(buffer.as_ptr()) }.to_string_lossy().into_owned()
}

/// A Na–Cl–Na chain: 3 atoms (the last one a ghost), pairs in both directions, one beyond 5 Å.
struct Chain {
    numbers: Vec<i32>,
    receivers: Vec<i32>,
    senders: Vec<i32>,
    vectors: Vec<f64>,
}

fn chain() -> Chain {
    let x = [0.0, 2.8, 5.5];
    let mut chain = Chain { numbers: vec![11, 17, 11], receivers: vec![], senders: vec![], vectors: vec![] };
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                chain.receivers.push(i);
                chain.senders.push(j);
                chain.vectors.extend([x[j as usize] - x[i as usize], 0.1 * (j - i) as f64, 0.0]);
            }
        }
    }
    chain
}

fn compute(
    model: *const ChemgnnModel,
    chain: &Chain,
    local: usize,
) -> Result<(ChemgnnResult, Vec<f64>, Vec<f64>), String> {
    let pairs = ChemgnnPairs {
        atoms: chain.numbers.len(),
        local,
        numbers: chain.numbers.as_ptr(),
        pairs: chain.receivers.len(),
        receivers: chain.receivers.as_ptr(),
        senders: chain.senders.as_ptr(),
        vectors: chain.vectors.as_ptr(),
    };
    let mut energies = vec![f64::NAN; chain.numbers.len()];
    let mut forces = vec![f64::NAN; chain.vectors.len()];
    let mut result = ChemgnnResult {
        energy: f64::NAN,
        atom_energies: energies.as_mut_ptr(),
        pair_forces: forces.as_mut_ptr(),
        virial: [f64::NAN; 6],
    };
    let mut error = [0 as c_char; 512];
    // SAFETY: arrays of the declared lengths.
    let status = unsafe { chemgnn_compute(model, &pairs, &mut result, error.as_mut_ptr(), error.len()) };
    if status == 0 {
        Ok((result, energies, forces))
    } else {
        Err(message(&error))
    }
}

#[test]
fn compute_through_the_abi_equals_the_pair_potential() {
    let dir = tempfile::tempdir().unwrap();
    saved_checkpoint("schnetpack_stress_f64", Source::Schnetpack, "schnet", dir.path());
    let model = load(dir.path()).unwrap();
    // SAFETY: a live model.
    unsafe {
        assert_eq!(chemgnn_model_cutoff(model), 5.0);
        assert_eq!(chemgnn_model_layers(model), 3);
        let mut unit = [0 as c_char; 8];
        assert_eq!(chemgnn_model_energy_unit(model, unit.as_mut_ptr(), unit.len()), 2);
        assert_eq!(message(&unit), "eV");
        assert!(!CStr::from_ptr(chemgnn_version()).to_bytes().is_empty());
    }

    let chain = chain();
    let (result, energies, forces) = compute(model, &chain, 2).unwrap();
    let reference = Model::load_on(dir.path(), DType::F64, &Device::Cpu).unwrap();
    let numbers: Vec<u8> = chain.numbers.iter().map(|&z| z as u8).collect();
    let receivers: Vec<u32> = chain.receivers.iter().map(|&i| i as u32).collect();
    let senders: Vec<u32> = chain.senders.iter().map(|&i| i as u32).collect();
    let vectors: Vec<[f64; 3]> = chain.vectors.chunks(3).map(|r| [r[0], r[1], r[2]]).collect();
    let input = PairInput { numbers: &numbers, local: 2, receivers: &receivers, senders: &senders, vectors: &vectors };
    let expected = PairPotential::new(&reference).unwrap().compute(&input).unwrap();
    assert_eq!(result.energy, expected.energy);
    assert_eq!(result.virial, expected.virial);
    assert_eq!(energies, expected.atom_energies);
    assert_eq!(forces, expected.pair_forces.as_flattened());
    assert!(forces.iter().any(|&f| f != 0.0));
    // The 0 ↔ 2 pairs (5.5 Å) are beyond the cutoff.
    assert_eq!(&forces[3..6], &[0.0; 3]);
    // SAFETY: freed once.
    unsafe { chemgnn_model_free(model) };
}

#[test]
fn errors_are_a_status_and_a_message_never_a_crash() {
    let missing = load(Path::new("/nonexistent/model")).unwrap_err();
    assert!(missing.contains("/nonexistent/model"), "{missing}");

    let dir = tempfile::tempdir().unwrap();
    saved_checkpoint("pyg_qm9_mpnn", Source::Pyg, "mpnn", dir.path());
    let refused = load(dir.path()).unwrap_err();
    assert!(refused.contains("cannot be used as an interatomic potential"), "{refused}");

    let dir = tempfile::tempdir().unwrap();
    saved_checkpoint("schnetpack_stress_f64", Source::Schnetpack, "schnet", dir.path());
    let model = load(dir.path()).unwrap();
    let mut chain = chain();
    chain.numbers[1] = 300;
    assert!(compute(model, &chain, 2).unwrap_err().contains("atom 1 has atomic number 300"));
    let mut chain = self::chain();
    chain.senders[0] = -1;
    assert!(compute(model, &chain, 2).unwrap_err().contains("pair 0 has a negative sending atom -1"));
    let mut chain = self::chain();
    chain.vectors[4] = f64::INFINITY;
    assert!(compute(model, &chain, 2).unwrap_err().contains("pair 1"));
    assert!(compute(model, &self::chain(), 4).unwrap_err().contains("4 local atoms"));
    assert!(compute(std::ptr::null(), &self::chain(), 2).unwrap_err().contains("the model is null"));
    // A message longer than the buffer is cut, still NUL-terminated.
    let mut short = [1 as c_char; 6];
    // SAFETY: null input pointers are reported, not read.
    let status =
        unsafe { chemgnn_compute(model, std::ptr::null(), std::ptr::null_mut(), short.as_mut_ptr(), short.len()) };
    assert_eq!((status, message(&short).as_str()), (1, "the p"));
    // SAFETY: freed once; null is ignored.
    unsafe {
        chemgnn_model_free(model);
        chemgnn_model_free(std::ptr::null_mut());
    }
}
