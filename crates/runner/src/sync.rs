//! `cartage sync`: checks everything first, then runs each stream's pipeline.
//!
//! Order matters for "nothing written on bad input": the configuration and
//! every mapping are parsed and compiled, and every source is asked to
//! [`Source::check`] its endpoint and credentials, before any sink is
//! opened. Only then do pipelines run, one stream at a time.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cartage_core::{ErrorKind, Pipeline, RecordMapper, Source, StreamCheck, TableSchema};
use cartage_sinks::SinkConfig;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::Outcome;
use crate::config::{self, Connection};
use crate::mapping;
use crate::summary::{RunSummary, StreamSummary};

/// What the command line adds to the configuration.
#[derive(Debug, Default)]
pub struct Options {
    pub tenant: Option<String>,
    pub streams: Vec<String>,
    pub summary_json: Option<PathBuf>,
}

/// Runs `cartage sync` and reports how it ended.
pub async fn run(config_path: &Path, options: Options, cancel: CancellationToken) -> Outcome {
    let connections = match config::load(config_path) {
        Ok(connections) => connections,
        Err(e) => {
            report_error(&e.to_string());
            return Outcome::BadConfig;
        }
    };
    run_connections(connections, options, cancel).await
}

/// A connection, checked and ready to run.
struct Prepared {
    connection: Connection,
    source: Arc<dyn Source>,
    /// The streams to run, each with its compiled mapping and the file
    /// that maps it.
    streams: Vec<(String, Arc<dyn RecordMapper>, PathBuf)>,
}

pub async fn run_connections(
    connections: Vec<Connection>,
    options: Options,
    cancel: CancellationToken,
) -> Outcome {
    let connections: Vec<Connection> = match &options.tenant {
        None => connections,
        Some(tenant) => {
            let known: Vec<String> = connections.iter().map(|c| c.tenant.clone()).collect();
            let selected: Vec<Connection> =
                connections.into_iter().filter(|c| &c.tenant == tenant).collect();
            if selected.is_empty() {
                report_error(&format!(
                    "--tenant {tenant}: no such connection (the configuration has: {})",
                    known.join(", ")
                ));
                return Outcome::BadConfig;
            }
            selected
        }
    };

    let mut prepared = Vec::new();
    for connection in connections {
        match prepare(connection, &options.streams) {
            Ok(p) => prepared.push(p),
            Err(message) => {
                report_error(&message);
                return Outcome::BadConfig;
            }
        }
    }
    if let Some(message) = column_type_clash(&uses(&prepared)) {
        report_error(&message);
        return Outcome::BadConfig;
    }
    for p in &prepared {
        let checks: Vec<StreamCheck> = p
            .streams
            .iter()
            .map(|(stream, mapper, _)| StreamCheck {
                stream: stream.clone(),
                selection: mapper.selection(),
            })
            .collect();
        if let Err(e) = p.source.check(&checks).await {
            let e = e.context(format!("tenant {}", p.connection.tenant));
            report_error(&e.to_string());
            return outcome_of(e.kind());
        }
    }

    // Every stream's tables are prepared before any stream writes: a column
    // whose stored type the mapping changed is refused with nothing written.
    for p in &prepared {
        if let Err(e) = prepare_tables(p).await {
            let e = e.context(format!("tenant {}", p.connection.tenant));
            report_error(&e.to_string());
            return outcome_of(e.kind());
        }
    }

    let mut summary = RunSummary::default();
    let mut outcome = Outcome::Done;
    'connections: for p in prepared {
        for (stream, mapper, _) in &p.streams {
            let sink = match p.connection.sink.build().await {
                Ok(sink) => sink,
                Err(e) => {
                    let e = e.context(format!("tenant {}", p.connection.tenant));
                    report_error(&e.to_string());
                    outcome = outcome_of(e.kind());
                    break 'connections;
                }
            };
            info!(tenant = %p.connection.tenant, %stream, "syncing");
            let pipeline = Pipeline::new(
                p.connection.tenant.clone(),
                stream.clone(),
                Arc::clone(&p.source),
                Arc::clone(mapper),
                sink,
                cancel.clone(),
            );
            match pipeline.run().await {
                Ok(stats) => {
                    summary.streams.push(StreamSummary::new(&p.connection.tenant, stream, &stats))
                }
                Err(e) => {
                    report_error(&e.to_string());
                    outcome = outcome_of(e.kind());
                    break 'connections;
                }
            }
        }
    }
    summary.finish();
    summary.print();
    if let Some(path) = &options.summary_json
        && let Err(e) = summary.write_json(path)
    {
        report_error(&format!("{}: cannot write the summary: {e}", path.display()));
        return Outcome::Failed;
    }
    outcome
}

