//! [`ReadOptions`]: the tolerances and the partial-occupancy policy shared by every reader.

use crate::error::{Error, Result};

/// What a reader does with partially occupied sites (occupancy below 1, several species sharing a
/// position, or vacancies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartialOccupancy {
    /// Refuse the structure with an error listing the disordered sites (the default).
    #[default]
    Error,
    /// Keep, at each position, the species with the largest occupancy (the first in file order on
    /// ties). The kept sites' occupancies go into the per-atom `"occupancy"` array and the affected
    /// sites are listed in the `"disorder"` property, so nothing is dropped silently.
    Majority,
}

/// Options of the crystal readers. [`Default`] gives `min_distance = 0.5` Å,
/// `merge_tolerance = 0.01` Å, `fraction_tolerance = 10⁻⁴` and [`PartialOccupancy::Error`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadOptions {
    /// Two atoms closer than this (Å, periodic minimum-image distance) overlap, which is an error
    /// (except for partially occupied sites sharing a position). 0 disables the check.
    pub min_distance: f64,
    /// CIF only: symmetry images of one site closer than this (Å, periodic distance) are the same
    /// atom and are merged. 0.01 Å covers coordinates rounded to three decimals in cells up to
    /// 10 Å (and to four decimals up to 100 Å), e.g. `0.1667` for 1/6; pymatgen's equivalent is
    /// 10⁻⁴ in fractional units (10⁻³ Å in a 10 Å cell), ASE's 10⁻³ in fractional units.
    pub merge_tolerance: f64,
    /// CIF only: pymatgen's `CifParser(frac_tolerance=…)`. A fractional coordinate `x` as written
    /// with `|x / f − 1| ≤ fraction_tolerance` for `f` = 1/3 or 2/3 is read as exactly `f`, with a
    /// warning (`0.3333`, `0.66667`, `0.33333333` in hexagonal cells; pymatgen's default 10⁻⁴
    /// moves a coordinate by at most 6.7·10⁻⁵). Without it, kNN distances that are equal in the
    /// crystal differ by ~10⁻⁸ Å and kNN shells are cut unlike pymatgen's. 0 reads coordinates as
    /// written.
    pub fraction_tolerance: f64,
    /// What to do with partially occupied sites.
    pub partial_occupancy: PartialOccupancy,
}

/// The options of the CIF reader (the same as every reader's).
pub type CifOptions = ReadOptions;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            min_distance: 0.5,
            merge_tolerance: 0.01,
            fraction_tolerance: 1e-4,
            partial_occupancy: PartialOccupancy::Error,
        }
    }
}

impl ReadOptions {
    /// Sets [`ReadOptions::partial_occupancy`].
    pub fn with_partial_occupancy(mut self, policy: PartialOccupancy) -> Self {
        self.partial_occupancy = policy;
        self
    }

    /// Sets [`ReadOptions::min_distance`].
    pub fn with_min_distance(mut self, min_distance: f64) -> Self {
        self.min_distance = min_distance;
        self
    }

    /// Sets [`ReadOptions::merge_tolerance`].
    pub fn with_merge_tolerance(mut self, merge_tolerance: f64) -> Self {
        self.merge_tolerance = merge_tolerance;
        self
    }

    /// Sets [`ReadOptions::fraction_tolerance`].
    pub fn with_fraction_tolerance(mut self, fraction_tolerance: f64) -> Self {
        self.fraction_tolerance = fraction_tolerance;
        self
    }

    /// Errors unless the tolerances are finite and non-negative.
    pub fn check(&self) -> Result<()> {
        for (name, x) in [
            ("min_distance", self.min_distance),
            ("merge_tolerance", self.merge_tolerance),
            ("fraction_tolerance", self.fraction_tolerance),
        ] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(Error::invalid(format!("ReadOptions::{name} must be finite and non-negative, got {x}")));
            }
        }
        Ok(())
    }
}
