//! Messages computed by an MLP and summed at their receiver, without materialising them (the op
//! behind [`ops::summed_mlp_messages`](crate::ops::summed_mlp_messages)) — the edge update and
//! aggregation of a sum-aggregating [`GraphNetwork`](crate::nn::GraphNetwork) block:
//!
//! `out[i] = Σ_{e : target[e] = i} MLP(e)`, whose first layer is split as
//! `z[e] = x[e]·W_xᵀ + b + terms[target[e], ..W] + terms[source[e], W..]`:
//! the edge features `x` (`[E, F]`) go through the edge part `W_x` of the first layer inside the
//! kernel, while its receiver and sender parts are computed on the nodes beforehand (`terms`,
//! `[N, 2W]`, the factorised first layer). All layers, activations and the sum run in blocks of
//! edges grouped by target inside one kernel, so no `[E, width]` activation or gradient ever
//! exists as a tensor: on coNGN's line graph (10⁵ pairs × 160 features per batch) that is the
//! difference between gigabytes of short-lived tensors per training step and none.
//!
//! The backward pass recomputes each block's activations (checkpointing) and returns the gradients
//! of `x`, `terms` and the MLP's parameters. It is first order only: differentiating it again (a
//! loss on forces) is an error, not a silent zero. Weight gradients are summed over a fixed number
//! of edge groups in a fixed order, so results do not depend on the number of threads.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp3, Error, Layout, Result, Shape, Storage, Tensor, WithDType};
use rayon::prelude::*;

use super::bias_activation::{Block, Kind};
use super::{contiguous, for_each_row, with_float};
use crate::ops::SegmentIndex;

/// Edges per block: the block's activations of all layers stay in the cache.
const BLOCK_EDGES: usize = 128;

/// Edge groups whose weight gradients are summed separately (then in order): the parallelism of the
/// kernels, fixed so that sums do not depend on the thread count.
const GROUPS: usize = 16;

/// The MLP and graph shared by the forward and backward kernels.
#[derive(Clone)]
pub(crate) struct FusedMlp {
    /// Activation after each layer.
    pub(crate) kinds: Vec<Kind>,
    /// `(outputs, inputs)` of each layer; parameters are packed as weight (row-major), bias.
    pub(crate) shapes: Vec<(usize, usize)>,
    pub(crate) source: SegmentIndex,
    pub(crate) target: SegmentIndex,
}

/// The forward op: `(x, terms, params) → [N, outputs]`.
pub(crate) struct SummedMessages {
    pub(crate) mlp: FusedMlp,
}

/// The backward kernel: `(x, terms, params)` and the output gradient → `[∂x (when asked for),
/// ∂terms, ∂params]`, flat.
struct SummedMessagesBackward {
    mlp: FusedMlp,
    grad: Tensor,
    grad_x: bool,
}

impl CustomOp3 for SummedMessages {
    fn name(&self) -> &'static str {
        "chemgnn-summed-mlp-messages"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ts: &CpuStorage,
        tl: &Layout,
        ps: &CpuStorage,
        pl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let nodes = tl.dims()[0];
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let terms = contiguous::<T>(ts, tl, self.name())?;
            let params = contiguous::<T>(ps, pl, self.name())?;
            T::to_cpu_storage_owned(self.mlp.forward(x, terms, params))
        });
        Ok((out, (nodes, self.mlp.outputs()).into()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        terms: &Tensor,
        params: &Tensor,
        _out: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad_x = x.track_op();
        let backward = SummedMessagesBackward { mlp: self.mlp.clone(), grad: grad.contiguous()?, grad_x };
        let all = x.apply_op3(terms, params, backward)?;
        let x_len = if grad_x { x.elem_count() } else { 0 };
        let grad_terms = all.narrow(0, x_len, terms.elem_count())?.reshape(terms.shape())?;
        let grad_params = all.narrow(0, x_len + terms.elem_count(), params.elem_count())?;
        let grad_x = grad_x.then(|| all.narrow(0, 0, x_len)?.reshape(x.shape())).transpose()?;
        Ok((grad_x, terms.track_op().then_some(grad_terms), params.track_op().then_some(grad_params)))
    }
}

