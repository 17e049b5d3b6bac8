// CUDA kernels behind chemgnn's graph ops (crates/gnn-layers/src/ops), compiled to PTX by build.rs
// with the pinned nvcc when the `cuda` feature is on.
//
// Conventions (the same as the CPU kernels in ops/kernels.rs):
// - Tensors are contiguous and row-major; a "row" has `cols` elements.
// - A segment index is given as CSR: `offsets[s]..offsets[s + 1]` are the positions of segment s's
//   rows in `order` (rows grouped by segment, in their original order), or in 0..len when `order`
//   is null (the index is sorted).
// - Reductions run one thread per (output row, column) and walk the segment's rows in order: no
//   atomics, so results are deterministic and equal to the CPU's summation order. Consecutive
//   threads take consecutive columns, so a warp reads whole rows (coalesced).

#include <stdint.h>

#define ROW(order, p) ((order) ? (size_t)(order)[p] : (size_t)(p))

#define GRID_STRIDE(i, n) \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (size_t)blockDim.x * gridDim.x)

template <typename T>
__device__ void gather(const T* x, const uint32_t* index, T* out, size_t rows, size_t cols) {
    GRID_STRIDE(i, rows * cols) {
        size_t r = i / cols, c = i - r * cols;
        out[i] = x[(size_t)index[r] * cols + c];
    }
}

template <typename T>
__device__ void segment_sum(const T* src, const uint32_t* offsets, const uint32_t* order, T* out, size_t segments,
                            size_t cols) {
    GRID_STRIDE(i, segments * cols) {
        size_t s = i / cols, c = i - s * cols;
        T acc = 0;
        for (uint32_t p = offsets[s]; p < offsets[s + 1]; ++p) acc += src[ROW(order, p) * cols + c];
        out[i] = acc;
    }
}

// Element-wise maximum (`max` != 0) or minimum of each segment's rows; 0 for an empty segment, NaN
// propagates (as torch.scatter_reduce).
template <typename T>
__device__ void segment_extremum(const T* src, const uint32_t* offsets, const uint32_t* order, T* out,
                                 size_t segments, size_t cols, int max) {
    GRID_STRIDE(i, segments * cols) {
        size_t s = i / cols, c = i - s * cols;
        uint32_t begin = offsets[s], end = offsets[s + 1];
        T acc = 0;
        if (begin < end) {
            acc = src[ROW(order, begin) * cols + c];
            for (uint32_t p = begin + 1; p < end; ++p) {
                T v = src[ROW(order, p) * cols + c];
                bool better = max ? v > acc : v < acc;
                if (better || v != v) acc = v;
            }
        }
        out[i] = acc;
    }
}

// out[i] = Σ_{target[e] = i} x[source[e]] ⊙ w[k(e)], k(e) = w_index[e] (or e when w_index is null);
// the target index is given as CSR.
template <typename T>
__device__ void gather_mul_scatter(const T* x, const T* w, const uint32_t* source, const uint32_t* offsets,
                                   const uint32_t* order, const uint32_t* w_index, T* out, size_t segments,
                                   size_t cols) {
    GRID_STRIDE(i, segments * cols) {
        size_t s = i / cols, c = i - s * cols;
        T acc = 0;
        for (uint32_t p = offsets[s]; p < offsets[s + 1]; ++p) {
            size_t e = ROW(order, p);
            size_t k = w_index ? (size_t)w_index[e] : e;
            acc += x[(size_t)source[e] * cols + c] * w[k * cols + c];
        }
        out[i] = acc;
    }
}

