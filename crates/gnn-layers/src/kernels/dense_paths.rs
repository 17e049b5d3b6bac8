//! `uvw` paths with shared weights (the fully connected products of `o3` layers with node
//! attributes: e3nn's `sc`, `lin1`, `lin2`) as matrix products over all rows at once, for the
//! tensor product kernel ([`tensor_product`](super::tensor_product)).
//!
//! Per output component `k`, the weightless product `t_k[r, v, u] = Σ_ij C_ijk x[r, u, i] y[r, v, j]`
//! is built from the nonzero 3j entries (`u` innermost: the first input's multiplicity, the long
//! axis), and the weights mix it in one GEMM per `v`: `z[r, w, k] += c Σ_u t_k[r, v, u] W[u, v, w]`.
//! The other targets of the multilinear form are GEMMs too: `∂W[·, v, ·] += c·t_kvᵀ·g_k`, and for
//! the inputs `h_kv = c·g_k·W[·, v, ·]ᵀ` followed by the 3j contraction with the other input.
//! Operands are in the kernel's ir_mul layout (component-major blocks), where `[r, w, k]` of a block
//! is the strided matrix `(r, w)` for each `k`.

use rayon::prelude::*;

use super::dense::{gemm_add, Matrix};
use super::tensor_product::{lane_dot, Slot};
use super::Real;

/// Rows per parallel task of the element-wise loops.
const ROWS_PER_TASK: usize = 64;

/// One `uvw` path with shared weights.
#[derive(Debug)]
pub(crate) struct DensePath {
    /// `(start, mul, dim)` of the block in the first input, second input and output.
    in1: (usize, usize, usize),
    in2: (usize, usize, usize),
    out: (usize, usize, usize),
    weight_offset: usize,
    c: f64,
    /// Nonzero 3j entries `(i, j, C_ijk)` per output component `k`.
    cg: Vec<Vec<(usize, usize, f64)>>,
}

impl DensePath {
    /// The path of blocks `in1 ⊗ in2 → out` with weights from `weight_offset`, coefficient `c`
    /// and 3j tensor `w3j` (`[d1, d2, dout]`, row-major).
    pub(crate) fn new(
        in1: (usize, usize, usize),
        in2: (usize, usize, usize),
        out: (usize, usize, usize),
        weight_offset: usize,
        c: f64,
        w3j: &[f64],
    ) -> Self {
        let (d1, d2, dout) = (in1.2, in2.2, out.2);
        let cg = (0..dout)
            .map(|k| {
                let entries = (0..d1).flat_map(|i| (0..d2).map(move |j| (i, j)));
                entries.map(|(i, j)| (i, j, w3j[(i * d2 + j) * dout + k])).filter(|e| e.2.abs() >= 1e-14).collect()
            })
            .collect();
        Self { in1, in2, out, weight_offset, c, cg }
    }

