//! [`Graph`] and [`GraphBatch`]: atoms plus directed edges, and their disjoint union.
//!
//! # Edge convention (PyTorch Geometric's)
//! An edge j → i carries a message from atom j (the **source**) to atom i (the **target**).
//! It is stored as `source[e] = j`, `target[e] = i`, with the integer image shift `S` of the
//! source atom and the vector `vector[e] = r_j + S·L − r_i` (L: cell rows), pointing from the
//! target to the (image of the) source; `distance[e] = |vector[e]|`. The reverse edge i → j has
//! shift −S. In PyG terms `edge_index = [source, target]` (flow `source_to_target`).
//! Indices are `u32` (what Candle's `index_select`/`index_add` take).

use crate::error::{Error, Result};
use crate::line_graph::{line_graph, Triplets};
use crate::neighbors::{radius_graph, radius_graph_many, RadiusOptions};
use crate::structure::{Cell, Structure};

/// Directed edges in structure-of-arrays form; all vectors have the same length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Edges {
    /// Source atom j of each edge j → i.
    pub source: Vec<u32>,
    /// Target atom i of each edge j → i.
    pub target: Vec<u32>,
    /// Integer cell shift S of the source image (zeros for molecules).
    pub shift: Vec<[i32; 3]>,
    /// `r_j + S·L − r_i` in Å.
    pub vector: Vec<[f64; 3]>,
    /// Length of `vector` in Å.
    pub distance: Vec<f64>,
}

impl Edges {
    /// Number of edges.
    pub fn len(&self) -> usize {
        self.source.len()
    }

    /// True when there are no edges.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    /// Checks that the five arrays have the same length (the fields are public, so a hand-built
    /// value may not).
    pub fn check_lengths(&self) -> Result<()> {
        let e = self.source.len();
        if [self.target.len(), self.shift.len(), self.vector.len(), self.distance.len()].iter().any(|&l| l != e) {
            return Err(Error::invalid("edge arrays have different lengths"));
        }
        Ok(())
    }

    /// Appends one edge.
    pub fn push(&mut self, source: u32, target: u32, shift: [i32; 3], vector: [f64; 3], distance: f64) {
        self.source.push(source);
        self.target.push(target);
        self.shift.push(shift);
        self.vector.push(vector);
        self.distance.push(distance);
    }

    /// Appends all edges of `other`, adding `offset` to their atom indices.
    pub fn extend_offset(&mut self, other: &Edges, offset: u32) {
        self.source.extend(other.source.iter().map(|&s| s + offset));
        self.target.extend(other.target.iter().map(|&t| t + offset));
        self.shift.extend_from_slice(&other.shift);
        self.vector.extend_from_slice(&other.vector);
        self.distance.extend_from_slice(&other.distance);
    }

    /// The edges at positions `range`, with `offset` subtracted from their atom indices.
    pub fn slice_offset(&self, range: std::ops::Range<usize>, offset: u32) -> Edges {
        Edges {
            source: self.source[range.clone()].iter().map(|&s| s - offset).collect(),
            target: self.target[range.clone()].iter().map(|&t| t - offset).collect(),
            shift: self.shift[range.clone()].to_vec(),
            vector: self.vector[range.clone()].to_vec(),
            distance: self.distance[range].to_vec(),
        }
    }

    /// Number of incoming edges of each of `n_atoms` atoms.
    pub fn in_degrees(&self, n_atoms: usize) -> Vec<usize> {
        let mut deg = vec![0; n_atoms];
        for &t in &self.target {
            deg[t as usize] += 1;
        }
        deg
    }
}

/// A dense row-major feature matrix (`data.len() == rows * width`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Features {
    /// Columns per row.
    pub width: usize,
    /// Row-major values.
    pub data: Vec<f64>,
}

impl Features {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.width).unwrap_or(0)
    }
}

/// Atoms of one structure with the edges between them and optional features.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// Atomic numbers, one per node.
    pub numbers: Vec<u8>,
    /// Cartesian positions in Å, one per node.
    pub positions: Vec<[f64; 3]>,
    /// Cell rows for periodic graphs.
    pub cell: Option<Cell>,
    /// Directed edges (see the module docs for the convention).
    pub edges: Edges,
    /// Optional node features, one row per node.
    pub node_features: Option<Features>,
    /// Optional edge features, one row per edge.
    pub edge_features: Option<Features>,
    /// Optional weight of each node in the readout: the multiplicity (orbit size) of each node of
    /// a graph reduced to the asymmetric unit of a crystal, so that `Σ m_i·h_i` over its nodes
    /// equals the sum over the full cell. `None` means every node counts once.
    pub node_weights: Option<Vec<f64>>,
}

