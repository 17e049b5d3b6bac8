//! E(3)/O(3) representations in the style of e3nn 0.6: [`Irreps`] as a first-class type and the
//! real spherical harmonics, with e3nn's conventions (y is the polar axis, mul_ir layout, sort
//! order by `(l, p)`) documented where they are defined. Feature tensors are `[…, irreps.dim()]`.

mod irreps;
mod spherical_harmonics;

pub use irreps::{Irrep, Irreps, MulIr, Parity, Sorted};
pub use spherical_harmonics::{spherical_harmonics, SphNormalization};
