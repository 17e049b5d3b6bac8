//! A training configuration in TOML or JSON must be read (and validated) or refused with an error,
//! never panic.
#![no_main]

use gnn_train::TrainConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(config) = toml::from_str::<TrainConfig>(&text) {
        let _ = config.validate();
    }
    if let Ok(config) = serde_json::from_str::<TrainConfig>(&text) {
        let _ = config.validate();
    }
});
