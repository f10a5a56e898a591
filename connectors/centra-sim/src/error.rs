//! Errors of the simulator's control operations.

/// A control operation that could not be carried out.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimError {
    /// The named object does not exist (or was deleted).
    #[error("{kind} {id} not found")]
    NotFound {
        /// What was looked up, e.g. `order`.
        kind: &'static str,
        /// Its id or number.
        id: i64,
    },
    /// The request asked for something impossible.
    #[error("invalid control request: {0}")]
    Invalid(String),
}
