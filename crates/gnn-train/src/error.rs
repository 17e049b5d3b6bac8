//! The error type of gnn-train: every error names the file, option or tensor it is about.

use std::path::{Path, PathBuf};

/// Errors from configuring, running and resuming training.
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
    /// A configuration file or option is invalid.
    #[error("{origin}: {message}")]
    Config {
        /// The file or option.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A dataset is unusable (missing target, inconsistent forces, empty split, …).
    #[error("{0}")]
    Data(String),
    /// A run directory's saved state is missing, corrupted or does not fit the configuration.
    #[error("{path}: {message}")]
    State {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The loss became NaN or infinite.
    #[error("{0}")]
    NonFinite(String),
    /// A model could not be built, loaded or saved.
    #[error(transparent)]
    Model(#[from] gnn_models::Error),
    /// chem-graph rejected a file, structure or graph.
    #[error(transparent)]
    Graph(#[from] chem_graph::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// The result type of gnn-train.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), error: source }
    }

    /// A configuration error from `origin` (a file or an option).
    pub fn config(origin: impl std::fmt::Display, message: impl Into<String>) -> Self {
        Error::Config { origin: origin.to_string(), message: message.into() }
    }

    /// A saved-state error on `path`.
    pub fn state(path: &Path, message: impl Into<String>) -> Self {
        Error::State { path: path.to_path_buf(), message: message.into() }
    }
}
