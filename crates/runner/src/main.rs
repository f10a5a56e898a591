//! The `cartage` binary.

// The sync allocates many short-lived strings and rows per record; mimalloc
// serves them with measurably less CPU than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cartage_runner::main()
}
