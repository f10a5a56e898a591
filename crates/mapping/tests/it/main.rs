//! Integration tests of the mapping engine: golden cases (mapping + records
//! -> rows), broken mappings with their exact errors, the standard Centra
//! mapping, and properties (no input panics the compiler or a plan).

mod broken;
mod connectors;
mod default_mapping;
mod golden;
mod properties;
mod refused;
mod simulator;
mod support;
