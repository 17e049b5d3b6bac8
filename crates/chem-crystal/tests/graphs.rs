//! Periodic graphs: Voronoi, kNN-with-ties and radius connectivity against the scipy/kgcnn reference
//! (tests/reference/voronoi.py), plus geometric self-checks and invariances of the Voronoi graph.

use chem_crystal::graphs::{knn_graph_with_ties, voronoi_cells, voronoi_edges};
use chem_crystal::{periodic_edges, periodic_graph, radius_graph, Connectivity, Lattice, RadiusOptions, Structure};
use chem_graph::Edges;
use serde_json::Value;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/voronoi_graphs.json");

struct Reference {
    name: String,
    structure: Structure,
    /// `(target, source, shift, area)`, sorted, area > the fixture's minimum.
    voronoi: Vec<(u32, u32, [i32; 3], f64)>,
    /// `(k, tolerance, per-target counts)`.
    knn: Vec<(usize, f64, Vec<usize>)>,
    /// `(cutoff, per-target counts)`.
    radius: Vec<(f64, Vec<usize>)>,
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn triples(v: &Value) -> Vec<[f64; 3]> {
    v.as_array().unwrap().iter().map(|r| floats(r).try_into().unwrap()).collect()
}

fn counts(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

fn fixture() -> (f64, Vec<Reference>) {
    let text = std::fs::read_to_string(FIXTURE).expect("run tests/reference/voronoi.py");
    let root: Value = serde_json::from_str(&text).unwrap();
    let crystals = root["crystals"].as_array().unwrap().iter().map(|c| {
        let lattice: [[f64; 3]; 3] = triples(&c["lattice"]).try_into().unwrap();
        let numbers = c["numbers"].as_array().unwrap().iter().map(|z| z.as_u64().unwrap() as u8).collect();
        let structure = Structure::periodic(numbers, triples(&c["positions"]), lattice, [true; 3]).unwrap();
        let voronoi = c["voronoi"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let e = floats(e);
                (e[0] as u32, e[1] as u32, [e[2] as i32, e[3] as i32, e[4] as i32], e[5])
            })
            .collect();
        let knn = c["knn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["k"].as_u64().unwrap() as usize, k["tolerance"].as_f64().unwrap(), counts(&k["counts"])))
            .collect();
        let radius = c["radius"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["cutoff"].as_f64().unwrap(), counts(&r["counts"])))
            .collect();
        Reference { name: c["name"].as_str().unwrap().to_string(), structure, voronoi, knn, radius }
    });
    (root["min_area"].as_f64().unwrap(), crystals.collect())
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

fn keys(edges: &Edges) -> Vec<(u32, u32, [i32; 3])> {
    (0..edges.len()).map(|e| (edges.target[e], edges.source[e], edges.shift[e])).collect()
}

fn voronoi(s: &Structure, min_area: f64) -> (Edges, Vec<f64>) {
    voronoi_edges(s, min_area).unwrap()
}

#[test]
fn voronoi_matches_scipy_qhull() {
    let (min_area, crystals) = fixture();
    assert_eq!(crystals.len(), 9);
    for c in &crystals {
        let pe = periodic_edges(&c.structure, &Connectivity::Voronoi { min_area }).unwrap();
        let areas = pe.ridge_area.unwrap();
        let want: Vec<_> = c.voronoi.iter().map(|&(t, s, sh, _)| (t, s, sh)).collect();
        assert_eq!(keys(&pe.edges), want, "{}", c.name);
        for (e, (&got, want)) in areas.iter().zip(&c.voronoi).enumerate() {
            assert!(close(got, want.3, 1e-6), "{} edge {e}: area {got} vs scipy {}", c.name, want.3);
        }
        // Nothing was at the threshold: the full graph has the same edges.
        assert_eq!(voronoi(&c.structure, 0.0).0.len(), want.len(), "{}", c.name);
    }
}

#[test]
fn knn_with_ties_and_radius_counts_match_the_reference() {
    let (_, crystals) = fixture();
    for c in &crystals {
        let n = c.structure.len();
        for (k, tolerance, want) in &c.knn {
            let e = periodic_edges(&c.structure, &Connectivity::Knn { k: *k, tolerance: *tolerance }).unwrap().edges;
            assert_eq!(&e.in_degrees(n), want, "{} k = {k}", c.name);
            assert!(e.distance.iter().all(|&d| d > 0.0));
            // Ties go beyond k only where shells are degenerate: always at least k.
            assert!(want.iter().all(|&m| m >= *k));
        }
        for (cutoff, want) in &c.radius {
            let e = periodic_edges(&c.structure, &Connectivity::Radius { cutoff: *cutoff }).unwrap().edges;
            assert_eq!(&e.in_degrees(n), want, "{} cutoff {cutoff}", c.name);
        }
    }
}

/// The Voronoi cells tile the crystal: their volumes add up to the cell volume, each cell's volume
/// from its vertices equals Σ area·(d/2)/3 over its faces, and the graph's areas add up to each
/// cell's surface.
fn check_tiling(name: &str, s: &Structure) {
    let cells = voronoi_cells(s).unwrap();
    let volume = chem_graph::structure::determinant(s.cell.as_ref().unwrap()).abs();
    let total: f64 = cells.iter().map(|c| c.volume).sum();
    assert!(close(total, volume, 1e-9), "{name}: Σ cell volumes {total} vs cell volume {volume}");
    let (edges, areas) = voronoi(s, 0.0);
    let mut surface = vec![0.0; s.len()];
    for (e, &a) in areas.iter().enumerate() {
        surface[edges.target[e] as usize] += a;
    }
    for (i, c) in cells.iter().enumerate() {
        let pyramids: f64 = c.faces.iter().map(|f| f.area * f.distance / 6.0).sum();
        assert!(close(pyramids, c.volume, 1e-9), "{name} atom {i}: Σ area·d/6 = {pyramids} vs {}", c.volume);
        assert!(
            close(surface[i], c.surface_area(), 1e-9),
            "{name} atom {i}: surface {} vs {}",
            surface[i],
            c.surface_area()
        );
        for f in &c.faces {
            // Every vertex lies on the face's bisector plane.
            for v in &f.vertices {
                let h: f64 = (0..3).map(|k| v[k] * f.vector[k]).sum::<f64>() / f.distance;
                assert!((h - f.distance / 2.0).abs() < 1e-9 * f.distance, "{name} atom {i}");
            }
        }
    }
}

#[test]
fn voronoi_cells_tile_the_crystal() {
    let (_, crystals) = fixture();
    for c in &crystals {
        check_tiling(&c.name, &c.structure);
    }
    check_tiling("sheared", &sheared_crystal());
    check_tiling("rutile 3x3x3", &supercell(&crystals[4].structure, 3));
}

#[test]
fn known_polyhedra() {
    let (a, h) = (2.87, 2.87 / 2.0);
    // bcc: a truncated octahedron with edge ℓ = a√2/4: 8 hexagons and 6 squares.
    let bcc = Structure::periodic(vec![26], vec![[0.0; 3]], [[-h, h, h], [h, -h, h], [h, h, -h]], [true; 3]).unwrap();
    let cell = &voronoi_cells(&bcc).unwrap()[0];
    let l = a * 2f64.sqrt() / 4.0;
    let hexagon = 1.5 * 3f64.sqrt() * l * l;
    assert_eq!(cell.faces.len(), 14);
    assert_eq!(cell.faces.iter().filter(|f| f.vertices.len() == 6 && close(f.area, hexagon, 1e-12)).count(), 8);
    assert_eq!(cell.faces.iter().filter(|f| f.vertices.len() == 4 && close(f.area, l * l, 1e-12)).count(), 6);
    assert!(close(cell.surface_area(), (6.0 + 12.0 * 3f64.sqrt()) * l * l, 1e-12));
    assert!(close(cell.volume, a * a * a / 2.0, 1e-12));
    // fcc: a rhombic dodecahedron, 12 rhombi of area a²·√2/8.
    let h = 3.61 / 2.0;
    let fcc =
        Structure::periodic(vec![29], vec![[0.0; 3]], [[0.0, h, h], [h, 0.0, h], [h, h, 0.0]], [true; 3]).unwrap();
    let cell = &voronoi_cells(&fcc).unwrap()[0];
    assert_eq!(cell.faces.len(), 12);
    assert!(cell.faces.iter().all(|f| f.vertices.len() == 4 && close(f.area, 3.61 * 3.61 * 2f64.sqrt() / 8.0, 1e-12)));
}

#[test]
fn degenerate_corners_make_no_faces() {
    // A 2×2×2 simple cubic supercell: every cell is a cube with 6 faces, even with atoms displaced by
    // 10⁻¹² Å, where Qhull reports ~10⁻²⁰ Å² ridges between corner neighbours.
    let a = 3.35;
    let mut positions = Vec::new();
    for (k, x) in (0..8).map(|k| (k, [(k & 1) as f64, ((k >> 1) & 1) as f64, ((k >> 2) & 1) as f64])) {
        let noise = 1e-12 * ((k * 7919 % 13) as f64 - 6.0);
        positions.push(x.map(|c| c * a + noise));
    }
    let cell = [[2.0 * a, 0.0, 0.0], [0.0, 2.0 * a, 0.0], [0.0, 0.0, 2.0 * a]];
    let sc = Structure::periodic(vec![84; 8], positions.clone(), cell, [true; 3]).unwrap();
    let (edges, areas) = voronoi(&sc, 0.0);
    assert_eq!(edges.in_degrees(8), vec![6; 8]);
    assert!(areas.iter().all(|&x| close(x, a * a, 1e-9)));
    // Larger displacements make genuine small faces; they are kept, symmetric, and still tile space.
    for (k, p) in positions.iter_mut().enumerate() {
        p[k % 3] += 0.01 * (k as f64 - 3.5);
    }
    let rough = Structure::periodic(vec![84; 8], positions, cell, [true; 3]).unwrap();
    let (edges, areas) = voronoi(&rough, 0.0);
    assert!(edges.len() > 48 && areas.iter().any(|&x| x < 0.1));
    check_tiling("displaced sc", &rough);
    assert!(voronoi(&rough, 0.5).0.len() == 48);
}

#[test]
fn voronoi_edges_are_symmetric() {
    let (_, crystals) = fixture();
    for s in crystals.iter().map(|c| c.structure.clone()).chain([sheared_crystal()]) {
        let (edges, areas) = voronoi(&s, 0.0);
        let all: std::collections::HashMap<_, _> = keys(&edges).into_iter().zip(areas.iter().copied()).collect();
        for ((t, j, sh), a) in &all {
            let back = all.get(&(*j, *t, sh.map(|x| -x)));
            assert_eq!(back, Some(a), "edge {j} -> {t} {sh:?}");
        }
        // Vectors follow the convention r_j + S·L − r_i.
        let cell = s.cell.unwrap();
        for e in 0..edges.len() {
            let (i, j, sh) = (edges.target[e] as usize, edges.source[e] as usize, edges.shift[e]);
            let t: [f64; 3] = std::array::from_fn(|k| (0..3).map(|m| sh[m] as f64 * cell[m][k]).sum());
            let expected: [f64; 3] = std::array::from_fn(|k| s.positions[j][k] + t[k] - s.positions[i][k]);
            assert!(expected.iter().zip(&edges.vector[e]).all(|(a, b)| (a - b).abs() < 1e-12));
        }
    }
}

#[test]
fn translation_and_permutation_invariance() {
    let (_, crystals) = fixture();
    for c in crystals.iter().filter(|c| c.structure.len() > 1) {
        let s = &c.structure;
        let (edges, areas) = voronoi(s, 0.0);
        // A rigid translation (moving atoms out of the cell) keeps edges, shifts and areas.
        let mut moved = s.clone();
        moved.positions.iter_mut().for_each(|p| *p = [p[0] + 7.31, p[1] - 2.9, p[2] + 0.123]);
        let (e2, a2) = voronoi(&moved, 0.0);
        assert_eq!(keys(&e2), keys(&edges), "{}", c.name);
        assert!(a2.iter().zip(&areas).all(|(x, y)| close(*x, *y, 1e-9)), "{}", c.name);
        for conn in [Connectivity::knn(12), Connectivity::Radius { cutoff: 4.0 }] {
            assert_eq!(
                keys(&periodic_edges(&moved, &conn).unwrap().edges),
                keys(&periodic_edges(s, &conn).unwrap().edges)
            );
        }
        // Permuting atoms permutes the graph.
        let n = s.len();
        let order: Vec<usize> = (0..n).map(|k| (k * 5 + 3) % n).collect();
        let order = if (0..n).all(|k| order.contains(&k)) { order } else { (0..n).rev().collect() };
        let (e3, a3) = voronoi(&s.permuted(&order), 0.0);
        let mut mapped: Vec<_> = keys(&e3)
            .into_iter()
            .zip(a3)
            .map(|((t, j, sh), a)| ((order[t as usize] as u32, order[j as usize] as u32, sh), a))
            .collect();
        mapped.sort_by_key(|x| x.0);
        assert_eq!(mapped.iter().map(|m| m.0).collect::<Vec<_>>(), keys(&edges), "{}", c.name);
        assert!(mapped.iter().zip(&areas).all(|(m, a)| close(m.1, *a, 1e-9)), "{}", c.name);
    }
}

/// Per atom, the multiset of (vector, area) over its in-edges.
fn neighbourhoods(s: &Structure, conn: &Connectivity) -> Vec<Vec<([f64; 3], f64)>> {
    let pe = periodic_edges(s, conn).unwrap();
    let mut out = vec![Vec::new(); s.len()];
    for e in 0..pe.edges.len() {
        let area = pe.ridge_area.as_ref().map_or(0.0, |a| a[e]);
        out[pe.edges.target[e] as usize].push((pe.edges.vector[e], area));
    }
    out
}

fn same_neighbourhoods(a: &[Vec<([f64; 3], f64)>], b: &[Vec<([f64; 3], f64)>], what: &str) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.len(), y.len(), "{what} atom {i}");
        let mut used = vec![false; y.len()];
        for (v, area) in x {
            let hit = y.iter().enumerate().position(|(k, (w, b))| {
                !used[k] && (0..3).all(|m| (v[m] - w[m]).abs() < 1e-8) && close(*area, *b, 1e-9)
            });
            let Some(k) = hit else { panic!("{what} atom {i}: no match for {v:?} ({area})") };
            used[k] = true;
        }
    }
}

