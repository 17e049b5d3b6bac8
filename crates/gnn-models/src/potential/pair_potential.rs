//! A model as an interatomic potential on an MD engine's own neighbour lists (LAMMPS, through the
//! C ABI): atoms, the pairs `i ← j` and their vectors `r_ij = r_j − r_i` in; the energy, per-atom
//! energies, the force of each pair and the virial out.
//!
//! The engine passes its local atoms followed by ghost atoms (periodic images and atoms of other
//! domains). The energy is the sum of the local atoms' energies; the ghost atoms only carry
//! features into the local atoms' neighbourhoods, so a message-passing model with `T` layers of
//! cutoff `r_c` needs ghosts out to `T·r_c` ([`PairPotential::ghost_cutoff`]) and the pairs of the
//! ghosts among themselves (what `pair_nequip` does). Each pair vector is a leaf of the backward
//! pass: the pair force `f_ij = −∂E/∂r_ij` acts on `j`, and `−f_ij` on `i`; the virial is
//! `W = Σ r_ij ⊗ f_ij`.
//!
//! Only additive models have per-atom energies: SchNet and L0Net/L1Net with a sum readout. Their
//! per-atom energy is what the readout adds for the atom (mean, std, atom reference included), so
//! the energies sum to the model's prediction for the structure.

use crate::error::{Error, Result};
use crate::inputs::pipeline::model_graphs;
use crate::models::Elements;
use crate::Model;
use candle_core::{DType, Var};
use chem_graph::{Edges, GraphBatch, Structure};
use gnn_layers::GraphTensors;

/// Atoms and pairs as an MD engine gives them.
#[derive(Clone, Copy, Debug)]
pub struct PairInput<'a> {
    /// Atomic numbers of the local atoms followed by the ghost atoms.
    pub numbers: &'a [u8],
    /// How many of `numbers` are local atoms (their energies are summed).
    pub local: usize,
    /// Receiving atom `i` of each pair (index into `numbers`).
    pub receivers: &'a [u32],
    /// Sending atom `j` of each pair.
    pub senders: &'a [u32],
    /// `r_ij = r_j − r_i` of each pair in Å. Pairs longer than the model's cutoff are ignored
    /// (zero force), so a list with the engine's skin can be passed as it is.
    pub vectors: &'a [[f64; 3]],
}

/// What [`PairPotential::compute`] returns, in the model's energy unit and Å.
#[derive(Clone, Debug, PartialEq)]
pub struct PairOutput {
    /// Sum of the local atoms' energies.
    pub energy: f64,
    /// Energy of every atom, local and ghost (ghost energies are not part of `energy`).
    pub atom_energies: Vec<f64>,
    /// `f_ij = −∂E/∂r_ij` of each pair: the force on `j` (and `−f_ij` on `i`).
    pub pair_forces: Vec<[f64; 3]>,
    /// `W = Σ r_ij ⊗ f_ij` in LAMMPS' order `xx, yy, zz, xy, xz, yz`.
    pub virial: [f64; 6],
}

/// A [`Model`] used as an interatomic potential (see the module docs).
pub struct PairPotential<'m> {
    model: &'m Model,
    cutoff: f64,
    layers: usize,
    elements: Elements,
}

impl<'m> PairPotential<'m> {
    /// The potential of `model`; an error for models without per-atom energies.
    pub fn new(model: &'m Model) -> Result<Self> {
        let capabilities = model.config().model.capabilities();
        let locality = capabilities.atom_energies.map_err(|why| {
            Error::Input(format!(
                "a {} model cannot be used as an interatomic potential: {why}",
                model.config().model.kind()
            ))
        })?;
        let (cutoff, layers, elements) = (locality.cutoff, locality.layers, capabilities.elements);
        Ok(Self { model, cutoff, layers, elements })
    }

    /// The pair cutoff in Å.
    pub fn cutoff(&self) -> f64 {
        self.cutoff
    }

    /// Message-passing steps: how many pair hops information travels (SchNet's interactions;
    /// L0Net/L1Net's blocks plus their output convolution).
    pub fn layers(&self) -> usize {
        self.layers
    }

    /// How far from a local atom ghost atoms are needed for exact energies and forces (Å).
    pub fn ghost_cutoff(&self) -> f64 {
        self.cutoff * self.layers as f64
    }

