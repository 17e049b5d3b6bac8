//! Keras variable names of kgcnn's coGN/coNGN → chemgnn parameter names, by the model's
//! structure, not by Keras' global name counters.
//!
//! Keras numbers layers per process (`graph_network_1/mlp_7/mlp_7_dense_0/dense_14/kernel:0`), so
//! the same model has other names when something was built before it. The counters are only
//! used to *order* siblings: under a block the first MLP is the edge MLP and the second the node
//! MLP (kgcnn creates them in that order); the `k`-th graph network of a sequence is block `k`; in
//! the input block the first MLP is the atom layer and the second the edge layer; `mlp_*_dense_i`
//! is layer `i` of its MLP. Dense kernels `[in, out]` are transposed to `[out, in]`; GRU cells
//! (`reset_after=True`, gate blocks z, r, h) are reordered to PyTorch's r, z, n layout, with
//! `bias[0]` the input and `bias[1]` the recurrent bias. A name that fits nothing keeps its Keras
//! name and is reported as unexpected, with every missing and mis-shaped tensor, by the import.

use crate::error::Result;
use candle_core::{Tensor, D};
use std::collections::BTreeMap;

/// `name_7` → (`name`, 7); `name` → (`name`, 0).
fn split_counter(component: &str) -> (&str, usize) {
    match component.rsplit_once('_') {
        Some((base, n)) if !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (base, n.parse().unwrap_or(0))
        }
        _ => (component, 0),
    }
}

/// The base name of a component with its counter removed.
fn base(component: &str) -> &str {
    split_counter(component).0
}

/// `mlp_7_dense_2` / `mlp_dense_2` → 2.
fn dense_index(component: &str) -> Option<usize> {
    let (head, i) = component.rsplit_once("_dense_")?;
    (base(head) == "mlp").then(|| i.parse().ok()).flatten()
}

/// The variables as paths of components (`:0` dropped).
struct Names {
    paths: Vec<Vec<String>>,
}

impl Names {
    /// Rank of `paths[p][depth]` among the distinct components at `depth` of the paths that share
    /// `paths[p][..depth]` and whose component there has one of `bases`, ordered by counter.
    fn rank(&self, p: usize, depth: usize, bases: &[&str]) -> usize {
        let prefix = &self.paths[p][..depth];
        let mut siblings: Vec<(usize, &str)> = self
            .paths
            .iter()
            .filter(|q| q.len() > depth && &q[..depth] == prefix && bases.contains(&base(&q[depth])))
            .map(|q| (split_counter(&q[depth]).1, q[depth].as_str()))
            .collect();
        siblings.sort();
        siblings.dedup();
        siblings.iter().position(|(_, c)| *c == self.paths[p][depth]).unwrap_or(0)
    }
}

/// How a Keras tensor becomes ours.
enum Layout {
    AsIs,
    Transpose,
    /// A GRU kernel (transposed) or bias (not).
    Gru {
        transpose: bool,
    },
}

/// Renames and re-lays-out `tensors` (Keras names) into chemgnn's coGN/coNGN parameters; also
/// returns the Keras name of each parameter (for error messages).
pub fn map_weights(tensors: BTreeMap<String, Tensor>) -> Result<(BTreeMap<String, Tensor>, BTreeMap<String, String>)> {
    let keys: Vec<String> = tensors.keys().cloned().collect();
    let names = Names {
        paths: keys.iter().map(|k| k.trim_end_matches(":0").split('/').map(str::to_owned).collect()).collect(),
    };
    let mut out = BTreeMap::new();
    let mut keras = BTreeMap::new();
    let mut tensors = tensors;
    for (p, key) in keys.iter().enumerate() {
        let tensor = tensors.remove(key).expect("key listed from the map");
        match target_name(&names, p) {
            Some((name, layout)) => {
                let tensor = match layout {
                    Layout::AsIs => tensor,
                    Layout::Transpose if tensor.rank() == 2 => tensor.t()?.contiguous()?,
                    Layout::Transpose => tensor,
                    Layout::Gru { transpose } => gru_layout(&tensor, transpose)?,
                };
                keras.insert(name.clone(), key.clone());
                out.insert(name, tensor);
            }
            None => {
                out.insert(key.clone(), tensor);
            }
        }
    }
    Ok((out, keras))
}

/// Our name (and layout) for variable `p`, or `None` when it fits nothing.
fn target_name(names: &Names, p: usize) -> Option<(String, Layout)> {
    let path = &names.paths[p];
    let top = base(path.first()?);
    match top {
        "crystal_input_block" => input_block(names, p),
        "sequential_graph_network" => {
            let block = names.rank(p, 1, &["graph_network", "nested_graph_network"]);
            gn_block(names, p, 1, &format!("blocks.{block}"))
        }
        "graph_network" | "graph_network_multiplicity_readout" => {
            let (component, leaf) = (path.get(1)?, path.last()?);
            (base(component) == "mlp" && path.len() == 5).then_some(())?;
            dense(&format!("output.{}", 2 * dense_index(path.get(2)?)?), leaf)
        }
        _ => None,
    }
}

fn input_block(names: &Names, p: usize) -> Option<(String, Layout)> {
    let path = &names.paths[p];
    match path.as_slice() {
        [_, a, e, w] if base(a) == "atom_embedding" && base(e) == "embedding" && w == "embeddings" => {
            Some(("input.atom_embedding.weight".into(), Layout::AsIs))
        }
        [_, m, d, _, leaf] if base(m) == "mlp" && dense_index(d) == Some(0) => {
            let layer = ["input.atom_dense", "input.edge_dense"].get(names.rank(p, 1, &["mlp"]))?;
            dense(layer, leaf)
        }
        _ => None,
    }
}

