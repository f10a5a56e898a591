//! `cartage mapping validate|query|preview`: working on mapping files without
//! running a sync.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cartage_core::{MappedRows, ReadRequest, RecordMapper, Source, SourceBatch};
use centra_sim::{SimConfig, Simulator};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Outcome;
use crate::config::{self, SourceConfig};
use crate::mapping;
use crate::sync::report_error;

/// Compiles every file and reports all problems; exit 2 if any file fails.
pub fn validate(files: &[PathBuf], tenant: &str) -> Outcome {
    let mut failed = false;
    for file in files {
        match mapping::load(file, tenant) {
            Ok(loaded) => {
                let tables = loaded.tables();
                println!(
                    "{}: ok (streams: {}; tables: {})",
                    file.display(),
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

/// Prints the GraphQL query the connector sends for each stream of the file.
pub fn query(file: &Path, tenant: &str, stream: Option<&str>) -> Outcome {
    let loaded = match mapping::load(file, tenant) {
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
        if stream != connector_centra::ORDERS_STREAM {
            report_error(&format!("stream {stream:?}: the Centra connector does not read it yet"));
            return Outcome::BadConfig;
        }
        let selection = mapper
            .selection()
            .unwrap_or_else(|| connector_centra::DEFAULT_ORDER_SELECTION.to_owned());
        println!("# stream {stream}: one page of an incremental window");
        println!("{}", connector_centra::orders::orders_query(&selection, true, true, true));
    }
    Outcome::Done
}

/// Where `preview` takes its records from.
pub enum PreviewSource {
    /// A connection of a configuration file.
    Config { path: PathBuf, tenant: Option<String> },
    /// An in-process simulator with this data profile.
    Simulator { profile: String },
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
    let (source, tenant, _running): (Arc<dyn Source>, String, Option<centra_sim::RunningSim>) =
        match from {
            PreviewSource::Config { path, tenant } => {
                let connections = match config::load(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        report_error(&e.to_string());
                        return Outcome::BadConfig;
                    }
                };
                let Some(connection) = connections
                    .into_iter()
                    .find(|c| tenant.as_ref().is_none_or(|t| &c.tenant == t))
                else {
                    report_error(&format!("{}: no such tenant", path.display()));
                    return Outcome::BadConfig;
                };
                let SourceConfig::Centra(centra) = &connection.source;
                match centra.build(&connection.tenant) {
                    Ok(s) => (Arc::new(s), connection.tenant.clone(), None),
                    Err(e) => {
                        report_error(&e.to_string());
                        return Outcome::BadConfig;
                    }
                }
            }
            PreviewSource::Simulator { profile } => {
                let sim = Simulator::new(SimConfig { profile, ..SimConfig::default() });
                let running = match sim.serve(([127, 0, 0, 1], 0).into()).await {
                    Ok(r) => r,
                    Err(e) => {
                        report_error(&format!("cannot start the simulator: {e}"));
                        return Outcome::Failed;
                    }
                };
                let yaml = format!(
                    // The simulator's clock starts at 2026-03-01: trust it.
                    "type: centra\nendpoint: {}\ntoken: {}\npage_size: {}\nmax_clock_skew_secs: 315360000\n",
                    running.graphql_url,
                    running.token,
                    sample.clamp(1, 200)
                );
                let config: SourceConfig = match serde_yaml::from_str(&yaml) {
                    Ok(c) => c,
                    Err(e) => {
                        report_error(&format!("internal error: preview source: {e}"));
                        return Outcome::Failed;
                    }
                };
                let SourceConfig::Centra(centra) = &config;
                match centra.build("preview") {
                    Ok(s) => (Arc::new(s), "preview".to_owned(), Some(running)),
                    Err(e) => {
                        report_error(&e.to_string());
                        return Outcome::Failed;
                    }
                }
            }
        };
    let loaded = match mapping::load(file, &tenant) {
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
        let source = Arc::clone(&source);
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
