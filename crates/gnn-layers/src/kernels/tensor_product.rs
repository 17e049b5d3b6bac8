//! The CPU kernel behind [`TensorProduct`](crate::o3::TensorProduct): a tensor product that walks the
//! nonzero Clebsch–Gordan coefficients of each instruction, optionally fused with a gather of its
//! first (and second) input and a scatter-sum of its output, so that a point convolution
//! `out[dst[e]] += TP(x[src[e]], y[e], w[e])` never materialises per-edge features.
//!
//! **One multilinear form, four outputs.** With the four operands `x` (in1), `y` (in2), `w`
//! (weights) and `z` (out), the product is `F(x, y, w, z) = Σ_e Σ_paths c·C_ijk·w·x_i·y_j·z_k`, and
//! `TP = ∂F/∂z`. The gradient with respect to any other operand is `∂F` with respect to that
//! operand, with the output gradient in `z`'s place. [`Contraction`] computes `∂F/∂target` from
//! the other three operands for any target, so its backward pass is the same op with another target:
//! differentiable to any order (forces, and losses on forces).
//!
//! **The plan** flattens every instruction into runs: for one nonzero `C_ijk` and one fixed part
//! of the multiplicity tuple, `lanes` products along the remaining multiplicity axis. Inside the
//! kernel the irreps features are transposed to the "ir_mul" layout (component-major), where a
//! lane axis is contiguous, so the common runs (`uvu`, `uuu`, `uvv` with their weights) are
//! contiguous vector operations; the others use strides.
//!
//! **Determinism.** Scattered targets are summed per target row over its edges in edge order (the
//! host grouping of [`SegmentIndex`]), per-edge targets need no sums, and shared-weight gradients
//! are summed over a fixed number of edge groups in a fixed order: results do not depend on the
//! thread count.

use std::borrow::Cow;
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp3, Error, Layout, Result, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::dense_paths::DensePath;
use super::{contiguous, with_float, Real};
use crate::o3::Irreps;
use crate::ops::SegmentIndex;

/// Edge groups whose shared-weight gradients are summed separately, then in order.
const WEIGHT_GROUPS: usize = 16;

/// The operands of the multilinear form (module docs), in the order the op takes its inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The first input.
    In1 = 0,
    /// The second input.
    In2 = 1,
    /// The flat weights.
    Weight = 2,
    /// The output.
    Out = 3,
}

const SLOTS: [Slot; 4] = [Slot::In1, Slot::In2, Slot::Weight, Slot::Out];

impl Slot {
    /// The other three slots, in order: the inputs of a contraction into `self`.
    fn others(self) -> [Slot; 3] {
        let mut out = [Slot::In1; 3];
        for (k, s) in SLOTS.into_iter().filter(|&s| s != self).enumerate() {
            out[k] = s;
        }
        out
    }
}

/// `lanes` terms `c · Π_slots v_slot[base + lane·stride]` (module docs); a stride of 0 repeats one
/// element, an unweighted run has no weight factor.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Whether the run belongs to a `uvw` path that a [`DensePath`] computes when the weights are
    /// shared and no operand is gathered or scattered.
    dense: bool,
    lanes: usize,
    base: [usize; 4],
    stride: [usize; 4],
    weighted: bool,
    c: f64,
}

/// Runs of one pattern for one target: which operands vary along the lanes (contiguously) and which
/// are one element, and whether the target varies along the lanes or receives their sum.
#[derive(Debug)]
struct Group {
    lane_slots: Vec<usize>,
    scalar_slots: Vec<usize>,
    target_lanes: bool,
    runs: Vec<CompiledRun>,
}

/// A [`Run`] of a [`Group`]: the bases of its lane and scalar operands in the group's slot order.
#[derive(Clone, Copy, Debug)]
struct CompiledRun {
    lanes: usize,
    c: f64,
    lane_base: [usize; 3],
    scalar_base: [usize; 3],
    target_base: usize,
}

/// `(base, stride)` of one operand of a run.
type Operand = (usize, usize);

/// The runs of a tensor product and the layouts of its operands.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Per target: the runs with strides 0 and 1, grouped by pattern; `[0]` all runs, `[1]` those
    /// the dense paths do not cover.
    groups: [[Vec<Group>; 4]; 2],
    /// Per target: the runs with other strides (same two sets).
    strided: [[Vec<Run>; 4]; 2],
    /// The `uvw` paths with shared weights as matrix products (for unindexed operands).
    dense: Vec<DensePath>,
    /// Row length of each slot.
    dims: [usize; 4],
    /// For in1, in2 and out: `perm[p]` is the mul_ir position of ir_mul position `p` (`None` where
    /// the two layouts agree).
    perms: [Option<Vec<usize>>; 4],
}

