//! End-to-end tests: the `cartage` process against the Centra simulator over
//! HTTP, into real databases, compared row for row with the simulator's truth.

mod all_sinks;
mod backfill;
mod churn;
mod crash;
mod customers;
mod deletions;
mod errors;
mod faults;
mod incremental;
mod mapping_cli;
mod purchase_orders;
mod rate_limits;
mod refused;
mod schema_changes;
mod secrets;
mod supply;

/// The `cartage` command line under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cartage-e2e");
