//! e3nn's `TensorProduct`: a weighted sum of Clebsch–Gordan products of two irreps features,
//! instruction by instruction, with e3nn 0.6's connection modes, normalisation and flat weight
//! layout, so that weights exported from e3nn (`tp.weight`, or the per-edge weights a radial network
//! produces) give the same numbers.
//!
//! An [`Instruction`] `(i_in1, i_in2, i_out, mode, has_weight, path_weight)` combines block `i_in1`
//! of the first input with block `i_in2` of the second into block `i_out` of the output,
//! `(x ⊗ y)_k = Σ_ij C_ijk x_i y_j` with [`wigner_3j`](super::wigner_3j), and mixes the
//! multiplicities `u` (first), `v` (second), `w` (output) as the [`ConnectionMode`] says. Each
//! instruction is scaled by `√(α · out_var · path_weight / X)` ([`IrrepNormalization`] gives α,
//! [`PathNormalization`] gives X); outputs no instruction reaches are zero.
//!
//! **Weights** are one flat vector: the blocks of the instructions that have weights, in
//! instruction order, each row-major over its path shape (`uvw`: `[u, v, w]`). Shared weights are
//! `[weight_numel]`; per-sample weights (e.g. per edge) are `[batch, weight_numel]`.
//!
//! On the CPU in f32/f64 the product runs in a fused kernel that walks the sparse Clebsch–Gordan
//! coefficients (`kernels/tensor_product.rs`), and
//! [`TensorProduct::convolve`] fuses it with the gather of its first input and the scatter-sum of
//! its output; elsewhere a composition of Candle ops computes the same. Both are differentiable
//! to any order.

use std::sync::Arc;

use candle_core::{DType, Device, Error, Result, Tensor, D};

use super::irreps::{Irrep, Irreps, MulIr};
use super::wigner::{wigner_3j, wigner_3j_tensor};
use crate::kernels::tensor_product::{operand, Addressing, Contraction, PathSpec, Plan, Slot};
use crate::ops::{gather, scatter_sum, SegmentIndex};

/// How the multiplicities of an instruction's operands are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionMode {
    /// `z_w = Σ_uv W_uvw (x_u ⊗ y_v)`: weights `[u, v, w]` (required).
    Uvw,
    /// `z_u = Σ_v W_uv (x_u ⊗ y_v)`: weights `[u, v]`; output multiplicity = `u`.
    Uvu,
    /// `z_v = Σ_u W_uv (x_u ⊗ y_v)`: weights `[u, v]`; output multiplicity = `v`.
    Uvv,
    /// `z_w = Σ_u W_uw (x_u ⊗ y_u)`: weights `[u, w]`; `u = v`.
    Uuw,
    /// `z_u = W_u (x_u ⊗ y_u)`: weights `[u]`; all multiplicities equal.
    Uuu,
    /// `z_(uv) = W_uv (x_u ⊗ y_v)`: weights `[u, v]`; output multiplicity = `u·v`.
    Uvuv,
}

/// One path of a [`TensorProduct`] (see the module docs).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Instruction {
    /// Block of the first input.
    pub i_in1: usize,
    /// Block of the second input.
    pub i_in2: usize,
    /// Block of the output.
    pub i_out: usize,
    /// How multiplicities combine.
    pub mode: ConnectionMode,
    /// Whether the path has weights.
    pub has_weight: bool,
    /// Extra factor under the square root of the normalisation (e3nn's `path_weight`, default 1).
    #[serde(default = "one")]
    pub path_weight: f64,
}

fn one() -> f64 {
    1.0
}

impl Instruction {
    /// An instruction with `path_weight = 1`.
    pub fn new(i_in1: usize, i_in2: usize, i_out: usize, mode: ConnectionMode, has_weight: bool) -> Self {
        Self { i_in1, i_in2, i_out, mode, has_weight, path_weight: 1.0 }
    }
}

/// α of the normalisation: e3nn's `irrep_normalization`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IrrepNormalization {
    /// α = 2l_out + 1 (default).
    #[default]
    Component,
    /// α = (2l₁ + 1)(2l₂ + 1).
    Norm,
    /// α = 1.
    None,
}

/// X of the normalisation: e3nn's `path_normalization`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathNormalization {
    /// X = Σ over the instructions into the same output of `in1_var · in2_var · elements` (default).
    #[default]
    Element,
    /// X = `in1_var · in2_var · elements` of this instruction × the number of instructions into its
    /// output.
    Path,
    /// X = 1.
    None,
}

/// A [`TensorProduct`]'s definition (e3nn's constructor arguments).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TensorProductConfig {
    /// First input.
    pub irreps_in1: Irreps,
    /// Second input.
    pub irreps_in2: Irreps,
    /// Output.
    pub irreps_out: Irreps,
    /// The paths.
    pub instructions: Vec<Instruction>,
    /// α (default component).
    #[serde(default)]
    pub irrep_normalization: IrrepNormalization,
    /// X (default element).
    #[serde(default)]
    pub path_normalization: PathNormalization,
    /// Variance of each block of the first input (default 1).
    #[serde(default)]
    pub in1_var: Option<Vec<f64>>,
    /// Variance of each block of the second input (default 1).
    #[serde(default)]
    pub in2_var: Option<Vec<f64>>,
    /// Variance of each output block (default 1).
    #[serde(default)]
    pub out_var: Option<Vec<f64>>,
}