    /// Energy, per-atom energies, pair forces and virial of `input`.
    pub fn compute(&self, input: &PairInput) -> Result<PairOutput> {
        let batch = self.batch(input)?;
        if input.local == 0 {
            return Ok(PairOutput {
                energy: 0.0,
                atom_energies: vec![0.0; input.numbers.len()],
                pair_forces: vec![[0.0; 3]; input.vectors.len()],
                virial: [0.0; 6],
            });
        }
        let kept: Vec<usize> = (0..input.vectors.len()).filter(|&k| self.within_cutoff(&input.vectors[k])).collect();
        let model = self.model;
        let mut g = GraphTensors::new(&batch, model.dtype(), model.device())?;
        // Positions are zero and each pair's vector is its offset: the offsets are the leaves.
        let vectors = Var::from_tensor(&g.offsets)?;
        g.offsets = vectors.as_tensor().clone();
        let energies = model.network().forward(&g, &g.positions)?.narrow(1, 0, 1)?.squeeze(1)?;
        let energy = energies.narrow(0, 0, input.local)?.sum_all()?;
        let gradient = match energy.backward()?.get(vectors.as_tensor()) {
            Some(g) => g.to_dtype(DType::F64)?.to_vec2::<f64>()?,
            None => vec![vec![0.0; 3]; kept.len()],
        };
        let mut pair_forces = vec![[0.0; 3]; input.vectors.len()];
        let mut virial = [0.0; 6];
        for (&k, d) in kept.iter().zip(&gradient) {
            let (r, f) = (input.vectors[k], [-d[0], -d[1], -d[2]]);
            pair_forces[k] = f;
            for (w, (a, b)) in virial.iter_mut().zip([(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]) {
                *w += 0.5 * (r[a] * f[b] + r[b] * f[a]);
            }
        }
        Ok(PairOutput {
            energy: energy.to_dtype(DType::F64)?.to_scalar::<f64>()?,
            atom_energies: energies.to_dtype(DType::F64)?.to_vec1::<f64>()?,
            pair_forces,
            virial,
        })
    }

    /// Every atom's energy in `structure` (a molecule or a periodic crystal) on the model's own
    /// graph; they sum to the model's prediction for it.
    pub fn atom_energies(&self, structure: &Structure) -> Result<Vec<f64>> {
        let structures = std::slice::from_ref(structure);
        let edges = model_graphs(&self.model.config().model, structures)?.remove(0).edges;
        let input = PairInput {
            numbers: &structure.numbers,
            local: structure.numbers.len(),
            receivers: &edges.target,
            senders: &edges.source,
            vectors: &edges.vector,
        };
        Ok(self.compute(&input)?.atom_energies)
    }

    fn within_cutoff(&self, r: &[f64; 3]) -> bool {
        r[0] * r[0] + r[1] * r[1] + r[2] * r[2] <= self.cutoff * self.cutoff
    }

    /// One graph per atom (so the readout gives per-atom energies), zero positions, and the pairs
    /// within the cutoff as edges whose vectors are the engine's.
    fn batch(&self, input: &PairInput) -> Result<GraphBatch> {
        let atoms = input.numbers.len();
        let pairs = input.vectors.len();
        if input.local > atoms {
            return Err(Error::Input(format!("{} local atoms, but only {atoms} atoms are given", input.local)));
        }
        if input.receivers.len() != pairs || input.senders.len() != pairs {
            return Err(Error::Input(format!(
                "{pairs} pair vectors but {} receivers and {} senders",
                input.receivers.len(),
                input.senders.len()
            )));
        }
        self.check_elements(input.numbers)?;
        let mut edges = Edges::default();
        for (k, r) in input.vectors.iter().enumerate() {
            let (i, j) = (input.receivers[k], input.senders[k]);
            if i as usize >= atoms || j as usize >= atoms {
                return Err(Error::Input(format!("pair {k} joins atoms {i} and {j}, but there are {atoms} atoms")));
            }
            if !r.iter().all(|x| x.is_finite()) {
                return Err(Error::Input(format!("pair {k} ({i} ← {j}) has a non-finite vector {r:?}")));
            }
            if !self.within_cutoff(r) {
                continue;
            }
            let distance = r.iter().map(|x| x * x).sum::<f64>().sqrt();
            if distance == 0.0 {
                return Err(Error::Input(format!("pair {k} ({i} ← {j}) has length zero: two atoms at one place")));
            }
            edges.source.push(j);
            edges.target.push(i);
            edges.shift.push([0; 3]);
            edges.vector.push(*r);
            edges.distance.push(distance);
        }
        let mut edge_offsets = vec![0; atoms + 1];
        // Edges are not grouped by graph (a pair joins two one-atom graphs); only the totals count.
        edge_offsets[atoms] = edges.len();
        Ok(GraphBatch {
            numbers: input.numbers.to_vec(),
            positions: vec![[0.0; 3]; atoms],
            node_graph: (0..atoms as u32).collect(),
            edges,
            cells: vec![[[0.0; 3]; 3]; atoms],
            node_offsets: (0..=atoms).collect(),
            edge_offsets,
            ..Default::default()
        })
    }

    fn check_elements(&self, numbers: &[u8]) -> Result<()> {
        match numbers.iter().position(|&z| z == 0 || !self.elements.contains(z)) {
            Some(a) => {
                Err(Error::Input(format!("atom {a} has atomic number {}, which the model does not know", numbers[a])))
            }
            None => Ok(()),
        }
    }
}
