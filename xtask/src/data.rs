//! `cargo xtask data …`: obtaining QM9 and making the embedded sample.

use std::path::PathBuf;

use anyhow::Context;
use chem_graph::qm9::{default_cache_path, fetch_qm9, Qm9Dataset};
use clap::Subcommand;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Where the embedded sample lives (included by `chem_graph::qm9::Qm9Dataset::embedded_sample`).
pub const SAMPLE_PATH: &str = "crates/chem-graph/data/qm9_sample.safetensors";

#[derive(Subcommand)]
pub enum DataTask {
    /// Fetch QM9 (official archive, else qm9pack from PyPI) and convert it to the cache file.
    Qm9 {
        /// Path or URL of dsgdb9nsd.xyz.tar.bz2, or a qm9pack wheel/CSV; default: try the network.
        #[arg(long)]
        source: Option<String>,
        /// Output file [default: $CHEMGNN_DATA_DIR/qm9.safetensors or data/cache/qm9.safetensors].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fetch and convert again even if the output file already holds a valid dataset (an explicit
        /// --source is always fetched).
        #[arg(long)]
        force: bool,
    },
    /// Draw the embedded sample: `count` molecules chosen uniformly at random (ChaCha8, `seed`)
    /// from the converted full QM9, kept in GDB order.
    Qm9Sample {
        /// The converted full QM9 [default: the cache file].
        #[arg(long)]
        from: Option<PathBuf>,
        /// Number of molecules.
        #[arg(long, default_value_t = 3000)]
        count: usize,
        /// Random seed.
        #[arg(long, default_value_t = 2017)]
        seed: u64,
        /// Output file.
        #[arg(long, default_value = SAMPLE_PATH)]
        out: PathBuf,
    },
}

pub fn run(task: DataTask) -> anyhow::Result<()> {
    match task {
        DataTask::Qm9 { source, out, force } => {
            let out = out.unwrap_or_else(default_cache_path);
            let d = fetch_qm9(source.as_deref(), &out, force, &mut |m| eprintln!("{m}"))?;
            println!("{}: {} molecules, {} atoms", out.display(), d.len(), d.numbers.len());
        }
        DataTask::Qm9Sample { from, count, seed, out } => {
            let from = from.unwrap_or_else(default_cache_path);
            let full = Qm9Dataset::load(&from)
                .with_context(|| format!("run `cargo xtask data qm9` first to create {}", from.display()))?;
            let mut order: Vec<usize> = (0..full.len()).collect();
            order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            let mut chosen = order[..count.min(full.len())].to_vec();
            chosen.sort_unstable();
            let mut sample = full.subset(&chosen);
            sample.source = format!(
                "{} molecules drawn from {} (seed {seed}) by `cargo xtask data qm9-sample`",
                chosen.len(),
                full.source
            );
            sample.save(&out)?;
            println!("{}: {} molecules, {} atoms", out.display(), sample.len(), sample.numbers.len());
        }
    }
    Ok(())
}