impl TensorProductConfig {
    /// e3nn's `FullyConnectedTensorProduct`: a `uvw` path with weights for every block pair and
    /// every output block their product contains, in nested loop order (in1, in2, out); the irreps
    /// are used as given (not simplified).
    pub fn fully_connected(irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps) -> Self {
        let mut instructions = Vec::new();
        for (i1, a) in irreps_in1.iter().enumerate() {
            for (i2, b) in irreps_in2.iter().enumerate() {
                for (io, c) in irreps_out.iter().enumerate() {
                    if a.ir.times(b.ir).any(|ir| ir == c.ir) {
                        instructions.push(Instruction::new(i1, i2, io, ConnectionMode::Uvw, true));
                    }
                }
            }
        }
        Self::new(irreps_in1, irreps_in2, irreps_out, instructions)
    }

    /// The product of e3nn's point convolutions (`gate_points_2101`, NequIP): a weighted `uvu`
    /// path (channel-wise, weights usually per edge) from every block pair of `irreps_in1 ⊗
    /// irreps_in2` to every irrep of their product that occurs in `targets`, each into its own
    /// output block (multiplicity of `irreps_in1`'s block), in creation order; the output irreps
    /// are then sorted (not simplified) and the paths renumbered, as e3nn's models build it.
    pub fn channelwise(irreps_in1: Irreps, irreps_in2: Irreps, targets: &Irreps) -> Self {
        let mut mid = Vec::new();
        let mut instructions = Vec::new();
        for (i, a) in irreps_in1.iter().enumerate() {
            for (j, b) in irreps_in2.iter().enumerate() {
                for ir in a.ir.times(b.ir).filter(|ir| targets.iter().any(|t| t.ir == *ir)) {
                    instructions.push(Instruction::new(i, j, mid.len(), ConnectionMode::Uvu, true));
                    mid.push(MulIr { mul: a.mul, ir });
                }
            }
        }
        let sorted = Irreps(mid).sort();
        for ins in &mut instructions {
            ins.i_out = sorted.p[ins.i_out];
        }
        Self::new(irreps_in1, irreps_in2, sorted.irreps, instructions)
    }

    /// The same paths ordered by output block (a stable sort: paths into one block keep their
    /// order), which moves their weight blocks in the flat weights: the layout of SevenNet ≥ 0.11
    /// and cuEquivariance.
    pub fn sorted_by_output(mut self) -> Self {
        self.instructions.sort_by_key(|ins| ins.i_out);
        self
    }

    /// e3nn's `ElementwiseTensorProduct`: copy `k` of the first input times copy `k` of the
    /// second, every irrep of each product (or those in `filter`), unweighted `uuu` paths. Both
    /// inputs are simplified and their blocks split so that multiplicities align.
    pub fn elementwise(irreps_in1: &Irreps, irreps_in2: &Irreps, filter: Option<&[Irrep]>) -> Result<Self> {
        let (mut a, mut b) = (irreps_in1.simplify().0, irreps_in2.simplify().0);
        if irreps_in1.num_irreps() != irreps_in2.num_irreps() {
            return Err(Error::Msg(format!(
                "elementwise tensor product: `{irreps_in1}` and `{irreps_in2}` differ in their number of irreps"
            )));
        }
        let mut i = 0;
        while i < a.len() {
            let (m1, m2) = (a[i].mul, b[i].mul);
            if m1 < m2 {
                b[i].mul = m1;
                b.insert(i + 1, MulIr { mul: m2 - m1, ir: b[i].ir });
            }
            if m2 < m1 {
                a[i].mul = m2;
                a.insert(i + 1, MulIr { mul: m1 - m2, ir: a[i].ir });
            }
            i += 1;
        }
        let mut out = Vec::new();
        let mut instructions = Vec::new();
        for (k, (x, y)) in a.iter().zip(&b).enumerate() {
            for ir in x.ir.times(y.ir).filter(|ir| filter.is_none_or(|f| f.contains(ir))) {
                instructions.push(Instruction::new(k, k, out.len(), ConnectionMode::Uuu, false));
                out.push(MulIr { mul: x.mul, ir });
            }
        }
        Ok(Self::new(Irreps(a), Irreps(b), Irreps(out), instructions))
    }

