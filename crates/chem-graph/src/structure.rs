//! [`Structure`]: a molecule or a periodic crystal as plain data.

use std::collections::BTreeMap;

use crate::element;
use crate::error::{Error, Result};
use crate::neighbors::periodic_basis;

/// A 3×3 cell matrix whose **rows** are the cell vectors a, b, c in Å (ASE's and pymatgen's layout).
pub type Cell = [[f64; 3]; 3];

/// A per-atom array with `width` values per atom, stored row-major (`data.len() == n_atoms * width`).
#[derive(Debug, Clone, PartialEq)]
pub enum AtomArray {
    /// Real numbers, e.g. forces (width 3) or Mulliken charges (width 1).
    Real {
        /// Values per atom.
        width: usize,
        /// Row-major values.
        data: Vec<f64>,
    },
    /// Integers, e.g. tags.
    Int {
        /// Values per atom.
        width: usize,
        /// Row-major values.
        data: Vec<i64>,
    },
    /// Logical flags, e.g. selective-dynamics masks.
    Bool {
        /// Values per atom.
        width: usize,
        /// Row-major values.
        data: Vec<bool>,
    },
    /// Strings, e.g. labels.
    Str {
        /// Values per atom.
        width: usize,
        /// Row-major values.
        data: Vec<String>,
    },
}

impl AtomArray {
    /// Values per atom.
    pub fn width(&self) -> usize {
        match self {
            AtomArray::Real { width, .. }
            | AtomArray::Int { width, .. }
            | AtomArray::Bool { width, .. }
            | AtomArray::Str { width, .. } => *width,
        }
    }

    /// Number of values (atoms × width).
    pub fn values(&self) -> usize {
        match self {
            AtomArray::Real { data, .. } => data.len(),
            AtomArray::Int { data, .. } => data.len(),
            AtomArray::Bool { data, .. } => data.len(),
            AtomArray::Str { data, .. } => data.len(),
        }
    }

    /// Number of atoms the array covers.
    pub fn len(&self) -> usize {
        self.values().checked_div(self.width()).unwrap_or(0)
    }

    /// True when the array covers no atoms.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The real values, if this is a real array.
    pub fn as_real(&self) -> Option<&[f64]> {
        match self {
            AtomArray::Real { data, .. } => Some(data),
            _ => None,
        }
    }

    /// A copy holding only the atoms in `order` (in that order).
    pub fn select(&self, order: &[usize]) -> AtomArray {
        fn pick<T: Clone>(data: &[T], width: usize, order: &[usize]) -> Vec<T> {
            order.iter().flat_map(|&i| data[i * width..(i + 1) * width].iter().cloned()).collect()
        }
        match self {
            AtomArray::Real { width, data } => AtomArray::Real { width: *width, data: pick(data, *width, order) },
            AtomArray::Int { width, data } => AtomArray::Int { width: *width, data: pick(data, *width, order) },
            AtomArray::Bool { width, data } => AtomArray::Bool { width: *width, data: pick(data, *width, order) },
            AtomArray::Str { width, data } => AtomArray::Str { width: *width, data: pick(data, *width, order) },
        }
    }
}

/// A per-structure property: a target such as an energy, or metadata such as a source id.
#[derive(Debug, Clone, PartialEq)]
pub enum Property {
    /// A real number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A logical value.
    Bool(bool),
    /// A string.
    Str(String),
    /// An array of reals (e.g. a stress tensor, 9 values row-major, or frequencies).
    FloatArray(Vec<f64>),
    /// An array of integers.
    IntArray(Vec<i64>),
    /// An array of logical values.
    BoolArray(Vec<bool>),
}

