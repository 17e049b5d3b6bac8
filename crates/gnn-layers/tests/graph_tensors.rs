//! `GraphTensors` from chem-graph batches, and the ops on degenerate inputs (no rows, no edges,
//! empty segments, bad indices).

use candle_core::{DType, Device, Result, Tensor};
use chem_graph::{neighbors::RadiusOptions, GraphBatch, Structure};
use gnn_layers::ops::{self, Reduce, SegmentIndex};
use gnn_layers::GraphTensors;

#[test]
fn periodic_edge_vectors_equal_chem_graph_vectors() -> Result<()> {
    let cell = [[3.0, 0.0, 0.0], [0.8, 2.9, 0.0], [0.3, 0.4, 3.3]];
    let crystal = Structure::periodic(vec![11, 17], vec![[0.0, 0.0, 0.0], [1.9, 1.4, 1.6]], cell, [true; 3]).unwrap();
    let molecule = Structure::molecule(vec![1, 1], vec![[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]).unwrap();
    let batch = GraphBatch::from_structures(&[molecule, crystal], &RadiusOptions::new(4.0)).unwrap();
    let g = GraphTensors::new(&batch, DType::F64, &Device::Cpu)?;
    assert_eq!((g.num_nodes(), g.num_graphs(), g.num_edges()), (4, 2, batch.num_edges()));
    let vectors = g.edge_vectors(&g.positions)?.to_vec2::<f64>()?;
    for (ours, expected) in vectors.iter().zip(&batch.edges.vector) {
        for c in 0..3 {
            assert!((ours[c] - expected[c]).abs() < 1e-12);
        }
    }
    let lengths = GraphTensors::edge_lengths(&g.edge_vectors(&g.positions)?)?.to_vec1::<f64>()?;
    for (d, expected) in lengths.iter().zip(&batch.edges.distance) {
        assert!((d - expected).abs() < 1e-12);
    }
    assert_eq!(g.cells.dims(), [2, 3, 3]);
    Ok(())
}

/// The library leaves the process environment alone; `runtime::init` is the program's call.
#[test]
fn building_graph_tensors_leaves_the_environment_alone() -> Result<()> {
    let before = std::env::var_os("CANDLE_NUM_THREADS");
    let molecule = Structure::molecule(vec![1, 1], vec![[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]]).unwrap();
    let batch = GraphBatch::from_structures(&[molecule], &RadiusOptions::new(4.0)).unwrap();
    GraphTensors::new(&batch, DType::F32, &Device::Cpu)?;
    assert_eq!(std::env::var_os("CANDLE_NUM_THREADS"), before);
    Ok(())
}

#[test]
fn ops_handle_empty_inputs_and_segments() -> Result<()> {
    let dev = Device::Cpu;
    let none = SegmentIndex::new(vec![], 3, &dev)?;
    let empty = Tensor::zeros((0, 4), DType::F32, &dev)?;
    for reduce in [Reduce::Sum, Reduce::Mean, Reduce::Max, Reduce::Min] {
        let out = ops::scatter(&empty, &none, reduce)?;
        assert_eq!(out.to_vec2::<f32>()?, vec![vec![0.0; 4]; 3]);
    }
    let x = Tensor::ones((3, 4), DType::F32, &dev)?;
    assert_eq!(ops::gather(&x, &none)?.dims(), [0, 4]);
    assert_eq!(ops::gather_mul_scatter(&x, &empty, &none, &none)?.dims(), [3, 4]);
    assert_eq!(ops::segment_softmax(&Tensor::zeros(0, DType::F64, &dev)?, &none, 0.0)?.dims(), [0]);
    // No graphs at all.
    let nothing = SegmentIndex::new(vec![], 0, &dev)?;
    assert_eq!(ops::scatter_sum(&empty, &nothing)?.dims(), [0, 4]);
    Ok(())
}

#[test]
fn bad_indices_and_shapes_are_errors() {
    let dev = Device::Cpu;
    let err = SegmentIndex::new(vec![0, 5], 3, &dev).unwrap_err().to_string();
    assert!(err.contains("segment index 5 at row 1"), "{err}");
    let index = SegmentIndex::new(vec![0, 1, 1], 2, &dev).unwrap();
    let wrong_rows = Tensor::ones((4, 2), DType::F32, &dev).unwrap();
    assert!(ops::scatter_sum(&wrong_rows, &index).unwrap_err().to_string().contains("expected 3 rows"));
    assert!(ops::gather(&wrong_rows, &index).unwrap_err().to_string().contains("expected 2 rows"));
    let ints = Tensor::new(&[1u32, 2, 3], &dev).unwrap();
    assert!(ops::scatter_sum(&ints, &index).unwrap_err().to_string().contains("expected a float"));
    let w = Tensor::ones((3, 5), DType::F32, &dev).unwrap();
    assert!(ops::row_matvec(&w, &w, 2, 2).is_err());
}

/// Large inputs take the parallel path; results must not depend on it (sums run in row order).
#[test]
fn parallel_kernels_equal_sequential_sums() -> Result<()> {
    let dev = Device::Cpu;
    let (rows, width, segments) = (20_000, 7, 333);
    let index: Vec<u32> = (0..rows).map(|r| ((r * 7919) % segments) as u32).collect();
    let values: Vec<f64> = (0..rows * width).map(|k| ((k * 31 % 97) as f64 - 48.0) / 7.0).collect();
    let src = Tensor::from_vec(values.clone(), (rows, width), &dev)?;
    let seg = SegmentIndex::new(index.clone(), segments, &dev)?;
    let mut expected = vec![0.0; segments * width];
    for (r, &s) in index.iter().enumerate() {
        for c in 0..width {
            expected[s as usize * width + c] += values[r * width + c];
        }
    }
    assert_eq!(ops::scatter_sum(&src, &seg)?.flatten_all()?.to_vec1::<f64>()?, expected);
    let via_candle = Tensor::zeros((segments, width), DType::F64, &dev)?.index_add(seg.tensor(), &src, 0)?;
    assert_eq!(ops::scatter_sum(&src, &seg)?.to_vec2::<f64>()?, via_candle.to_vec2::<f64>()?);
    let gathered = ops::gather(&ops::scatter_sum(&src, &seg)?, &seg)?;
    assert_eq!(gathered.dims(), [rows, width]);
    Ok(())
}

/// Every edge of a symmetric radius graph (molecule and crystal, self-images included) is paired
/// with its reverse; a neighbour cap that cuts the reverse edges leaves those edges on their own.
#[test]
fn edge_pairs_group_opposite_edges() -> Result<()> {
    let cell = [[3.0, 0.0, 0.0], [0.8, 2.9, 0.0], [0.3, 0.4, 3.3]];
    let crystal = Structure::periodic(vec![11, 17], vec![[0.0, 0.0, 0.0], [1.9, 1.4, 1.6]], cell, [true; 3]).unwrap();
    let molecule =
        Structure::molecule(vec![1, 8, 1], vec![[0.0, 0.0, 0.0], [0.0, 0.0, 0.96], [0.9, 0.0, 1.2]]).unwrap();
    let check = |options: &RadiusOptions, all_paired: bool| -> Result<()> {
        let batch = GraphBatch::from_structures(&[molecule.clone(), crystal.clone()], options).unwrap();
        let g = GraphTensors::new(&batch, DType::F64, &Device::Cpu)?;
        let pairs = g.pairs.as_ref().expect("some edges have their reverse");
        let members = pairs.pair_of_edge.counts();
        assert!(members.iter().all(|&c| c == 1 || c == 2));
        assert_eq!(members.iter().all(|&c| c == 2), all_paired);
        let e = &batch.edges;
        for (k, &rep) in pairs.representative.values().iter().enumerate() {
            let rep = rep as usize;
            assert_eq!(pairs.pair_of_edge.values()[rep] as usize, k);
            for other in (0..e.len()).filter(|&o| o != rep && pairs.pair_of_edge.values()[o] as usize == k) {
                assert_eq!((e.source[other], e.target[other]), (e.target[rep], e.source[rep]));
                assert_eq!(e.shift[other], e.shift[rep].map(|s| -s));
                assert!((e.distance[other] - e.distance[rep]).abs() < 1e-12);
            }
        }
        Ok(())
    };
    check(&RadiusOptions::new(4.0), true)?;
    check(&RadiusOptions::new(4.0).with_max_neighbors(1), false)
}
