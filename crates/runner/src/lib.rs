//! The `cartage` command line.
fn main() {}