impl Graph {
    /// A graph of `structure`'s atoms with the given edges.
    pub fn new(structure: &Structure, edges: Edges) -> Result<Self> {
        let g = Graph {
            numbers: structure.numbers.clone(),
            positions: structure.positions.clone(),
            cell: structure.cell.filter(|_| structure.is_periodic()),
            edges,
            node_features: None,
            edge_features: None,
            node_weights: None,
        };
        g.validate()?;
        Ok(g)
    }

    /// The radius graph of `structure` (see [`radius_graph`]).
    pub fn radius(structure: &Structure, options: &RadiusOptions) -> Result<Self> {
        Graph::new(structure, radius_graph(structure, options)?)
    }

    /// The radius graph of each structure, built in parallel.
    pub fn radius_many(structures: &[Structure], options: &RadiusOptions) -> Result<Vec<Self>> {
        let edges = radius_graph_many(structures, options)?;
        structures.iter().zip(edges).map(|(s, e)| Graph::new(s, e)).collect()
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.numbers.len()
    }

    /// Number of edges.
    pub fn num_edges(&self) -> usize {
        self.edges.len()
    }

    /// Checks that edge indices, edge arrays and feature matrices are consistent.
    pub fn validate(&self) -> Result<()> {
        let (n, e) = (self.num_nodes(), self.edges.len());
        let ed = &self.edges;
        if self.positions.len() != n {
            return Err(Error::invalid(format!("graph: {n} nodes but {} positions", self.positions.len())));
        }
        ed.check_lengths().map_err(|e| Error::invalid(format!("graph: {e}")))?;
        if let Some(k) = ed.source.iter().chain(&ed.target).position(|&i| i as usize >= n) {
            return Err(Error::invalid(format!("graph: edge {} refers to a node >= {n}", k % e.max(1))));
        }
        if let Some(f) = &self.node_features {
            if f.rows() != n || f.data.len() != n * f.width {
                return Err(Error::invalid(format!("graph: {} node-feature rows for {n} nodes", f.rows())));
            }
        }
        if let Some(f) = &self.edge_features {
            if f.rows() != e || f.data.len() != e * f.width {
                return Err(Error::invalid(format!("graph: {} edge-feature rows for {e} edges", f.rows())));
            }
        }
        if let Some(w) = &self.node_weights {
            if w.len() != n {
                return Err(Error::invalid(format!("graph: {} node weights for {n} nodes", w.len())));
            }
            if let Some(k) = w.iter().position(|x| !(x.is_finite() && *x > 0.0)) {
                return Err(Error::invalid(format!("graph: node {k} has weight {}, expected > 0", w[k])));
            }
        }
        Ok(())
    }
}

/// The disjoint union of several graphs, as PyG's `Batch`: node and edge arrays are concatenated,
/// edge indices are shifted by each graph's node offset, and `node_graph[k]` says which graph
/// node k belongs to. Graph `g` owns nodes `node_offsets[g]..node_offsets[g + 1]` and edges
/// `edge_offsets[g]..edge_offsets[g + 1]`. Empty graphs are allowed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GraphBatch {
    /// Atomic numbers of all nodes.
    pub numbers: Vec<u8>,
    /// Positions of all nodes in Å.
    pub positions: Vec<[f64; 3]>,
    /// Graph index of each node (PyG's `batch`).
    pub node_graph: Vec<u32>,
    /// Edges with batch-global node indices.
    pub edges: Edges,
    /// Cell rows per graph; zeros for non-periodic graphs.
    pub cells: Vec<Cell>,
    /// Prefix sums of node counts (length = graphs + 1).
    pub node_offsets: Vec<usize>,
    /// Prefix sums of edge counts (length = graphs + 1).
    pub edge_offsets: Vec<usize>,
    /// Concatenated node features, if every graph has them (with equal width).
    pub node_features: Option<Features>,
    /// Concatenated edge features, if every graph has them (with equal width).
    pub edge_features: Option<Features>,
    /// Concatenated node weights when any graph has them (graphs without weights get 1 per node).
    pub node_weights: Option<Vec<f64>>,
    /// Pairs of edges that share their target, with batch-global edge indices, for models that
    /// pass messages on the line graph (coNGN). `None` until [`GraphBatch::with_line_graph`]
    /// computes it or a reader sets the pairs a file gives. `edge_a` is the pair's receiver (where
    /// line-graph messages are summed), `edge_b` its sender.
    pub line_graph: Option<Triplets>,
}

