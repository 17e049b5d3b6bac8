//! `read_qm9pack_csv` must return molecules or an error on any input, never panic.
#![no_main]

use chem_graph::qm9::read_qm9pack_csv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_qm9pack_csv(data, "qm9_part1.csv");
});
