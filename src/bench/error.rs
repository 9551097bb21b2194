//! What can be wrong with a benchmark's files.

use std::path::PathBuf;

/// A problem with a benchmark file.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The path cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not parse.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// An entry is malformed or inconsistent.
    #[error("{path}: entry {entry}: {message}")]
    Entry {
        /// The file.
        path: PathBuf,
        /// The entry (index or key).
        entry: String,
        /// What is wrong.
        message: String,
    },
    /// The path is no benchmark lpzero knows.
    #[error("{path}: not a benchmark: expected {expected}")]
    Unknown {
        /// The path.
        path: PathBuf,
        /// What was expected there.
        expected: String,
    },
    /// The content does not say which family's benchmark the path is.
    #[error("{path} holds a benchmark of one of these families: {families}; the files do not say which, so pass --family")]
    Ambiguous {
        /// The path.
        path: PathBuf,
        /// The candidates.
        families: String,
    },
}
