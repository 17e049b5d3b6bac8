//! Refusing a model whose training state cannot fit in memory, before any work is done: a
//! configuration asking for 10⁹ channels must be a clear error, not an allocation abort.

use crate::error::{Error, Result};
use gnn_models::checkpoint::ModelConfig;

/// Copies of every parameter a run holds: the weights, their gradients and Adam's two moments.
const COPIES: f64 = 4.0;

/// The bytes of parameters, gradients, optimiser moments (and the EMA copy) of `model` trained at
/// `bytes_per_value` (4 for f32, 8 for f64).
pub fn training_state_bytes(model: &ModelConfig, bytes_per_value: usize, ema: bool) -> Result<f64> {
    let (required, _) = gnn_models::expected_tensors(model)?;
    let values: f64 = required.values().map(|dims| dims.iter().map(|&d| d as f64).product::<f64>()).sum();
    Ok(values * bytes_per_value as f64 * (COPIES + f64::from(u8::from(ema))))
}

/// An error when `needed` bytes exceed `available` (the machine's free memory, when known).
pub fn check_fits(needed: f64, available: Option<f64>) -> Result<()> {
    match available {
        Some(available) if needed > available => Err(Error::config(
            "model",
            format!(
                "training this model needs {} for its parameters, gradients and optimiser state, more than the {} \
                 of memory available: reduce its widths or layer counts",
                human_bytes(needed),
                human_bytes(available)
            ),
        )),
        _ => Ok(()),
    }
}

/// The memory the operating system can still hand out (`MemAvailable` of /proc/meminfo on Linux;
/// `None` elsewhere, where the check is skipped).
pub fn available_memory() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let exponent = if bytes < 1.0 { 0 } else { (bytes.log10() / 3.0).floor() as usize };
    match UNITS.get(exponent) {
        Some(unit) => format!("{:.1} {unit}", bytes / 1000f64.powi(exponent as i32)),
        None => format!("{bytes:.1e} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gnn_models::SchNetConfig;

    fn schnet(hidden: usize) -> ModelConfig {
        ModelConfig::Schnet(SchNetConfig { hidden_channels: hidden, num_filters: hidden, ..Default::default() })
    }

    #[test]
    fn training_state_counts_every_parameter_four_times_plus_ema() {
        let (shapes, _) = gnn_models::expected_tensors(&schnet(16)).unwrap();
        let values: usize = shapes.values().map(|d| d.iter().product::<usize>()).sum();
        assert_eq!(training_state_bytes(&schnet(16), 4, false).unwrap(), (values * 16) as f64);
        assert_eq!(training_state_bytes(&schnet(16), 8, true).unwrap(), (values * 40) as f64);
    }

    #[test]
    fn a_model_larger_than_memory_is_refused_with_both_sizes() {
        let needed = training_state_bytes(&schnet(1_000_000_000), 4, false).unwrap();
        assert!(needed > 1e18, "{needed}");
        let message = check_fits(needed, Some(16e9)).unwrap_err().to_string();
        assert!(message.contains("more than the 16.0 GB of memory available"), "{message}");
        assert!(check_fits(1e9, Some(16e9)).is_ok());
        assert!(check_fits(needed, None).is_ok());
    }

    #[test]
    fn sizes_are_printed_in_decimal_units() {
        assert_eq!(human_bytes(512.0), "512.0 B");
        assert_eq!(human_bytes(1.5e9), "1.5 GB");
        assert_eq!(human_bytes(3e18), "3.0 EB");
        assert_eq!(human_bytes(3e24), "3.0e24 B");
    }
}