impl GraphBatch {
    /// Concatenates `graphs` into one batch. Features are kept only when all graphs have them with
    /// the same width; a mix is an error.
    pub fn from_graphs(graphs: &[Graph]) -> Result<Self> {
        let mut b = GraphBatch { node_offsets: vec![0], edge_offsets: vec![0], ..Default::default() };
        let node_f = concat_features(graphs.iter().map(|g| g.node_features.as_ref()), "node")?;
        let edge_f = concat_features(graphs.iter().map(|g| g.edge_features.as_ref()), "edge")?;
        for (gi, g) in graphs.iter().enumerate() {
            g.validate()?;
            let offset =
                u32::try_from(b.numbers.len()).map_err(|_| Error::invalid("batch has more than u32::MAX nodes"))?;
            b.numbers.extend_from_slice(&g.numbers);
            b.positions.extend_from_slice(&g.positions);
            b.node_graph.extend(std::iter::repeat_n(gi as u32, g.num_nodes()));
            b.edges.extend_offset(&g.edges, offset);
            b.cells.push(g.cell.unwrap_or([[0.0; 3]; 3]));
            b.node_offsets.push(b.numbers.len());
            b.edge_offsets.push(b.edges.len());
        }
        b.node_features = node_f;
        b.edge_features = edge_f;
        if graphs.iter().any(|g| g.node_weights.is_some()) {
            b.node_weights = Some(
                graphs
                    .iter()
                    .flat_map(|g| g.node_weights.clone().unwrap_or_else(|| vec![1.0; g.num_nodes()]))
                    .collect(),
            );
        }
        Ok(b)
    }

    /// The batch with [`GraphBatch::line_graph`] set: kept when already there, otherwise every
    /// ordered pair of distinct in-edges of each node ([`line_graph`]; pairs never join two graphs).
    pub fn with_line_graph(mut self) -> Result<Self> {
        if self.line_graph.is_none() {
            self.line_graph = Some(line_graph(&self.edges)?);
        }
        Ok(self)
    }

    /// The radius graphs of `structures` (built in parallel), batched.
    pub fn from_structures(structures: &[Structure], options: &RadiusOptions) -> Result<Self> {
        GraphBatch::from_graphs(&Graph::radius_many(structures, options)?)
    }

    /// Number of graphs.
    pub fn num_graphs(&self) -> usize {
        self.node_offsets.len().saturating_sub(1)
    }

    /// Total number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.numbers.len()
    }

    /// Total number of edges.
    pub fn num_edges(&self) -> usize {
        self.edges.len()
    }

    /// Number of nodes of each graph.
    pub fn nodes_per_graph(&self) -> Vec<usize> {
        self.node_offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Graph `g` taken back out of the batch (`None` when out of range).
    pub fn graph(&self, g: usize) -> Option<Graph> {
        let nodes = *self.node_offsets.get(g)?..*self.node_offsets.get(g + 1)?;
        let edges = self.edge_offsets[g]..self.edge_offsets[g + 1];
        let slice = |f: &Features, r: std::ops::Range<usize>| Features {
            width: f.width,
            data: f.data[r.start * f.width..r.end * f.width].to_vec(),
        };
        let cell = self.cells[g];
        Some(Graph {
            numbers: self.numbers[nodes.clone()].to_vec(),
            positions: self.positions[nodes.clone()].to_vec(),
            cell: (cell != [[0.0; 3]; 3]).then_some(cell),
            edges: self.edges.slice_offset(edges.clone(), nodes.start as u32),
            node_features: self.node_features.as_ref().map(|f| slice(f, nodes.clone())),
            edge_features: self.edge_features.as_ref().map(|f| slice(f, edges)),
            node_weights: self.node_weights.as_ref().map(|w| w[nodes].to_vec()),
        })
    }

    /// The line-graph pairs of graph `g` (edge indices local to the graph), when the batch has them.
    pub fn graph_line_graph(&self, g: usize) -> Option<Triplets> {
        let (lg, start, end) = (self.line_graph.as_ref()?, *self.edge_offsets.get(g)?, *self.edge_offsets.get(g + 1)?);
        let keep: Vec<usize> = (0..lg.len()).filter(|&k| (start..end).contains(&(lg.edge_a[k] as usize))).collect();
        Some(Triplets {
            edge_a: keep.iter().map(|&k| lg.edge_a[k] - start as u32).collect(),
            edge_b: keep.iter().map(|&k| lg.edge_b[k] - start as u32).collect(),
            angle: keep.iter().map(|&k| lg.angle[k]).collect(),
            cos_angle: keep.iter().map(|&k| lg.cos_angle[k]).collect(),
        })
    }
}

