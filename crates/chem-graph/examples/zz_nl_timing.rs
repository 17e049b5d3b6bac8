use chem_graph::neighbors::*;
use chem_graph::Structure;
use std::time::Instant;

fn rng(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn time<F: FnMut() -> usize>(label: &str, reps: usize, mut f: F) {
    let mut best = f64::INFINITY;
    let mut n = 0;
    for _ in 0..reps {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{label:60} {:10.3} ms  ({n} edges)", best * 1e3);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("all");
    let mut u = rng(42);
    if which == "all" || which == "qm9" {
        // QM9-like: 18 atoms within ~ a 6 Å blob.
        let mols: Vec<Structure> = (0..128)
            .map(|_| {
                let pos = (0..18).map(|_| [u() * 6.0, u() * 5.0, u() * 4.0]).collect();
                Structure::molecule(vec![6; 18], pos).unwrap()
            })
            .collect();
        let opts = RadiusOptions::new(10.0);
        time("qm9 128x18 cutoff 10 radius_graph_many", 50, || {
            radius_graph_many(&mols, &opts).unwrap().iter().map(|e| e.len()).sum()
        });
        time("qm9 128x18 cutoff 10 sequential loop", 50, || {
            mols.iter().map(|m| radius_graph(m, &opts).unwrap().len()).sum()
        });
        let opts = RadiusOptions::new(5.0);
        time("qm9 128x18 cutoff 5 radius_graph_many", 50, || {
            radius_graph_many(&mols, &opts).unwrap().iter().map(|e| e.len()).sum()
        });
        time("qm9 128x18 knn 8 loop", 50, || mols.iter().map(|m| knn_graph(m, 8, false).unwrap().len()).sum());
    }
    if which == "all" || which == "pbc" {
        for &n in &[1000usize, 10000, 100000] {
            let side = (n as f64 / 0.1).cbrt();
            let pos: Vec<[f64; 3]> = (0..n).map(|_| [u() * side, u() * side, u() * side]).collect();
            let s = Structure::periodic(vec![8; n], pos, [[side, 0., 0.], [0., side, 0.], [0., 0., side]], [true; 3])
                .unwrap();
            let reps = if n >= 100000 { 5 } else { 20 };
            time(&format!("periodic cubic n={n} cutoff 5"), reps, || {
                radius_graph(&s, &RadiusOptions::new(5.0)).unwrap().len()
            });
            if n <= 10000 {
                time(&format!("periodic cubic n={n} knn 16"), reps, || knn_graph(&s, 16, false).unwrap().len());
            }
        }
        // Triclinic 10000
        let n = 10000;
        let side = (n as f64 / 0.1).cbrt();
        let cell = [[side, 0., 0.], [0.4 * side, side * 0.92, 0.], [0.3 * side, 0.2 * side, side * 0.87]];
        let pos: Vec<[f64; 3]> = (0..n)
            .map(|_| {
                let f = [u(), u(), u()];
                std::array::from_fn(|k| f[0] * cell[0][k] + f[1] * cell[1][k] + f[2] * cell[2][k])
            })
            .collect();
        let s = Structure::periodic(vec![8; n], pos, cell, [true; 3]).unwrap();
        time("periodic triclinic n=10000 cutoff 5", 20, || radius_graph(&s, &RadiusOptions::new(5.0)).unwrap().len());
        // Small cell, big cutoff.
        let n = 8;
        let side = 4.0;
        let pos: Vec<[f64; 3]> = (0..n).map(|_| [u() * side, u() * side, u() * side]).collect();
        let s =
            Structure::periodic(vec![8; n], pos, [[side, 0., 0.], [0., side, 0.], [0., 0., side]], [true; 3]).unwrap();
        time("periodic 8 atoms 4 A cell cutoff 10", 50, || radius_graph(&s, &RadiusOptions::new(10.0)).unwrap().len());
    }
    if which == "all" || which == "mol" {
        for &n in &[16usize, 32, 64, 128, 256, 512, 1024, 4096] {
            for &c in &[5.0, 10.0] {
                let side = (n as f64 / 0.1).cbrt();
                let pos: Vec<[f64; 3]> = (0..n).map(|_| [u() * side, u() * side, u() * side]).collect();
                let s = Structure::molecule(vec![6; n], pos).unwrap();
                let reps = (200000 / n).clamp(5, 2000);
                time(&format!("molecule n={n} cutoff {c}"), reps, || {
                    radius_graph(&s, &RadiusOptions::new(c)).unwrap().len()
                });
            }
        }
    }
}
