//! The `centra-sim` command line.
fn main() {}