    /// e3nn's `FullTensorProduct`: every pair of copies, every irrep of their product (or those in
    /// `filter`), unweighted `uvuv` paths; the inputs are simplified and the output sorted.
    pub fn full(irreps_in1: &Irreps, irreps_in2: &Irreps, filter: Option<&[Irrep]>) -> Self {
        let (a, b) = (irreps_in1.simplify(), irreps_in2.simplify());
        let mut out = Vec::new();
        let mut instructions = Vec::new();
        for (i1, x) in a.iter().enumerate() {
            for (i2, y) in b.iter().enumerate() {
                for ir in x.ir.times(y.ir).filter(|ir| filter.is_none_or(|f| f.contains(ir))) {
                    instructions.push(Instruction::new(i1, i2, out.len(), ConnectionMode::Uvuv, false));
                    out.push(MulIr { mul: x.mul * y.mul, ir });
                }
            }
        }
        let sorted = Irreps(out).sort();
        for ins in &mut instructions {
            ins.i_out = sorted.p[ins.i_out];
        }
        Self::new(a, b, sorted.irreps, instructions)
    }

    /// A product with the given instructions and default normalisation.
    pub fn new(irreps_in1: Irreps, irreps_in2: Irreps, irreps_out: Irreps, instructions: Vec<Instruction>) -> Self {
        Self {
            irreps_in1,
            irreps_in2,
            irreps_out,
            instructions,
            irrep_normalization: IrrepNormalization::default(),
            path_normalization: PathNormalization::default(),
            in1_var: None,
            in2_var: None,
            out_var: None,
        }
    }
}

/// A checked instruction with its coefficient, path shape and weight offset.
#[derive(Clone, Debug)]
struct Path {
    ins: Instruction,
    coefficient: f64,
    shape: Vec<usize>,
    /// Offset in the flat weights (when `has_weight`).
    offset: usize,
}

/// e3nn's `TensorProduct` (module docs). Weights are passed to [`TensorProduct::forward`].
#[derive(Clone, Debug)]
pub struct TensorProduct {
    config: TensorProductConfig,
    paths: Vec<Path>,
    weight_numel: usize,
    plan: Arc<Plan>,
}

impl TensorProduct {
    /// Checks the instructions (parity, triangle rule, multiplicities of each mode) and computes the
    /// coefficients and weight layout.
    pub fn new(config: TensorProductConfig) -> Result<Self> {
        let (in1, in2, out) = (&config.irreps_in1, &config.irreps_in2, &config.irreps_out);
        let var = |v: &Option<Vec<f64>>, n: usize, name: &str| -> Result<Vec<f64>> {
            match v {
                None => Ok(vec![1.0; n]),
                Some(v) if v.len() == n => Ok(v.clone()),
                Some(v) => Err(Error::Msg(format!("tensor product: {name} has {} entries for {n} blocks", v.len()))),
            }
        };
        let (v1, v2, vo) = (
            var(&config.in1_var, in1.len(), "in1_var")?,
            var(&config.in2_var, in2.len(), "in2_var")?,
            var(&config.out_var, out.len(), "out_var")?,
        );
        let mut shapes = Vec::with_capacity(config.instructions.len());
        for (k, ins) in config.instructions.iter().enumerate() {
            let block = |irreps: &Irreps, i: usize, name: &str| {
                irreps.0.get(i).copied().ok_or_else(|| {
                    Error::Msg(format!("tensor product instruction {k}: {name} block {i} does not exist in `{irreps}`"))
                })
            };
            let (a, b, c) =
                (block(in1, ins.i_in1, "in1")?, block(in2, ins.i_in2, "in2")?, block(out, ins.i_out, "out")?);
            if !a.ir.times(b.ir).any(|ir| ir == c.ir) {
                return Err(Error::Msg(format!(
                    "tensor product instruction {k}: {} ⊗ {} does not contain {} (parity or triangle rule)",
                    a.ir, b.ir, c.ir
                )));
            }
            let (u, v, w) = (a.mul, b.mul, c.mul);
            let bad = |what: &str| Error::Msg(format!("tensor product instruction {k} ({:?}): {what}", ins.mode));
            let shape = match ins.mode {
                ConnectionMode::Uvw if !ins.has_weight => return Err(bad("needs weights")),
                ConnectionMode::Uvw => vec![u, v, w],
                ConnectionMode::Uvu if w != u => return Err(bad("the output multiplicity must equal in1's")),
                ConnectionMode::Uvv if w != v => return Err(bad("the output multiplicity must equal in2's")),
                ConnectionMode::Uvu | ConnectionMode::Uvv | ConnectionMode::Uvuv => vec![u, v],
                ConnectionMode::Uuw if u != v => return Err(bad("the input multiplicities must be equal")),
                ConnectionMode::Uuw if !ins.has_weight && w != 1 => {
                    return Err(bad("without weights the output multiplicity must be 1"))
                }
                ConnectionMode::Uuw => vec![u, w],
                ConnectionMode::Uuu if u != v || u != w => return Err(bad("all multiplicities must be equal")),
                ConnectionMode::Uuu => vec![u],
            };
            if ins.mode == ConnectionMode::Uvuv && w != u * v {
                return Err(bad("the output multiplicity must be in1's × in2's"));
            }
            shapes.push(shape);
        }
        let elements = |ins: &Instruction| -> f64 {
            let (u, v) = (in1.0[ins.i_in1].mul, in2.0[ins.i_in2].mul);
            (match ins.mode {
                ConnectionMode::Uvw => u * v,
                ConnectionMode::Uvu => v,
                ConnectionMode::Uvv | ConnectionMode::Uuw => u,
                ConnectionMode::Uuu | ConnectionMode::Uvuv => 1,
            }) as f64
        };
        let mut paths = Vec::with_capacity(shapes.len());
        let mut offset = 0;
        for (ins, shape) in config.instructions.iter().zip(shapes) {
            let (a, b, c) = (in1.0[ins.i_in1].ir, in2.0[ins.i_in2].ir, out.0[ins.i_out]);
            let mut alpha = match config.irrep_normalization {
                IrrepNormalization::Component => c.ir.dim() as f64,
                IrrepNormalization::Norm => (a.dim() * b.dim()) as f64,
                IrrepNormalization::None => 1.0,
            };
            let same_out = config.instructions.iter().filter(|i| i.i_out == ins.i_out);
            let x = match config.path_normalization {
                PathNormalization::Element => same_out.map(|i| v1[i.i_in1] * v2[i.i_in2] * elements(i)).sum(),
                PathNormalization::Path => v1[ins.i_in1] * v2[ins.i_in2] * elements(ins) * same_out.count() as f64,
                PathNormalization::None => 1.0,
            };
            if x > 0.0 {
                alpha /= x;
            }
            let coefficient = (alpha * vo[ins.i_out] * ins.path_weight).sqrt();
            let numel: usize = if ins.has_weight { shape.iter().product() } else { 0 };
            paths.push(Path { ins: ins.clone(), coefficient, shape, offset });
            offset += numel;
        }
        let plan = Arc::new(kernel_plan(&config, &paths, offset)?);
        Ok(Self { config, paths, weight_numel: offset, plan })
    }

