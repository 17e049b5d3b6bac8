//! The 19 QM9 regression targets in PyTorch Geometric's order and units, the atom reference
//! energies, and the conversion from the raw file's 15 properties.

use crate::error::{Error, Result};

/// Hartree → eV, as in PyG (`HAR2EV`).
pub const HARTREE_TO_EV: f64 = 27.211386246;

/// One QM9 target, numbered as in PyG's `QM9` dataset (`data.y[:, target as usize]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qm9Target {
    /// Dipole moment μ (D).
    Mu = 0,
    /// Isotropic polarizability α (a₀³).
    Alpha,
    /// HOMO energy (eV).
    Homo,
    /// LUMO energy (eV).
    Lumo,
    /// HOMO–LUMO gap (eV).
    Gap,
    /// Electronic spatial extent ⟨R²⟩ (a₀²).
    R2,
    /// Zero-point vibrational energy (eV).
    Zpve,
    /// Total internal energy at 0 K (eV).
    U0,
    /// Total internal energy at 298.15 K (eV).
    U,
    /// Total enthalpy at 298.15 K (eV).
    H,
    /// Total free energy at 298.15 K (eV).
    G,
    /// Heat capacity at 298.15 K (cal/mol·K).
    Cv,
    /// Atomization energy at 0 K: U0 minus the atom references (eV).
    U0Atom,
    /// Atomization energy at 298.15 K (eV).
    UAtom,
    /// Atomization enthalpy at 298.15 K (eV).
    HAtom,
    /// Atomization free energy at 298.15 K (eV).
    GAtom,
    /// Rotational constant A (GHz).
    A,
    /// Rotational constant B (GHz).
    B,
    /// Rotational constant C (GHz).
    C,
}

impl Qm9Target {
    /// All targets in PyG order.
    pub const ALL: [Qm9Target; 19] = [
        Self::Mu,
        Self::Alpha,
        Self::Homo,
        Self::Lumo,
        Self::Gap,
        Self::R2,
        Self::Zpve,
        Self::U0,
        Self::U,
        Self::H,
        Self::G,
        Self::Cv,
        Self::U0Atom,
        Self::UAtom,
        Self::HAtom,
        Self::GAtom,
        Self::A,
        Self::B,
        Self::C,
    ];

    /// Column index in PyG's `y`.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used on the command line and in files (`"U0"`, `"gap"`, `"U0_atom"`, …).
    pub fn name(self) -> &'static str {
        NAMES[self.index()]
    }

    /// The unit of the stored values.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Mu => "D",
            Self::Alpha => "a0^3",
            Self::R2 => "a0^2",
            Self::Cv => "cal/(mol K)",
            Self::A | Self::B | Self::C => "GHz",
            _ => "eV",
        }
    }

    /// Chemical accuracy in the target's unit (Faber et al. 2017, Gilmer et al. 2017 Table 5);
    /// `None` for the rotational constants, which have none.
    pub fn chemical_accuracy(self) -> Option<f64> {
        match self {
            Self::Mu => Some(0.1),
            Self::Alpha => Some(0.1),
            Self::Homo | Self::Lumo | Self::Gap => Some(0.043),
            Self::R2 => Some(1.2),
            Self::Zpve => Some(0.0012),
            Self::Cv => Some(0.050),
            Self::A | Self::B | Self::C => None,
            _ => Some(0.043),
        }
    }

    /// Parses a target name, case-insensitively; also accepts the PyG column number.
    pub fn from_name(name: &str) -> Result<Self> {
        if let Ok(i) = name.parse::<usize>() {
            return Self::ALL
                .get(i)
                .copied()
                .ok_or_else(|| Error::invalid(format!("QM9 has 19 targets (0..=18), not {i}")));
        }
        let key = name.to_ascii_lowercase().replace(['-', ' '], "_");
        NAMES
            .iter()
            .position(|n| n.to_ascii_lowercase() == key)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| Error::invalid(format!("unknown QM9 target '{name}'; known: {}", NAMES.join(", "))))
    }
}

const NAMES: [&str; 19] = [
    "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv", "U0_atom", "U_atom", "H_atom",
    "G_atom", "A", "B", "C",
];

/// Elements that occur in QM9, in the order of the atom-reference table.
pub const ATOMREF_ELEMENTS: [u8; 5] = [1, 6, 7, 8, 9];

