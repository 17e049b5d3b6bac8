//! E(3)/O(3) representations in the style of e3nn 0.6: [`Irreps`] as a first-class type, the real
//! spherical harmonics, Wigner 3j symbols and D matrices, tensor products, and e3nn's `nn` and
//! `math` building blocks (normalised activations, `Gate`, `FullyConnectedNet`,
//! `soft_one_hot_linspace`) and the point convolution of e3nn's models, with e3nn's conventions
//! (y is the polar axis, mul_ir layout, sort order by `(l, p)`) documented where they are defined.
//! Feature tensors are `[…, irreps.dim()]`.

mod fully_connected_net;
mod fully_connected_tensor_product;
mod gate;
mod irreps;
mod linear;
mod normalized_activation;
mod point_convolution;
mod soft_one_hot;
mod spherical_harmonics;
mod tensor_product;
mod wigner;

pub use fully_connected_net::FullyConnectedNet;
pub use fully_connected_tensor_product::FullyConnectedTensorProduct;
pub use gate::{Gate, GateConfig};
pub use irreps::{Irrep, Irreps, MulIr, Parity, Sorted};
pub use linear::{Linear, LinearConfig};
pub use normalized_activation::{activation_parity, normalize2mom, normalized};
pub use point_convolution::{
    EdgeEmbedding, EdgeEmbeddingConfig, Envelope, PointConvolution, PointConvolutionConfig, PointOutput,
};
pub use soft_one_hot::{smooth_cutoff, soft_one_hot_linspace, soft_unit_step, SoftOneHotBasis};
pub use spherical_harmonics::{spherical_harmonics, SphNormalization};
pub use tensor_product::{
    ConnectionMode, Instruction, IrrepNormalization, PathNormalization, TensorProduct, TensorProductConfig,
};
pub use wigner::{wigner_3j, wigner_3j_tensor, wigner_d};
