//! Fractional coordinates as pymatgen's `CifParser` reads them (`_sanitize_data`, `str2float`): a
//! coordinate `x` as written with `|x / f − 1| ≤ frac_tolerance` for `f` = 1/3 or 2/3
//! (`important_fracs`) is exactly `f`, and `.` is 0. Both with a warning, as pymatgen's.

use super::tokens::Token;
use super::Warning;
use crate::error::Result;

/// The fractions pymatgen's `CifParser` snaps coordinates to (`important_fracs`).
const IMPORTANT_FRACTIONS: [f64; 2] = [1.0 / 3.0, 2.0 / 3.0];
/// How many site labels a warning names.
const NAMED: usize = 5;

/// The coordinates of one `_atom_site_` loop, read one at a time, and what the warnings need.
pub(super) struct Coordinates {
    tolerance: f64,
    /// Sites with a `.` coordinate, and the first one's line.
    dots: Vec<String>,
    dot_line: Option<usize>,
    /// The number of coordinates snapped, their sites, and the first one's line.
    snaps: usize,
    snapped_sites: Vec<String>,
    snap_line: Option<usize>,
}

impl Coordinates {
    /// Snapping within `tolerance` ([`ReadOptions::fraction_tolerance`](crate::io::ReadOptions::fraction_tolerance); 0: none).
    pub fn new(tolerance: f64) -> Self {
        Coordinates {
            tolerance,
            dots: Vec::new(),
            dot_line: None,
            snaps: 0,
            snapped_sites: Vec::new(),
            snap_line: None,
        }
    }

    /// The coordinate `value` of site `site`: 0 for a bare `.`, else `number(value)` snapped.
    pub fn read(
        &mut self,
        value: &Token<'_>,
        site: &str,
        number: impl FnOnce(&Token<'_>) -> Result<f64>,
    ) -> Result<f64> {
        if value.is_missing() && value.text == "." {
            note(&mut self.dots, &mut self.dot_line, site, value.line);
            return Ok(0.0);
        }
        let x = number(value)?;
        Ok(match snapped(x, self.tolerance) {
            Some(fraction) => {
                self.snaps += 1;
                note(&mut self.snapped_sites, &mut self.snap_line, site, value.line);
                fraction
            }
            None => x,
        })
    }

    /// The warnings: one for the `.` coordinates and one for the snapped ones, at the first one's line.
    pub fn warnings(self) -> Vec<Warning> {
        let dots = self.dot_line.map(|line| {
            let sites = named(&self.dots);
            (line, format!("fractional coordinates given as '.' read as 0, as pymatgen does (sites {sites})"))
        });
        let snaps = self.snap_line.map(|line| {
            let (n, tolerance, sites) = (self.snaps, self.tolerance, named(&self.snapped_sites));
            let message = format!(
                "{n} fractional coordinates within {tolerance:e} (relative) of 1/3 or 2/3 read as exactly 1/3 or \
                 2/3, as pymatgen does (sites {sites})"
            );
            (line, message)
        });
        dots.into_iter().chain(snaps).collect()
    }
}

/// Adds `site` to `sites` (once per run) and keeps the first `line`.
fn note(sites: &mut Vec<String>, first_line: &mut Option<usize>, site: &str, line: usize) {
    if sites.last().map(String::as_str) != Some(site) {
        sites.push(site.to_owned());
    }
    first_line.get_or_insert(line);
}

/// The fraction of [`IMPORTANT_FRACTIONS`] that pymatgen's `CifParser` replaces the coordinate `x`
/// (as written, before wrapping) with: the one with `|x / f − 1| ≤ tolerance` (`math.isclose(x / f,
/// 1, abs_tol=frac_tolerance, rel_tol=0)`; with pymatgen's 10⁻⁴ within 3.3·10⁻⁵ of 1/3 and 6.7·10⁻⁵
/// of 2/3). None for a tolerance of 0.
fn snapped(x: f64, tolerance: f64) -> Option<f64> {
    if tolerance == 0.0 {
        return None;
    }
    IMPORTANT_FRACTIONS.into_iter().find(|f| {
        let ratio = x / f;
        ratio == 1.0 || (1.0 - ratio).abs() <= tolerance
    })
}

/// The first [`NAMED`] of `labels`, and how many there are in all beyond them.
fn named(labels: &[String]) -> String {
    let mut text = labels.iter().take(NAMED).cloned().collect::<Vec<_>>().join(", ");
    if labels.len() > NAMED {
        text.push_str(&format!(" … ({} in all)", labels.len()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    #[test]
    fn thirds_are_snapped_as_pymatgen_snaps_them() {
        let (third, two_thirds) = (1.0 / 3.0, 2.0 / 3.0);
        for (x, expected) in [
            (0.3333, Some(third)),
            (0.33333333, Some(third)),
            (0.33336, Some(third)),
            (0.6667, Some(two_thirds)),
            (0.6666, Some(two_thirds)),
            (0.666733, Some(two_thirds)),
            (1.0 / 3.0, Some(third)),
            (0.3334, None),
            (0.333367, None),
            (0.667, None),
            (-0.33333, None),
            (1.33333, None),
            (0.16667, None),
            (0.0, None),
        ] {
            assert_eq!(snapped(x, 1e-4), expected, "{x}");
        }
        assert_eq!(snapped(0.3333, 1e-3), Some(third));
        assert_eq!(snapped(0.3333, 1e-5), None);
        assert_eq!(snapped(1.0 / 3.0, 0.0), None);
    }

    #[test]
    fn warnings_count_and_name_the_sites() {
        let tokens = tokenize("0.3333 0.6667 . 0.5 0.33333 . .", &mut vec![]).unwrap();
        let mut c = Coordinates::new(1e-4);
        let sites = ["A", "A", "A", "B", "B", "C", "D"];
        let read: Vec<f64> = tokens
            .iter()
            .zip(sites)
            .map(|(t, site)| c.read(t, site, |t| Ok(t.text.parse().unwrap())).unwrap())
            .collect();
        assert_eq!(read, [1.0 / 3.0, 2.0 / 3.0, 0.0, 0.5, 1.0 / 3.0, 0.0, 0.0]);
        let warnings = c.warnings();
        assert_eq!(warnings.len(), 2);
        assert_eq!(warnings[0].1, "fractional coordinates given as '.' read as 0, as pymatgen does (sites A, C, D)");
        assert!(warnings[1].1.starts_with("3 fractional coordinates within 1e-4 (relative)"), "{}", warnings[1].1);
        assert!(warnings[1].1.ends_with("(sites A, B)"), "{}", warnings[1].1);
        assert!(Coordinates::new(0.0).warnings().is_empty());
    }
}
