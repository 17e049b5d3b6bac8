//! What a run shows while it trains: progress bars with throughput and ETA, one line per epoch for
//! logs, or nothing.

use indicatif::{ProgressBar, ProgressStyle};

/// How much a run prints (to standard error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verbosity {
    /// A progress bar per epoch (molecules/s, ETA) and a line per epoch.
    #[default]
    Bars,
    /// A line per epoch, no bars (for log files).
    Lines,
    /// Nothing.
    Silent,
}

/// The progress display of one epoch.
pub struct EpochProgress {
    bar: Option<ProgressBar>,
    verbosity: Verbosity,
}

impl EpochProgress {
    /// Starts the display of an epoch of `batches` batches, `done` of them already trained.
    pub fn start(verbosity: Verbosity, epoch: usize, epochs: usize, batches: usize, done: usize) -> Self {
        let bar = (verbosity == Verbosity::Bars).then(|| {
            let bar = ProgressBar::new(batches as u64);
            bar.set_style(
                ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} batches · {msg} · ETA {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("{}/{epochs}", epoch + 1));
            bar.set_position(done as u64);
            bar
        });
        Self { bar, verbosity }
    }

    /// Reports a trained batch: running loss and throughput.
    pub fn batch(&self, loss: f64, molecules_per_s: f64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("loss {loss:.4} · {molecules_per_s:.0} mol/s"));
            bar.inc(1);
        }
    }

    /// Ends the epoch's bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// Prints a line (above the bar, if any).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) if !bar.is_finished() => bar.println(line),
            _ if self.verbosity != Verbosity::Silent => eprintln!("{line}"),
            _ => {}
        }
    }
}

/// `value` in `unit` for people: meV for energies below 1 eV.
pub fn human_error(value: f64, unit: &str) -> String {
    if unit == "eV" && value.abs() < 1.0 {
        format!("{:.2} meV", value * 1000.0)
    } else {
        format!("{value:.4} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energies_in_mev() {
        assert_eq!(human_error(0.0123, "eV"), "12.30 meV");
        assert_eq!(human_error(1.5, "eV"), "1.5000 eV");
        assert_eq!(human_error(0.2, "D"), "0.2000 D");
    }
}
