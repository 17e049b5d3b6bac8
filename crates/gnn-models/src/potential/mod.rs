//! A model as an interatomic potential: per-atom energies and pair forces on an MD engine's own
//! neighbour lists ([`pair_potential`]), and predictions with forces and the stress of periodic
//! structures, differentiable for training ([`stress`]).

pub mod pair_potential;
pub mod stress;
