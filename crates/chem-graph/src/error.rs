//! The error type shared by every reader and builder in this crate.

use std::fmt;
use std::path::Path;

/// Where in an input a problem was found: a file (or stream name) and a 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File path or a descriptive stream name such as `dsgdb9nsd.xyz.tar.bz2:dsgdb9nsd_000001.xyz`.
    pub file: String,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: usize,
}

impl Location {
    /// A location at `line` (1-based) of `file`.
    pub fn new(file: impl Into<String>, line: usize) -> Self {
        Self { file: file.into(), line }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// Everything that can go wrong while reading, validating or converting structures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused a read or write. (The cause is part of the message, so it is
    /// not repeated as `source()`.)
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: String,
        /// The underlying error.
        error: std::io::Error,
    },
    /// An input file is malformed.
    #[error("{location}: {message}")]
    Parse {
        /// File and line of the problem.
        location: Location,
        /// What is wrong, in words a user can act on.
        message: String,
    },
    /// A structure, graph or option is inconsistent (e.g. a NaN coordinate, an unknown element,
    /// mismatched array lengths, a non-positive cutoff).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// A parse error at `file:line`.
    pub fn parse(file: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        Error::Parse { location: Location::new(file, line), message: message.into() }
    }

    /// An I/O error concerning `path`.
    pub fn io(path: impl AsRef<Path>, error: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), error }
    }

    /// An invalid-input error.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

/// `s` cut to 60 characters (with `…`), for quoting user input in error messages.
pub fn shown(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
