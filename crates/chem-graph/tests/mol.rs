//! Bond perception, SMILES and MPNN features on hand-made molecules and the embedded QM9 sample.

use chem_graph::features::{
    gilmer_graph, pyg_qm9_graph, EdgeSet, GilmerOptions, Hydrogens, PygFlavor, PygQm9Options, GILMER_NODE_FEATURES,
    PYG_QM9_NODE_FEATURES,
};
use chem_graph::mol::{compare, perceive, Comparison, Hybridization, PerceiveOptions};
use chem_graph::qm9::Qm9Dataset;
use chem_graph::xyz::read_xyz_str;
use chem_graph::{smiles, BondType, MolGraph, Structure};

/// Geometries optimised with RDKit's MMFF, and the SMILES they were made from.
const SMALL: &str = include_str!("data/small_molecules.xyz");
const SMILES: [(&str, &str); 10] = [
    ("benzene", "c1ccccc1"),
    ("pyrrole", "c1cc[nH]c1"),
    ("acetic acid", "CC(=O)O"),
    ("glycine zwitterion", "[NH3+]CC(=O)[O-]"),
    ("carbon dioxide", "O=C=O"),
    ("hydrogen cyanide", "C#N"),
    ("nitromethane", "C[N+](=O)[O-]"),
    ("methyl isocyanide", "[C-]#[N+]C"),
    ("furan", "c1ccoc1"),
    ("2-pyridone", "O=c1cccc[nH]1"),
];

fn molecule(name: &str) -> (Structure, MolGraph) {
    let structures = read_xyz_str(SMALL, "small_molecules.xyz").unwrap();
    let s = structures.into_iter().find(|s| s.name == name).unwrap();
    let g = perceive(&s, &PerceiveOptions::default()).unwrap();
    (s, g)
}

fn heavy_types(g: &MolGraph) -> Vec<BondType> {
    let mut t: Vec<_> =
        g.bonds.iter().filter(|b| b.atoms.iter().all(|&a| g.numbers[a] > 1)).map(|b| b.bond_type()).collect();
    t.sort();
    t
}

#[test]
fn perceived_graphs_match_their_smiles() {
    for (name, smi) in SMILES {
        let (_, g) = molecule(name);
        assert_eq!(compare(&g, &smiles::parse(smi).unwrap()).unwrap(), Comparison::Identical, "{name}");
    }
}

#[test]
fn aromatic_rings_and_heteroatoms() {
    let (_, benzene) = molecule("benzene");
    assert_eq!(heavy_types(&benzene), [BondType::Aromatic; 6]);
    assert_eq!(benzene.aromatic.iter().filter(|&&a| a).count(), 6);
    let (_, pyrrole) = molecule("pyrrole");
    let n = pyrrole.numbers.iter().position(|&z| z == 7).unwrap();
    assert!(pyrrole.aromatic[n] && pyrrole.donors()[n] && !pyrrole.acceptors()[n]);
    assert_eq!(pyrrole.hybridizations()[n], Some(Hybridization::Sp2));
    let (_, pyridone) = molecule("2-pyridone");
    let o = pyridone.numbers.iter().position(|&z| z == 8).unwrap();
    assert_eq!((pyridone.aromatic.iter().filter(|&&a| a).count(), pyridone.aromatic[o]), (6, false));
}

