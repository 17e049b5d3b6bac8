//! pymatgen structure dicts, MatBench task tables and matminer tables must be read or refused with
//! an error, never panic; structures read must convert back to a dict.
#![no_main]

use chem_crystal::io::matminer::{MatminerTable, MATMINER_SETS};
use chem_crystal::io::{structure_from_dict, structure_to_dict, MatbenchDataset, ReadOptions};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(s) = structure_from_dict(&value, "structure.json") {
            structure_to_dict(&s).expect("a structure read from a dict converts back");
        }
    }
    let mut file = tempfile::Builder::new().suffix(".json").tempfile().expect("temporary file");
    file.write_all(data).expect("temporary file written");
    let _ = MatbenchDataset::read(file.path());
    for set in &MATMINER_SETS {
        let _ = MatminerTable::parse(*set, data, "table.json", &ReadOptions::default());
    }
});
