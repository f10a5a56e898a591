//! JSONL: one object per line, keys in column order. Numbers and booleans
//! are JSON numbers and booleans; decimals are strings (exact digits, as
//! written); timestamps RFC 3339 UTC strings with microseconds and `Z`;
//! dates `YYYY-MM-DD`; JSON documents are strings holding the JSON text (so
//! a document that is `null` stays apart from a null value); null is `null`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use cartage_core::{Row, TableSchema, Value};
use chrono::{DateTime, Utc};

use super::{FileSpec, Record, RecordWriter};
use crate::database::{DELETED_AT, SYNCED_AT, sqlite_timestamp};
use crate::error::SinkError;
use crate::files::encode;

pub(super) struct JsonlWriter {
    out: BufWriter<File>,
    path: PathBuf,
    /// `"name":` per column, escaped once.
    keys: Vec<String>,
    /// The batch time, formatted once.
    synced_at: String,
}

impl JsonlWriter {
    pub(super) fn new(file: File, spec: &FileSpec<'_>) -> Self {
        let key = |name: &str| format!("{}:", serde_json::Value::String(name.to_owned()));
        JsonlWriter {
            out: BufWriter::with_capacity(256 * 1024, file),
            path: spec.path.to_owned(),
            keys: spec.schema.columns.iter().map(|c| key(&c.name)).collect(),
            synced_at: format!("{}\"{}\"", key(SYNCED_AT), sqlite_timestamp(spec.synced_at)),
        }
    }

    fn write_line(&mut self, row: &Row, deleted_at: Option<DateTime<Utc>>) -> std::io::Result<()> {
        let out = &mut self.out;
        out.write_all(b"{")?;
        for (key, v) in self.keys.iter().zip(&row.0) {
            out.write_all(key.as_bytes())?;
            match v {
                Value::Null => out.write_all(b"null")?,
                Value::Int(n) => write!(out, "{n}")?,
                Value::Bool(b) => out.write_all(if *b { b"true" } else { b"false" })?,
                Value::Text(s) => serde_json::to_writer(&mut *out, s)?,
                other => {
                    let t = encode::text(other).unwrap_or_default();
                    serde_json::to_writer(&mut *out, t.as_ref())?;
                }
            }
            out.write_all(b",")?;
        }
        out.write_all(self.synced_at.as_bytes())?;
        write!(out, ",\"{DELETED_AT}\":")?;
        match deleted_at {
            Some(t) => write!(out, "\"{}\"}}", sqlite_timestamp(t))?,
            None => out.write_all(b"null}")?,
        }
        out.write_all(b"\n")
    }
}

impl RecordWriter for JsonlWriter {
    fn write(&mut self, row: &Row, deleted_at: Option<DateTime<Utc>>) -> Result<(), SinkError> {
        self.write_line(row, deleted_at).map_err(|e| SinkError::io("writing", &self.path, e))
    }

    fn finish(self: Box<Self>) -> Result<File, SinkError> {
        let path = self.path;
        self.out.into_inner().map_err(|e| SinkError::io("writing", &path, e.into_error()))
    }
}

pub(super) fn read(path: &Path, schema: &TableSchema) -> Result<Vec<Record>, SinkError> {
    let file = File::open(path).map_err(|e| SinkError::io("opening", path, e))?;
    let mut records = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| SinkError::io("reading", path, e))?;
        let bad = |reason: String| SinkError::file(path, format!("line {}: {reason}", n + 1));
        let mut object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let mut values = Vec::with_capacity(schema.columns.len());
        for c in &schema.columns {
            let v = match object.remove(&c.name) {
                None | Some(serde_json::Value::Null) => Ok(Value::Null),
                Some(serde_json::Value::String(s)) => encode::parse_text(c.ty, &s),
                Some(other) => encode::from_index(c.ty, &other),
            };
            values.push(v.map_err(|e| bad(format!("column {}: {e}", c.name)))?);
        }
        let time = |name: &str, object: &serde_json::Map<String, serde_json::Value>| match object
            .get(name)
        {
            Some(serde_json::Value::String(s)) => encode::parse_timestamp(s).map(Some),
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(other) => Err(format!("expected a timestamp string, found {other}")),
        };
        let synced_at = time(SYNCED_AT, &object)
            .map_err(|e| bad(format!("column {SYNCED_AT}: {e}")))?
            .ok_or_else(|| bad(format!("column {SYNCED_AT} is missing")))?;
        let deleted_at =
            time(DELETED_AT, &object).map_err(|e| bad(format!("column {DELETED_AT}: {e}")))?;
        records.push(Record { row: Row(values), synced_at, deleted_at });
    }
    Ok(records)
}