fn concat_features<'a>(mut feats: impl Iterator<Item = Option<&'a Features>>, what: &str) -> Result<Option<Features>> {
    let Some(first) = feats.next() else { return Ok(None) };
    let mut out = first.cloned();
    for f in feats {
        match (&mut out, f) {
            (None, None) => {}
            (Some(acc), Some(f)) if acc.width == f.width => acc.data.extend_from_slice(&f.data),
            (Some(acc), Some(f)) => {
                return Err(Error::invalid(format!(
                    "batch: {what} features of width {} and {} cannot be concatenated",
                    acc.width, f.width
                )))
            }
            _ => return Err(Error::invalid(format!("batch: some graphs have {what} features and some do not"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Graph {
        let mut edges = Edges::default();
        for i in 1..n as u32 {
            edges.push(i - 1, i, [0; 3], [-1.0, 0.0, 0.0], 1.0);
            edges.push(i, i - 1, [0; 3], [1.0, 0.0, 0.0], 1.0);
        }
        let positions = (0..n).map(|i| [i as f64, 0.0, 0.0]).collect();
        let node_features = Some(Features { width: 1, data: (0..n).map(|i| i as f64).collect() });
        Graph { numbers: vec![6; n], positions, edges, node_features, ..Default::default() }
    }

    #[test]
    fn batch_round_trips_graphs_including_empty_ones() {
        let graphs = vec![chain(3), chain(0), chain(1), chain(4)];
        let b = GraphBatch::from_graphs(&graphs).unwrap();
        assert_eq!(b.num_graphs(), 4);
        assert_eq!(b.node_offsets, vec![0, 3, 3, 4, 8]);
        assert_eq!(b.edge_offsets, vec![0, 4, 4, 4, 10]);
        assert_eq!(b.node_graph, vec![0, 0, 0, 2, 3, 3, 3, 3]);
        assert_eq!(b.edges.source[4], 4); // first edge of graph 3 starts at node offset 4
        for (g, orig) in graphs.iter().enumerate() {
            assert_eq!(&b.graph(g).unwrap(), orig);
        }
        assert!(b.graph(4).is_none());
    }

    #[test]
    fn batch_of_structures_matches_graphs_built_one_by_one() {
        let water = Structure::molecule(vec![8, 1, 1], vec![[0.0; 3], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]]).unwrap();
        let cell = [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]];
        let crystal = Structure::periodic(vec![11, 17], vec![[0.0; 3], [1.5, 1.5, 1.5]], cell, [true; 3]).unwrap();
        let empty = Structure::default();
        let opts = RadiusOptions::new(3.1);
        let structures = [water.clone(), empty, crystal.clone()];
        let batch = GraphBatch::from_structures(&structures, &opts).unwrap();
        assert_eq!(batch.nodes_per_graph(), vec![3, 0, 2]);
        assert_eq!(batch.graph(0).unwrap(), Graph::radius(&water, &opts).unwrap());
        let g = batch.graph(2).unwrap();
        assert_eq!(g, Graph::radius(&crystal, &opts).unwrap());
        // Each ion has 6 same-species images at 3 Å and 8 opposite ions at 2.6 Å.
        assert_eq!(g.edges.in_degrees(2), vec![14, 14]);
        assert_eq!(batch.cells[2], cell);
    }

    #[test]
    fn node_weights_are_batched_with_ones_for_unweighted_graphs() {
        let mut weighted = chain(2);
        weighted.node_weights = Some(vec![4.0, 2.0]);
        let b = GraphBatch::from_graphs(&[chain(3), weighted.clone()]).unwrap();
        assert_eq!(b.node_weights, Some(vec![1.0, 1.0, 1.0, 4.0, 2.0]));
        assert_eq!(b.graph(1).unwrap(), weighted);
        assert_eq!(GraphBatch::from_graphs(&[chain(3)]).unwrap().node_weights, None);
        weighted.node_weights = Some(vec![1.0, 0.0]);
        assert!(weighted.validate().unwrap_err().to_string().contains("node 1 has weight 0"));
        weighted.node_weights = Some(vec![1.0]);
        assert!(weighted.validate().unwrap_err().to_string().contains("1 node weights for 2 nodes"));
    }

    #[test]
    fn mixed_features_are_rejected() {
        let mut g = chain(2);
        g.node_features = None;
        let err = GraphBatch::from_graphs(&[chain(2), g]).unwrap_err();
        assert!(err.to_string().contains("some graphs have node features"), "{err}");
    }

    #[test]
    fn out_of_range_edges_are_rejected() {
        let mut g = chain(2);
        g.edges.source[0] = 7;
        assert!(g.validate().is_err());
    }
}