#[test]
fn equivalent_skewed_cells_give_the_same_neighbourhoods() {
    let (_, crystals) = fixture();
    let skews =
        [[[1, 1, 0], [0, 1, 0], [1, 1, 1]], [[1, 0, 0], [4, 1, 0], [-3, 2, 1]], [[0, 1, 0], [1, 0, 0], [0, 0, -1]]];
    for c in crystals
        .iter()
        .filter(|c| ["Cu_fcc_primitive", "TiO2_rutile", "random_triclinic", "ZnO_wurtzite"].contains(&c.name.as_str()))
    {
        let lattice = Lattice::new(c.structure.cell.unwrap()).unwrap();
        for m in &skews {
            let mut skewed = c.structure.clone();
            skewed.cell = Some(*lattice.transformed(m).unwrap().rows());
            for conn in
                [Connectivity::Voronoi { min_area: 0.0 }, Connectivity::knn(12), Connectivity::Radius { cutoff: 5.0 }]
            {
                let what = format!("{} {m:?} {conn}", c.name);
                same_neighbourhoods(&neighbourhoods(&c.structure, &conn), &neighbourhoods(&skewed, &conn), &what);
            }
        }
    }
}

#[test]
fn periodic_graph_carries_ridge_areas() {
    let (_, crystals) = fixture();
    let s = &crystals[3].structure; // NaCl
    let conn: Connectivity = "voronoi:1e-6".parse().unwrap();
    let g = periodic_graph(s, &conn).unwrap();
    let f = g.edge_features.as_ref().unwrap();
    assert_eq!((f.width, f.rows()), (1, g.num_edges()));
    assert_eq!(f.data, voronoi(s, 1e-6).1);
    assert_eq!(g.edges.in_degrees(8), vec![6; 8]);
    assert_eq!(g.cell, s.cell);
    let radius = periodic_graph(s, &"radius:3.0".parse().unwrap()).unwrap();
    assert!(radius.edge_features.is_none());
    assert_eq!(radius.edges, radius_graph(s, &RadiusOptions::new(3.0)).unwrap());
    let knn = periodic_edges(s, &"knn:6".parse().unwrap()).unwrap();
    assert_eq!(knn.edges, knn_graph_with_ties(s, 6, 1e-9).unwrap());
    assert!(knn.ridge_area.is_none());
}

