//! Irreducible representations of O(3) and their direct sums, with e3nn 0.6's conventions:
//!
//! - an [`Irrep`] is `(l, p)`, degree `l ≥ 0` and parity `p = ±1`, written `"1o"` (odd), `"2e"`
//!   (even) or `"1y"` (`p = (−1)^l`, the parity of the spherical harmonics);
//! - [`Irreps`] is a list of `(mul, irrep)`, written `"16x0e+8x1o"` (`mul` defaults to 1);
//! - irreps order by `(l, p)`, so `0o < 0e < 1o < 1e`;
//! - the memory layout of a feature vector is e3nn's **mul_ir**: the blocks follow the listed
//!   order, each a row-major `[mul, 2l + 1]` array (the `m` index fastest).

use std::fmt;
use std::str::FromStr;

use candle_core::{Error, Result};

/// Parity of an irrep: how it transforms under inversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Parity {
    /// `p = −1` (`"o"`); sorts first, as e3nn's `-1 < 1`.
    Odd,
    /// `p = +1` (`"e"`).
    Even,
}

impl Parity {
    /// `+1` or `−1`.
    pub fn sign(self) -> i32 {
        match self {
            Parity::Even => 1,
            Parity::Odd => -1,
        }
    }

    /// The parity of the product of two representations.
    pub fn times(self, other: Parity) -> Parity {
        if self == other {
            Parity::Even
        } else {
            Parity::Odd
        }
    }

    /// `(−1)^l`, the parity of the degree-`l` spherical harmonics.
    pub fn of_harmonics(l: u32) -> Parity {
        if l.is_multiple_of(2) {
            Parity::Even
        } else {
            Parity::Odd
        }
    }
}

/// An irreducible representation of O(3): degree `l` (dimension `2l + 1`) and parity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Irrep {
    /// Degree.
    pub l: u32,
    /// Parity.
    pub p: Parity,
}

impl Irrep {
    /// The irrep `(l, p)`.
    pub fn new(l: u32, p: Parity) -> Self {
        Self { l, p }
    }

    /// Dimension `2l + 1`.
    pub fn dim(self) -> usize {
        2 * self.l as usize + 1
    }

    /// Whether this is `0e`, the trivial representation (where biases and scalar activations live).
    pub fn is_scalar(self) -> bool {
        self.l == 0 && self.p == Parity::Even
    }

    /// The irreps in the tensor product `self ⊗ other`: `l` from `|l₁ − l₂|` to `l₁ + l₂`, parity
    /// `p₁ p₂`.
    pub fn times(self, other: Irrep) -> impl Iterator<Item = Irrep> {
        let p = self.p.times(other.p);
        (self.l.abs_diff(other.l)..=self.l + other.l).map(move |l| Irrep { l, p })
    }
}

impl fmt::Display for Irrep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.l, if self.p == Parity::Even { 'e' } else { 'o' })
    }
}

impl FromStr for Irrep {
    type Err = Error;

    /// `"1o"`, `"2e"`, `"3y"` (surrounding spaces allowed).
    fn from_str(s: &str) -> Result<Self> {
        let name = s.trim();
        let bad = || Error::Msg(format!("irrep `{s}`: expected a degree and e, o or y, as in `1o`, `2e` or `3y`"));
        let last = name.char_indices().last().map(|(i, _)| i).ok_or_else(bad)?;
        let (digits, kind) = name.split_at(last);
        let l: u32 = digits.parse().map_err(|_| bad())?;
        let p = match kind {
            "e" => Parity::Even,
            "o" => Parity::Odd,
            "y" => Parity::of_harmonics(l),
            _ => return Err(bad()),
        };
        Ok(Irrep { l, p })
    }
}

/// `mul` copies of `ir`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MulIr {
    /// Multiplicity (may be 0).
    pub mul: usize,
    /// The irrep.
    pub ir: Irrep,
}

impl MulIr {
    /// `mul · (2l + 1)`.
    pub fn dim(self) -> usize {
        self.mul * self.ir.dim()
    }
}

impl fmt::Display for MulIr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.mul, self.ir)
    }
}

/// A direct sum of irreps, `[(mul, irrep), …]` in the order given (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Irreps(pub Vec<MulIr>);

/// [`Irreps::sort`]'s result, as e3nn's `Irreps.sort()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sorted {
    /// The blocks ordered by irrep (stable: equal irreps keep their order).
    pub irreps: Irreps,
    /// `p[i]`: the new position of block `i`.
    pub p: Vec<usize>,
    /// `inv[k]`: the old position of the block now at `k`.
    pub inv: Vec<usize>,
}

impl Irreps {
    /// `[(mul, ir)]` from pairs.
    pub fn new(blocks: impl IntoIterator<Item = (usize, Irrep)>) -> Self {
        Irreps(blocks.into_iter().map(|(mul, ir)| MulIr { mul, ir }).collect())
    }

    /// `1x0e + 1x1o + 1x2e + … + 1x{lmax}` with the harmonics' parities (`p = −1`, e3nn's default)
    /// or all even (`p = +1`).
    pub fn spherical_harmonics(lmax: u32, p: Parity) -> Self {
        Irreps::new((0..=lmax).map(|l| {
            let parity = if p == Parity::Odd { Parity::of_harmonics(l) } else { Parity::Even };
            (1, Irrep::new(l, parity))
        }))
    }

    /// Total dimension `Σ mul · (2l + 1)`.
    pub fn dim(&self) -> usize {
        self.0.iter().map(|b| b.dim()).sum()
    }

