//! The handful of 3-vector operations the crate needs (`[f64; 3]`, cells as rows).

use crate::structure::Cell;

/// a · b
#[inline(always)]
pub(crate) fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// a × b
#[inline(always)]
pub(crate) fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// |a|
#[inline(always)]
pub(crate) fn norm(a: &[f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// a − b
#[inline(always)]
pub(crate) fn sub(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// s · a
#[inline(always)]
pub(crate) fn scale(a: &[f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// det(m) = m₀ · (m₁ × m₂), the signed volume of the cell whose rows are m.
pub(crate) fn det(m: &Cell) -> f64 {
    dot(&m[0], &cross(&m[1], &m[2]))
}