/// What one instruction contributes to a [`Plan`]: its blocks (start, mul, dim) in each input and
/// the output, its connection mode, weight offset (`None` when unweighted), coefficient and 3j
/// tensor.
pub(crate) struct PathSpec<'a> {
    pub in1: (usize, usize, usize),
    pub in2: (usize, usize, usize),
    pub out: (usize, usize, usize),
    pub mode: crate::o3::ConnectionMode,
    pub weight_offset: Option<usize>,
    pub coefficient: f64,
    pub w3j: &'a [f64],
}

impl Plan {
    /// The plan of a product of `in1 ⊗ in2 → out` with `weight_numel` flat weights and the given
    /// paths.
    pub(crate) fn new(in1: &Irreps, in2: &Irreps, out: &Irreps, weight_numel: usize, paths: &[PathSpec]) -> Self {
        use crate::o3::ConnectionMode::*;
        let mut runs = Vec::new();
        for p in paths {
            let ((s1, m1, d1), (s2, m2, d2), (so, mo, dout)) = (p.in1, p.in2, p.out);
            let wo = p.weight_offset.unwrap_or(0);
            for i in 0..d1 {
                for j in 0..d2 {
                    for k in 0..dout {
                        let cg = p.w3j[(i * d2 + j) * dout + k];
                        if cg.abs() < 1e-14 {
                            continue;
                        }
                        let (x, y, z) = (s1 + i * m1, s2 + j * m2, so + k * mo);
                        // (lanes, in1, in2, weight, out) as (base, stride) pairs.
                        let mut push = |lanes: usize, a: Operand, b: Operand, w: Operand, o: Operand| {
                            runs.push(Run {
                                dense: p.mode == Uvw && p.weight_offset.is_some(),
                                lanes,
                                base: [a.0, b.0, w.0, o.0],
                                stride: [a.1, b.1, w.1, o.1],
                                weighted: p.weight_offset.is_some(),
                                c: p.coefficient * cg,
                            })
                        };
                        match p.mode {
                            Uvu => (0..m2).for_each(|v| push(m1, (x, 1), (y + v, 0), (wo + v, m2), (z, 1))),
                            Uvv => (0..m1).for_each(|u| push(m2, (x + u, 0), (y, 1), (wo + u * m2, 1), (z, 1))),
                            Uuu => push(m1, (x, 1), (y, 1), (wo, 1), (z, 1)),
                            Uuw => (0..mo).for_each(|w| push(m1, (x, 1), (y, 1), (wo + w, mo), (z + w, 0))),
                            Uvw => {
                                for v in 0..m2 {
                                    for w in 0..mo {
                                        push(m1, (x, 1), (y + v, 0), (wo + v * mo + w, m2 * mo), (z + w, 0));
                                    }
                                }
                            }
                            Uvuv => (0..m2).for_each(|v| push(m1, (x, 1), (y + v, 0), (wo + v, m2), (z + v, m2))),
                        }
                    }
                }
            }
        }
        let mut groups: [[Vec<Group>; 4]; 2] = Default::default();
        let mut strided: [[Vec<Run>; 4]; 2] = Default::default();
        for (set, target) in [0, 1].into_iter().flat_map(|set| SLOTS.map(|t| (set, t))) {
            let (groups, strided) = (&mut groups[set], &mut strided[set]);
            let t = target as usize;
            for run in runs.iter().filter(|r| (r.weighted || target != Slot::Weight) && !(set == 1 && r.dense)) {
                let (mut lane_slots, mut scalar_slots) = (Vec::new(), Vec::new());
                let mut contiguous = run.stride[t] <= 1;
                for s in target.others().map(|s| s as usize) {
                    match run.stride[s] {
                        _ if s == Slot::Weight as usize && !run.weighted => {}
                        0 => scalar_slots.push(s),
                        1 => lane_slots.push(s),
                        _ => contiguous = false,
                    }
                }
                if !contiguous {
                    strided[t].push(*run);
                    continue;
                }
                let target_lanes = run.stride[t] == 1;
                let compiled = CompiledRun {
                    lanes: run.lanes,
                    c: run.c,
                    lane_base: std::array::from_fn(|k| lane_slots.get(k).map_or(0, |&s| run.base[s])),
                    scalar_base: std::array::from_fn(|k| scalar_slots.get(k).map_or(0, |&s| run.base[s])),
                    target_base: run.base[t],
                };
                let same = |g: &&mut Group| {
                    g.lane_slots == lane_slots && g.scalar_slots == scalar_slots && g.target_lanes == target_lanes
                };
                match groups[t].iter_mut().find(same) {
                    Some(g) => g.runs.push(compiled),
                    None => groups[t].push(Group { lane_slots, scalar_slots, target_lanes, runs: vec![compiled] }),
                }
            }
        }
        let dense = paths
            .iter()
            .filter(|p| p.mode == Uvw && p.weight_offset.is_some())
            .map(|p| DensePath::new(p.in1, p.in2, p.out, p.weight_offset.unwrap_or(0), p.coefficient, p.w3j))
            .collect();
        Self {
            groups,
            strided,
            dense,
            dims: [in1.dim(), in2.dim(), weight_numel, out.dim()],
            perms: [ir_mul_order(in1), ir_mul_order(in2), None, ir_mul_order(out)],
        }
    }