// out[s] = Σ_{out_index[e] = s} a[a_index[e]] ⊙ b[b_index[e]] (out_index as CSR), or without
// `offsets` one product per edge.
template <typename T>
__device__ void edge_products(const T* a, const T* b, const uint32_t* a_index, const uint32_t* b_index,
                              const uint32_t* offsets, const uint32_t* order, T* out, size_t rows, size_t cols) {
    GRID_STRIDE(i, rows * cols) {
        size_t s = i / cols, c = i - s * cols;
        if (offsets) {
            T acc = 0;
            for (uint32_t p = offsets[s]; p < offsets[s + 1]; ++p) {
                size_t e = ROW(order, p);
                acc += a[(size_t)a_index[e] * cols + c] * b[(size_t)b_index[e] * cols + c];
            }
            out[i] = acc;
        } else {
            out[i] = a[(size_t)a_index[s] * cols + c] * b[(size_t)b_index[s] * cols + c];
        }
    }
}

// Per-row matrix–vector products with row-major [inputs, outputs] matrices w[m(e)], m(e) =
// matrix_index[e] (or e): out[e] = x[e]·w[m(e)] (length outputs), or with `transpose`
// out[e] = w[m(e)]·x[e] (length inputs, x[e] of length outputs).
template <typename T>
__device__ void row_matvec(const T* x, const T* w, const uint32_t* matrix_index, T* out, size_t rows,
                           size_t inputs, size_t outputs, int transpose) {
    size_t out_len = transpose ? inputs : outputs;
    GRID_STRIDE(i, rows * out_len) {
        size_t e = i / out_len, o = i - e * out_len;
        size_t m = matrix_index ? (size_t)matrix_index[e] : e;
        const T* we = w + m * inputs * outputs;
        T acc = 0;
        if (transpose) {
            const T* xe = x + e * outputs;
            for (size_t k = 0; k < outputs; ++k) acc += we[o * outputs + k] * xe[k];
        } else {
            const T* xe = x + e * inputs;
            for (size_t k = 0; k < inputs; ++k) acc += xe[k] * we[k * outputs + o];
        }
        out[i] = acc;
    }
}

// out[s] = Σ_{index[e] = s} a[e] ⊗ b[e] (row-major [a_len, b_len] blocks; index as CSR), or without
// `offsets` one outer product per row.
template <typename T>
__device__ void outer_products(const T* a, const T* b, const uint32_t* offsets, const uint32_t* order, T* out,
                               size_t rows, size_t a_len, size_t b_len) {
    size_t block = a_len * b_len;
    GRID_STRIDE(i, rows * block) {
        size_t s = i / block, j = i - s * block;
        size_t u = j / b_len, v = j - u * b_len;
        if (offsets) {
            T acc = 0;
            for (uint32_t p = offsets[s]; p < offsets[s + 1]; ++p) {
                size_t e = ROW(order, p);
                acc += a[e * a_len + u] * b[e * b_len + v];
            }
            out[i] = acc;
        } else {
            out[i] = a[s * a_len + u] * b[s * b_len + v];
        }
    }
}

// One Adam/AdamW step in place (PyTorch's update, the same operation order as the composed ops of
// gnn-train's optimiser): L2 weight decay `g += wd·p` (Adam) or decoupled `p *= 1 − lr·wd` (AdamW),
// m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², p −= (m / (√v / √(1−β2ᵗ) + ε)) · lr / (1−β1ᵗ).
template <typename T>
__device__ void adam_step(T* p, T* m, T* v, const T* g, size_t n, T b1, T one_minus_b1, T b2, T one_minus_b2,
                          T step_size, T inv_sqrt_bias2, T eps, T l2, T decay) {
    GRID_STRIDE(i, n) {
        T pi = p[i], gi = g[i];
        if (l2 != 0) gi = gi + pi * l2;
        if (decay != 1) pi = pi * decay;
        T mi = m[i] * b1 + gi * one_minus_b1;
        T vi = v[i] * b2 + (gi * gi) * one_minus_b2;
        T denom = sqrt(vi) * inv_sqrt_bias2 + eps;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - (mi / denom) * step_size;
    }
}