    /// The definition.
    pub fn config(&self) -> &TensorProductConfig {
        &self.config
    }

    /// Length of the flat weight vector.
    pub fn weight_numel(&self) -> usize {
        self.weight_numel
    }

    /// The product of `x1` (`[batch, in1.dim()]`) and `x2` (`[batch, in2.dim()]`) with `weight`
    /// (`[weight_numel]` shared, or `[batch, weight_numel]`), as `[batch, out.dim()]`.
    pub fn forward(&self, x1: &Tensor, x2: &Tensor, weight: &Tensor) -> Result<Tensor> {
        let batch = x1.dim(0)?;
        let shared = self.shared_weights(weight, batch)?;
        if !fused(x1) {
            return self.forward_composed(x1, x2, weight, shared);
        }
        let addressing = Addressing { edges: batch, in1: None, in2: None, out: None, shared_weight: shared };
        self.contract(x1, x2, weight, addressing)
    }

    /// The point convolution `out[i] = Σ_{e : dst[e] = i} TP(x1[src[e]], x2[e], weight[e])`:
    /// node features `x1` (`[nodes, in1.dim()]`), per-edge `x2` (`[edges, in2.dim()]`) and weights
    /// (`[edges, weight_numel]`, or shared `[weight_numel]`), output `[dst.num_segments(),
    /// out.dim()]`. On the CPU no per-edge feature is materialised.
    pub fn convolve(
        &self,
        x1: &Tensor,
        src: &SegmentIndex,
        x2: &Tensor,
        weight: &Tensor,
        dst: &SegmentIndex,
    ) -> Result<Tensor> {
        let edges = x2.dim(0)?;
        if src.len() != edges || dst.len() != edges || src.num_segments() != x1.dim(0)? {
            return Err(Error::Msg(format!(
                "tensor product convolution: {} sources and {} targets into {:?} node features for {edges} edges",
                src.len(),
                dst.len(),
                x1.dims()
            )));
        }
        let shared = self.shared_weights(weight, edges)?;
        if !fused(x1) {
            return scatter_sum(&self.forward_composed(&gather(x1, src)?, x2, weight, shared)?, dst);
        }
        let addressing =
            Addressing { edges, in1: Some(src.clone()), in2: None, out: Some(dst.clone()), shared_weight: shared };
        self.contract(x1, x2, weight, addressing)
    }

    /// Whether `weight` is shared (`[weight_numel]`) rather than per row (`[batch, weight_numel]`).
    fn shared_weights(&self, weight: &Tensor, batch: usize) -> Result<bool> {
        match weight.dims() {
            [n] if *n == self.weight_numel => Ok(true),
            [b, n] if *b == batch && *n == self.weight_numel => Ok(false),
            other => Err(Error::Msg(format!(
                "tensor product: weights {other:?}, expected [{}] or [{batch}, {}]",
                self.weight_numel, self.weight_numel
            ))),
        }
    }