fn prepare(connection: Connection, cli_streams: &[String]) -> Result<Prepared, String> {
    let tenant = connection.tenant.clone();
    // Each mapping file with the streams it maps; a stream mapped twice is
    // refused (which file would fill it?).
    let mut loaded: Vec<(&Path, mapping::Loaded)> = Vec::new();
    for file in &connection.mappings {
        let mapping = mapping::load(file, &tenant, connection.source.description())?;
        for stream in mapping.streams() {
            if let Some((other, _)) = loaded.iter().find(|(_, l)| l.streams().contains(&stream)) {
                return Err(format!(
                    "tenant {tenant}: stream {stream:?} is mapped by both {} and {}",
                    other.display(),
                    file.display()
                ));
            }
        }
        loaded.push((file, mapping));
    }
    let mapped_streams: Vec<String> = loaded.iter().flat_map(|(_, l)| l.streams()).collect();
    let files = || {
        connection.mappings.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
    };
    let source: Arc<dyn Source> = connection
        .source
        .connector()
        .build(&tenant)
        .map_err(|e| format!("tenant {tenant}: {e}"))?;
    let defs = source.streams();
    let offered: Vec<String> = defs.iter().map(|s| s.name.clone()).collect();
    let streams: Vec<String> = if !cli_streams.is_empty() {
        cli_streams.to_vec()
    } else if let Some(streams) = &connection.streams {
        streams.clone()
    } else {
        mapped_streams.iter().filter(|s| offered.contains(s)).cloned().collect()
    };
    let mut mapped = Vec::new();
    for stream in streams {
        if !offered.contains(&stream) {
            return Err(format!(
                "tenant {tenant}: stream {stream:?} is not offered by the source (it offers: {})",
                offered.join(", ")
            ));
        }
        let Some((file, mapper)) =
            loaded.iter().find_map(|(file, l)| l.stream(&stream).map(|m| (*file, m)))
        else {
            return Err(format!(
                "tenant {tenant}: the mapping {} does not map stream {stream:?} (it maps: {})",
                files(),
                mapped_streams.join(", ")
            ));
        };
        if let Some(def) = defs.iter().find(|d| d.name == stream) {
            mapper.check_deleted(&def.deleted_by).map_err(|e| {
                format!("tenant {tenant}: mapping {}: {}", file.display(), e.message())
            })?;
            if let Some(why) = connection.sink.capabilities().refusal(def) {
                let sink = connection.sink.variant();
                return Err(format!(
                    "tenant {tenant}: {why}, and the {} sink ({}) is not",
                    sink.kind(),
                    sink.describe()
                ));
            }
        }
        mapped.push((stream, mapper, file.to_path_buf()));
    }
    Ok(Prepared { connection, source, streams: mapped })
}

/// Creates or extends the tables of every stream of `p` (the pipeline's own
/// `prepare` then finds nothing to do).
async fn prepare_tables(p: &Prepared) -> Result<(), cartage_core::Error> {
    let mut sink = p.connection.sink.build().await?;
    let defs = p.source.streams();
    for (stream, mapper, _) in &p.streams {
        let staged = defs.iter().any(|d| &d.name == stream && d.snapshots);
        sink.prepare(mapper.tables(), staged)
            .await
            .map_err(|e| e.context(format!("stream {stream}")))?;
    }
    Ok(())
}