    /// Number of irreps `Σ mul`.
    pub fn num_irreps(&self) -> usize {
        self.0.iter().map(|b| b.mul).sum()
    }

    /// The largest degree (`None` when empty).
    pub fn lmax(&self) -> Option<u32> {
        self.0.iter().map(|b| b.ir.l).max()
    }

    /// The blocks.
    pub fn iter(&self) -> std::slice::Iter<'_, MulIr> {
        self.0.iter()
    }

    /// The number of blocks.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no blocks.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The offset ranges of the blocks in a feature vector (mul_ir layout).
    pub fn slices(&self) -> Vec<std::ops::Range<usize>> {
        let mut start = 0;
        self.0
            .iter()
            .map(|b| {
                let range = start..start + b.dim();
                start = range.end;
                range
            })
            .collect()
    }

    /// The blocks ordered by irrep, with the permutation (e3nn's `sort()`).
    pub fn sort(&self) -> Sorted {
        let mut inv: Vec<usize> = (0..self.0.len()).collect();
        inv.sort_by_key(|&i| (self.0[i].ir, i));
        let mut p = vec![0; inv.len()];
        for (k, &i) in inv.iter().enumerate() {
            p[i] = k;
        }
        Sorted { irreps: Irreps(inv.iter().map(|&i| self.0[i]).collect()), p, inv }
    }

    /// Neighbouring blocks of equal irreps merged (not sorted; e3nn's `simplify()`).
    pub fn simplify(&self) -> Irreps {
        let mut out: Vec<MulIr> = Vec::with_capacity(self.0.len());
        for b in &self.0 {
            match out.last_mut() {
                Some(last) if last.ir == b.ir => last.mul += b.mul,
                _ => out.push(*b),
            }
        }
        Irreps(out)
    }

    /// Sorted, then simplified (e3nn's `regroup()`).
    pub fn regroup(&self) -> Irreps {
        self.sort().irreps.simplify()
    }
}

impl fmt::Display for Irreps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(MulIr::to_string).collect();
        write!(f, "{}", parts.join("+"))
    }
}

impl FromStr for Irreps {
    type Err = Error;

    /// `"16x0e+8x1o"`, `"0e + 2x1y"`, `""` (empty).
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().is_empty() {
            return Ok(Irreps::default());
        }
        s.split('+')
            .map(|part| {
                let part = part.trim();
                let (mul, ir) = match part.split_once('x') {
                    Some((mul, ir)) => (
                        mul.trim().parse::<usize>().map_err(|_| {
                            Error::Msg(format!("irreps `{s}`: `{part}` has no valid multiplicity before `x`"))
                        })?,
                        ir,
                    ),
                    None => (1, part),
                };
                let ir = ir.parse::<Irrep>().map_err(|e| Error::Msg(format!("irreps `{s}`: {e}")))?;
                Ok(MulIr { mul, ir })
            })
            .collect::<Result<Vec<_>>>()
            .map(Irreps)
    }
}

impl serde::Serialize for Irreps {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Irreps {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn irreps(s: &str) -> Irreps {
        s.parse().unwrap()
    }

    #[test]
    fn irreps_parse_print_and_measure_as_e3nn() {
        let x = irreps("16x0e + 8x1o+2e + 0x3y");
        assert_eq!(x.to_string(), "16x0e+8x1o+1x2e+0x3o");
        assert_eq!((x.dim(), x.num_irreps(), x.lmax()), (16 + 24 + 5, 25, Some(3)));
        assert_eq!(x.slices(), vec![0..16, 16..40, 40..45, 45..45]);
        assert_eq!("2y".parse::<Irrep>().unwrap(), Irrep::new(2, Parity::Even));
        assert_eq!(irreps(""), Irreps::default());
        assert_eq!(Irreps::spherical_harmonics(3, Parity::Odd), irreps("0e+1o+2e+3o"));
        assert_eq!(Irreps::spherical_harmonics(2, Parity::Even), irreps("0e+1e+2e"));
        for bad in ["1x", "ax1o", "1z", "x1o", "-1x0e", "1.5x0e", "o", "3xМ", "1é"] {
            // (The last two found by fuzzing: a multi-byte final character was split inside.)
            let err = bad.parse::<Irreps>().unwrap_err().to_string();
            assert!(err.contains(bad), "{bad}: {err}");
        }
        let json = serde_json::to_string(&x).unwrap();
        assert_eq!(json, "\"16x0e+8x1o+1x2e+0x3o\"");
        assert_eq!(serde_json::from_str::<Irreps>(&json).unwrap(), x);
    }

    #[test]
    fn sort_simplify_and_regroup_follow_e3nn() {
        // e3nn: Irreps("1e+0e+1o+0o+0e").sort() == ("0o+0e+0e+1o+1e", p=(4,1,3,0,2), inv=(3,1,4,2,0)).
        let s = irreps("1e+0e+1o+0o+0e").sort();
        assert_eq!(s.irreps, irreps("0o+0e+0e+1o+1e"));
        assert_eq!((s.p, s.inv), (vec![4, 1, 3, 0, 2], vec![3, 1, 4, 2, 0]));
        assert_eq!(irreps("1e+1e+0e+1e").simplify(), irreps("2x1e+1x0e+1x1e"));
        assert_eq!(irreps("1e+0e+1o+0o+0e").regroup(), irreps("0o+2x0e+1o+1e"));
        let products: Vec<Irrep> = "1o".parse::<Irrep>().unwrap().times("2e".parse().unwrap()).collect();
        assert_eq!(products, vec!["1o".parse().unwrap(), "2o".parse().unwrap(), "3o".parse().unwrap()]);
    }
}