#[test]
fn molecules_and_bad_parameters() {
    let water = Structure::molecule(vec![8, 1, 1], vec![[0.0; 3], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]]).unwrap();
    assert_eq!(periodic_edges(&water, &Connectivity::knn(1)).unwrap().edges.in_degrees(3), vec![1, 1, 1]);
    assert_eq!(periodic_edges(&water, &Connectivity::Radius { cutoff: 1.2 }).unwrap().edges.len(), 4);
    let err = periodic_edges(&water, &Connectivity::Voronoi { min_area: 0.0 }).unwrap_err().to_string();
    assert!(err.contains("periodic along all three axes"), "{err}");
    let (_, crystals) = fixture();
    let s = &crystals[0].structure;
    for bad in [
        Connectivity::Knn { k: 0, tolerance: 1e-9 },
        Connectivity::Knn { k: 3, tolerance: -1.0 },
        Connectivity::Radius { cutoff: -1.0 },
        Connectivity::Radius { cutoff: f64::NAN },
        Connectivity::Voronoi { min_area: -1e-6 },
        Connectivity::Voronoi { min_area: f64::NAN },
    ] {
        assert!(periodic_edges(s, &bad).is_err(), "{bad:?}");
        assert!(periodic_graph(s, &bad).is_err(), "{bad:?}");
    }
}

