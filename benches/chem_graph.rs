//! Criterion micro-benchmarks of chem-graph's hot paths (`cargo bench --bench chem_graph`).
//! The comparison with ASE/vesin/matscipy lives in `cargo xtask bench`.

use chem_graph::neighbors::{radius_graph, radius_graph_many, RadiusOptions};
use chem_graph::qm9::Qm9Dataset;
use chem_graph::xyz::{read_xyz_str, write_extxyz};
use chem_graph::Structure;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A diamond-like lattice of `n³ · 2` atoms in a skewed periodic cell.
fn crystal(n: usize) -> Structure {
    let a = 3.0;
    let cell =
        [[a * n as f64, 0.0, 0.0], [0.3 * a * n as f64, a * n as f64, 0.0], [0.0, 0.2 * a * n as f64, a * n as f64]];
    let mut positions = Vec::new();
    for (i, j, k) in (0..n).flat_map(|i| (0..n).flat_map(move |j| (0..n).map(move |k| (i, j, k)))) {
        for off in [0.0, 0.25] {
            let f = [(i as f64 + off) / n as f64, (j as f64 + off) / n as f64, (k as f64 + off) / n as f64];
            positions.push([0, 1, 2].map(|c| f[0] * cell[0][c] + f[1] * cell[1][c] + f[2] * cell[2][c]));
        }
    }
    Structure::periodic(vec![14; positions.len()], positions, cell, [true; 3]).expect("valid crystal")
}

fn neighbours(c: &mut Criterion) {
    let sample = Qm9Dataset::embedded_sample().expect("embedded sample");
    let batch: Vec<Structure> = (0..128).map(|m| sample.structure(m * 23)).collect();
    let mut g = c.benchmark_group("radius_graph");
    for cutoff in [5.0, 10.0] {
        g.bench_function(format!("qm9 batch of 128, r={cutoff}"), |b| {
            b.iter(|| radius_graph_many(&batch, &RadiusOptions::new(cutoff)).expect("valid"))
        });
    }
    for n in [8, 17] {
        let s = crystal(n);
        g.throughput(Throughput::Elements(s.len() as u64));
        g.bench_function(format!("crystal {} atoms, r=5", s.len()), |b| {
            b.iter(|| radius_graph(&s, &RadiusOptions::new(5.0)).expect("valid"))
        });
    }
    g.finish();
}

fn parsing(c: &mut Criterion) {
    let structures = Qm9Dataset::embedded_sample().expect("embedded sample").structures();
    let mut text = Vec::new();
    write_extxyz(&mut text, &structures).expect("writable");
    let text = String::from_utf8(text).expect("utf-8");
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(structures.len() as u64));
    g.bench_function("extxyz, 3000 QM9 molecules", |b| b.iter(|| read_xyz_str(&text, "bench").expect("valid")));
    g.bench_function("qm9 safetensors, 3000 molecules", |b| b.iter(Qm9Dataset::embedded_sample));
    g.finish();
}

criterion_group!(benches, neighbours, parsing);
criterion_main!(benches);
