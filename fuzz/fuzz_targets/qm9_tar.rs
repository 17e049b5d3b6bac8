//! `read_qm9_tar` must return molecules or an error on any byte stream, never panic.
#![no_main]

use chem_graph::qm9::read_qm9_tar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = read_qm9_tar(data, "dsgdb9nsd.xyz.tar");
});
