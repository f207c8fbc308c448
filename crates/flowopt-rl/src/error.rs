//! The crate's typed errors.

use std::path::PathBuf;

/// Errors of environments, datasets, agents and training.
#[derive(Debug, thiserror::Error)]
pub enum RlError {
    /// A name that is not in a registry.
    #[error("unknown {what} `{name}` (known: {})", known.join(", "))]
    Unknown {
        /// What kind of name (environment, algorithm, dataset quality).
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        known: Vec<&'static str>,
    },
    /// A vector of the wrong length.
    #[error("`{field}` has {got} values, expected {expected}")]
    Shape {
        /// The field.
        field: &'static str,
        /// The expected length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// NaN or infinity where a number is needed.
    #[error("`{field}` contains NaN or infinity")]
    NonFinite {
        /// The field.
        field: &'static str,
    },
    /// An out-of-range option or value.
    #[error("`{field}` {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A training run stopped on request.
    #[error("training cancelled after {step} updates")]
    Cancelled {
        /// Updates done when it stopped.
        step: usize,
    },
    /// A step after the episode ended.
    #[error("the episode has ended: call reset first")]
    EpisodeOver,
    /// A dataset file that cannot be read or has inconsistent arrays.
    #[error("dataset {path}: {message}")]
    Dataset {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Loading or saving weights.
    #[error("weights {path}: {message}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl From<flowopt_nn::WeightsError> for RlError {
    fn from(e: flowopt_nn::WeightsError) -> Self {
        match e {
            flowopt_nn::WeightsError::Io { path, source } => Self::Io { path, source },
            flowopt_nn::WeightsError::Record { what, message } => Self::Weights {
                path: what.into(),
                message,
            },
            other => Self::Weights {
                path: PathBuf::new(),
                message: other.to_string(),
            },
        }
    }
}