/// A (possibly nested) GN block whose component is at `depth`.
fn gn_block(names: &Names, p: usize, depth: usize, prefix: &str) -> Option<(String, Layout)> {
    let path = &names.paths[p];
    let rest = &path[depth + 1..];
    match rest {
        [m, d, _, leaf] if base(m) == "mlp" => {
            let which = ["edge_mlp", "node_mlp"].get(names.rank(p, depth + 1, &["mlp"]))?;
            dense(&format!("{prefix}.{which}.{}", 2 * dense_index(d)?), leaf)
        }
        [s, g, ..] if base(s) == "sequential_graph_network" && base(g) == "graph_network" => {
            let k = names.rank(p, depth + 2, &["graph_network"]);
            gn_block(names, p, depth + 2, &format!("{prefix}.nested.{k}"))
        }
        [cell, leaf] if base(cell) == "gru_cell" => {
            // kgcnn creates the edge gate before the node gate; with one GRU, it is the node gate
            // (the only one coNGN uses) unless the block has two.
            let cells = names
                .paths
                .iter()
                .filter(|q| q.len() == depth + 3 && q[..=depth] == path[..=depth] && base(&q[depth + 1]) == "gru_cell");
            let distinct: std::collections::BTreeSet<&String> = cells.map(|q| &q[depth + 1]).collect();
            let gate = if distinct.len() > 1 && names.rank(p, depth + 1, &["gru_cell"]) == 0 {
                "edge_gate"
            } else {
                "node_gate"
            };
            let name = match leaf.as_str() {
                "kernel" => "weight_ih",
                "recurrent_kernel" => "weight_hh",
                "bias" => "bias",
                _ => return None,
            };
            Some((format!("{prefix}.{gate}.gru.{name}"), Layout::Gru { transpose: name != "bias" }))
        }
        [g, d, leaf] if base(g) == "hadamard_product_gate" && base(d) == "dense" => {
            let distinct: std::collections::BTreeSet<&String> = names
                .paths
                .iter()
                .filter(|q| {
                    q.len() == depth + 4
                        && q[..=depth] == path[..=depth]
                        && base(&q[depth + 1]) == "hadamard_product_gate"
                })
                .map(|q| &q[depth + 1])
                .collect();
            let gate = if distinct.len() > 1 && names.rank(p, depth + 1, &["hadamard_product_gate"]) == 0 {
                "edge_gate"
            } else {
                "node_gate"
            };
            dense(&format!("{prefix}.{gate}.gate"), leaf)
        }
        _ => None,
    }
}

fn dense(prefix: &str, leaf: &str) -> Option<(String, Layout)> {
    match leaf {
        "kernel" => Some((format!("{prefix}.weight"), Layout::Transpose)),
        "bias" => Some((format!("{prefix}.bias"), Layout::AsIs)),
        _ => None,
    }
}

/// Keras GRU kernels `[in, 3H]` (z, r, h) → `[3H, in]` (r, z, n); a bias `[2, 3H]` becomes
/// `[2, 3H]` reordered (split into `bias_ih`/`bias_hh` by [`split_gru_biases`]).
fn gru_layout(t: &Tensor, transpose: bool) -> Result<Tensor> {
    let columns = t.dim(D::Minus1)?;
    if columns % 3 != 0 {
        return Ok(t.clone());
    }
    let h = columns / 3;
    let reordered = Tensor::cat(
        &[t.narrow(D::Minus1, h, h)?, t.narrow(D::Minus1, 0, h)?, t.narrow(D::Minus1, 2 * h, h)?],
        D::Minus1,
    )?;
    Ok(if transpose && t.rank() == 2 { reordered.t()?.contiguous()? } else { reordered })
}

/// Splits every `….gru.bias` `[2, 3H]` into `bias_ih` (row 0) and `bias_hh` (row 1); a bias of
/// another shape (Keras `reset_after=False`) stays and is reported as unexpected.
pub fn split_gru_biases(tensors: &mut BTreeMap<String, Tensor>, keras: &mut BTreeMap<String, String>) -> Result<()> {
    let keys: Vec<String> = tensors.keys().filter(|k| k.ends_with(".gru.bias")).cloned().collect();
    for key in keys {
        let bias = &tensors[&key];
        if bias.rank() == 2 && bias.dim(0)? == 2 {
            let stem = key.trim_end_matches("bias");
            let (ih, hh) = (bias.get(0)?, bias.get(1)?);
            tensors.insert(format!("{stem}bias_ih"), ih);
            tensors.insert(format!("{stem}bias_hh"), hh);
            tensors.remove(&key);
            if let Some(k) = keras.remove(&key) {
                keras.insert(format!("{stem}bias_ih"), format!("{k}[0]"));
                keras.insert(format!("{stem}bias_hh"), format!("{k}[1]"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_only_order_siblings() {
        assert_eq!(split_counter("graph_network_12"), ("graph_network", 12));
        assert_eq!(split_counter("graph_network"), ("graph_network", 0));
        assert_eq!(split_counter("graph_network_multiplicity_readout"), ("graph_network_multiplicity_readout", 0));
        assert_eq!(dense_index("mlp_7_dense_3"), Some(3));
        assert_eq!(dense_index("mlp_dense_0"), Some(0));
        assert_eq!(dense_index("dense_3"), None);
    }
}