impl CustomOp3 for SummedMessagesBackward {
    fn name(&self) -> &'static str {
        "chemgnn-summed-mlp-messages-backward"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ts: &CpuStorage,
        tl: &Layout,
        ps: &CpuStorage,
        pl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (grad_storage, grad_layout) = self.grad.storage_and_layout();
        let Storage::Cpu(gs) = &*grad_storage else {
            return Err(Error::Msg(format!("{}: the gradient is not on the CPU", self.name())));
        };
        let x_len = if self.grad_x { xl.shape().elem_count() } else { 0 };
        let len = x_len + tl.shape().elem_count() + pl.shape().elem_count();
        let out = with_float!(xs, self.name(), |T| {
            let x = contiguous::<T>(xs, xl, self.name())?;
            let terms = contiguous::<T>(ts, tl, self.name())?;
            let params = contiguous::<T>(ps, pl, self.name())?;
            let grad = contiguous::<T>(gs, grad_layout, self.name())?;
            T::to_cpu_storage_owned(self.mlp.backward(x, terms, params, grad, self.grad_x))
        });
        Ok((out, len.into()))
    }
}

/// Activations of one block of edges, reused from block to block: the block's edge features, and
/// for each layer `z` (before the activation, without the bias) and `h` (after it).
struct Scratch<T> {
    x: Vec<T>,
    z: Vec<Vec<T>>,
    h: Vec<Vec<T>>,
    /// Gradient with respect to the current layer's output, and to its input.
    grad: Vec<T>,
    grad_in: Vec<T>,
}

/// Per-group results of the backward kernel.
struct GroupGradients<T> {
    params: Vec<T>,
    /// `∂z` of the first layer, one row per edge of the group (grouped order).
    first: Vec<T>,
    /// `∂x`, likewise (empty when not asked for).
    x: Vec<T>,
}

impl FusedMlp {
    fn outputs(&self) -> usize {
        self.shapes.last().map_or(0, |&(outputs, _)| outputs)
    }

    /// Offset of layer `k`'s weight in the packed parameters.
    fn offset(&self, k: usize) -> usize {
        self.shapes[..k].iter().map(|&(o, i)| o * i + o).sum()
    }

