//! Symmetry operations written as coordinate triplets (`x,y,z`, `-y+1/2, x-y, z+0.25`, `1/2+X`).

use crate::symmetry::SymOp;

/// Parses a triplet such as `-y+1/2, x-y, z+0.25` (spaces, upper case and `*` allowed). `Err`
/// holds what is wrong.
pub(super) fn parse_symop(text: &str) -> Result<SymOp, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_lowercase();
    let parts: Vec<&str> = compact.split(',').collect();
    if parts.len() != 3 {
        return Err(format!(
            "symmetry operation '{}' must have three comma-separated parts, like 'x, y, z'",
            super::shown(text)
        ));
    }
    let mut op = SymOp { rotation: [[0; 3]; 3], translation: [0.0; 3] };
    for (i, part) in parts.iter().enumerate() {
        let (row, t) = parse_component(part)
            .map_err(|m| format!("symmetry operation '{}', part {}: {m}", super::shown(text), i + 1))?;
        op.rotation[i] = row;
        if !t.is_finite() {
            return Err(format!(
                "symmetry operation '{}', part {}: the translation is not finite",
                super::shown(text),
                i + 1
            ));
        }
        op.translation[i] = t - t.floor();
    }
    let r = op.rotation.map(|row| row.map(i64::from));
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    if det.abs() != 1 {
        return Err(format!(
            "symmetry operation '{}' has a rotation part with determinant {det}, not ±1",
            super::shown(text)
        ));
    }
    Ok(op)
}

/// One part: a sum of signed terms, each `x`/`y`/`z` with an optional integer coefficient
/// (`2x`, `2*x`) or a number (`1/2`, `0.25`).
fn parse_component(part: &str) -> Result<([i32; 3], f64), String> {
    if part.is_empty() {
        return Err("empty".into());
    }
    let b = part.as_bytes();
    let mut row = [0i32; 3];
    let mut t = 0.0;
    let mut k = 0;
    while k < b.len() {
        let sign = match b[k] {
            b'+' => 1.0,
            b'-' => -1.0,
            _ if k == 0 => 1.0,
            c => return Err(format!("expected + or - before '{}'", c as char)),
        };
        if matches!(b[k], b'+' | b'-') {
            k += 1;
        }
        let number_start = k;
        while k < b.len() && (b[k].is_ascii_digit() || b[k] == b'.' || b[k] == b'/') {
            k += 1;
        }
        let number = &part[number_start..k];
        if k < b.len() && b[k] == b'*' && !number.is_empty() {
            k += 1;
        }
        let axis = match b.get(k) {
            Some(b'x') => Some(0),
            Some(b'y') => Some(1),
            Some(b'z') => Some(2),
            _ => None,
        };
        if axis.is_some() {
            k += 1;
        }
        let value = if number.is_empty() { None } else { Some(parse_fraction(number)?) };
        match (axis, value) {
            (Some(a), v) => {
                let c = sign * v.unwrap_or(1.0);
                if c.fract() != 0.0 || c.abs() > 3.0 {
                    return Err(format!("coefficient {c} of {} is not an integer from -3 to 3", ['x', 'y', 'z'][a]));
                }
                row[a] += c as i32;
            }
            (None, Some(v)) => t += sign * v,
            (None, None) => {
                return Err(match b.get(k) {
                    Some(&c) => format!("unexpected '{}'", c as char),
                    None => "ends with a sign".into(),
                })
            }
        }
    }
    Ok((row, t))
}

/// `1/2`, `0.25`, `3`.
fn parse_fraction(s: &str) -> Result<f64, String> {
    let number = |x: &str| -> Result<f64, String> {
        let ok = !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit() || c == b'.') && x.bytes().any(|c| c != b'.');
        x.parse::<f64>().ok().filter(|x| ok && x.is_finite()).ok_or_else(|| format!("'{s}' is not a number"))
    };
    match s.split_once('/') {
        Some((n, d)) => {
            let d = number(d)?;
            if d == 0.0 {
                return Err(format!("'{s}' divides by zero"));
            }
            Ok(number(n)? / d)
        }
        None => number(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplets() {
        let op = parse_symop("-y+1/2, x-y, z+0.25").unwrap();
        assert_eq!(op.rotation, [[0, -1, 0], [1, -1, 0], [0, 0, 1]]);
        assert_eq!(op.translation, [0.5, 0.0, 0.25]);
        assert_eq!(parse_symop("x,y,z").unwrap(), SymOp::IDENTITY);
        assert_eq!(parse_symop(" X , Y , Z ").unwrap(), SymOp::IDENTITY);
        let op = parse_symop("1/2+x,-z-1/4,+y").unwrap();
        assert_eq!(op.rotation, [[1, 0, 0], [0, 0, -1], [0, 1, 0]]);
        assert_eq!(op.translation, [0.5, 0.75, 0.0]);
        assert_eq!(op.apply(&[0.1, 0.2, 0.3]), [0.6, -0.3 + 0.75, 0.2]);
        assert!(parse_symop("x,y,z").unwrap().same_modulo_lattice(&parse_symop("x+1,y,z-2").unwrap()));
    }

    #[test]
    fn written_operations_read_back() {
        for text in ["-y+1/2, x, z+3/4", "x-y, x, -z+1/6", "-x, -y, -z", "y+1/3, x+2/3, -z+1/2"] {
            let op = parse_symop(text).unwrap();
            assert_eq!(op.to_xyz(), text);
            assert_eq!(parse_symop(&op.to_xyz()).unwrap(), op);
        }
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in ["x,y", "x,y,q", "x,x,x", "x,,z", "x+,y,z", "x,y,z,x", "1/0+x,y,z", "0.5x,y,z", "x y,y,z", "x,y,z++"]
        {
            assert!(parse_symop(bad).is_err(), "{bad}");
        }
        assert!(parse_symop("x,x,z").unwrap_err().contains("determinant 0"));
        assert!(parse_symop("x,y,w").unwrap_err().contains("part 3: unexpected 'w'"));
    }
}
