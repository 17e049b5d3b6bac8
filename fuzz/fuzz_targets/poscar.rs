//! `parse_poscar` must return (an error or a structure) on any input, never panic; a structure
//! it returns must be writable, and the written text readable without a panic.
#![no_main]

use chem_crystal::io::{parse_poscar, poscar_string};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = parse_poscar(&text, "POSCAR") {
        let written = poscar_string(&s).expect("a structure read from a POSCAR can be written");
        let _ = parse_poscar(&written, "POSCAR.rewritten");
    }
});
