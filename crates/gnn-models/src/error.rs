//! The error type of gnn-models: every error names the file, key or tensor it is about.

use std::path::{Path, PathBuf};

/// Errors from building, importing, loading, saving and running models.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (part of the message, so not repeated as `source()`).
        error: std::io::Error,
    },
    /// A configuration (a checkpoint's `config.json`, an import's constructor arguments) is invalid.
    #[error("{origin}: {message}")]
    Config {
        /// The file or object the configuration came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A state dict does not fit the model (all problems are listed).
    #[error("{origin}: the weights do not fit the model:\n{}", .problems.join("\n"))]
    Weights {
        /// The weights file.
        origin: String,
        /// One line per missing, unexpected or mis-shaped tensor.
        problems: Vec<String>,
    },
    /// A safetensors file is malformed or holds an unsupported tensor.
    #[error("{path}: not a readable safetensors file: {message}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Input structures or graphs are invalid.
    #[error("{0}")]
    Input(String),
    /// chem-graph rejected a structure or graph.
    #[error(transparent)]
    Graph(#[from] chem_graph::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// The result type of gnn-models.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error: source }
    }

    /// A configuration error from `origin`.
    pub fn config(origin: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config { origin: origin.into(), message: message.into() }
    }
}