    /// Adds `∂F/∂target` of one edge into `acc` (the target's row, ir_mul layout) given the rows
    /// of the other operands (`rows[target]` is not read), with the runs of `set` (see [`Plan`]).
    #[inline]
    fn add_edge<T: Real>(&self, set: usize, target: Slot, rows: [&[T]; 4], acc: &mut [T]) {
        let t = target as usize;
        for g in &self.groups[set][t] {
            let lane_rows: [&[T]; 3] = std::array::from_fn(|k| g.lane_slots.get(k).map_or(&[][..], |&s| rows[s]));
            let scalar_rows: [&[T]; 3] = std::array::from_fn(|k| g.scalar_slots.get(k).map_or(&[][..], |&s| rows[s]));
            let ns = g.scalar_slots.len();
            let factor = |r: &CompiledRun| {
                let mut c = T::from_f64(r.c);
                for k in 0..ns {
                    c *= scalar_rows[k][r.scalar_base[k]];
                }
                c
            };
            let lane = |k: usize, r: &CompiledRun| &lane_rows[k][r.lane_base[k]..r.lane_base[k] + r.lanes];
            match (g.lane_slots.len(), g.target_lanes) {
                (0, true) => g.runs.iter().for_each(|r| {
                    let c = factor(r);
                    acc[r.target_base..r.target_base + r.lanes].iter_mut().for_each(|a| *a += c);
                }),
                (1, true) => g.runs.iter().for_each(|r| {
                    let c = factor(r);
                    let a = &mut acc[r.target_base..r.target_base + r.lanes];
                    a.iter_mut().zip(lane(0, r)).for_each(|(a, &p)| *a += c * p);
                }),
                (2, true) => g.runs.iter().for_each(|r| {
                    let c = factor(r);
                    let a = &mut acc[r.target_base..r.target_base + r.lanes];
                    a.iter_mut().zip(lane(0, r)).zip(lane(1, r)).for_each(|((a, &p), &q)| *a += c * p * q);
                }),
                (_, true) => g.runs.iter().for_each(|r| {
                    let c = factor(r);
                    let a = &mut acc[r.target_base..r.target_base + r.lanes];
                    a.iter_mut()
                        .zip(lane(0, r))
                        .zip(lane(1, r))
                        .zip(lane(2, r))
                        .for_each(|(((a, &p), &q), &s)| *a += c * p * q * s);
                }),
                (0, false) => g.runs.iter().for_each(|r| acc[r.target_base] += factor(r) * T::from_f64(r.lanes as f64)),
                (1, false) => g.runs.iter().for_each(|r| {
                    acc[r.target_base] += factor(r) * lane_sum(lane(0, r), |k| lane(0, r)[k]);
                }),
                (2, false) => g.runs.iter().for_each(|r| {
                    acc[r.target_base] += factor(r) * lane_dot(lane(0, r), lane(1, r));
                }),
                (_, false) => g.runs.iter().for_each(|r| {
                    let (p, q, u) = (lane(0, r), lane(1, r), lane(2, r));
                    acc[r.target_base] += factor(r) * lane_sum(p, |k| p[k] * q[k] * u[k]);
                }),
            }
        }
        for run in &self.strided[set][t] {
            self.add_strided(run, target, rows, acc);
        }
    }

    /// [`Plan::add_edge`] for one run with strides other than 0 and 1.
    fn add_strided<T: Real>(&self, run: &Run, target: Slot, rows: [&[T]; 4], acc: &mut [T]) {
        let t = target as usize;
        for lane in 0..run.lanes {
            let mut term = T::from_f64(run.c);
            for s in target.others() {
                let s = s as usize;
                if s != Slot::Weight as usize || run.weighted {
                    term *= rows[s][run.base[s] + lane * run.stride[s]];
                }
            }
            acc[run.base[t] + lane * run.stride[t]] += term;
        }
    }
}