    /// The weight and bias of layer `k` in the packed parameters.
    fn layer<'a, T>(&self, params: &'a [T], k: usize) -> (&'a [T], &'a [T]) {
        let start = self.offset(k);
        let (o, i) = self.shapes[k];
        (&params[start..start + o * i], &params[start + o * i..start + o * i + o])
    }

    /// Contiguous ranges of target segments with about equal numbers of edges.
    fn groups(&self) -> Vec<std::ops::Range<usize>> {
        let per_group = self.target.len().div_ceil(GROUPS).max(1);
        let segments = self.target.num_segments();
        let mut groups = Vec::with_capacity(GROUPS + 1);
        let (mut start, mut rows) = (0, 0);
        for s in 0..segments {
            rows += self.target.segment_len(s);
            if rows >= per_group {
                groups.push(start..s + 1);
                (start, rows) = (s + 1, 0);
            }
        }
        if start < segments || groups.is_empty() {
            groups.push(start..segments);
        }
        groups
    }

    fn group_edges(&self, segments: &std::ops::Range<usize>) -> usize {
        segments.clone().map(|s| self.target.segment_len(s)).sum()
    }

    /// The blocks of a group: ranges of whole segments of about [`BLOCK_EDGES`] edges, and those
    /// edges in grouped order.
    fn blocks(&self, segments: std::ops::Range<usize>) -> Vec<(std::ops::Range<usize>, Vec<u32>)> {
        let mut blocks = Vec::new();
        let (mut start, mut rows) = (segments.start, Vec::with_capacity(BLOCK_EDGES * 2));
        for s in segments.clone() {
            rows.extend(self.target.rows(s).map(|e| e as u32));
            if rows.len() >= BLOCK_EDGES || s + 1 == segments.end {
                blocks.push((start..s + 1, std::mem::take(&mut rows)));
                start = s + 1;
            }
        }
        blocks
    }

    /// Adds the rows of `values` (one per edge of `block`, in grouped order) to their targets' rows
    /// of `part`, which holds the segments from `offset` on.
    fn sum_at_targets<T: Block>(
        &self,
        block: std::ops::Range<usize>,
        offset: usize,
        values: &[T],
        part: &mut [T],
        row_len: usize,
    ) {
        let mut rows = values.chunks_exact(row_len);
        for s in block {
            let acc = &mut part[(s - offset) * row_len..(s - offset + 1) * row_len];
            for row in rows.by_ref().take(self.target.segment_len(s)) {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
        }
    }

    fn scratch<T: Block>(&self) -> Scratch<T> {
        let layers = self.shapes.len();
        Scratch {
            x: Vec::new(),
            z: vec![Vec::new(); layers],
            h: vec![Vec::new(); layers],
            grad: Vec::new(),
            grad_in: Vec::new(),
        }
    }

    /// Runs the MLP on the edges `rows` into `scratch`.
    fn run_block<T: Block>(&self, x: &[T], terms: &[T], params: &[T], rows: &[u32], scratch: &mut Scratch<T>) {
        let (width, features) = self.shapes[0];
        let (source, target) = (self.source.values(), self.target.values());
        let n = rows.len();
        scratch.x.clear();
        for &e in rows {
            scratch.x.extend_from_slice(&x[e as usize * features..(e as usize + 1) * features]);
        }
        for k in 0..self.shapes.len() {
            let (outputs, inputs) = self.shapes[k];
            let (w, b) = self.layer(params, k);
            let z = &mut scratch.z[k];
            z.clear();
            z.resize(n * outputs, T::ZERO);
            let input = if k == 0 { &scratch.x } else { &scratch.h[k - 1] };
            // z = input·Wᵀ: lhs [n, inputs], rhs Wᵀ [inputs, outputs] (column stride `inputs`).
            matmul(z, outputs, false, input, 1, inputs, w, inputs, 1, n, outputs, inputs);
            if k == 0 {
                for (row, &e) in z.chunks_exact_mut(width).zip(rows) {
                    let (t, s) = (target[e as usize] as usize, source[e as usize] as usize);
                    let receiver = &terms[t * 2 * width..t * 2 * width + width];
                    let sender = &terms[s * 2 * width + width..(s + 1) * 2 * width];
                    row.iter_mut().zip(receiver.iter().zip(sender)).for_each(|(v, (&r, &q))| *v += r + q);
                }
            }
            activate(self.kinds[k], &scratch.z[k], b, &mut scratch.h[k]);
        }
    }

    fn forward<T: Block>(&self, x: &[T], terms: &[T], params: &[T]) -> Vec<T> {
        let outputs = self.outputs();
        let mut out = vec![T::ZERO; self.target.num_segments() * outputs];
        split_by_segments(&mut out, self.groups(), outputs).into_par_iter().for_each(|(segments, part)| {
            let mut scratch = self.scratch::<T>();
            let offset = segments.start;
            for (block, rows) in self.blocks(segments) {
                self.run_block(x, terms, params, &rows, &mut scratch);
                self.sum_at_targets(block, offset, &scratch.h[self.shapes.len() - 1], part, outputs);
            }
        });
        out
    }

    /// `[∂x (row-major, edge order; only with `grad_x`), ∂terms, ∂params]` for the output gradient
    /// `grad`.
    fn backward<T: Block>(&self, x: &[T], terms: &[T], params: &[T], grad: &[T], grad_x: bool) -> Vec<T> {
        let (width, features) = self.shapes[0];
        let outputs = self.outputs();
        let nodes = self.target.num_segments();
        // ∂z of the first layer summed at the receiver: each group owns its targets' rows.
        let mut grad_receiver = vec![T::ZERO; nodes * width];
        let results: Vec<GroupGradients<T>> = split_by_segments(&mut grad_receiver, self.groups(), width)
            .into_par_iter()
            .map(|(segments, receiver)| {
                let edges = self.group_edges(&segments);
                let mut out = GroupGradients {
                    params: vec![T::ZERO; params.len()],
                    first: Vec::with_capacity(edges * width),
                    x: Vec::with_capacity(if grad_x { edges * features } else { 0 }),
                };
                let mut scratch = self.scratch::<T>();
                let offset = segments.start;
                for (block, rows) in self.blocks(segments) {
                    self.run_block(x, terms, params, &rows, &mut scratch);
                    let n = rows.len();
                    // ∂h of the last layer: the output gradient of each edge's target.
                    scratch.grad.clear();
                    for s in block.clone() {
                        for _ in 0..self.target.segment_len(s) {
                            scratch.grad.extend_from_slice(&grad[s * outputs..(s + 1) * outputs]);
                        }
                    }
                    for k in (0..self.shapes.len()).rev() {
                        let (o, i) = self.shapes[k];
                        let (w, b) = self.layer(params, k);
                        // ∂z = ∂h ⊙ act'(z + b) (grad_in is free until ∂input below).
                        derivative(self.kinds[k], &scratch.z[k], b, &mut scratch.grad, &mut scratch.grad_in);
                        let start = self.offset(k);
                        let (gw, gb) = out.params[start..start + o * i + o].split_at_mut(o * i);
                        let input = if k == 0 { &scratch.x } else { &scratch.h[k - 1] };
                        // ∂W += ∂zᵀ·input: lhs ∂zᵀ [o, n] (column stride o), rhs input [n, i].
                        matmul(gw, i, true, &scratch.grad, o, 1, input, 1, i, o, i, n);
                        for row in scratch.grad.chunks_exact(o) {
                            gb.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
                        }
                        if k == 0 && !grad_x {
                            break;
                        }
                        // ∂input = ∂z·W: lhs [n, o], rhs W [o, i].
                        scratch.grad_in.clear();
                        scratch.grad_in.resize(n * i, T::ZERO);
                        matmul(&mut scratch.grad_in, i, false, &scratch.grad, 1, o, w, 1, i, n, i, o);
                        if k == 0 {
                            out.x.extend_from_slice(&scratch.grad_in);
                        } else {
                            std::mem::swap(&mut scratch.grad, &mut scratch.grad_in);
                        }
                    }
                    // scratch.grad is now ∂z of the first layer: the receiver and sender terms' gradient.
                    self.sum_at_targets(block, offset, &scratch.grad, receiver, width);
                    out.first.extend_from_slice(&scratch.grad);
                }
                out
            })
            .collect();
        // Grouped position of every edge, to read the per-edge gradients in edge order.
        let position: Option<Vec<u32>> = self.target.grouped_order().map(|order| {
            let mut position = vec![0u32; order.len()];
            for (p, &e) in order.iter().enumerate() {
                position[e as usize] = p as u32;
            }
            position
        });
        let at = |e: usize| position.as_ref().map_or(e, |p| p[e] as usize);
        let first: Vec<&[T]> = results.iter().map(|g| g.first.as_slice()).collect();
        let first = Rows::new(&first, width);
        let mut grad_sender = vec![T::ZERO; nodes * width];
        for_each_row(&mut grad_sender, width, |s, acc| {
            for e in self.source.rows(s) {
                acc.iter_mut().zip(first.row(at(e))).for_each(|(a, &v)| *a += v);
            }
        });
        let mut out = Vec::with_capacity(if grad_x { x.len() } else { 0 } + terms.len() + params.len());
        if grad_x {
            let xs: Vec<&[T]> = results.iter().map(|g| g.x.as_slice()).collect();
            let xs = Rows::new(&xs, features);
            for e in 0..self.target.len() {
                out.extend_from_slice(xs.row(at(e)));
            }
        }
        for (receiver, sender) in grad_receiver.chunks_exact(width).zip(grad_sender.chunks_exact(width)) {
            out.extend_from_slice(receiver);
            out.extend_from_slice(sender);
        }
        let mut grad_params = vec![T::ZERO; params.len()];
        for g in &results {
            grad_params.iter_mut().zip(&g.params).for_each(|(a, &v)| *a += v);
        }
        out.extend_from_slice(&grad_params);
        out
    }
}

