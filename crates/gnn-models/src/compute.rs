//! Where and in what precision a model computes: [`Precision`] and [`DeviceSpec`], parsed once
//! from text (`f32`, `cuda:1`) and shared by the command line, the trainer, Python and the C ABI.

use crate::error::{Error, Result};
use candle_core::{DType, Device};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Serialises a type as its `Display` text and reads it back with its `FromStr`.
macro_rules! string_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Float precision of a computation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit floats.
    #[default]
    F32,
    /// 64-bit floats.
    F64,
}

impl Precision {
    /// The Candle dtype.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F64 => DType::F64,
        }
    }

    /// Bytes per value.
    pub fn bytes(self) -> usize {
        self.dtype().size_in_bytes()
    }
}

impl FromStr for Precision {
    type Err = Error;

    /// `f32` / `float32` or `f64` / `float64`.
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "f32" | "float32" => Ok(Precision::F32),
            "f64" | "float64" => Ok(Precision::F64),
            other => Err(Error::Input(format!("precision `{other}`: expected f32 or f64"))),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        })
    }
}

string_serde!(Precision);

/// The device a model runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The CPU.
    #[default]
    Cpu,
    /// The CUDA GPU of this ordinal (build with `--features cuda`).
    Cuda(usize),
}

impl DeviceSpec {
    /// The Candle device (an error naming the device where CUDA is not available).
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => gnn_layers::runtime::cuda_device(n)
                .map_err(|e| Error::Input(format!("device {self}: {e} (build chemgnn with --features cuda)"))),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = Error;

    /// `cpu`, `cuda` (the first GPU) or `cuda:N`.
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            other => match other.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
                Some(n) => Ok(DeviceSpec::Cuda(n)),
                None => Err(Error::Input(format!("unknown device `{other}` (cpu, cuda, cuda:N)"))),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

string_serde!(DeviceSpec);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        for text in ["f32", "f64"] {
            assert_eq!(text.parse::<Precision>().unwrap().to_string(), text);
        }
        assert_eq!("float64".parse::<Precision>().unwrap(), Precision::F64);
        assert!("f16".parse::<Precision>().unwrap_err().to_string().contains("f16"));
        for text in ["cpu", "cuda:0", "cuda:3"] {
            assert_eq!(text.parse::<DeviceSpec>().unwrap().to_string(), text);
        }
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert!("gpu".parse::<DeviceSpec>().unwrap_err().to_string().contains("cuda:N"));
        let json: Precision = serde_json::from_str("\"f64\"").unwrap();
        assert_eq!((json, serde_json::to_string(&DeviceSpec::Cuda(1)).unwrap()), (Precision::F64, "\"cuda:1\"".into()));
    }
}
