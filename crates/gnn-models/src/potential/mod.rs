//! A model as an interatomic potential: per-atom energies and pair forces on an MD engine's own
//! neighbour lists ([`pair_potential`]), and the stress of periodic structures (`stress`, through [`crate::Model::predict_with_stress`]).

pub mod pair_potential;
pub(crate) mod stress;
