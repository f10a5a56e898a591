//! `cargo xtask`: the project's one task runner.
fn main() {}
