//! The YAML schema-mapping engine: compiles a mapping file into a checked plan
//! and applies it to source records.
//!
//! Architecture Invariant: this crate does no I/O; a plan is a pure function
//! of (compiled mapping, record).