#[test]
fn acids_zwitterions_and_charge_separated_groups() {
    let (_, acid) = molecule("acetic acid");
    assert_eq!(heavy_types(&acid), [BondType::Single, BondType::Single, BondType::Double]);
    let (donors, acceptors, hybrid) = (acid.donors(), acid.acceptors(), acid.hybridizations());
    let oxygens: Vec<usize> = (0..acid.len()).filter(|&a| acid.numbers[a] == 8).collect();
    assert_eq!(oxygens.iter().filter(|&&o| donors[o]).count(), 1);
    assert!(oxygens.iter().all(|&o| acceptors[o] && hybrid[o] == Some(Hybridization::Sp2)));
    for (name, expected) in [("glycine zwitterion", [(7, 1), (8, -1)]), ("nitromethane", [(7, 1), (8, -1)])] {
        let (_, g) = molecule(name);
        let charged: Vec<(u8, i8)> =
            (0..g.len()).filter(|&a| g.charges[a] != 0).map(|a| (g.numbers[a], g.charges[a])).collect();
        assert_eq!(charged, expected, "{name}");
    }
    let (_, isocyanide) = molecule("methyl isocyanide");
    assert_eq!(isocyanide.charges[..3], [-1, 1, 0]);
    assert_eq!(isocyanide.hybridizations()[..2], [Some(Hybridization::Sp); 2]);
}

#[test]
fn linear_molecules() {
    let (_, co2) = molecule("carbon dioxide");
    assert_eq!(heavy_types(&co2), [BondType::Double; 2]);
    assert_eq!(co2.hybridizations(), [Some(Hybridization::Sp2), Some(Hybridization::Sp), Some(Hybridization::Sp2)]);
    let (_, hcn) = molecule("hydrogen cyanide");
    assert_eq!(heavy_types(&hcn), [BondType::Triple]);
    assert_eq!(hcn.hydrogen_count()[..2], [1, 0]);
}

#[test]
fn bad_geometries_are_errors() {
    let lone_carbon = Structure::molecule(vec![6, 1], vec![[0.0; 3], [1.09, 0.0, 0.0]]).unwrap();
    let err = perceive(&lone_carbon, &PerceiveOptions::default()).unwrap_err().to_string();
    assert!(err.contains("no bond orders"), "{err}");
    let salt = Structure::molecule(vec![11, 17], vec![[0.0; 3], [2.4, 0.0, 0.0]]).unwrap();
    assert!(perceive(&salt, &PerceiveOptions::default())
        .unwrap_err()
        .to_string()
        .contains("support H, B, C, N, O and F"));
    let cell = [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]];
    let crystal = Structure::periodic(vec![6], vec![[0.0; 3]], cell, [true; 3]).unwrap();
    assert!(perceive(&crystal, &PerceiveOptions::default()).is_err());
    let (water, _) = molecule("acetic acid");
    let (_, benzene) = molecule("benzene");
    assert!(pyg_qm9_graph(&water, &benzene, &PygQm9Options::default()).is_err());
}

#[test]
fn pyg_features_follow_qm9_nn_conv_layout() {
    let (s, g) = molecule("pyrrole");
    let n = s.len();
    let graph = pyg_qm9_graph(&s, &g, &PygQm9Options::default()).unwrap();
    let x = graph.node_features.as_ref().unwrap();
    let e = graph.edge_features.as_ref().unwrap();
    assert_eq!((x.width, x.rows(), e.width, graph.num_edges()), (PYG_QM9_NODE_FEATURES, n, 5, n * (n - 1)));
    // Complete(): row-major over (source, target), self-pairs removed.
    let expected: Vec<(u32, u32)> =
        (0..n as u32).flat_map(|i| (0..n as u32).map(move |j| (i, j))).filter(|(i, j)| i != j).collect();
    let got: Vec<(u32, u32)> = graph.edges.source.iter().copied().zip(graph.edges.target.iter().copied()).collect();
    assert_eq!(got, expected);
    let hs = g.hydrogen_count();
    for (k, (&i, &j)) in graph.edges.source.iter().zip(&graph.edges.target).enumerate() {
        let row = &e.data[k * 5..k * 5 + 5];
        let bonded = g.bond_between(i as usize, j as usize).is_some();
        assert_eq!(row[..4].iter().sum::<f64>(), f64::from(u8::from(bonded)));
        assert_eq!(row[3], 0.0, "PyG's QM9 has no aromatic bonds");
        let d = s.positions[i as usize].iter().zip(&s.positions[j as usize]).map(|(a, b)| (a - b).powi(2)).sum::<f64>();
        assert!((row[4] - d.sqrt()).abs() < 1e-12 && (graph.edges.distance[k] - row[4]).abs() < 1e-12);
    }
    for ((row, &z), &h) in x.data.chunks(PYG_QM9_NODE_FEATURES).zip(&s.numbers).zip(&hs) {
        assert_eq!((row[5], row[10]), (f64::from(z), f64::from(h)));
        assert_eq!(row[6..10], [0.0; 4]);
    }
    let sanitized = PygQm9Options { flavor: PygFlavor::Sanitized, edges: EdgeSet::Bonds, distance: false };
    let graph = pyg_qm9_graph(&s, &g, &sanitized).unwrap();
    let e = graph.edge_features.unwrap();
    assert_eq!((graph.edges.len(), e.width), (2 * g.bonds.len(), 4));
    assert_eq!(e.data.chunks(4).filter(|r| r[3] == 1.0).count(), 10); // 5 ring bonds, both directions
}

