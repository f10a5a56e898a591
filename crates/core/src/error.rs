//! The error type that crosses the `Source`/`Sink`/pipeline boundary.
//!
//! Components keep their own rich error enums (thiserror, one `error.rs` per
//! crate) and convert into this type at the trait boundary, choosing an
//! [`ErrorKind`] that tells the driver and the user whether a retry can help.

use std::fmt;

/// What went wrong, coarsely: enough to choose an exit code and a retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration or the mapping is wrong; fix it, a retry will not help.
    Config,
    /// The credentials were refused or lack a permission; a retry will not help.
    Auth,
    /// A failure that can pass: a 429, a 5xx, a timeout, a cut connection.
    Transient,
    /// The source sent data we cannot use (a malformed record, a value that
    /// does not convert); a retry reads the same data.
    Data,
    /// The destination refused a write or could not be reached.
    Sink,
    /// The run was cancelled (Ctrl-C, SIGTERM).
    Cancelled,
    /// A bug or a broken invariant in Cartage itself.
    Internal,
}

impl ErrorKind {
    fn label(self) -> &'static str {
        match self {
            ErrorKind::Config => "configuration error",
            ErrorKind::Auth => "authentication error",
            ErrorKind::Transient => "transient error",
            ErrorKind::Data => "data error",
            ErrorKind::Sink => "sink error",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal error",
        }
    }
}

/// An error with a kind, a message that names the thing and the place, and
/// optionally the error that caused it.
///
/// Messages never contain secrets: components redact before they build one
/// (see [`crate::Secret`]).
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), source: None }
    }

    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error { kind, message: message.into(), source: Some(Box::new(source)) }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    pub fn transient(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Transient, message)
    }

    pub fn data(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Data, message)
    }

    pub fn sink(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Sink, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    pub fn cancelled() -> Self {
        Error::new(ErrorKind::Cancelled, "the run was cancelled")
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether running the same operation again can succeed.
    pub fn is_retriable(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// Prefixes the message with where it happened, e.g. `tenant acme, stream orders`.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retriable() {
        assert!(Error::transient("http 503").is_retriable());
        assert!(!Error::new(ErrorKind::Auth, "bad token").is_retriable());
        assert!(!Error::config("bad mapping").is_retriable());
    }

    #[test]
    fn context_and_display_name_the_place() {
        let e = Error::data("order 12: bad money").context("tenant acme, stream orders");
        assert_eq!(e.to_string(), "data error: tenant acme, stream orders: order 12: bad money");
    }
}
