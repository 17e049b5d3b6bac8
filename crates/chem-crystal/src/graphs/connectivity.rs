//! [`Connectivity`]: which pairs of atoms a periodic graph connects, and its text form.
//!
//! # Text form
//! | form | meaning |
//! |---|---|
//! | `radius:5.0` | every image closer than 5 Å (strict) |
//! | `knn:24` | the 24 nearest images, plus ties within [`DEFAULT_KNN_TOLERANCE`] Å of the 24th |
//! | `knn:24:1e-6` | the same with a tolerance of 10⁻⁶ Å |
//! | `voronoi` | every face of the Voronoi cell (non-degenerate faces, minimum area 0) |
//! | `voronoi:1e-6` | Voronoi faces with an area above 10⁻⁶ Å² |
//!
//! [`Display`](std::fmt::Display) writes this form back (numbers in Rust's `{:?}` notation, e.g.
//! `5.0`, `1e-6`; the default tolerance and a zero minimum area are left out), so parsing the
//! output gives the same value. Serde (de)serialises a `Connectivity` as this string.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The tolerance (Å) of `knn:<k>` without an explicit one: kgcnn's crystal preprocessors use 1e-9.
pub const DEFAULT_KNN_TOLERANCE: f64 = 1e-9;

const FORMS: &str = "expected `radius:<cutoff Å>`, `knn:<k>`, `knn:<k>:<tolerance Å>`, `voronoi` or \
                     `voronoi:<min ridge area Å²>`";

/// How a periodic graph connects atoms (see [`crate::graphs::periodic_edges`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connectivity {
    /// Every image j + S of every atom with `distance < cutoff` (Å) is a source of atom i.
    Radius {
        /// Cutoff in Å, finite and positive.
        cutoff: f64,
    },
    /// The k nearest images of each target, plus every further image whose distance is at most
    /// `d_k + tolerance` (d_k: distance of the k-th nearest), as kgcnn's `add_knn_bonds`.
    Knn {
        /// Number of nearest neighbours, at least 1.
        k: usize,
        /// Extra distance (Å, finite, ≥ 0) within which ties with the k-th neighbour are kept.
        tolerance: f64,
    },
    /// One edge per face of each atom's Voronoi cell, with the face area as edge feature; faces
    /// with `area ≤ min_area` are left out (kgcnn's `min_ridge_area`).
    Voronoi {
        /// Minimum face area in Å² (finite, ≥ 0); 0 keeps every non-degenerate face.
        min_area: f64,
    },
}

impl Connectivity {
    /// `knn:<k>` with the default tolerance.
    pub fn knn(k: usize) -> Self {
        Connectivity::Knn { k, tolerance: DEFAULT_KNN_TOLERANCE }
    }

    /// Checks the parameters: a finite positive cutoff, k ≥ 1, a finite non-negative tolerance
    /// and minimum area.
    pub fn validate(&self) -> Result<()> {
        let ok = match *self {
            Connectivity::Radius { cutoff } => cutoff.is_finite() && cutoff > 0.0,
            Connectivity::Knn { k, tolerance } => k >= 1 && tolerance.is_finite() && tolerance >= 0.0,
            Connectivity::Voronoi { min_area } => min_area.is_finite() && min_area >= 0.0,
        };
        if ok {
            return Ok(());
        }
        let rule = match self {
            Connectivity::Radius { .. } => "the cutoff must be finite and positive",
            Connectivity::Knn { .. } => "k must be at least 1 and the tolerance finite and non-negative",
            Connectivity::Voronoi { .. } => "the minimum area must be finite and non-negative",
        };
        Err(Error::invalid(format!("connectivity {self:?}: {rule}")))
    }
}

impl fmt::Display for Connectivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Connectivity::Radius { cutoff } => write!(f, "radius:{cutoff:?}"),
            Connectivity::Knn { k, tolerance } if tolerance == DEFAULT_KNN_TOLERANCE => write!(f, "knn:{k}"),
            Connectivity::Knn { k, tolerance } => write!(f, "knn:{k}:{tolerance:?}"),
            Connectivity::Voronoi { min_area: 0.0 } => write!(f, "voronoi"),
            Connectivity::Voronoi { min_area } => write!(f, "voronoi:{min_area:?}"),
        }
    }
}

impl FromStr for Connectivity {
    type Err = Error;

