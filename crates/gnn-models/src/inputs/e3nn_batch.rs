//! e3nn's data dict as a batch file, for `gate_points_2101` networks: `pos` `[N, 3]`, optional `x`
//! `[N, dim irreps_in]` (node inputs), optional `z` `[N, dim irreps_node_attr]` (float node
//! attributes — e3nn's naming, not atomic numbers) and `batch` `[N]` (sorted graph index; absent:
//! one graph), as `{k: v for k, v in data.items()}` saved with `safetensors.torch.save_file`.
//!
//! Atoms carry no element here: the structures hold hydrogen as a placeholder, and the features
//! are fed to the network as they are, `x` then `z` per node in the batch's node features.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use chem_graph::{Features, Structure};

use crate::error::{Error, Result};
use crate::models::gate_points::GatePointsConfig;

/// The molecules of an e3nn data dict and their node features (`x` then `z`; see the module docs).
#[derive(Clone, Debug)]
pub struct E3nnBatch {
    /// One structure per graph (placeholder elements), named `FILE#k`.
    pub structures: Vec<Structure>,
    /// Per atom, `x` followed by `z` (absent when the network reads neither).
    pub features: Option<Features>,
}

impl E3nnBatch {
    /// Whether `tensors` look like an e3nn data dict: `pos`, no `edge_index`, and a `z` (if any)
    /// of floats (a PyG batch's `z` holds atomic numbers).
    pub fn recognise(tensors: &HashMap<String, Tensor>) -> bool {
        tensors.contains_key("pos")
            && !tensors.contains_key("edge_index")
            && tensors.get("z").is_none_or(|z| z.dtype().is_float())
    }

    /// Reads the data dict of `origin` for a network with `config`'s irreps; every mismatch is an
    /// error naming the file and the tensor.
    pub fn from_tensors(tensors: &HashMap<String, Tensor>, origin: &str, config: &GatePointsConfig) -> Result<Self> {
        let bad = |m: String| Error::Input(format!("{origin}: {m}"));
        let pos = tensors.get("pos").ok_or_else(|| bad("missing `pos` (positions, [N, 3])".into()))?;
        let n = match pos.dims() {
            [n, 3] if pos.dtype().is_float() => *n,
            dims => return Err(bad(format!("`pos` is {dims:?} {:?}, expected floats [N, 3]", pos.dtype()))),
        };
        let pos = pos.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        if let Some((a, _)) = pos.iter().enumerate().find(|(_, p)| p.iter().any(|v| !v.is_finite())) {
            return Err(bad(format!("`pos[{a}]` is not finite")));
        }
        let batch = match tensors.get("batch") {
            Some(b) if b.dims() == [n] && !b.dtype().is_float() => b.to_dtype(DType::I64)?.to_vec1::<i64>()?,
            Some(b) => return Err(bad(format!("`batch` is {:?} {:?}, expected integers [{n}]", b.dims(), b.dtype()))),
            None => vec![0; n],
        };
        let mut columns: Vec<Vec<f64>> = Vec::new();
        let mut width = 0;
        for (name, irreps) in [("x", &config.irreps_in), ("z", &config.irreps_node_attr)] {
            match (tensors.get(name), irreps) {
                (Some(t), Some(i)) if t.dims() == [n, i.dim()] && t.dtype().is_float() => {
                    columns.push(t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?);
                    width += i.dim();
                }
                (Some(t), Some(i)) => {
                    return Err(bad(format!(
                        "`{name}` is {:?} {:?}, expected floats [{n}, {}] (`{i}`)",
                        t.dims(),
                        t.dtype(),
                        i.dim()
                    )))
                }
                (None, Some(i)) => return Err(bad(format!("missing `{name}`: the network reads `{i}`"))),
                (Some(_), None) => return Err(bad(format!("`{name}` given, but the network reads no `{name}`"))),
                (None, None) => {}
            }
        }
        let features = (width > 0).then(|| {
            let mut data = Vec::with_capacity(n * width);
            for a in 0..n {
                for c in &columns {
                    let w = c.len() / n.max(1);
                    data.extend_from_slice(&c[a * w..(a + 1) * w]);
                }
            }
            Features { width, data }
        });
        let starts = crate::inputs::batch_file::graph_starts(&batch).map_err(bad)?;
        let structures = (0..starts.len() - 1)
            .map(|g| {
                let positions: Vec<[f64; 3]> =
                    pos[starts[g]..starts[g + 1]].iter().map(|p| [p[0], p[1], p[2]]).collect();
                let atoms = positions.len();
                let mut s =
                    Structure::molecule(vec![1; atoms], positions).map_err(|e| bad(format!("graph {g}: {e}")))?;
                s.name = format!("{origin}#{g}");
                Ok(s)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { structures, features })
    }
}
