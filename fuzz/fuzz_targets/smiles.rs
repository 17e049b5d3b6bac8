//! `smiles::parse` must return a molecular graph or an error on any string, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chem_graph::smiles::parse(&String::from_utf8_lossy(data));
});
