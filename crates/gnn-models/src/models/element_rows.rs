//! The row of each atom's element in a model's per-element table (an embedding, a one-hot
//! encoding): the lookup L0/L1Net and SevenNet share.

use crate::error::{Error, Result};

/// Per atomic number, the row of that element in a model's table.
#[derive(Clone, Debug)]
pub struct ElementRows {
    /// Indexed by atomic number; `u32::MAX` for elements the model lacks.
    rows: Vec<u32>,
    elements: Vec<u8>,
}

impl ElementRows {
    /// Row `k` holds `elements[k]`.
    pub fn new(elements: &[u8]) -> Self {
        let mut rows = vec![u32::MAX; 256];
        for (k, &z) in elements.iter().enumerate() {
            rows[z as usize] = k as u32;
        }
        Self { rows, elements: elements.to_vec() }
    }

    /// The row of each atom of atomic numbers `numbers`; an element outside the table is an error
    /// naming `model`, the atom and the element.
    pub fn of(&self, numbers: &[u32], model: &str) -> Result<Vec<u32>> {
        numbers
            .iter()
            .enumerate()
            .map(|(a, &z)| match self.rows.get(z as usize) {
                Some(&row) if row != u32::MAX => Ok(row),
                _ => Err(Error::Input(format!(
                    "{model}: atom {a} is element {z} ({}), not one of its elements {:?}",
                    chem_graph::element::by_number(z.min(255) as u8).map_or("?", |e| e.symbol),
                    self.elements
                ))),
            })
            .collect()
    }
}