    /// The fused kernel's output for the given operand addressing.
    fn contract(&self, x1: &Tensor, x2: &Tensor, weight: &Tensor, addressing: Addressing) -> Result<Tensor> {
        let c = &self.config;
        let (p, a) = (&self.plan, &addressing);
        let check = |x: &Tensor, slot, irreps: &Irreps, name: &str| {
            operand(x, slot, p, a, name).map_err(|e| Error::Msg(format!("{e} (irreps `{irreps}`)")))
        };
        let x1 = check(x1, Slot::In1, &c.irreps_in1, "in1")?;
        let x2 = check(x2, Slot::In2, &c.irreps_in2, "in2")?;
        let weight = operand(weight, Slot::Weight, p, a, "the weight")?;
        let op = Contraction { plan: self.plan.clone(), addressing: Arc::new(addressing), target: Slot::Out };
        x1.apply_op3(&x2, &weight, op)
    }

    /// [`TensorProduct::forward`] composed of Candle ops (any device and dtype).
    fn forward_composed(&self, x1: &Tensor, x2: &Tensor, weight: &Tensor, shared: bool) -> Result<Tensor> {
        let c = &self.config;
        let (batch, d1) = x1.dims2()?;
        let (batch2, d2) = x2.dims2()?;
        if d1 != c.irreps_in1.dim() || d2 != c.irreps_in2.dim() || batch != batch2 {
            return Err(Error::Msg(format!(
                "tensor product: inputs {:?} and {:?} do not fit `{}` ⊗ `{}` with equal batches",
                x1.dims(),
                x2.dims(),
                c.irreps_in1,
                c.irreps_in2
            )));
        }
        let (dtype, device) = (x1.dtype(), x1.device());
        let (s1, s2) = (c.irreps_in1.slices(), c.irreps_in2.slices());
        let mut outputs: Vec<Option<Tensor>> = vec![None; c.irreps_out.len()];
        for path in &self.paths {
            let ins = &path.ins;
            let (a, b, o) = (c.irreps_in1.0[ins.i_in1], c.irreps_in2.0[ins.i_in2], c.irreps_out.0[ins.i_out]);
            if a.dim() == 0 || b.dim() == 0 || o.dim() == 0 {
                continue;
            }
            let x = x1.narrow(1, s1[ins.i_in1].start, a.dim())?.reshape((batch, a.mul, a.ir.dim()))?;
            let y = x2.narrow(1, s2[ins.i_in2].start, b.dim())?.reshape((batch, b.mul, b.ir.dim()))?;
            let w3j = wigner_3j_tensor(a.ir.l, b.ir.l, o.ir.l, dtype, device)?;
            let w = ins
                .has_weight
                .then(|| {
                    let numel: usize = path.shape.iter().product();
                    let mut shape = path.shape.clone();
                    if shared {
                        weight.narrow(0, path.offset, numel)?.reshape(shape)
                    } else {
                        shape.insert(0, batch);
                        weight.narrow(1, path.offset, numel)?.reshape(shape)
                    }
                })
                .transpose()?;
            let result = path_product(ins.mode, &x, &y, &w3j, w.as_ref(), shared, o.mul)?;
            let result = result.affine(path.coefficient, 0.0)?.reshape((batch, o.dim()))?;
            let slot = &mut outputs[ins.i_out];
            *slot = Some(match slot.take() {
                Some(sum) => sum.add(&result)?,
                None => result,
            });
        }
        let blocks = c
            .irreps_out
            .iter()
            .zip(outputs)
            .map(|(block, o)| match o {
                Some(t) => Ok(t),
                None => Tensor::zeros((batch, block.dim()), dtype, device),
            })
            .collect::<Result<Vec<_>>>()?;
        if blocks.is_empty() {
            return Tensor::zeros((batch, 0), dtype, device);
        }
        Tensor::cat(&blocks, D::Minus1)
    }

    /// Random weights `N(0, 1)` of length [`TensorProduct::weight_numel`], e3nn's initialisation.
    pub fn random_weights(&self, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::randn(0f64, 1.0, self.weight_numel, device)?.to_dtype(dtype)
    }
}

/// Whether the fused kernel can run on `x`'s device and dtype.
fn fused(x: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64)
}

/// The kernel plan of checked paths.
fn kernel_plan(config: &TensorProductConfig, paths: &[Path], weight_numel: usize) -> Result<Plan> {
    let (in1, in2, out) = (&config.irreps_in1, &config.irreps_in2, &config.irreps_out);
    let (s1, s2, so) = (in1.slices(), in2.slices(), out.slices());
    let block = |irreps: &Irreps, slices: &[std::ops::Range<usize>], i: usize| {
        (slices[i].start, irreps.0[i].mul, irreps.0[i].ir.dim())
    };
    let w3js = paths
        .iter()
        .map(|p| wigner_3j(in1.0[p.ins.i_in1].ir.l, in2.0[p.ins.i_in2].ir.l, out.0[p.ins.i_out].ir.l))
        .collect::<Result<Vec<_>>>()?;
    let specs: Vec<PathSpec> = paths
        .iter()
        .zip(&w3js)
        .map(|(p, w3j)| PathSpec {
            in1: block(in1, &s1, p.ins.i_in1),
            in2: block(in2, &s2, p.ins.i_in2),
            out: block(out, &so, p.ins.i_out),
            mode: p.ins.mode,
            weight_offset: p.ins.has_weight.then_some(p.offset),
            coefficient: p.coefficient,
            w3j,
        })
        .collect();
    Ok(Plan::new(in1, in2, out, weight_numel, &specs))
}

