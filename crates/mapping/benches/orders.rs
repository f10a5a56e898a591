//! Criterion benchmark of the default orders mapping (written in phase 2).
fn main() {}
