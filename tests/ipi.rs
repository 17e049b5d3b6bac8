//! `chemgnn serve --ipi`: driven by a minimal i-PI server written here (the protocol as i-PI and
//! ASE's `SocketIOCalculator` speak it), the client returns the model's energy, forces and virial in
//! atomic units, step after step, and refuses a mismatched atom count.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::import_schnetpack;
use gnn_models::gnn_layers::candle::{DType, Device};
use gnn_models::Model;

const BOHR: f64 = 0.529_177_210_563_841_1;
const HARTREE: f64 = 27.211_386_024_367_243;

/// Rock salt, 8 atoms in a slightly sheared cell, as extended XYZ.
const NACL: &str = "8\nLattice=\"5.64 0.0 0.0 0.2 5.6 0.0 0.0 0.1 5.7\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n\
Na 0.0 0.0 0.0\nNa 0.1 2.8 2.8\nNa 2.8 0.0 2.8\nNa 2.8 2.8 0.1\n\
Cl 2.8 0.0 0.0\nCl 2.9 2.8 2.8\nCl 0.0 0.0 2.8\nCl 0.0 2.8 0.1\n";

/// A listening i-PI socket and the `chemgnn serve` client connected to it.
fn server_and_client(dir: &Path, model: &str, name: &str) -> (UnixStream, Child) {
    let socket = format!("/tmp/ipi_{name}");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).unwrap();
    let structure = dir.join("nacl.extxyz");
    std::fs::write(&structure, NACL).unwrap();
    let client = Command::new(env!("CARGO_BIN_EXE_chemgnn"))
        .args(["serve", "--model", model, "--structure", structure.to_str().unwrap(), "--ipi", &format!("unix:{name}")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    std::fs::remove_file(&socket).unwrap();
    (stream, client)
}

fn send(stream: &mut UnixStream, header: &str) {
    stream.write_all(format!("{header:<12}").as_bytes()).unwrap();
}

fn receive_header(stream: &mut UnixStream) -> String {
    let mut header = [0u8; 12];
    stream.read_exact(&mut header).unwrap();
    String::from_utf8_lossy(&header).trim().to_string()
}

fn send_f64s(stream: &mut UnixStream, values: &[f64]) {
    stream.write_all(&values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).unwrap();
}

fn receive_f64s(stream: &mut UnixStream, count: usize) -> Vec<f64> {
    let mut bytes = vec![0u8; 8 * count];
    stream.read_exact(&mut bytes).unwrap();
    bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect()
}

fn receive_i32(stream: &mut UnixStream) -> i32 {
    let mut bytes = [0u8; 4];
    stream.read_exact(&mut bytes).unwrap();
    i32::from_le_bytes(bytes)
}

/// POSDATA for `structure`: the transposed cell, its inverse (unused by the client) and positions,
/// in Bohr.
fn send_positions(stream: &mut UnixStream, cell: &[[f64; 3]; 3], positions: &[[f64; 3]]) {
    send(stream, "POSDATA");
    let transposed: Vec<f64> = (0..3).flat_map(|i| (0..3).map(move |j| cell[j][i] / BOHR)).collect();
    send_f64s(stream, &transposed);
    send_f64s(stream, &[0.0; 9]);
    stream.write_all(&(positions.len() as i32).to_le_bytes()).unwrap();
    send_f64s(stream, &positions.iter().flatten().map(|x| x / BOHR).collect::<Vec<_>>());
}

#[test]
fn an_ipi_server_gets_the_models_energy_forces_and_virial_step_after_step() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = import_schnetpack("schnetpack_stress_f64", &dir.path().join("model"));
    let model = Model::load_on(&model_dir, DType::F64, &Device::Cpu).unwrap();
    let (mut stream, mut client) =
        server_and_client(dir.path(), &model_dir, &format!("chemgnn_test_{}", std::process::id()));

    send(&mut stream, "STATUS");
    assert_eq!(receive_header(&mut stream), "NEEDINIT");
    send(&mut stream, "INIT");
    stream.write_all(&0i32.to_le_bytes()).unwrap();
    stream.write_all(&1i32.to_le_bytes()).unwrap();
    stream.write_all(&[0]).unwrap();
    let mut crystal = chem_graph::xyz::read_xyz_str(NACL, "nacl.extxyz").unwrap().remove(0);
    for step in 0..3 {
        send(&mut stream, "STATUS");
        assert_eq!(receive_header(&mut stream), "READY");
        crystal.positions[1][0] += 0.03 * step as f64;
        crystal.cell.as_mut().unwrap()[2][2] += 0.01 * step as f64;
        send_positions(&mut stream, &crystal.cell.unwrap(), &crystal.positions);
        send(&mut stream, "STATUS");
        assert_eq!(receive_header(&mut stream), "HAVEDATA");
        send(&mut stream, "GETFORCE");
        assert_eq!(receive_header(&mut stream), "FORCEREADY");
        let energy = receive_f64s(&mut stream, 1)[0] * HARTREE;
        assert_eq!(receive_i32(&mut stream), 8);
        let forces: Vec<f64> = receive_f64s(&mut stream, 24).iter().map(|f| f * HARTREE / BOHR).collect();
        let virial: Vec<f64> = receive_f64s(&mut stream, 9).iter().map(|v| v * HARTREE).collect();
        let extra = receive_i32(&mut stream);
        let mut bytes = vec![0u8; extra as usize];
        stream.read_exact(&mut bytes).unwrap();

        let expected = model.predict_with_stress(std::slice::from_ref(&crystal), 1).unwrap().remove(0);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * (1.0 + b.abs());
        assert!(close(energy, expected.values[0]), "step {step}: energy {energy} vs {}", expected.values[0]);
        for (a, b) in forces.iter().zip(expected.forces.unwrap().iter().flatten()) {
            assert!(close(*a, *b), "step {step}: force {a} vs {b}");
        }
        let volume = chem_graph::structure::determinant(&crystal.cell.unwrap()).abs();
        let [xx, yy, zz, yz, xz, xy] = expected.stress.unwrap();
        for (a, s) in virial.iter().zip([xx, xy, xz, xy, yy, yz, xz, yz, zz]) {
            assert!(close(*a, -volume * s), "step {step}: virial {virial:?} vs stress {:?}", expected.stress);
        }
    }
    send(&mut stream, "EXIT");
    assert!(client.wait().unwrap().success());
}

#[test]
fn a_mismatched_atom_count_stops_the_client_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = import_schnetpack("schnetpack_stress_f64", &dir.path().join("model"));
    let (mut stream, client) =
        server_and_client(dir.path(), &model_dir, &format!("chemgnn_test_bad_{}", std::process::id()));
    send(&mut stream, "INIT");
    stream.write_all(&0i32.to_le_bytes()).unwrap();
    stream.write_all(&0i32.to_le_bytes()).unwrap();
    send_positions(&mut stream, &[[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]], &[[0.0; 3]; 3]);
    let out = client.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the server sent 3 atoms, the structure has 8"), "{stderr}");
}
