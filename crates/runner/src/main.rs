//! The `cartage` binary.

fn main() -> std::process::ExitCode {
    cartage_runner::main()
}
