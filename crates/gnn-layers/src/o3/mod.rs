//! E(3)/O(3) representations in the style of e3nn 0.6: [`Irreps`] as a first-class type, the real
//! spherical harmonics, Wigner 3j symbols and D matrices, and tensor products, with e3nn's conventions (y is the polar axis, mul_ir layout, sort
//! order by `(l, p)`) documented where they are defined. Feature tensors are `[…, irreps.dim()]`.

mod irreps;
mod spherical_harmonics;
mod tensor_product;
mod wigner;

pub use irreps::{Irrep, Irreps, MulIr, Parity, Sorted};
pub use spherical_harmonics::{spherical_harmonics, SphNormalization};
pub use tensor_product::{
    ConnectionMode, Instruction, IrrepNormalization, PathNormalization, TensorProduct, TensorProductConfig,
};
pub use wigner::{wigner_3j, wigner_3j_tensor, wigner_d};
