//! `read_xyz_str` must return (an error or structures) on any input, never panic; structures it
//! returns must be writable as XYZ and extended XYZ, read back to the same atoms, and their
//! neighbour lists (open or periodic) must build or fail cleanly.
#![no_main]

use chem_graph::xyz::{read_xyz_str, write_extxyz, write_xyz};
use chem_graph::{radius_graph, RadiusOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(structures) = read_xyz_str(&text, "fuzz.xyz") else { return };
    for s in &structures {
        let _ = radius_graph(s, &RadiusOptions::new(3.0));
    }
    for extended in [false, true] {
        let mut written = Vec::new();
        if extended {
            write_extxyz(&mut written, &structures).expect("structures read from XYZ can be written");
        } else {
            write_xyz(&mut written, &structures).expect("structures read from XYZ can be written");
        }
        let again = read_xyz_str(&String::from_utf8(written).expect("XYZ is UTF-8"), "rewritten.xyz")
            .expect("written XYZ reads back");
        assert_eq!(again.len(), structures.len());
        for (a, b) in again.iter().zip(&structures) {
            assert_eq!(a.numbers, b.numbers);
        }
    }
});