    /// Parses the text form (see the module docs) and validates the parameters.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: String| Error::invalid(format!("connectivity `{text}`: {why}; {FORMS}"));
        let number = |s: &str, what: &str| s.trim().parse::<f64>().map_err(|_| bad(format!("bad {what} `{s}`")));
        let parts: Vec<&str> = text.trim().split(':').collect();
        let c = match parts.as_slice() {
            ["radius", cutoff] => Connectivity::Radius { cutoff: number(cutoff, "cutoff")? },
            ["knn", k] | ["knn", k, _] => {
                let k = k.trim().parse::<usize>().map_err(|_| bad(format!("bad k `{k}`")))?;
                let tolerance = match parts.get(2) {
                    Some(t) => number(t, "tolerance")?,
                    None => DEFAULT_KNN_TOLERANCE,
                };
                Connectivity::Knn { k, tolerance }
            }
            ["voronoi"] => Connectivity::Voronoi { min_area: 0.0 },
            ["voronoi", area] => Connectivity::Voronoi { min_area: number(area, "minimum area")? },
            _ => return Err(bad("unknown form".into())),
        };
        c.validate().map_err(|e| bad(e.to_string()))?;
        Ok(c)
    }
}

impl serde::Serialize for Connectivity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Connectivity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let cases = [
            ("radius:5.0", Connectivity::Radius { cutoff: 5.0 }),
            ("radius:3", Connectivity::Radius { cutoff: 3.0 }),
            ("knn:24", Connectivity::knn(24)),
            ("knn:12:1e-6", Connectivity::Knn { k: 12, tolerance: 1e-6 }),
            ("knn:12:0", Connectivity::Knn { k: 12, tolerance: 0.0 }),
            ("voronoi", Connectivity::Voronoi { min_area: 0.0 }),
            ("voronoi:1e-6", Connectivity::Voronoi { min_area: 1e-6 }),
            (" voronoi:0.5 ", Connectivity::Voronoi { min_area: 0.5 }),
        ];
        for (text, want) in cases {
            let got: Connectivity = text.parse().unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string().parse::<Connectivity>().unwrap(), want);
        }
        assert_eq!(Connectivity::Radius { cutoff: 5.0 }.to_string(), "radius:5.0");
        assert_eq!(Connectivity::knn(24).to_string(), "knn:24");
        assert_eq!(Connectivity::Knn { k: 24, tolerance: 1e-6 }.to_string(), "knn:24:1e-6");
        assert_eq!(Connectivity::Voronoi { min_area: 0.0 }.to_string(), "voronoi");
        assert_eq!(Connectivity::Voronoi { min_area: 1e-6 }.to_string(), "voronoi:1e-6");
    }

    #[test]
    fn bad_strings_name_the_forms() {
        for text in [
            "",
            "radius",
            "radius:",
            "radius:-1",
            "radius:0",
            "radius:nan",
            "radius:inf",
            "knn:0",
            "knn:-3",
            "knn:2.5",
            "knn:12:-1e-9",
            "knn:12:nan",
            "knn:1:2:3",
            "voronoi:-1",
            "voronoi:x",
            "delaunay",
            "RADIUS:5",
        ] {
            let err = text.parse::<Connectivity>().unwrap_err().to_string();
            assert!(err.contains("radius:<cutoff Å>") && err.contains("voronoi"), "{text}: {err}");
        }
    }

    #[test]
    fn validate_rejects_bad_parameters() {
        assert!(Connectivity::Radius { cutoff: f64::NAN }.validate().is_err());
        assert!(Connectivity::Knn { k: 0, tolerance: 0.0 }.validate().is_err());
        assert!(Connectivity::Knn { k: 3, tolerance: f64::INFINITY }.validate().is_err());
        assert!(Connectivity::Voronoi { min_area: -0.1 }.validate().is_err());
        assert!(Connectivity::knn(1).validate().is_ok());
    }

    #[test]
    fn serde_uses_the_text_form() {
        let c = Connectivity::Knn { k: 8, tolerance: 1e-3 };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, "\"knn:8:0.001\"");
        assert_eq!(serde_json::from_str::<Connectivity>(&json).unwrap(), c);
        assert!(serde_json::from_str::<Connectivity>("\"knn:0\"").is_err());
        assert!(serde_json::from_str::<Connectivity>("12").is_err());
    }
}
