//! A string that must never be printed: API tokens, database passwords.

use std::fmt;

/// A secret value. `Debug` and `Display` print `***`; the only way to the
/// value is [`Secret::expose`], which call sites use at the last moment
/// (building an `Authorization` header), so a secret cannot reach a log line,
/// an error message, state or output by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Never format the result into a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text` with `***`, for
    /// text that came from elsewhere (an HTTP error body, a driver message).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("tok-123");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(s.expose(), "tok-123");
        assert_eq!(s.redact("bearer tok-123 refused"), "bearer *** refused");
    }
}
