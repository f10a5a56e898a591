//! `cartage mapping validate|query|preview`: working on mapping files without
//! running a sync.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cartage_core::{MappedRows, ReadRequest, RecordMapper, Source, SourceBatch, SourceDescription};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Outcome;
use crate::config;
use crate::mapping;
use crate::registry::Connector;
use crate::sync::report_error;

/// The connector of a mapping file for a command without a configuration.
fn connector(file: &Path, flag: Option<&str>) -> Result<&'static Connector, Outcome> {
    mapping::connector_of(file, flag).map_err(|e| {
        if e.lines().count() > 1 {
            eprintln!("{e}");
        } else {
            report_error(&e);
        }
        Outcome::BadConfig
    })
}

/// Compiles every file and reports all problems; exit 2 if any file fails.
pub fn validate(files: &[PathBuf], tenant: &str, source: Option<&str>) -> Outcome {
    let mut failed = false;
    for file in files {
        let connector = match connector(file, source) {
            Ok(c) => c,
            Err(_) => {
                failed = true;
                continue;
            }
        };
        match mapping::load(file, tenant, (connector.description)()) {
            Ok(loaded) => {
                let tables = loaded.tables();
                println!(
                    "{}: ok (connector: {}; streams: {}; tables: {})",
                    file.display(),
                    connector.name,
                    loaded.streams().join(", "),
                    tables.join(", ")
                );
            }
            Err(diagnostics) => {
                failed = true;
                eprintln!("{diagnostics}");
            }
        }
    }
    if failed { Outcome::BadConfig } else { Outcome::Done }
}

/// Prints the request the connector sends for each stream of the file.
pub fn query(file: &Path, tenant: &str, stream: Option<&str>, source: Option<&str>) -> Outcome {
    let connector = match connector(file, source) {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let loaded = match mapping::load(file, tenant, (connector.description)()) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return Outcome::BadConfig;
        }
    };
    let streams = match stream {
        Some(s) => vec![s.to_owned()],
        None => loaded.streams(),
    };
    for stream in streams {
        let Some(mapper) = loaded.stream(&stream) else {
            report_error(&format!(
                "{}: the mapping does not map stream {stream:?}",
                file.display()
            ));
            return Outcome::BadConfig;
        };
        let selection = mapper.selection();
        match (connector.describe_read)(&stream, selection.as_deref()) {
            Some(text) => println!("{text}"),
            None => {
                report_error(&format!(
                    "stream {stream:?}: the {} connector does not read it",
                    connector.name
                ));
                return Outcome::BadConfig;
            }
        }
    }
    Outcome::Done
}

/// Where `preview` takes its records from.
pub enum PreviewSource {
    /// A connection of a configuration file.
    Config { path: PathBuf, tenant: Option<String> },
    /// An in-process simulator of the mapping's connector, with this data
    /// profile.
    Simulator { profile: Option<String>, source: Option<String> },
}

/// A source to preview from, what it is described by, and what to stop.
struct Opened {
    source: Arc<dyn Source>,
    description: SourceDescription,
    tenant: String,
    #[cfg(feature = "demo")]
    simulator: Option<crate::registry::RunningSimulator>,
}

async fn open(file: &Path, from: PreviewSource, sample: usize) -> Result<Opened, Outcome> {
    match from {
        PreviewSource::Config { path, tenant } => {
            let connections = config::load(&path).map_err(|e| {
                report_error(&e.to_string());
                Outcome::BadConfig
            })?;
            let Some(connection) =
                connections.into_iter().find(|c| tenant.as_ref().is_none_or(|t| &c.tenant == t))
            else {
                report_error(&format!("{}: no such tenant", path.display()));
                return Err(Outcome::BadConfig);
            };
            let source = connection.source.connector().build(&connection.tenant).map_err(|e| {
                report_error(&e.to_string());
                Outcome::BadConfig
            })?;
            Ok(Opened {
                source,
                description: connection.source.description(),
                tenant: connection.tenant.clone(),
                #[cfg(feature = "demo")]
                simulator: None,
            })
        }
        #[cfg(feature = "demo")]
        PreviewSource::Simulator { profile, source } => {
            let connector = connector(file, source.as_deref())?;
            let options = crate::registry::SimulatorOptions {
                profile,
                orders: None,
                page_size: Some(sample.clamp(1, 200)),
            };
            let running =
                crate::registry::start_simulator(connector.name, options).await.map_err(|e| {
                    report_error(&e);
                    Outcome::Failed
                })?;
            let built = running.source.connector().build("preview");
            let source = match built {
                Ok(s) => s,
                Err(e) => {
                    running.shutdown().await;
                    report_error(&e.to_string());
                    return Err(Outcome::Failed);
                }
            };
            Ok(Opened {
                source,
                description: (connector.description)(),
                tenant: "preview".to_owned(),
                simulator: Some(running),
            })
        }
        #[cfg(not(feature = "demo"))]
        PreviewSource::Simulator { profile, source } => {
            let _ = (file, sample, profile, source);
            report_error(
                "this cartage was built without simulators: rebuild with `--features demo`, or preview with --config",
            );
            Err(Outcome::BadConfig)
        }
    }
}