/// `Σ_k term(k)` over the lanes of `first` with 8 independent partial sums, so that the loop
/// vectorises (a single running sum is a chain of dependent additions).
#[inline]
fn lane_sum<T: Real>(first: &[T], term: impl Fn(usize) -> T) -> T {
    let n = first.len();
    let mut partial = [T::ZERO; 8];
    let full = n - n % 8;
    for base in (0..full).step_by(8) {
        for (k, p) in partial.iter_mut().enumerate() {
            *p += term(base + k);
        }
    }
    let mut sum = partial.iter().fold(T::ZERO, |s, &p| s + p);
    for k in full..n {
        sum += term(k);
    }
    sum
}

/// `Σ_k p[k]·q[k]` with [`lane_sum`]'s partial sums.
#[inline]
pub(crate) fn lane_dot<T: Real>(p: &[T], q: &[T]) -> T {
    lane_sum(p, |k| p[k] * q[k])
}

/// `perm[p]` = the mul_ir position of ir_mul position `p` of `irreps`, or `None` when every block
/// has multiplicity ≤ 1 or is a scalar (the layouts agree).
fn ir_mul_order(irreps: &Irreps) -> Option<Vec<usize>> {
    if irreps.iter().all(|b| b.mul <= 1 || b.ir.l == 0) {
        return None;
    }
    let mut perm = Vec::with_capacity(irreps.dim());
    for (b, range) in irreps.iter().zip(irreps.slices()) {
        let d = b.ir.dim();
        for i in 0..d {
            perm.extend((0..b.mul).map(|u| range.start + u * d + i));
        }
    }
    Some(perm)
}

/// Rows of mul_ir features in ir_mul layout (borrowed when the layouts agree).
fn to_ir_mul<'a, T: Real>(x: &'a [T], perm: &Option<Vec<usize>>, dim: usize) -> Cow<'a, [T]> {
    let Some(perm) = perm else { return Cow::Borrowed(x) };
    let mut out = vec![T::ZERO; x.len()];
    out.par_chunks_mut(dim.max(1)).zip(x.par_chunks(dim.max(1))).for_each(|(o, row)| {
        o.iter_mut().zip(perm).for_each(|(o, &p)| *o = row[p]);
    });
    Cow::Owned(out)
}

/// How each operand's row is found for an edge: through an index (gathered / scattered), or row `e`
/// itself; the weights are per edge or shared.
#[derive(Clone, Debug)]
pub(crate) struct Addressing {
    /// Number of edges (terms of the sum over `e`).
    pub edges: usize,
    /// Row of in1 per edge (`None`: row `e`).
    pub in1: Option<SegmentIndex>,
    /// Row of in2 per edge.
    pub in2: Option<SegmentIndex>,
    /// Row of the output per edge.
    pub out: Option<SegmentIndex>,
    /// One weight vector for all edges.
    pub shared_weight: bool,
}

impl Addressing {
    fn index(&self, slot: Slot) -> Option<&SegmentIndex> {
        match slot {
            Slot::In1 => self.in1.as_ref(),
            Slot::In2 => self.in2.as_ref(),
            Slot::Out => self.out.as_ref(),
            Slot::Weight => None,
        }
    }

    /// The row of `slot` that edge `e` reads.
    #[inline]
    fn row(&self, slot: Slot, e: usize) -> usize {
        match (slot, self.index(slot)) {
            (Slot::Weight, _) if self.shared_weight => 0,
            (_, Some(index)) => index.values()[e] as usize,
            (_, None) => e,
        }
    }

    /// Rows of `slot`'s tensor.
    pub(crate) fn rows(&self, slot: Slot) -> usize {
        match (slot, self.index(slot)) {
            (Slot::Weight, _) if self.shared_weight => 1,
            (_, Some(index)) => index.num_segments(),
            (_, None) => self.edges,
        }
    }
}

/// `∂F/∂target` (module docs) as a Candle op on the other three operands, in slot order.
#[derive(Clone)]
pub(crate) struct Contraction {
    pub plan: Arc<Plan>,
    pub addressing: Arc<Addressing>,
    pub target: Slot,
}

