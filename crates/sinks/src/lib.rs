//! Sinks: database sinks through sea-orm and file sinks.