#[test]
fn gilmer_features_with_implicit_hydrogens() {
    let (s, g) = molecule("acetic acid");
    let options = GilmerOptions { hydrogens: Hydrogens::Implicit, edges: EdgeSet::Complete, distance: true };
    let graph = gilmer_graph(&s, &g, &options).unwrap();
    assert_eq!(graph.numbers, [6, 6, 8, 8]);
    let x = graph.node_features.unwrap();
    assert_eq!((x.width, x.rows()), (GILMER_NODE_FEATURES, 4));
    let column = |c: usize| x.data.chunks(GILMER_NODE_FEATURES).map(|r| r[c]).collect::<Vec<_>>();
    assert_eq!(column(6), [0.0, 0.0, 1.0, 1.0]); // acceptors
    assert_eq!(column(7), [0.0, 0.0, 0.0, 1.0]); // donor: the hydroxyl O
    assert_eq!(column(12), [3.0, 0.0, 0.0, 1.0]); // hydrogens
    let e = graph.edge_features.unwrap();
    assert_eq!((e.width, graph.edges.len()), (6, 12));
    assert_eq!(e.data.chunks(6).filter(|r| r[4] == 1.0).count(), 6); // 3 non-bonded pairs, both ways
    let explicit = gilmer_graph(&s, &g, &GilmerOptions::default()).unwrap();
    assert_eq!(explicit.num_nodes(), s.len());
}

#[test]
fn qm9_sample_agrees_with_its_smiles() {
    let d = Qm9Dataset::embedded_sample().unwrap();
    let options = PerceiveOptions::default();
    let mut identical = 0;
    for m in 0..d.len() {
        let perceived = perceive(&d.structure(m), &options);
        let parsed = smiles::parse(&d.smiles[m]).unwrap();
        if perceived.is_ok_and(|p| compare(&p, &parsed).unwrap() == Comparison::Identical) {
            identical += 1;
        }
    }
    // Measured: 2,996 of 3,000; the other 4 are resonance structures with charges placed
    // differently (docs/data.md has the full-QM9 figures).
    assert!(identical >= 2_990, "{identical} of {} identical", d.len());
}

#[test]
fn ring_perception_of_long_rings_is_quick() {
    // Found by fuzzing (fuzz/fuzz_targets/smiles.rs, `tests/data/smiles_many_rings.txt`): ring
    // perception searched each candidate ring's paths quadratically; a 6,000-atom ring took half a minute.
    let fuzzed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/smiles_many_rings.txt")).unwrap();
    let macrocycle = format!("C1{}C1", "C".repeat(5998));
    let start = std::time::Instant::now();
    let _ = chem_graph::smiles::parse(&fuzzed);
    let ring = chem_graph::smiles::parse(&macrocycle).unwrap();
    assert_eq!(chem_graph::mol::smallest_rings(&ring).len(), 1);
    assert!(start.elapsed().as_secs_f64() < 10.0, "{:?}", start.elapsed());
}