/// Rutile in a strongly sheared cell (c' = c + 3a − 2b): kgcnn's 3×3×3 block of images would miss
/// neighbours here; the result must still equal the unsheared one.
fn sheared_crystal() -> Structure {
    let (_, crystals) = fixture();
    let s = &crystals[4].structure;
    let lattice = Lattice::new(s.cell.unwrap()).unwrap().transformed(&[[1, 0, 0], [0, 1, 0], [3, -2, 1]]).unwrap();
    let mut out = s.clone();
    out.cell = Some(*lattice.rows());
    out
}

#[test]
fn sheared_cell_matches_the_plain_one() {
    let (_, crystals) = fixture();
    let conn = Connectivity::Voronoi { min_area: 0.0 };
    same_neighbourhoods(
        &neighbourhoods(&crystals[4].structure, &conn),
        &neighbourhoods(&sheared_crystal(), &conn),
        "sheared",
    );
}

/// The n×n×n supercell of `s`.
fn supercell(s: &Structure, n: i32) -> Structure {
    let cell = s.cell.unwrap();
    let mut numbers = Vec::new();
    let mut positions = Vec::new();
    for (a, b, c) in (0..n).flat_map(|a| (0..n).flat_map(move |b| (0..n).map(move |c| (a, b, c)))) {
        for (z, p) in s.numbers.iter().zip(&s.positions) {
            numbers.push(*z);
            positions.push(std::array::from_fn(|k| {
                p[k] + a as f64 * cell[0][k] + b as f64 * cell[1][k] + c as f64 * cell[2][k]
            }));
        }
    }
    let big = cell.map(|r| r.map(|x| x * n as f64));
    Structure::periodic(numbers, positions, big, [true; 3]).unwrap()
}