/// One instruction's product, `[batch, out mul, out dim]`, before its coefficient: `x` `[B, u, i]`,
/// `y` `[B, v, j]`, `w3j` `[i, j, k]`, weights shaped as the path (with a leading batch axis unless
/// `shared`).
fn path_product(
    mode: ConnectionMode,
    x: &Tensor,
    y: &Tensor,
    w3j: &Tensor,
    w: Option<&Tensor>,
    shared: bool,
    out_mul: usize,
) -> Result<Tensor> {
    let (batch, u, i) = x.dims3()?;
    let (_, v, j) = y.dims3()?;
    let k = w3j.dim(2)?;
    // y·C: [B, v, i, k], from [B·v, j] × [j, i·k].
    let c_jik = w3j.permute((1, 0, 2))?.contiguous()?.reshape((j, i * k))?;
    let yc = y.reshape((batch * v, j))?.matmul(&c_jik)?;
    let uu = matches!(mode, ConnectionMode::Uuw | ConnectionMode::Uuu);
    if uu {
        // t[b, u, k] = Σ_ij x[b,u,i] y[b,u,j] C[i,j,k].
        let t = x.reshape((batch * u, 1, i))?.matmul(&yc.reshape((batch * u, i, k))?)?.reshape((batch, u, k))?;
        return match (mode, w) {
            (ConnectionMode::Uuu, None) => Ok(t),
            (ConnectionMode::Uuu, Some(w)) => {
                let w = if shared { w.reshape((1, u, 1))? } else { w.reshape((batch, u, 1))? };
                t.broadcast_mul(&w)
            }
            (_, None) => t.sum_keepdim(1),
            (_, Some(w)) => {
                // z[b, w, k] = Σ_u W[u, w] t[b, u, k].
                if shared {
                    w.t()?.contiguous()?.broadcast_matmul(&t)
                } else {
                    w.transpose(1, 2)?.contiguous()?.matmul(&t)
                }
            }
        };
    }
    // t[b, u, v, k] = Σ_ij x[b,u,i] y[b,v,j] C[i,j,k]: [B, u, i] × [B, i, v·k].
    let yc = yc.reshape((batch, v, i, k))?.permute((0, 2, 1, 3))?.contiguous()?.reshape((batch, i, v * k))?;
    let t = x.contiguous()?.matmul(&yc)?.reshape((batch, u, v, k))?;
    let weighted = |w: &Tensor| -> Result<Tensor> {
        let w = if shared { w.reshape((1, u, v, 1))? } else { w.reshape((batch, u, v, 1))? };
        t.broadcast_mul(&w)
    };
    match (mode, w) {
        (ConnectionMode::Uvw, Some(w)) => {
            // z[b, w, k] = Σ_uv W[uv, w] t[b, uv, k].
            let t = t.reshape((batch, u * v, k))?;
            if shared {
                w.reshape((u * v, out_mul))?.t()?.contiguous()?.broadcast_matmul(&t)
            } else {
                w.reshape((batch, u * v, out_mul))?.transpose(1, 2)?.contiguous()?.matmul(&t)
            }
        }
        (ConnectionMode::Uvu, Some(w)) => weighted(w)?.sum(2),
        (ConnectionMode::Uvu, None) => t.sum(2),
        (ConnectionMode::Uvv, Some(w)) => weighted(w)?.sum(1),
        (ConnectionMode::Uvv, None) => t.sum(1),
        (ConnectionMode::Uvuv, Some(w)) => weighted(w)?.reshape((batch, u * v, k)),
        (ConnectionMode::Uvuv, None) => t.reshape((batch, u * v, k)),
        (mode, _) => Err(Error::Msg(format!("tensor product: {mode:?} needs weights"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{max_abs_diff, tensor};
    use candle_core::Var;

    fn irreps(s: &str) -> Irreps {
        s.parse().unwrap()
    }

    /// `x · Dᵀ` for row vectors `x` `[batch, dim]`.
    fn transform(x: &Tensor, d: &[f64]) -> Tensor {
        let dim = x.dim(1).unwrap();
        let d = Tensor::from_vec(d.to_vec(), (dim, dim), &Device::Cpu).unwrap();
        x.matmul(&d.t().unwrap()).unwrap()
    }

    #[test]
    fn products_are_equivariant_under_rotations_and_inversion() {
        let (in1, in2, out) = (irreps("2x0e+2x1o+1x2e"), irreps("0e+1o+2e"), irreps("2x0e+2x1o+2x1e+2x2e+1x3o"));
        let tp =
            TensorProduct::new(TensorProductConfig::fully_connected(in1.clone(), in2.clone(), out.clone())).unwrap();
        let (x1, x2) = (tensor(&[4, in1.dim()], 1), tensor(&[4, in2.dim()], 2));
        let w = tensor(&[tp.weight_numel()], 3);
        let (s, c) = 0.9f64.sin_cos();
        let rotation = [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]];
        let improper = rotation.map(|row| row.map(|v: f64| -v));
        for r in [rotation, improper] {
            let rotated_first =
                tp.forward(&transform(&x1, &in1.d_from_matrix(r)), &transform(&x2, &in2.d_from_matrix(r)), &w).unwrap();
            let rotated_after = transform(&tp.forward(&x1, &x2, &w).unwrap(), &out.d_from_matrix(r));
            let diff = max_abs_diff(&rotated_first, &rotated_after);
            assert!(diff < 1e-12, "not equivariant: {diff}");
        }
    }

    /// Products in every mode with multiplicities > 1 on both inputs (strided runs included).
    fn every_mode() -> Vec<TensorProduct> {
        let (a, b) = (irreps("3x0e+2x1o+2x2e"), irreps("2x0e+2x1o"));
        let mut configs = vec![
            TensorProductConfig::fully_connected(a.clone(), b.clone(), irreps("2x0e+3x1o+2x1e+1x2e")),
            TensorProductConfig::full(&a, &b, None),
            TensorProductConfig::elementwise(&irreps("2x0e+2x1o"), &irreps("2x1o+2x0e"), None).unwrap(),
        ];
        let (x, y, z) = (irreps("2x0e+2x1o"), irreps("2x1o+3x0e"), irreps("2x1e+3x1o+2x0e+1x1o"));
        let mut paths = TensorProductConfig::new(x, y, z, vec![]);
        paths.instructions = vec![
            Instruction::new(1, 0, 0, ConnectionMode::Uvu, true),
            Instruction::new(1, 1, 1, ConnectionMode::Uvv, true),
            Instruction::new(0, 0, 3, ConnectionMode::Uuw, true),
            Instruction::new(1, 0, 2, ConnectionMode::Uuu, false),
            Instruction::new(1, 1, 1, ConnectionMode::Uvv, false),
            Instruction::new(1, 0, 0, ConnectionMode::Uvu, false),
        ];
        configs.push(paths);
        configs.into_iter().map(|c| TensorProduct::new(c).unwrap()).collect()
    }

    /// Gradients of `Σ loss ⊙ y` with respect to `of`.
    fn grads(y: &Tensor, of: &[&Var]) -> Vec<Tensor> {
        let loss = y.mul(&tensor(y.dims(), 99)).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        of.iter().map(|v| g.get(v.as_tensor()).cloned().unwrap_or_else(|| v.zeros_like().unwrap())).collect()
    }

    #[test]
    fn fused_kernel_equals_the_composition_to_second_order() {
        crate::autograd::enable_higher_order_gradients();
        for (k, tp) in every_mode().into_iter().enumerate() {
            let c = tp.config();
            let batch = 5;
            let x1 = Var::from_tensor(&tensor(&[batch, c.irreps_in1.dim()], 1)).unwrap();
            let x2 = Var::from_tensor(&tensor(&[batch, c.irreps_in2.dim()], 2)).unwrap();
            for shared in [true, false] {
                let shape = if shared { vec![tp.weight_numel()] } else { vec![batch, tp.weight_numel()] };
                let w = Var::from_tensor(&tensor(&shape, 3)).unwrap();
                let fused = tp.forward(&x1, &x2, &w).unwrap();
                let composed = tp.forward_composed(&x1, &x2, &w, shared).unwrap();
                assert!(max_abs_diff(&fused, &composed) < 1e-12, "product {k}");
                let (gf, gc) = (grads(&fused, &[&x1, &x2, &w]), grads(&composed, &[&x1, &x2, &w]));
                for (a, b) in gf.iter().zip(&gc).filter(|(a, _)| a.elem_count() > 0) {
                    assert!(max_abs_diff(a, b) < 1e-12, "product {k}, shared {shared}: first derivatives");
                }
                // Second order: the gradient of a function of ∂/∂x1 (the backward pass differentiated).
                let (hf, hc) = (grads(&gf[0].sqr().unwrap(), &[&x2, &w]), grads(&gc[0].sqr().unwrap(), &[&x2, &w]));
                for (a, b) in hf.iter().zip(&hc).filter(|(a, _)| a.elem_count() > 0) {
                    let scale = b.abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
                    assert!(scale > 0.0 && max_abs_diff(a, b) < 1e-12 * scale.max(1.0), "product {k}: second order");
                }
            }
        }
    }

    #[test]
    fn convolution_equals_gather_product_scatter_for_any_thread_count() {
        let tp = &every_mode()[0];
        let c = tp.config();
        let (nodes, edges) = (6, 17);
        let src: Vec<u32> = (0..edges).map(|e| (e * 5 % nodes) as u32).collect();
        let dst: Vec<u32> = (0..edges).map(|e| ((e * 7 + 3) % nodes) as u32).collect();
        let src = SegmentIndex::new(src, nodes, &Device::Cpu).unwrap();
        let dst = SegmentIndex::new(dst, nodes, &Device::Cpu).unwrap();
        let x1 = Var::from_tensor(&tensor(&[nodes, c.irreps_in1.dim()], 4)).unwrap();
        let x2 = Var::from_tensor(&tensor(&[edges, c.irreps_in2.dim()], 5)).unwrap();
        let w = Var::from_tensor(&tensor(&[edges, tp.weight_numel()], 6)).unwrap();
        let expected =
            scatter_sum(&tp.forward_composed(&gather(&x1, &src).unwrap(), &x2, &w, false).unwrap(), &dst).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let y = tp.convolve(&x1, &src, &x2, &w, &dst).unwrap();
                let mut all = vec![y.clone()];
                all.extend(grads(&y, &[&x1, &x2, &w]));
                all
            })
        };
        let (one, three) = (run(1), run(3));
        assert!(max_abs_diff(&one[0], &expected) < 1e-12);
        let expected_grads = grads(&expected, &[&x1, &x2, &w]);
        for (k, (a, b)) in one[1..].iter().zip(&expected_grads).enumerate() {
            assert!(max_abs_diff(a, b) < 1e-12, "gradient {k}");
        }
        for (a, b) in one.iter().zip(&three) {
            assert_eq!(
                a.flatten_all().unwrap().to_vec1::<f64>().unwrap(),
                b.flatten_all().unwrap().to_vec1::<f64>().unwrap()
            );
        }
        let bad = SegmentIndex::new(vec![0; edges - 1], nodes, &Device::Cpu).unwrap();
        let err = tp.convolve(&x1, &bad, &x2, &w, &dst).unwrap_err().to_string();
        assert!(err.contains("16 sources and 17 targets"), "{err}");
    }

    #[test]
    fn empty_batches_and_graphs_give_empty_or_zero_outputs_and_gradients() {
        for tp in every_mode() {
            let c = tp.config();
            let x1 = Var::from_tensor(&tensor(&[0, c.irreps_in1.dim()], 1)).unwrap();
            let x2 = Var::from_tensor(&tensor(&[0, c.irreps_in2.dim()], 2)).unwrap();
            let w = Var::from_tensor(&tensor(&[tp.weight_numel()], 3)).unwrap();
            let y = tp.forward(&x1, &x2, &w).unwrap();
            assert_eq!(y.dims(), [0, c.irreps_out.dim()]);
            let g = y.sum_all().unwrap().backward().unwrap();
            if tp.weight_numel() > 0 {
                let gw = g.get(w.as_tensor()).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap();
                assert_eq!(gw, 0.0);
            }
            // Nodes without edges: zero output rows.
            let nodes = Var::from_tensor(&tensor(&[3, c.irreps_in1.dim()], 4)).unwrap();
            let none = SegmentIndex::new(vec![], 3, &Device::Cpu).unwrap();
            let y = tp.convolve(&nodes, &none, &x2, &w, &none).unwrap();
            assert_eq!(y.dims(), [3, c.irreps_out.dim()]);
            assert_eq!(y.abs().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap(), 0.0);
        }
    }

    #[test]
    fn bad_instructions_and_shapes_are_errors() {
        let (a, b, o) = (irreps("2x1o"), irreps("2x1o"), irreps("3x1o+2x0e+4x1e"));
        let make =
            |ins: Instruction| TensorProduct::new(TensorProductConfig::new(a.clone(), b.clone(), o.clone(), vec![ins]));
        let cases = [
            (Instruction::new(0, 0, 0, ConnectionMode::Uvw, true), "does not contain"),
            (Instruction::new(0, 0, 1, ConnectionMode::Uvw, false), "needs weights"),
            (Instruction::new(0, 0, 2, ConnectionMode::Uuu, true), "all multiplicities"),
            (Instruction::new(0, 0, 2, ConnectionMode::Uvu, true), "equal in1's"),
            (Instruction::new(0, 0, 1, ConnectionMode::Uuw, false), "multiplicity must be 1"),
            (Instruction::new(0, 3, 1, ConnectionMode::Uvw, true), "in2 block 3"),
        ];
        for (ins, message) in cases {
            let err = make(ins).unwrap_err().to_string();
            assert!(err.contains(message), "{message}: {err}");
        }
        let tp = make(Instruction::new(0, 0, 2, ConnectionMode::Uvuv, true)).unwrap();
        assert_eq!(tp.weight_numel(), 4);
        let x = tensor(&[3, 6], 1);
        assert!(tp.forward(&x, &x, &tensor(&[5], 2)).unwrap_err().to_string().contains("expected [4] or [3, 4]"));
        assert!(tp.forward(&x, &tensor(&[2, 6], 3), &tensor(&[4], 2)).is_err());
        // Outputs no instruction reaches are zero.
        let y = tp.forward(&x, &x, &tensor(&[4], 2)).unwrap();
        let unreached = y.narrow(1, 0, 11).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
        assert_eq!(unreached, 0.0);
    }
}
