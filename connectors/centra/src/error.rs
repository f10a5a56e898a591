//! Errors of the Centra connector, and how they become `cartage_core::Error`s.

use cartage_core::{Error, ErrorKind};

/// What went wrong talking to Centra. Messages never contain the token:
/// text copied from a response is redacted before it lands here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CentraError {
    /// The connector's configuration is invalid.
    #[error("{0}")]
    Config(String),
    /// Centra refused the token itself (HTTP 401/403).
    #[error("centra refused the token (HTTP {status}) for {endpoint}: {message}")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The endpoint that refused it.
        endpoint: String,
        /// The GraphQL error message of the response (redacted).
        message: String,
    },
    /// The token is valid but lacks a permission the query needs.
    #[error("centra token lacks the {permission} permission at {endpoint}: {message}")]
    Permission {
        /// The missing permission, e.g. `Order:read`.
        permission: String,
        /// The endpoint.
        endpoint: String,
        /// Centra's message (redacted).
        message: String,
    },
    /// Centra rejected the query as invalid (GraphQL validation).
    #[error("centra rejected the query sent to {endpoint}: {messages}")]
    InvalidQuery {
        /// The endpoint.
        endpoint: String,
        /// Each error's message with its `line:column`, joined by `; `.
        messages: String,
    },
    /// A failure that can pass (429, 5xx, timeout, cut connection), still
    /// failing after every retry.
    #[error("centra request to {endpoint} failed after {attempts} attempts: {message}")]
    Transient {
        /// The endpoint.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// A response we cannot use and that a retry would not change: an
    /// unexpected HTTP status, GraphQL errors beside data, an unexpected shape.
    #[error("centra at {endpoint} sent an unusable response: {message}")]
    Response {
        /// The endpoint.
        endpoint: String,
        /// What was wrong (redacted).
        message: String,
    },
    /// The stored stream state cannot be resumed from.
    #[error(
        "stored state of centra stream {stream} is not usable ({message}); delete it to backfill"
    )]
    State {
        /// The stream.
        stream: String,
        /// What was wrong with it.
        message: String,
    },
    /// The read was cancelled.
    #[error("the read was cancelled")]
    Cancelled,
}

impl CentraError {
    /// The coarse kind the pipeline acts on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CentraError::Config(_)
            | CentraError::InvalidQuery { .. }
            | CentraError::State { .. } => ErrorKind::Config,
            CentraError::Unauthorized { .. } | CentraError::Permission { .. } => ErrorKind::Auth,
            CentraError::Transient { .. } => ErrorKind::Transient,
            CentraError::Response { .. } => ErrorKind::Data,
            CentraError::Cancelled => ErrorKind::Cancelled,
        }
    }
}

impl From<CentraError> for Error {
    fn from(error: CentraError) -> Self {
        match error {
            CentraError::Cancelled => Error::cancelled(),
            other => Error::new(other.kind(), other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_say_whether_a_retry_helps() {
        let transient = CentraError::Transient {
            endpoint: "https://x.centra.com/graphql".into(),
            attempts: 4,
            message: "HTTP 503".into(),
        };
        assert!(Error::from(transient).is_retriable());
        let auth = CentraError::Unauthorized {
            status: 401,
            endpoint: "https://x.centra.com/graphql".into(),
            message: "invalid token".into(),
        };
        let core = Error::from(auth);
        assert_eq!(core.kind(), ErrorKind::Auth);
        assert_eq!(
            core.to_string(),
            "authentication error: centra refused the token (HTTP 401) for https://x.centra.com/graphql: invalid token"
        );
        assert_eq!(Error::from(CentraError::Cancelled).kind(), ErrorKind::Cancelled);
    }
}
