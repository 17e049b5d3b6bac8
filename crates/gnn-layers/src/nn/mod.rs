//! Neural-network building blocks with PyTorch's parameter names, layouts and default
//! initialisation, built from a Candle `VarBuilder`: a safetensors file written from a PyTorch
//! `state_dict` loads without renaming (prefix with `vb.pp(…)` as the Python attribute path).

mod activation;
mod cfconv;
mod cutoff;
mod embedding;
mod graph_network;
pub mod init;
mod linear;
mod nnconv;
mod norm;
mod radial;
mod rnn;
mod sequential;
mod set2set;

pub use activation::{softplus, Activation, PYG_SSP_SHIFT, SOFTPLUS_THRESHOLD};
pub use cfconv::{CfConv, InteractionBlock};
pub use cutoff::{cosine_cutoff, polynomial_cutoff};
pub use embedding::Embedding;
pub use graph_network::{
    Gate, GlobalConfig, GlobalInput, GraphNetwork, GraphNetworkConfig, GraphNetworkOutput, LineGraphInput,
};
pub use linear::{linear, linear_activation, linear_with_init};
pub use nnconv::{EdgeTerms, NnConv, NnConvMode};
pub use norm::{BatchNorm, LayerNorm, NORM_EPS};
pub use radial::{linspace, BesselBasis, GaussianBasis};
pub use rnn::{Gru, GruCell, Lstm, LstmState};
pub use sequential::{Mlp, MlpConfig};
pub use set2set::Set2Set;
