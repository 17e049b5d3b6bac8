//! MPNN features against RDKit + PyTorch Geometric on 48 molecules of the embedded QM9 sample
//! (fixture written by `tests/reference/qm9_features.py`).

use chem_graph::features::{gilmer_graph, pyg_qm9_graph, EdgeSet, GilmerOptions, PygFlavor, PygQm9Options};
use chem_graph::mol::{perceive, PerceiveOptions};
use chem_graph::qm9::Qm9Dataset;
use safetensors::SafeTensors;

const FIXTURE: &[u8] = include_bytes!("../../../tests/fixtures/qm9_features.safetensors");

fn f64s(st: &SafeTensors, key: &str) -> Vec<f64> {
    let t = st.tensor(key).unwrap();
    t.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
}

fn i64s(st: &SafeTensors, key: &str) -> Vec<i64> {
    let t = st.tensor(key).unwrap();
    t.data().chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn features_match_rdkit_and_pyg() {
    let st = SafeTensors::deserialize(FIXTURE).unwrap();
    let (_, meta) = SafeTensors::read_metadata(FIXTURE).unwrap();
    let chosen: Vec<usize> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["sample_index"]).unwrap();
    assert!(chosen.len() >= 45);
    let sample = Qm9Dataset::embedded_sample().unwrap();
    let pyg = PygQm9Options { flavor: PygFlavor::Sanitized, edges: EdgeSet::Complete, distance: true };
    for (k, &m) in chosen.iter().enumerate() {
        let s = sample.structure(m);
        let mol = perceive(&s, &PerceiveOptions::default()).unwrap();
        let g = pyg_qm9_graph(&s, &mol, &pyg).unwrap();
        let who = format!("sample molecule {m} ({})", sample.smiles[m]);
        assert_eq!(g.node_features.as_ref().unwrap().data, f64s(&st, &format!("{k}.x")), "{who}: x");
        let index = i64s(&st, &format!("{k}.edge_index"));
        let (source, target) = index.split_at(index.len() / 2);
        assert!(g.edges.source.iter().zip(source).all(|(&a, &b)| i64::from(a) == b), "{who}: edge_index[0]");
        assert!(g.edges.target.iter().zip(target).all(|(&a, &b)| i64::from(a) == b), "{who}: edge_index[1]");
        let expected = f64s(&st, &format!("{k}.edge_attr"));
        let got = &g.edge_features.as_ref().unwrap().data;
        assert_eq!(got.len(), expected.len(), "{who}: edge_attr");
        for (e, (a, b)) in got.chunks(5).zip(expected.chunks(5)).enumerate() {
            assert_eq!(a[..4], b[..4], "{who}: bond type of edge {e}");
            assert!((a[4] - b[4]).abs() <= 1e-10 * b[4], "{who}: distance of edge {e}");
        }
        let gilmer = gilmer_graph(&s, &mol, &GilmerOptions::default()).unwrap();
        let x = gilmer.node_features.unwrap();
        let column = |c: usize| x.data.chunks(x.width).map(|r| r[c]).collect::<Vec<_>>();
        assert_eq!(column(6), f64s(&st, &format!("{k}.acceptor")), "{who}: acceptors");
        assert_eq!(column(7), f64s(&st, &format!("{k}.donor")), "{who}: donors");
    }
}
