//! The `cartage` command line, built inside the end-to-end test package.

fn main() -> std::process::ExitCode {
    cartage_runner::main()
}