impl Property {
    /// The value as a real number when it is one (integers are converted).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Property::Float(x) => Some(*x),
            Property::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

/// A molecule or crystal: atoms, positions, optional cell, and attached data.
///
/// Conventions: positions are Cartesian in Å; the cell's rows are the cell vectors;
/// `pbc[k]` says whether the structure repeats along cell vector k (a structure without a cell
/// has `pbc == [false; 3]`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Structure {
    /// A name: file name, QM9 id, or the extended-XYZ comment.
    pub name: String,
    /// Atomic numbers (1..=118).
    pub numbers: Vec<u8>,
    /// Cartesian positions in Å.
    pub positions: Vec<[f64; 3]>,
    /// Cell vectors as rows, in Å.
    pub cell: Option<Cell>,
    /// Periodicity along each cell vector.
    pub pbc: [bool; 3],
    /// Per-atom arrays other than species and positions (forces, charges, …), by name.
    pub atom_arrays: BTreeMap<String, AtomArray>,
    /// Per-structure properties (energies, targets, metadata), by name.
    pub properties: BTreeMap<String, Property>,
}

impl Structure {
    /// A validated, non-periodic structure.
    pub fn molecule(numbers: Vec<u8>, positions: Vec<[f64; 3]>) -> Result<Self> {
        let s = Structure { numbers, positions, ..Default::default() };
        s.validate()?;
        Ok(s)
    }

    /// A validated, periodic structure (periodic along the axes flagged in `pbc`).
    pub fn periodic(numbers: Vec<u8>, positions: Vec<[f64; 3]>, cell: Cell, pbc: [bool; 3]) -> Result<Self> {
        let s = Structure { numbers, positions, cell: Some(cell), pbc, ..Default::default() };
        s.validate()?;
        Ok(s)
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.numbers.len()
    }

    /// True for a structure without atoms.
    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    /// True when the structure repeats along at least one axis.
    pub fn is_periodic(&self) -> bool {
        self.cell.is_some() && self.pbc.iter().any(|&p| p)
    }

    /// Chemical symbols of the atoms.
    pub fn symbols(&self) -> Vec<&'static str> {
        self.numbers.iter().map(|&z| element::by_number(z).map_or("X", |e| e.symbol)).collect()
    }

    /// Hill-order chemical formula (C first, then H, then alphabetical; alphabetical without carbon).
    pub fn formula(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for s in self.symbols() {
            *counts.entry(s).or_default() += 1;
        }
        let mut out = String::new();
        let mut push = |sym: &str, n: usize| {
            out.push_str(sym);
            if n > 1 {
                out.push_str(&n.to_string());
            }
        };
        if let Some(c) = counts.remove("C") {
            push("C", c);
            if let Some(h) = counts.remove("H") {
                push("H", h);
            }
        }
        for (sym, n) in counts {
            push(sym, n);
        }
        out
    }

    /// A named real property (integers are converted), if present.
    pub fn property_f64(&self, name: &str) -> Option<f64> {
        self.properties.get(name).and_then(Property::as_f64)
    }

    /// `structure 'NAME'` (or `structure` when unnamed), the prefix of error messages.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            String::from("structure")
        } else {
            format!("structure '{}'", self.name)
        }
    }

    /// Checks the invariants: known elements, finite coordinates, per-atom arrays with exactly
    /// `width` values per atom, and a finite cell whose **periodic** rows are linearly independent
    /// (a slab may have a zero third vector, as in ASE).
    pub fn validate(&self) -> Result<()> {
        let n = self.numbers.len();
        let who = self.label();
        if self.positions.len() != n {
            return Err(Error::invalid(format!("{who}: {n} atomic numbers but {} positions", self.positions.len())));
        }
        if let Some(i) = self.numbers.iter().position(|&z| element::by_number(z).is_none()) {
            return Err(Error::invalid(format!("{who}: atom {i} has unknown atomic number {}", self.numbers[i])));
        }
        if let Some(i) = self.positions.iter().position(|p| p.iter().any(|x| !x.is_finite())) {
            return Err(Error::invalid(format!("{who}: atom {i} has a non-finite coordinate {:?}", self.positions[i])));
        }
        for (key, arr) in &self.atom_arrays {
            if arr.width() == 0 || arr.values() != n * arr.width() {
                return Err(Error::invalid(format!(
                    "{who}: per-atom array '{key}' has {} values, expected {n} atoms × {}",
                    arr.values(),
                    arr.width()
                )));
            }
        }
        match &self.cell {
            Some(cell) => {
                if cell.iter().flatten().any(|x| !x.is_finite()) {
                    return Err(Error::invalid(format!("{who}: the cell has a non-finite entry")));
                }
                if self.is_periodic() && periodic_basis(cell, self.pbc).is_none() {
                    return Err(Error::invalid(format!(
                        "{who}: the cell is singular along its periodic axes {:?}",
                        self.pbc
                    )));
                }
            }
            None if self.pbc.iter().any(|&p| p) => {
                return Err(Error::invalid(format!("{who}: periodic along {:?} but has no cell", self.pbc)));
            }
            None => {}
        }
        Ok(())
    }

    /// A copy with the atoms reordered: atom `k` of the result is atom `order[k]` of `self`.
    /// Per-atom arrays follow. Panics if an index is out of range.
    pub fn permuted(&self, order: &[usize]) -> Structure {
        Structure {
            numbers: order.iter().map(|&i| self.numbers[i]).collect(),
            positions: order.iter().map(|&i| self.positions[i]).collect(),
            atom_arrays: self.atom_arrays.iter().map(|(k, a)| (k.clone(), a.select(order))).collect(),
            ..self.clone()
        }
    }
}