/// Atom reference energies from QM9's `atomref.txt` (Hartree), rows H, C, N, O, F and columns
/// U0, U, H, G. (ZPVE references are 0, the Cv reference is 2.981 cal/mol·K for every element.)
/// PyG's own eV table was converted with a slightly different factor (1.6·10⁻⁶ relative).
pub const ATOMREF_HARTREE: [[f64; 4]; 5] = [
    [-0.500273, -0.498857, -0.497912, -0.510927],
    [-37.846772, -37.845355, -37.844411, -37.861317],
    [-54.583861, -54.582445, -54.581501, -54.598897],
    [-75.064579, -75.063163, -75.062219, -75.079532],
    [-99.718730, -99.717314, -99.716370, -99.733544],
];

/// The 15 properties of a QM9 file's `gdb` line, in file order and file units:
/// A, B, C (GHz), μ (D), α (a₀³), HOMO, LUMO, gap (Ha), ⟨R²⟩ (a₀²), ZPVE, U0, U, H, G (Ha), Cv (cal/mol·K).
pub type RawProperties = [f64; 15];

/// Names of [`RawProperties`] in file order.
pub const RAW_PROPERTY_NAMES: [&str; 15] =
    ["A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv"];

/// The 19 targets (PyG order and units) of a molecule with atomic numbers `numbers` and raw
/// properties `raw`. Atomization energies subtract [`ATOMREF_HARTREE`] before converting to eV.
/// Fails for an element outside H, C, N, O, F.
pub fn targets_from_raw(numbers: &[u8], raw: &RawProperties) -> Result<[f64; 19]> {
    let mut refs = [0.0; 4];
    for &z in numbers {
        let row = ATOMREF_ELEMENTS
            .iter()
            .position(|&e| e == z)
            .ok_or_else(|| Error::invalid(format!("QM9 atom references exist for H, C, N, O, F only, not Z = {z}")))?;
        for (acc, r) in refs.iter_mut().zip(ATOMREF_HARTREE[row]) {
            *acc += r;
        }
    }
    let [a, b, c, mu, alpha, homo, lumo, gap, r2, zpve, u0, u, h, g, cv] = *raw;
    let ev = |x: f64| x * HARTREE_TO_EV;
    Ok([
        mu,
        alpha,
        ev(homo),
        ev(lumo),
        ev(gap),
        r2,
        ev(zpve),
        ev(u0),
        ev(u),
        ev(h),
        ev(g),
        cv,
        ev(u0 - refs[0]),
        ev(u - refs[1]),
        ev(h - refs[2]),
        ev(g - refs[3]),
        a,
        b,
        c,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_units() {
        for t in Qm9Target::ALL {
            assert_eq!(Qm9Target::from_name(t.name()).unwrap(), t);
            assert_eq!(Qm9Target::from_name(&t.index().to_string()).unwrap(), t);
        }
        assert_eq!(Qm9Target::from_name("u0").unwrap(), Qm9Target::U0);
        assert_eq!(Qm9Target::from_name("U0-atom").unwrap(), Qm9Target::U0Atom);
        assert!(Qm9Target::from_name("omega1").unwrap_err().to_string().contains("known: mu"));
        assert_eq!(Qm9Target::Gap.unit(), "eV");
        assert_eq!(Qm9Target::U0.chemical_accuracy(), Some(0.043));
    }

    #[test]
    fn methane_targets_match_pyg() {
        // dsgdb9nsd_000001 (CH4); PyG's QM9[0].y: U0 = -1101.4878 eV, U0_atom = -17.1720 eV, gap = 13.7363 eV.
        let raw = [
            157.7118, 157.70997, 157.70699, 0.0, 13.21, -0.3877, 0.1171, 0.5048, 35.3641, 0.044749, -40.47893,
            -40.476062, -40.475117, -40.498597, 6.469,
        ];
        let y = targets_from_raw(&[6, 1, 1, 1, 1], &raw).unwrap();
        assert!((y[Qm9Target::U0.index()] - -1101.4878).abs() < 1e-3);
        assert!((y[Qm9Target::U0Atom.index()] - -17.1720).abs() < 1e-3);
        assert!((y[Qm9Target::Gap.index()] - 13.7363).abs() < 1e-3);
        assert_eq!(y[Qm9Target::A.index()], 157.7118);
        assert!(targets_from_raw(&[6, 17], &raw).is_err());
    }
}
