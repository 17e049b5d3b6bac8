//! Valence rules for the supported elements (H, B, C, N, O, F).

/// Total valences (sum of bond orders, hydrogens included) allowed for element `z` with formal
/// charge `charge`; empty for unsupported combinations.
pub(crate) fn valences(z: u8, charge: i8) -> &'static [u8] {
    match (z, charge) {
        (1, 0) => &[1],
        (5, 0) => &[3],
        (6, 0) => &[4],
        (6, -1 | 1) => &[3],
        (7, 0) => &[3],
        (7, 1) => &[4],
        (7, -1) => &[2],
        (8, 0) => &[2],
        (8, -1) => &[1],
        (8, 1) => &[3],
        (9, 0) => &[1],
        _ => &[],
    }
}

/// The valence of `z` with `charge`, if the combination is supported.
pub(crate) fn valence(z: u8, charge: i8) -> Option<u8> {
    valences(z, charge).first().copied()
}

/// Formal charges, other than 0, that bond perception may give element `z`, in order of preference.
pub(crate) fn charge_options(z: u8) -> &'static [i8] {
    match z {
        6 => &[-1],
        7 => &[1, -1],
        8 => &[-1, 1],
        _ => &[],
    }
}

/// Number of valence electrons of the neutral atom.
pub(crate) fn valence_electrons(z: u8) -> u8 {
    match z {
        1 => 1,
        5 => 3,
        6 => 4,
        7 => 5,
        8 => 6,
        9 => 7,
        _ => 0,
    }
}

/// Lone pairs of an atom with the given charge and total valence (bond orders plus hydrogens).
pub(crate) fn lone_pairs(z: u8, charge: i8, total_valence: u8) -> u8 {
    let free = i16::from(valence_electrons(z)) - i16::from(charge) - i16::from(total_valence);
    u8::try_from(free.max(0) / 2).unwrap_or(0)
}