/// One table as one connection's mapping fills it.
struct TableUse<'a, K> {
    /// What tells sinks apart: uses with equal keys write into one database.
    sink: &'a K,
    tenant: &'a str,
    file: &'a Path,
    table: &'a TableSchema,
}

fn uses(prepared: &[Prepared]) -> Vec<TableUse<'_, SinkConfig>> {
    let mut out = Vec::new();
    for p in prepared {
        for (_, mapper, file) in &p.streams {
            for table in mapper.tables() {
                out.push(TableUse {
                    sink: &p.connection.sink,
                    tenant: &p.connection.tenant,
                    file,
                    table,
                });
            }
        }
    }
    out
}

/// Two tenants whose mappings give one column of a table they share (same
/// sink, same table name) different types: their rows cannot live in one
/// column.
fn column_type_clash<K: PartialEq>(uses: &[TableUse<'_, K>]) -> Option<String> {
    for (i, a) in uses.iter().enumerate() {
        for b in &uses[i + 1..] {
            if a.sink != b.sink || a.table.name != b.table.name {
                continue;
            }
            for ca in &a.table.columns {
                let Some(cb) = b.table.columns.iter().find(|c| c.name == ca.name) else {
                    continue;
                };
                if ca.ty != cb.ty {
                    return Some(format!(
                        "tenants {} and {} share table {} but not the type of its column {}: {} makes it {}, {} makes it {}; give the column one type in both mappings, or different names",
                        a.tenant,
                        b.tenant,
                        a.table.name,
                        ca.name,
                        a.file.display(),
                        ca.ty.name(),
                        b.file.display(),
                        cb.ty.name()
                    ));
                }
            }
        }
    }
    None
}

fn outcome_of(kind: ErrorKind) -> Outcome {
    match kind {
        ErrorKind::Config => Outcome::BadConfig,
        ErrorKind::Cancelled => Outcome::Cancelled,
        _ => Outcome::Failed,
    }
}

/// Reports a fatal error once: as one `error: …` line on stderr, or as a
/// JSON log line with `--log-format json`.
pub fn report_error(message: &str) {
    if crate::logging::is_json() {
        error!("{message}");
    } else {
        eprintln!("error: {message}");
    }
}

#[cfg(test)]
mod tests {
    use cartage_core::{Column, ColumnType};

    use super::*;

    fn orders(extra: ColumnType) -> TableSchema {
        TableSchema {
            name: "orders".into(),
            columns: vec![
                Column::new("tenant", ColumnType::Text, false),
                Column::new("order_id", ColumnType::Text, false),
                Column::new("channel", extra, true),
            ],
            primary_key: vec!["tenant".into(), "order_id".into()],
            parent_key: None,
        }
    }

    fn table_use<'a>(
        sink: &'a &'static str,
        tenant: &'a str,
        file: &'a str,
        table: &'a TableSchema,
    ) -> TableUse<'a, &'static str> {
        TableUse { sink, tenant, file: Path::new(file), table }
    }

    #[test]
    fn tenants_sharing_a_table_may_not_type_one_extra_column_differently() {
        let (text, decimal) = (orders(ColumnType::Text), orders(ColumnType::Decimal));
        let (db, other_db) = ("sqlite://one.db", "sqlite://two.db");
        let clash = column_type_clash(&[
            table_use(&db, "acme", "mappings/acme.yaml", &text),
            table_use(&db, "globex", "mappings/globex.yaml", &decimal),
        ]);
        assert_eq!(
            clash.as_deref(),
            Some(
                "tenants acme and globex share table orders but not the type of its column channel: mappings/acme.yaml makes it text, mappings/globex.yaml makes it decimal; give the column one type in both mappings, or different names"
            )
        );
        let same = column_type_clash(&[
            table_use(&db, "acme", "mappings/acme.yaml", &text),
            table_use(&db, "globex", "mappings/globex.yaml", &text),
        ]);
        assert_eq!(same, None);
        let apart = column_type_clash(&[
            table_use(&db, "acme", "mappings/acme.yaml", &text),
            table_use(&other_db, "globex", "mappings/globex.yaml", &decimal),
        ]);
        assert_eq!(apart, None, "different databases share no table");
    }
}
