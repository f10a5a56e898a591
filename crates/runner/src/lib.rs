//! The `cartage` command line: `sync`, `demo` and `mapping`, as a library so
//! that the end-to-end tests can build the same entry point.
//!
//! Exit codes: 0 done, 1 the sync failed, 2 bad configuration or arguments,
//! 130 cancelled (Ctrl-C or SIGTERM) after the batch in flight was committed
//! whole or not at all.

pub mod config;
mod demo;
mod logging;
mod mapping;
mod mapping_cli;
pub mod registry;
mod resources;
mod summary;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(name = "cartage", version, about = "Sync e-commerce data into your warehouse")]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Human)]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Syncs the configured connections.
    Sync {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Only this tenant (default: every connection in the file).
        #[arg(long)]
        tenant: Option<String>,
        /// Only these streams (default: the connection's `streams`).
        #[arg(long = "stream")]
        streams: Vec<String>,
        /// Also write the run's summary as JSON to this file.
        #[arg(long)]
        summary_json: Option<PathBuf>,
    },
    /// Starts a connector's simulator in-process with demo data and syncs it
    /// into a SQLite file (needs a build with `--features demo`).
    Demo {
        /// The connector whose simulator runs (default: the first registered).
        #[arg(long)]
        source: Option<String>,
        /// Where the demo database goes.
        #[arg(long, default_value = "cartage-demo.db")]
        db: PathBuf,
        /// How many orders the simulated shop has.
        #[arg(long, default_value_t = 2_000)]
        orders: u64,
    },
    /// Works with mapping files: validate, show the query, preview rows.
    Mapping {
        #[command(subcommand)]
        command: MappingCommand,
    },
}

#[derive(Subcommand)]
enum MappingCommand {
    /// Compiles mapping files and reports every problem (exit 2 on errors).
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The tenant whose constants apply.
        #[arg(long, default_value = "validate")]
        tenant: String,
        /// The connector the files are for, if they do not say (`source:`).
        #[arg(long)]
        source: Option<String>,
    },
    /// Prints the request the connector sends for each stream of the mapping.
    Query {
        file: PathBuf,
        /// The connector the file is for, if it does not say (`source:`).
        #[arg(long)]
        source: Option<String>,
        /// Only this stream.
        #[arg(long)]
        stream: Option<String>,
        #[arg(long, default_value = "validate")]
        tenant: String,
    },
    /// Reads a few records and prints each beside the rows it becomes.
    Preview {
        file: PathBuf,
        /// Read from this configuration's connection...
        #[arg(long, required_unless_present = "simulator")]
        config: Option<PathBuf>,
        /// ...of this tenant (default: the first).
        #[arg(long, requires = "config")]
        tenant: Option<String>,
        /// ...or from an in-process simulator of the mapping's connector
        /// (needs a build with `--features demo`).
        #[arg(long, conflicts_with = "config")]
        simulator: bool,
        /// The simulator's data profile (default: the simulator's own).
        #[arg(long, requires = "simulator")]
        profile: Option<String>,
        /// The connector the file is for, if it does not say (`source:`).
        #[arg(long, requires = "simulator")]
        source: Option<String>,
        #[arg(long, default_value = "orders")]
        stream: String,
        /// How many records.
        #[arg(long, default_value_t = 3)]
        sample: usize,
    },
}

/// How a command ended, mapped onto the exit code.
pub enum Outcome {
    Done,
    Failed,
    BadConfig,
    Cancelled,
}

/// Runs the `cartage` command line with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        let cancel = CancellationToken::new();
        spawn_signal_handler(cancel.clone());
        match cli.command {
            Command::Sync { config, tenant, streams, summary_json } => {
                let options = sync::Options { tenant, streams, summary_json };
                sync::run(&config, options, cancel).await
            }
            Command::Demo { source, db, orders } => {
                demo::run(source.as_deref(), &db, orders, cancel).await
            }
            Command::Mapping { command } => match command {
                MappingCommand::Validate { files, tenant, source } => {
                    mapping_cli::validate(&files, &tenant, source.as_deref())
                }
                MappingCommand::Query { file, source, stream, tenant } => {
                    mapping_cli::query(&file, &tenant, stream.as_deref(), source.as_deref())
                }
                MappingCommand::Preview {
                    file,
                    config,
                    tenant,
                    simulator: _,
                    profile,
                    source,
                    stream,
                    sample,
                } => {
                    let from = match config {
                        Some(path) => mapping_cli::PreviewSource::Config { path, tenant },
                        None => mapping_cli::PreviewSource::Simulator { profile, source },
                    };
                    mapping_cli::preview(&file, from, &stream, sample, cancel).await
                }
            },
        }
    });
    match outcome {
        Outcome::Done => ExitCode::SUCCESS,
        Outcome::Failed => ExitCode::from(1),
        Outcome::BadConfig => ExitCode::from(2),
        Outcome::Cancelled => ExitCode::from(130),
    }
}

/// Ctrl-C or SIGTERM cancels the run: the pipeline finishes or abandons the
/// commit in flight (a transaction: all or nothing) and the process exits.
fn spawn_signal_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        cancel.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::warn!("stop requested: finishing the batch in flight, then exiting");
        cancel.cancel();
    });
}