/// Rows of `width` stored in consecutive chunks (one per group), addressed by global row number.
struct Rows<'a, T> {
    chunks: &'a [&'a [T]],
    /// First row of each chunk.
    starts: Vec<usize>,
    width: usize,
}

impl<'a, T> Rows<'a, T> {
    fn new(chunks: &'a [&'a [T]], width: usize) -> Self {
        let mut starts = Vec::with_capacity(chunks.len());
        let mut row = 0;
        for c in chunks {
            starts.push(row);
            row += c.len() / width.max(1);
        }
        Self { chunks, starts, width }
    }

    fn row(&self, r: usize) -> &'a [T] {
        let c = self.starts.partition_point(|&start| start <= r) - 1;
        let local = r - self.starts[c];
        &self.chunks[c][local * self.width..(local + 1) * self.width]
    }
}

/// `h = act(z + b)` over whole rows of `b.len()`.
fn activate<T: Block>(kind: Kind, z: &[T], b: &[T], h: &mut Vec<T>) {
    activate_with(kind, 0, z, b, None, h);
}

/// `out = g ⊙ act⁽ᵒʳᵈᵉʳ⁾(z + b)` (without `g`: the plain derivative), reusing `out`'s allocation.
fn activate_with<T: Block>(kind: Kind, order: u8, z: &[T], b: &[T], g: Option<&[T]>, out: &mut Vec<T>) {
    out.clear();
    out.reserve(z.len());
    let spare: &mut [MaybeUninit<T>] = &mut out.spare_capacity_mut()[..z.len()];
    T::block(kind, order, z, b, g, spare);
    // SAFETY: `block` wrote all `z.len()` elements.
    unsafe { out.set_len(z.len()) };
}

