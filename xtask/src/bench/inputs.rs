//! Benchmark inputs, written to files so that our code and the Python references read the same data.

use std::io::Write;
use std::path::Path;

use chem_graph::{Edges, Structure};
use rand::{Rng, SeedableRng};

/// `n` molecules spread evenly over the embedded QM9 sample (a typical training batch: the sample is
/// a random draw, so every k-th molecule is too).
pub fn qm9_molecules(n: usize) -> anyhow::Result<Vec<Structure>> {
    let d = chem_graph::qm9::Qm9Dataset::embedded_sample()?;
    let stride = (d.len() / n.max(1)).max(1);
    Ok((0..d.len()).step_by(stride).take(n).map(|m| d.structure(m)).collect())
}

/// `n` silicon atoms uniformly at random (seeded) in a triclinic cell at 0.1 atoms/Å³.
pub fn random_periodic(n: usize, seed: u64) -> anyhow::Result<Structure> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let shape = [[1.0, 0.0, 0.0], [0.2, 0.98, 0.0], [0.1, 0.15, 0.98]];
    let volume = n as f64 / 0.1;
    let scale = (volume / chem_graph::structure::determinant(&shape)).cbrt();
    let cell = shape.map(|row| row.map(|x| x * scale));
    let positions = (0..n)
        .map(|_| {
            let f: [f64; 3] = [rng.random(), rng.random(), rng.random()];
            [0, 1, 2].map(|k| f[0] * cell[0][k] + f[1] * cell[1][k] + f[2] * cell[2][k])
        })
        .collect();
    Ok(Structure::periodic(vec![14; n], positions, cell, [true; 3])?)
}

/// Writes `molecules` as a QM9 archive (`dsgdb9nsd_NNNNNN.xyz` files in a bzip2-compressed tar,
/// as distributed), unless `path` exists already.
pub fn qm9_archive(path: &Path, molecules: &[chem_graph::qm9::Qm9Molecule]) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let partial = path.with_extension("partial");
    let file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
    let mut tar = tar::Builder::new(bzip2::write::BzEncoder::new(file, bzip2::Compression::best()));
    for m in molecules {
        let text = m.to_qm9_xyz();
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("dsgdb9nsd_{:06}.xyz", m.index), text.as_bytes())?;
    }
    tar.into_inner()?.finish()?.flush()?;
    std::fs::rename(partial, path)?;
    Ok(())
}

/// Writes edges of several structures as a NumPy `.npy` int64 array of rows
/// `(frame, target i, source j, S0, S1, S2)` in lexicographic order — the form the Python
/// script builds from ASE/vesin/matscipy's `i, j, S` for comparison.
pub fn write_edges_npy(path: &Path, edges: &[Edges]) -> anyhow::Result<()> {
    let mut rows: Vec<[i64; 6]> = Vec::new();
    for (f, e) in edges.iter().enumerate() {
        for k in 0..e.len() {
            let s = e.shift[k];
            rows.push([f as i64, e.target[k] as i64, e.source[k] as i64, s[0] as i64, s[1] as i64, s[2] as i64]);
        }
    }
    rows.sort_unstable();
    write_npy_i64(path, &[rows.len(), 6], rows.iter().flatten().copied())
}

/// Writes a little-endian int64 NumPy `.npy` array of `shape` (C order).
pub fn write_npy_i64(path: &Path, shape: &[usize], values: impl IntoIterator<Item = i64>) -> anyhow::Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<i8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    for v in values {
        out.write_all(&v.to_le_bytes())?;
    }
    out.flush()?;
    Ok(())
}
