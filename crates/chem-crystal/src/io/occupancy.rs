//! The partial-occupancy policy, in one place for every reader: which occupancies are valid, which
//! count as partial, and what [`PartialOccupancy`] does with positions shared by partial sites.

use super::options::PartialOccupancy;

/// Occupancies within this of 1 count as full (files write `0.9999` or `1.0001` for rounding).
pub(crate) const FULL_TOLERANCE: f64 = 1e-3;

/// How many disordered positions an error lists before summarising the rest.
const LISTED: usize = 8;

/// Errors unless `0 < occupancy ≤ 1` (up to [`FULL_TOLERANCE`]).
pub(crate) fn check_occupancy(occupancy: f64) -> Result<(), String> {
    if occupancy.is_finite() && occupancy > 0.0 && occupancy <= 1.0 + FULL_TOLERANCE {
        Ok(())
    } else {
        Err(format!("occupancy {occupancy} must lie in (0, 1]"))
    }
}

/// True for an occupancy clearly below 1.
pub(crate) fn is_partial(occupancy: f64) -> bool {
    occupancy < 1.0 - FULL_TOLERANCE
}

/// One candidate at a disordered position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    /// Short name, e.g. the CIF label `Fe1` or `site 3 Fe`.
    pub name: String,
    /// Where it was read, e.g. `line 30`; empty when the name says it.
    pub place: String,
    /// Its occupancy.
    pub occupancy: f64,
}

/// The outcome of [`resolve`]: the member kept at each position and a description of the disorder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    /// Index of the kept member within each group.
    pub keep: Vec<usize>,
    /// `"Fe1 0.6 + Co1 0.4 → Fe1; O2 0.5 → O2"` (each distinct position pattern once).
    pub disorder: String,
}

/// Applies `policy` to positions holding partially occupied members (`groups`, each non-empty).
/// [`PartialOccupancy::Error`] fails with a message listing them; [`PartialOccupancy::Majority`]
/// keeps the member with the largest occupancy (the first on ties).
pub(crate) fn resolve(groups: &[Vec<Member>], policy: PartialOccupancy) -> Result<Resolved, String> {
    let mut patterns: Vec<String> = Vec::new();
    let mut keep = Vec::with_capacity(groups.len());
    for group in groups {
        let mut best = 0;
        for (k, m) in group.iter().enumerate() {
            if m.occupancy > group[best].occupancy {
                best = k;
            }
        }
        keep.push(best);
        let shown = describe(group, policy == PartialOccupancy::Error);
        let pattern = match policy {
            PartialOccupancy::Error => shown,
            PartialOccupancy::Majority => format!("{shown} → {}", group[best].name),
        };
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }
    match policy {
        PartialOccupancy::Majority => Ok(Resolved { keep, disorder: patterns.join("; ") }),
        PartialOccupancy::Error => {
            let more = patterns.len().saturating_sub(LISTED);
            let mut listed = patterns.into_iter().take(LISTED).collect::<Vec<_>>().join("; ");
            if more > 0 {
                listed.push_str(&format!("; and {more} more"));
            }
            Err(format!(
                "partially occupied sites (name, occupancy): {listed}. To read them anyway, use \
                 ReadOptions (CifOptions) with partial_occupancy: PartialOccupancy::Majority, which keeps \
                 the species with the largest occupancy at each position and records it in the \
                 \"occupancy\" array"
            ))
        }
    }
}

/// `"Fe1 (line 30) 0.6 + Co1 (line 31) 0.4"`, each distinct member once.
fn describe(group: &[Member], with_place: bool) -> String {
    let mut seen: Vec<&str> = Vec::new();
    let mut parts = Vec::new();
    for m in group {
        if seen.contains(&m.name.as_str()) {
            continue;
        }
        seen.push(&m.name);
        if with_place && !m.place.is_empty() {
            parts.push(format!("{} ({}) {}", m.name, m.place, m.occupancy));
        } else {
            parts.push(format!("{} {}", m.name, m.occupancy));
        }
    }
    parts.join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, occupancy: f64) -> Member {
        Member { name: name.into(), place: format!("line {}", name.len()), occupancy }
    }

    #[test]
    fn majority_keeps_the_largest_and_describes() {
        let groups = vec![
            vec![member("Fe1", 0.4), member("Co1", 0.6)],
            vec![member("O2", 0.5), member("O2", 0.5)],
            vec![member("Fe1", 0.4), member("Co1", 0.6)],
        ];
        let r = resolve(&groups, PartialOccupancy::Majority).unwrap();
        assert_eq!(r.keep, vec![1, 0, 1]);
        assert_eq!(r.disorder, "Fe1 0.4 + Co1 0.6 → Co1; O2 0.5 → O2");
    }

    #[test]
    fn error_lists_sites_and_the_remedy() {
        let groups: Vec<Vec<Member>> = (0..10).map(|k| vec![member(&format!("X{k}"), 0.5)]).collect();
        let e = resolve(&groups, PartialOccupancy::Error).unwrap_err();
        assert!(e.contains("X0 (line 2) 0.5; X1 (line 2) 0.5"), "{e}");
        assert!(e.contains("and 2 more"), "{e}");
        assert!(e.contains("PartialOccupancy::Majority"), "{e}");
    }

    #[test]
    fn occupancy_range() {
        assert!(check_occupancy(1.0005).is_ok());
        assert!(check_occupancy(0.0).is_err());
        assert!(check_occupancy(1.5).is_err());
        assert!(check_occupancy(f64::NAN).is_err());
        assert!(is_partial(0.5) && !is_partial(0.9995));
    }
}