/// Determinant of a 3×3 matrix (the signed cell volume when rows are cell vectors).
pub fn determinant(m: &Cell) -> f64 {
    crate::vec3::det(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_problem() {
        let err = Structure::molecule(vec![6, 1], vec![[0.0; 3], [f64::NAN, 0.0, 0.0]]).unwrap_err();
        assert!(err.to_string().contains("atom 1 has a non-finite coordinate"), "{err}");
        let err = Structure::molecule(vec![6, 0], vec![[0.0; 3], [1.0; 3]]).unwrap_err();
        assert!(err.to_string().contains("unknown atomic number 0"), "{err}");
        let err = Structure::molecule(vec![6], vec![]).unwrap_err();
        assert!(err.to_string().contains("1 atomic numbers but 0 positions"), "{err}");
        let flat = [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(Structure::periodic(vec![1], vec![[0.0; 3]], flat, [true; 3]).is_err());
        assert!(Structure::periodic(vec![1], vec![[0.0; 3]], flat, [true, true, false]).is_err());
        // A slab with a zero third vector (as ASE writes them) is fine when c is not periodic.
        let slab = [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]];
        assert!(Structure::periodic(vec![1], vec![[0.0; 3]], slab, [true, true, false]).is_ok());
        assert!(Structure::periodic(vec![1], vec![[0.0; 3]], slab, [true; 3]).is_err());
        let mut s = Structure::molecule(vec![1, 1], vec![[0.0; 3]; 2]).unwrap();
        s.atom_arrays.insert("f".into(), AtomArray::Real { width: 3, data: vec![0.0; 7] });
        assert!(s.validate().unwrap_err().to_string().contains("has 7 values, expected 2 atoms × 3"));
    }

    #[test]
    fn hill_formula_and_permutation() {
        let mut s = Structure::molecule(vec![8, 1, 6, 1, 1, 1], vec![[0.0; 3]; 6]).unwrap();
        assert_eq!(s.formula(), "CH4O");
        s.atom_arrays.insert("q".into(), AtomArray::Real { width: 1, data: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0] });
        let p = s.permuted(&[2, 0, 1, 3, 4, 5]);
        assert_eq!(p.numbers[..3], [6, 8, 1]);
        assert_eq!(p.atom_arrays["q"].as_real().unwrap()[..3], [2.0, 0.0, 1.0]);
        assert_eq!(Structure::molecule(vec![26, 8], vec![[0.0; 3]; 2]).unwrap().formula(), "FeO");
    }
}