#[test]
fn supercells_repeat_the_unit_cell_graph() {
    // 162 atoms: the parallel path. Every copy of an atom has the unit cell's neighbourhood.
    let (_, crystals) = fixture();
    let unit = &crystals[4].structure;
    let big = supercell(unit, 3);
    for conn in [Connectivity::Voronoi { min_area: 0.0 }, Connectivity::knn(24)] {
        let small = neighbourhoods(unit, &conn);
        let large = neighbourhoods(&big, &conn);
        let repeated: Vec<_> = (0..27).flat_map(|_| small.iter().cloned()).collect();
        same_neighbourhoods(&large, &repeated, &format!("rutile 3x3x3 {conn}"));
    }
}

#[test]
fn voids_thin_cells_and_far_neighbours() {
    // A dense 3×3×3 cluster and one lone atom in a 15 Å box: the lone atom's cell is far larger than
    // the first search radius, so it is completed in later rounds.
    let mut positions: Vec<[f64; 3]> =
        (0..27).map(|k| [(k % 3) as f64 * 1.5, ((k / 3) % 3) as f64 * 1.5, (k / 9) as f64 * 1.5]).collect();
    positions.push([9.0, 10.0, 11.0]);
    let cell = [[15.0, 0.0, 0.0], [0.0, 15.0, 0.0], [0.0, 0.0, 15.0]];
    let void = Structure::periodic(vec![6; 28], positions, cell, [true; 3]).unwrap();
    check_tiling("void", &void);
    let cells = voronoi_cells(&void).unwrap();
    assert!(cells[27].volume > 500.0, "{}", cells[27].volume);
    // A thin plate-like cell (1.2 × 1.3 × 25 Å, skewed): neighbours along c are images far away.
    let plate = [[1.2, 0.0, 0.0], [0.4, 1.3, 0.0], [0.3, -0.2, 25.0]];
    let thin = Structure::periodic(vec![1, 1], vec![[0.0; 3], [0.6, 0.65, 12.0]], plate, [true; 3]).unwrap();
    check_tiling("thin", &thin);
    // A needle (one long axis with two short ones) with a single atom.
    let needle = [[30.0, 0.0, 0.0], [0.0, 1.1, 0.0], [0.0, 0.3, 0.9]];
    let single = Structure::periodic(vec![1], vec![[1.0, 2.0, 3.0]], needle, [true; 3]).unwrap();
    check_tiling("needle", &single);
}