    /// Adds `∂F/∂target` of this path over `rows` rows into `acc` (the target's rows, or the flat
    /// weights), from the other operands `data` (ir_mul, rows of `dims`; `data[target]` unused).
    pub(crate) fn add<T: Real>(&self, target: Slot, rows: usize, data: [&[T]; 4], dims: [usize; 4], acc: &mut [T]) {
        if rows == 0 {
            return;
        }
        let ((s1, m1, _), (s2, m2, _), (so, mo, _)) = (self.in1, self.in2, self.out);
        let dout = dims[3] as isize;
        let uv = m1 * m2;
        let (wo, c) = (self.weight_offset, self.c);
        // W[u, v, w] at wo + (u·m2 + v)·mo + w: for one v, rows u with stride m2·mo.
        let weight_rows = (m2 * mo) as isize;
        let mut t = vec![T::ZERO; rows * uv];
        for (k, cg) in self.cg.iter().enumerate().filter(|(_, cg)| !cg.is_empty()) {
            let o = so + k * mo;
            let w_end = wo + uv * mo;
            match target {
                Slot::Out => {
                    self.weightless(cg, data, dims, &mut t);
                    for v in 0..m2 {
                        let weights = Matrix::new(&data[2][wo + v * mo..w_end], m1, mo, weight_rows, 1);
                        // t_kv: columns v·m1 .. (v + 1)·m1 of t.
                        let t_v = Matrix::new(&t[v * m1..], rows, m1, uv as isize, 1);
                        gemm_add(Matrix::new(&mut acc[o..], rows, mo, dout, 1), t_v, weights, c);
                    }
                }
                Slot::Weight => {
                    self.weightless(cg, data, dims, &mut t);
                    for v in 0..m2 {
                        let dst = Matrix::new(&mut acc[wo + v * mo..w_end], m1, mo, weight_rows, 1);
                        let lhs = Matrix::new(&t[v * m1..], m1, rows, 1, uv as isize);
                        gemm_add(dst, lhs, Matrix::new(&data[3][o..], rows, mo, dout, 1), c);
                    }
                }
                Slot::In1 | Slot::In2 => {
                    t.iter_mut().for_each(|v| *v = T::ZERO);
                    for v in 0..m2 {
                        let transposed = Matrix::new(&data[2][wo + v * mo..w_end], mo, m1, 1, weight_rows);
                        let dst = Matrix::new(&mut t[v * m1..], rows, m1, uv as isize, 1);
                        gemm_add(dst, Matrix::new(&data[3][o..], rows, mo, dout, 1), transposed, c);
                    }
                    let (dim, other, other_dim) =
                        if target == Slot::In1 { (dims[0], data[1], dims[1]) } else { (dims[1], data[0], dims[0]) };
                    let tasks = acc.par_chunks_mut(dim * ROWS_PER_TASK).zip(t.par_chunks(uv * ROWS_PER_TASK));
                    tasks.enumerate().for_each(|(task, (acc, t))| {
                        for (r, (acc, h)) in acc.chunks_mut(dim).zip(t.chunks(uv)).enumerate() {
                            let r = task * ROWS_PER_TASK + r;
                            let other = &other[r * other_dim..(r + 1) * other_dim];
                            for &(i, j, cg) in cg {
                                let cg = T::from_f64(cg);
                                let (x, y) = (s1 + i * m1, s2 + j * m2);
                                for v in 0..m2 {
                                    let h = &h[v * m1..(v + 1) * m1];
                                    if target == Slot::In1 {
                                        let a = cg * other[y + v];
                                        acc[x..x + m1].iter_mut().zip(h).for_each(|(g, &p)| *g += a * p);
                                    } else {
                                        let dot = lane_dot(h, &other[x..x + m1]);
                                        acc[y + v] += cg * dot;
                                    }
                                }
                            }
                        }
                    });
                }
            }
        }
    }

    /// `t[r, v, u] = Σ_(i, j) C_ij x[r, u, i] y[r, v, j]` for one output component's entries.
    fn weightless<T: Real>(&self, cg: &[(usize, usize, f64)], data: [&[T]; 4], dims: [usize; 4], t: &mut [T]) {
        let ((s1, m1, _), (s2, m2, _)) = (self.in1, self.in2);
        let uv = m1 * m2;
        let (x, y) = (data[0], data[1]);
        t.par_chunks_mut(uv * ROWS_PER_TASK).enumerate().for_each(|(task, t)| {
            for (r, t) in t.chunks_mut(uv).enumerate() {
                let r = task * ROWS_PER_TASK + r;
                t.iter_mut().for_each(|v| *v = T::ZERO);
                let (x, y) = (&x[r * dims[0]..(r + 1) * dims[0]], &y[r * dims[1]..(r + 1) * dims[1]]);
                for &(i, j, cg) in cg {
                    let (xi, yj) = (&x[s1 + i * m1..s1 + (i + 1) * m1], &y[s2 + j * m2..s2 + (j + 1) * m2]);
                    for (v, &b) in yj.iter().enumerate() {
                        let b = T::from_f64(cg) * b;
                        t[v * m1..(v + 1) * m1].iter_mut().zip(xi).for_each(|(t, &a)| *t += a * b);
                    }
                }
            }
        });
    }
}