/// Reads `sample` records of `stream` and prints each beside the rows the
/// mapping makes of it, as JSON.
pub async fn preview(
    file: &Path,
    from: PreviewSource,
    stream: &str,
    sample: usize,
    cancel: CancellationToken,
) -> Outcome {
    let opened = match open(file, from, sample).await {
        Ok(o) => o,
        Err(outcome) => return outcome,
    };
    let outcome = preview_from(file, &opened, stream, sample, cancel).await;
    #[cfg(feature = "demo")]
    if let Some(simulator) = opened.simulator {
        simulator.shutdown().await;
    }
    outcome
}

async fn preview_from(
    file: &Path,
    opened: &Opened,
    stream: &str,
    sample: usize,
    cancel: CancellationToken,
) -> Outcome {
    let (source, tenant) = (&opened.source, &opened.tenant);
    let loaded = match mapping::load(file, tenant, opened.description.clone()) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            return Outcome::BadConfig;
        }
    };
    let Some(mapper) = loaded.stream(stream) else {
        report_error(&format!("{}: the mapping does not map stream {stream:?}", file.display()));
        return Outcome::BadConfig;
    };

    let (tx, mut rx) = mpsc::channel::<SourceBatch>(1);
    let read_cancel = cancel.child_token();
    let request = ReadRequest {
        tenant: tenant.clone(),
        stream: stream.to_owned(),
        selection: mapper.selection(),
        state: None,
        cancel: read_cancel.clone(),
        // A preview commits nothing: deletion events stay queued.
        committed: cartage_core::Committed::channel().1,
    };
    let reader = {
        let source = Arc::clone(source);
        tokio::spawn(async move { source.read(request, tx).await })
    };
    let mut shown = 0;
    while shown < sample {
        let Some(batch) = rx.recv().await else { break };
        for record in batch.records.iter().take(sample - shown) {
            print_preview(mapper.as_ref(), record);
            shown += 1;
        }
    }
    read_cancel.cancel();
    drop(rx);
    let result = reader.await;
    if shown > 0 {
        return Outcome::Done;
    }
    match result {
        Ok(Ok(_)) => {
            eprintln!("the source has no {stream} records");
            Outcome::Done
        }
        Ok(Err(e)) => {
            report_error(&e.to_string());
            Outcome::Failed
        }
        Err(e) => {
            report_error(&format!("internal error: the preview reader failed: {e}"));
            Outcome::Failed
        }
    }
}

fn print_preview(mapper: &dyn RecordMapper, record: &cartage_core::Record) {
    let source: serde_json::Value =
        serde_json::from_str(record.json()).unwrap_or(serde_json::Value::Null);
    let mut out = MappedRows::new(mapper.tables().len());
    let rows = match mapper.map_record(record, &mut out) {
        Ok(()) => {
            let mut tables = serde_json::Map::new();
            for (schema, rows) in mapper.tables().iter().zip(&out.tables) {
                let rows: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|row| {
                        let mut object = serde_json::Map::new();
                        for (column, value) in schema.columns.iter().zip(&row.0) {
                            object.insert(column.name.clone(), value_json(value));
                        }
                        serde_json::Value::Object(object)
                    })
                    .collect();
                tables.insert(schema.name.clone(), serde_json::Value::Array(rows));
            }
            serde_json::Value::Object(tables)
        }
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    };
    let preview = serde_json::json!({ "source": source, "rows": rows });
    println!("{}", serde_json::to_string_pretty(&preview).unwrap_or_default());
}

fn value_json(value: &cartage_core::Value) -> serde_json::Value {
    use cartage_core::Value;
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(n) => (*n).into(),
        // Exact decimals as text: JSON numbers would pass through floats.
        Value::Decimal(d) => d.to_string().into(),
        Value::Text(s) => s.clone().into(),
        Value::Timestamp(t) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true).into(),
        Value::Date(d) => d.to_string().into(),
        Value::Json(j) => j.clone(),
    }
}