impl Contraction {
    /// The target's rows from the other operands' data (mul_ir layout in and out).
    fn run<T: Real>(&self, inputs: [&[T]; 3]) -> Vec<T> {
        let plan = &self.plan;
        let (target, a) = (self.target, &*self.addressing);
        let mut data: [Cow<[T]>; 4] = Default::default();
        for (s, x) in target.others().into_iter().zip(inputs) {
            data[s as usize] = to_ir_mul(x, &plan.perms[s as usize], plan.dims[s as usize]);
        }
        let t = target as usize;
        let dim = plan.dims[t];
        let rows_of = |e: usize| -> [&[T]; 4] {
            std::array::from_fn(|s| {
                if s == t {
                    &[]
                } else {
                    let (d, r) = (plan.dims[s], a.row(SLOTS[s], e));
                    &data[s][r * d..(r + 1) * d]
                }
            })
        };
        let mut acc = vec![T::ZERO; a.rows(target) * dim];
        if dim == 0 {
            return acc;
        }
        let dense = a.in1.is_none() && a.in2.is_none() && a.out.is_none() && a.shared_weight && !plan.dense.is_empty();
        let set = usize::from(dense);
        if target == Slot::Weight && a.shared_weight {
            let groups = WEIGHT_GROUPS.min(a.edges).max(1);
            let sums: Vec<Vec<T>> = (0..groups)
                .into_par_iter()
                .map(|g| {
                    let mut sum = vec![T::ZERO; dim];
                    for e in g * a.edges / groups..(g + 1) * a.edges / groups {
                        plan.add_edge(set, target, rows_of(e), &mut sum);
                    }
                    sum
                })
                .collect();
            for sum in sums {
                acc.iter_mut().zip(sum).for_each(|(o, s)| *o += s);
            }
        } else {
            let index = a.index(target);
            acc.par_chunks_mut(dim).enumerate().with_min_len(4).for_each(|(r, row)| match index {
                Some(index) => index.rows(r).for_each(|e| plan.add_edge(set, target, rows_of(e), row)),
                None => plan.add_edge(set, target, rows_of(r), row),
            });
        }
        if dense {
            let data = std::array::from_fn(|s| &data[s][..]);
            for path in &plan.dense {
                path.add(target, a.edges, data, plan.dims, &mut acc);
            }
        }
        match &plan.perms[t] {
            Some(perm) => {
                let mut out = vec![T::ZERO; acc.len()];
                out.par_chunks_mut(dim).zip(acc.par_chunks(dim)).for_each(|(row, acc)| {
                    perm.iter().zip(acc).for_each(|(&p, &v)| row[p] = v);
                });
                out
            }
            None => acc,
        }
    }

    /// The target's shape.
    fn shape(&self) -> Shape {
        let rows = self.addressing.rows(self.target);
        let dim = self.plan.dims[self.target as usize];
        if self.target == Slot::Weight && self.addressing.shared_weight {
            dim.into()
        } else {
            (rows, dim).into()
        }
    }
}

impl CustomOp3 for Contraction {
    fn name(&self) -> &'static str {
        "chemgnn-tensor-product"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let out = with_float!(s1, self.name(), |T| {
            let inputs = [
                contiguous::<T>(s1, l1, self.name())?,
                contiguous::<T>(s2, l2, self.name())?,
                contiguous::<T>(s3, l3, self.name())?,
            ];
            T::to_cpu_storage_owned(self.run(inputs))
        });
        Ok((out, self.shape()))
    }

    fn bwd(
        &self,
        a1: &Tensor,
        a2: &Tensor,
        a3: &Tensor,
        _out: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let mut operands: [Option<Tensor>; 4] = Default::default();
        for (s, x) in self.target.others().into_iter().zip([a1, a2, a3]) {
            operands[s as usize] = Some(x.clone());
        }
        operands[self.target as usize] = Some(grad.contiguous()?);
        let grad_of = |x: &Tensor, s: Slot| -> Result<Option<Tensor>> {
            if !x.track_op() {
                return Ok(None);
            }
            let [p, q, r] = s.others().map(|o| operands[o as usize].clone().expect("all four operands are set"));
            let op = Contraction { plan: self.plan.clone(), addressing: self.addressing.clone(), target: s };
            Ok(Some(p.apply_op3(&q, &r, op)?))
        };
        let [s1, s2, s3] = self.target.others();
        Ok((grad_of(a1, s1)?, grad_of(a2, s2)?, grad_of(a3, s3)?))
    }
}

/// Checks that `x` has the rows and row length of `slot` and makes it contiguous.
pub(crate) fn operand(x: &Tensor, slot: Slot, plan: &Plan, addressing: &Addressing, name: &str) -> Result<Tensor> {
    let dim = plan.dims[slot as usize];
    let expected: Vec<usize> =
        if slot == Slot::Weight && addressing.shared_weight { vec![dim] } else { vec![addressing.rows(slot), dim] };
    if x.dims() != expected.as_slice() {
        return Err(Error::Msg(format!("tensor product: {name} is {:?}, expected {expected:?}", x.dims())));
    }
    x.contiguous()
}
