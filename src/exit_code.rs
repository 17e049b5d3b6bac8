//! The exit status of a failed command: bad input (a file, option or configuration the user can
//! fix) is told apart from failures of the machine or of chemgnn itself.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | failure: a write failed (disk full, file too large), a tensor operation failed, training diverged |
//! | 2 | bad input: a malformed or missing file, an invalid option or configuration, weights that do not fit (also clap's usage errors) |
//! | 101 | a panic (a bug: please report it) |

use std::io::ErrorKind;

use gnn_layers::candle;

/// Failures that are not the input's fault.
pub const FAILURE: u8 = 1;
/// The input is at fault.
pub const BAD_INPUT: u8 = 2;

/// The status for `error`: decided by the first typed error in its chain; untyped errors are the
/// commands' own checks of their arguments, hence bad input.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<gnn_train::Error>() {
            return train(e);
        }
        if let Some(e) = cause.downcast_ref::<gnn_models::Error>() {
            return models(e);
        }
        if let Some(e) = cause.downcast_ref::<chem_graph::Error>() {
            return graph(e);
        }
        if cause.downcast_ref::<candle::Error>().is_some() {
            return FAILURE;
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return io(e.kind());
        }
    }
    BAD_INPUT
}

fn train(e: &gnn_train::Error) -> u8 {
    use gnn_train::Error::*;
    match e {
        Io { error, .. } => io(error.kind()),
        Config { .. } | Data(_) | State { .. } => BAD_INPUT,
        NonFinite(_) | Candle(_) => FAILURE,
        Model(e) => models(e),
        Graph(e) => graph(e),
    }
}

fn models(e: &gnn_models::Error) -> u8 {
    use gnn_models::Error::*;
    match e {
        Io { error, .. } => io(error.kind()),
        Config { .. } | Weights { .. } | Safetensors { .. } | Input(_) => BAD_INPUT,
        Graph(e) => graph(e),
        Candle(_) => FAILURE,
    }
}

fn graph(e: &chem_graph::Error) -> u8 {
    match e {
        chem_graph::Error::Io { error, .. } => io(error.kind()),
        chem_graph::Error::Parse { .. } | chem_graph::Error::Invalid(_) => BAD_INPUT,
    }
}

/// A missing, unreadable or malformed file is bad input; other I/O failures are not.
fn io(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound
        | ErrorKind::PermissionDenied
        | ErrorKind::IsADirectory
        | ErrorKind::NotADirectory
        | ErrorKind::InvalidData
        | ErrorKind::InvalidInput
        | ErrorKind::UnexpectedEof => BAD_INPUT,
        _ => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn input_errors_are_told_apart_from_failures() {
        let parse = chem_graph::Error::parse("a.xyz", 3, "expected a real number");
        assert_eq!(exit_code(&anyhow::Error::new(parse)), BAD_INPUT);
        let missing = std::io::Error::from(ErrorKind::NotFound);
        let wrapped = gnn_train::Error::Model(gnn_models::Error::io("w.safetensors".as_ref(), missing));
        assert_eq!(exit_code(&anyhow::Error::new(wrapped).context("importing")), BAD_INPUT);
        let full = std::io::Error::from(ErrorKind::StorageFull);
        assert_eq!(exit_code(&anyhow::Error::new(gnn_train::Error::io("last".as_ref(), full))), FAILURE);
        assert_eq!(exit_code(&anyhow::Error::new(gnn_train::Error::NonFinite("NaN".into()))), FAILURE);
        let shape = candle::Error::Msg("shape".into());
        assert_eq!(exit_code(&anyhow::Error::new(gnn_models::Error::Candle(shape))), FAILURE);
        let untyped: anyhow::Result<()> = Err(anyhow::anyhow!("--split x: expected train, val or test"));
        assert_eq!(exit_code(&untyped.context("eval").unwrap_err()), BAD_INPUT);
        let config = gnn_train::Error::config("run.toml", "unknown field");
        assert_eq!(exit_code(&anyhow::Error::new(config)), BAD_INPUT);
    }
}
