//! The search behind bond-order assignment and kekulisation: raise bond orders so that every
//! atom gains exactly its deficit of valence.

/// Upper bound on search steps, so that a pathological input ends the search instead of running
/// for ever (QM9 molecules need a few hundred).
const MAX_STEPS: usize = 2_000_000;

/// Enumerates every way to add `increment[k] ∈ 0..=max_increment[k]` to bond `k` (between
/// `bonds[k]`) such that the increments at each atom `a` sum to `deficit[a]`. `visit` sees each
/// solution and returns `false` to stop. Returns false when the step budget ran out.
pub(crate) fn distribute(
    deficit: &[u8],
    bonds: &[[usize; 2]],
    max_increment: &[u8],
    visit: &mut dyn FnMut(&[u8]) -> bool,
) -> bool {
    let mut last_bond = vec![None; deficit.len()];
    for (k, b) in bonds.iter().enumerate() {
        last_bond[b[0]] = Some(k);
        last_bond[b[1]] = Some(k);
    }
    if deficit.iter().zip(&last_bond).any(|(&d, l)| d > 0 && l.is_none()) {
        return true;
    }
    let mut search = Search {
        bonds,
        max_increment,
        last_bond,
        remaining: deficit.to_vec(),
        increments: vec![0; bonds.len()],
        steps: 0,
        visit,
    };
    search.step(0);
    search.steps <= MAX_STEPS
}

struct Search<'a> {
    bonds: &'a [[usize; 2]],
    max_increment: &'a [u8],
    last_bond: Vec<Option<usize>>,
    remaining: Vec<u8>,
    increments: Vec<u8>,
    steps: usize,
    visit: &'a mut dyn FnMut(&[u8]) -> bool,
}

impl Search<'_> {
    /// Decides bond `k` and the ones after it; returns false to stop the whole search.
    fn step(&mut self, k: usize) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return false;
        }
        let Some(&[a, b]) = self.bonds.get(k) else {
            return (self.visit)(&self.increments);
        };
        let most = self.max_increment[k].min(self.remaining[a]).min(self.remaining[b]);
        for inc in 0..=most {
            self.remaining[a] -= inc;
            self.remaining[b] -= inc;
            // An atom whose last bond this is must have reached its valence.
            let closed = |s: &Self, x: usize| s.last_bond[x] != Some(k) || s.remaining[x] == 0;
            let go_on = if closed(self, a) && closed(self, b) {
                self.increments[k] = inc;
                self.step(k + 1)
            } else {
                true
            };
            self.remaining[a] += inc;
            self.remaining[b] += inc;
            if !go_on {
                return false;
            }
        }
        self.increments[k] = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(deficit: &[u8], bonds: &[[usize; 2]], max: u8) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let maxes = vec![max; bonds.len()];
        assert!(distribute(deficit, bonds, &maxes, &mut |s| {
            out.push(s.to_vec());
            true
        }));
        out
    }

    #[test]
    fn finds_both_kekule_structures_of_a_hexagon() {
        let ring: Vec<[usize; 2]> = (0..6).map(|i| [i, (i + 1) % 6]).collect();
        let sols = all(&[1; 6], &ring, 2);
        assert_eq!(sols, vec![vec![0, 1, 0, 1, 0, 1], vec![1, 0, 1, 0, 1, 0]]);
    }

    #[test]
    fn triple_bonds_and_impossible_cases() {
        assert_eq!(all(&[2, 2], &[[0, 1]], 2), vec![vec![2]]); // HC≡CH skeleton
        assert!(all(&[2, 2], &[[0, 1]], 1).is_empty());
        assert!(all(&[1, 1, 1], &[[0, 1], [1, 2]], 2).is_empty());
        assert!(all(&[1, 0], &[], 2).is_empty());
    }
}