/// `buffer` (rows of `row_len`, one per segment) cut into the disjoint parts of consecutive
/// segment ranges, for groups that each own their segments' rows.
fn split_by_segments<T>(
    buffer: &mut [T],
    groups: Vec<std::ops::Range<usize>>,
    row_len: usize,
) -> Vec<(std::ops::Range<usize>, &mut [T])> {
    let mut parts = Vec::with_capacity(groups.len());
    let mut rest = buffer;
    for g in groups {
        let (part, tail) = rest.split_at_mut(g.len() * row_len);
        parts.push((g, part));
        rest = tail;
    }
    parts
}

/// `g ← g ⊙ act'(z + b)`, written through `spare` (a reused buffer; its contents are lost).
fn derivative<T: Block>(kind: Kind, z: &[T], b: &[T], g: &mut Vec<T>, spare: &mut Vec<T>) {
    activate_with(kind, 1, z, b, Some(g), spare);
    std::mem::swap(g, spare);
}

/// `dst (+)= lhs·rhs` on the calling thread, `dst` row-major `[m, n]` with row stride `dst_rs`;
/// `lhs` `[m, k]` and `rhs` `[k, n]` given by (column, row) strides.
#[allow(clippy::too_many_arguments)]
fn matmul<T: Block>(
    dst: &mut [T],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[T],
    lhs_cs: usize,
    lhs_rs: usize,
    rhs: &[T],
    rhs_cs: usize,
    rhs_rs: usize,
    m: usize,
    n: usize,
    k: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(dst.len() >= (m - 1) * dst_rs + n, "matmul: destination too small");
    assert!(k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs, "matmul: lhs too small");
    assert!(k == 0 || rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs, "matmul: rhs too small");
    // SAFETY: the asserts above bound every element gemm reads or writes; T is f32 or f64.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            T::from_f64(1.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}
