//! Helpers shared by the test modules: a loader over a directory, the
//! schema, rendering rows as reviewable JSON, and `check`.

use std::path::{Path, PathBuf};

use cartage_core::{MappedRows, Record, Value};
use cartage_mapping::{CompileContext, CompiledMapping, Diagnostics, compile};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn schema_sdl() -> String {
    std::fs::read_to_string(repo_root().join("connectors/centra/schema.graphql"))
        .expect("connectors/centra/schema.graphql is readable")
}

pub fn ctx() -> CompileContext {
    CompileContext::new("acme", connector_centra::description())
}

/// Compiles `root` with names resolved in `dir` first, then in `mappings/`.
pub fn compile_dir(
    dir: &Path,
    root: &str,
    ctx: &CompileContext,
) -> Result<CompiledMapping, Diagnostics> {
    let dir = dir.to_path_buf();
    let loader = move |name: &str| -> Option<(String, String)> {
        for base in [dir.clone(), repo_root().join("mappings")] {
            let p = base.join(name);
            if let Ok(text) = std::fs::read_to_string(&p) {
                return Some((name.to_owned(), text));
            }
        }
        None
    };
    compile(root, &loader, ctx)
}

/// Compiles one in-memory file named `mapping.yaml` (plus `files` it may
/// extend; `centra/default.yaml` comes from the repository).
pub fn compile_text(text: &str, files: &[(&str, &str)]) -> Result<CompiledMapping, Diagnostics> {
    compile_text_with(text, files, &ctx())
}

pub fn compile_text_with(
    text: &str,
    files: &[(&str, &str)],
    ctx: &CompileContext,
) -> Result<CompiledMapping, Diagnostics> {
    let text = text.to_owned();
    let files: Vec<(String, String)> =
        files.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
    let loader = move |name: &str| -> Option<(String, String)> {
        if name == "mapping.yaml" {
            return Some((name.to_owned(), text.clone()));
        }
        if let Some((n, t)) = files.iter().find(|(n, _)| n == name) {
            return Some((n.clone(), t.clone()));
        }
        let p = repo_root().join("mappings").join(name);
        std::fs::read_to_string(p).ok().map(|t| (format!("mappings/{name}"), t))
    };
    compile("mapping.yaml", &loader, ctx)
}

/// A value as tagged JSON, so a golden file shows types as well as values.
pub fn render_value(v: &Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Text(t) => json!(t),
        Value::Decimal(d) => json!({ "decimal": d.to_string() }),
        Value::Timestamp(t) => {
            json!({ "timestamp": t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true) })
        }
        Value::Date(d) => json!({ "date": d.to_string() }),
        Value::Json(j) => json!({ "json": j }),
    }
}

/// Maps records with one stream of a compiled mapping; renders rows per
/// table as `{table: [{column: value}]}`, or the error text.
pub fn run(
    mapping: &CompiledMapping,
    stream: &str,
    records: &[serde_json::Value],
) -> serde_json::Value {
    let raw: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    run_raw(mapping, stream, &raw)
}

/// Like [`run`] over records as JSON text (numbers keep their exact text).
pub fn run_raw(mapping: &CompiledMapping, stream: &str, records: &[String]) -> serde_json::Value {
    let mapper = mapping.stream(stream).expect("stream is mapped");
    let tables = mapper.tables().to_vec();
    let mut out = MappedRows::new(tables.len());
    for r in records {
        let record = Record::from_json_str(r).expect("record is json");
        if let Err(e) = mapper.map_record(&record, &mut out) {
            return serde_json::json!({ "error": e.to_string() });
        }
    }
    let mut result = serde_json::Map::new();
    for (schema, rows) in tables.iter().zip(&out.tables) {
        let rendered: Vec<serde_json::Value> = rows
            .iter()
            .map(|row| {
                let mut obj = serde_json::Map::new();
                for (col, v) in schema.columns.iter().zip(&row.0) {
                    obj.insert(col.name.clone(), render_value(v));
                }
                serde_json::Value::Object(obj)
            })
            .collect();
        result.insert(schema.name.clone(), serde_json::Value::Array(rendered));
    }
    serde_json::Value::Object(result)
}

/// The golden check: maps the records of `input` with the case folder's
/// `mapping.yaml` and compares with `expected` (rows per table,
/// `{"error": …}` or `{"compile_error": …}`).
pub fn check(dir: &Path, input: &str, expected: &str) {
    let actual = outcome_in(dir, input);
    let expected: serde_json::Value = serde_json::from_str(expected).expect("expected is json");
    assert_eq!(
        serde_json::to_string_pretty(&actual).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap(),
        "golden case {}",
        dir.display()
    );
}

/// Like [`check`] for an in-memory mapping.
pub fn check_text(mapping: &str, input: &str, expected: serde_json::Value) {
    let actual = outcome(mapping, input);
    assert_eq!(
        serde_json::to_string_pretty(&actual).unwrap(),
        serde_json::to_string_pretty(&expected).unwrap()
    );
}

pub fn outcome(mapping: &str, input: &str) -> serde_json::Value {
    outcome_of(compile_text(mapping, &[]), input)
}

/// Like [`outcome`] for `mapping.yaml` in `dir` (which may extend files beside it).
pub fn outcome_in(dir: &Path, input: &str) -> serde_json::Value {
    outcome_of(compile_dir(dir, "mapping.yaml", &ctx()), input)
}

fn outcome_of(compiled: Result<CompiledMapping, Diagnostics>, input: &str) -> serde_json::Value {
    let records: Vec<String> = if input.trim_start().starts_with('[') {
        let items: Vec<Box<serde_json::value::RawValue>> =
            serde_json::from_str(input).expect("input is json");
        items.into_iter().map(|r| r.get().to_owned()).collect()
    } else {
        vec![input.to_owned()]
    };
    match compiled {
        Err(d) => serde_json::json!({ "compile_error": d.to_string() }),
        Ok(m) => {
            let stream = m.streams()[0].to_owned();
            run_raw(&m, &stream, &records)
        }
    }
}

/// Asserts that `mapping` (with `files` it may extend) fails to compile
/// with exactly `expected`. `BLESS_BROKEN=file` records the actual texts
/// instead, for review.
pub fn check_err(name: &str, mapping: &str, files: &[(&str, &str)], expected: &str) {
    let actual = match compile_text(mapping, files) {
        Ok(_) => "(compiled)".to_owned(),
        Err(d) => d.to_string(),
    };
    if let Some(path) = std::env::var_os("BLESS_BROKEN") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        writeln!(f, "{}", serde_json::json!({ "name": name, "actual": actual })).unwrap();
        return;
    }
    assert_eq!(actual, expected, "broken mapping {name}");
}
