//! Errors of the mapping engine: compile diagnostics (each with its place in
//! a mapping file) and the run-time error of applying a plan to a record.

use std::fmt;

/// Where a diagnostic points: a file (its display path) and a 1-based line
/// and column. Errors that have no place in a file (a missing file, a broken
/// schema) carry line 0.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// One compile error: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Every error found while compiling a mapping, in file order.
///
/// `Display` prints one error per line, each starting with
/// `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostics> for cartage_core::Error {
    fn from(d: Diagnostics) -> Self {
        cartage_core::Error::config(format!("invalid mapping:\n{d}"))
    }
}

/// An error of applying a compiled plan to one record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The record is not JSON of the shape the plan selected.
    #[error("record {record:?}: malformed record: {reason}")]
    Malformed { record: String, reason: String },
    /// A value that cannot be converted to its column's type.
    #[error("record {record:?}: {field}: cannot convert {value} to {expected}{}", detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Convert {
        record: String,
        field: String,
        value: String,
        expected: String,
        detail: Option<String>,
    },
    /// A primary key column evaluated to null.
    #[error("record {record:?}: {field}: primary key column is null")]
    NullKey { record: String, field: String },
}

impl From<MapError> for cartage_core::Error {
    fn from(e: MapError) -> Self {
        cartage_core::Error::data(e.to_string())
    }
}
