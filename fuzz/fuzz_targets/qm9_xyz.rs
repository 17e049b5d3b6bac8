//! `parse_qm9_xyz` must return a molecule or an error on any input, never panic.
#![no_main]

use chem_graph::qm9::parse_qm9_xyz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_qm9_xyz(&String::from_utf8_lossy(data), "dsgdb9nsd_000001.xyz");
});