// Σ x² of each of `count` tensors (device pointers and lengths in `ptrs`, `lens`), accumulated in
// f64, one block of 256 threads per tensor: the gradients' global norm in one launch.
template <typename T>
__device__ void sum_squares(const uint64_t* ptrs, const uint64_t* lens, size_t count, double* out) {
    __shared__ double part[256];
    for (size_t t = blockIdx.x; t < count; t += gridDim.x) {
        const T* x = (const T*)ptrs[t];
        double acc = 0;
        for (size_t i = threadIdx.x; i < lens[t]; i += blockDim.x) {
            double v = (double)x[i];
            acc += v * v;
        }
        part[threadIdx.x] = acc;
        __syncthreads();
        for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
            if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
            __syncthreads();
        }
        if (threadIdx.x == 0) out[t] = part[0];
        __syncthreads();
    }
}

#define INSTANTIATE(T, SUFFIX)                                                                                      \
    extern "C" __global__ void gather_##SUFFIX(const T* x, const uint32_t* index, T* out, size_t rows,            \
                                               size_t cols) {                                                      \
        gather<T>(x, index, out, rows, cols);                                                                      \
    }                                                                                                              \
    extern "C" __global__ void segment_sum_##SUFFIX(const T* src, const uint32_t* offsets, const uint32_t* order, \
                                                    T* out, size_t segments, size_t cols) {                        \
        segment_sum<T>(src, offsets, order, out, segments, cols);                                                  \
    }                                                                                                              \
    extern "C" __global__ void segment_extremum_##SUFFIX(const T* src, const uint32_t* offsets,                    \
                                                         const uint32_t* order, T* out, size_t segments,           \
                                                         size_t cols, int max) {                                   \
        segment_extremum<T>(src, offsets, order, out, segments, cols, max);                                        \
    }                                                                                                              \
    extern "C" __global__ void gather_mul_scatter_##SUFFIX(                                                        \
        const T* x, const T* w, const uint32_t* source, const uint32_t* offsets, const uint32_t* order,            \
        const uint32_t* w_index, T* out, size_t segments, size_t cols) {                                           \
        gather_mul_scatter<T>(x, w, source, offsets, order, w_index, out, segments, cols);                         \
    }                                                                                                              \
    extern "C" __global__ void edge_products_##SUFFIX(const T* a, const T* b, const uint32_t* a_index,             \
                                                      const uint32_t* b_index, const uint32_t* offsets,            \
                                                      const uint32_t* order, T* out, size_t rows, size_t cols) {   \
        edge_products<T>(a, b, a_index, b_index, offsets, order, out, rows, cols);                                 \
    }                                                                                                              \
    extern "C" __global__ void row_matvec_##SUFFIX(const T* x, const T* w, const uint32_t* matrix_index, T* out,  \
                                                   size_t rows, size_t inputs, size_t outputs, int transpose) {    \
        row_matvec<T>(x, w, matrix_index, out, rows, inputs, outputs, transpose);                                  \
    }                                                                                                              \
    extern "C" __global__ void outer_products_##SUFFIX(const T* a, const T* b, const uint32_t* offsets,            \
                                                       const uint32_t* order, T* out, size_t rows, size_t a_len,   \
                                                       size_t b_len) {                                             \
        outer_products<T>(a, b, offsets, order, out, rows, a_len, b_len);                                          \
    }                                                                                                              \
    extern "C" __global__ void adam_step_##SUFFIX(T* p, T* m, T* v, const T* g, size_t n, T b1, T one_minus_b1,   \
                                                  T b2, T one_minus_b2, T step_size, T inv_sqrt_bias2, T eps, T l2, \
                                                  T decay) {                                                       \
        adam_step<T>(p, m, v, g, n, b1, one_minus_b1, b2, one_minus_b2, step_size, inv_sqrt_bias2, eps, l2, decay); \
    }                                                                                                              \
    extern "C" __global__ void sum_squares_##SUFFIX(const uint64_t* ptrs, const uint64_t* lens, size_t count,      \
                                                    double* out) {                                                 \
        sum_squares<T>(ptrs, lens, count, out);                                                                    \
    }

INSTANTIATE(float, f32)
INSTANTIATE(double, f64)
