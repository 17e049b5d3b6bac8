//! `parse_cif` must return (an error or structures) on any input, never panic; structures it
//! returns must be writable, and the written text readable without a panic.
#![no_main]

use chem_crystal::io::{cif_string, parse_cif, CifOptions, PartialOccupancy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let default = CifOptions::default();
    let majority = CifOptions::default().with_partial_occupancy(PartialOccupancy::Majority);
    for options in [default, majority] {
        if let Ok(structures) = parse_cif(&text, "fuzz.cif", &options) {
            for s in structures {
                let written = cif_string(&s).expect("a structure read from a CIF can be written");
                let _ = parse_cif(&written, "rewritten.cif", &options);
            }
        }
    }
});
