//! CSV per RFC 4180: a header row of column names, `CRLF` line ends, fields
//! quoted when they hold a comma, a quote or a line break (quotes doubled).
//!
//! Null is an empty unquoted field; an empty string is `""`, as PostgreSQL's
//! `COPY ... CSV` writes them (DuckDB keeps them apart with
//! `allow_quoted_nulls = false`). Decimals are written exactly as the source
//! wrote them (`1.50`), timestamps as RFC 3339 UTC with microseconds and `Z`,
//! dates as `YYYY-MM-DD`, JSON documents as their JSON text.
//!
//! Fields go through `csv_core` (the state machine under the `csv` crate)
//! rather than `csv::Writer`, because the writer cannot quote one empty
//! field and not the next: null and the empty string would read back alike.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use cartage_core::{Row, TableSchema, Value};
use chrono::{DateTime, Utc};
use csv_core::{Terminator, WriteResult, Writer, WriterBuilder};

use super::{FileSpec, Record, RecordWriter};
use crate::database::{DELETED_AT, SYNCED_AT, sqlite_timestamp};
use crate::error::SinkError;
use crate::files::encode;

pub(super) struct CsvWriter {
    core: Writer,
    out: BufWriter<File>,
    path: PathBuf,
    scratch: [u8; 1024],
    synced_at: String,
}

impl CsvWriter {
    pub(super) fn new(file: File, spec: &FileSpec<'_>) -> Result<Self, SinkError> {
        let mut w = CsvWriter {
            core: WriterBuilder::new().terminator(Terminator::CRLF).build(),
            out: BufWriter::with_capacity(256 * 1024, file),
            path: spec.path.to_owned(),
            scratch: [0; 1024],
            synced_at: sqlite_timestamp(spec.synced_at),
        };
        let header = spec
            .schema
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .chain([SYNCED_AT, DELETED_AT])
            .collect::<Vec<_>>();
        w.record(header.iter().map(|h| Some(h.as_bytes())))
            .map_err(|e| SinkError::io("writing", &w.path, e))?;
        Ok(w)
    }

    /// Writes one record: `None` is null (an empty unquoted field).
    fn record<'a>(
        &mut self,
        fields: impl Iterator<Item = Option<&'a [u8]>>,
    ) -> std::io::Result<()> {
        for (i, f) in fields.enumerate() {
            if i > 0 {
                loop {
                    let (res, n) = self.core.delimiter(&mut self.scratch);
                    self.out.write_all(&self.scratch[..n])?;
                    if res == WriteResult::InputEmpty {
                        break;
                    }
                }
            }
            match f {
                None => {}
                // The core writer would leave it unquoted, like a null.
                Some([]) => self.out.write_all(b"\"\"")?,
                Some(mut input) => loop {
                    let (res, nin, nout) = self.core.field(input, &mut self.scratch);
                    input = &input[nin..];
                    self.out.write_all(&self.scratch[..nout])?;
                    if res == WriteResult::InputEmpty {
                        break;
                    }
                },
            }
        }
        loop {
            let (res, n) = self.core.terminator(&mut self.scratch);
            self.out.write_all(&self.scratch[..n])?;
            if res == WriteResult::InputEmpty {
                return Ok(());
            }
        }
    }
}

impl RecordWriter for CsvWriter {
    fn write(&mut self, row: &Row, deleted_at: Option<DateTime<Utc>>) -> Result<(), SinkError> {
        let texts: Vec<Option<std::borrow::Cow<'_, str>>> =
            row.0.iter().map(encode::text).collect();
        let synced = std::mem::take(&mut self.synced_at);
        let deleted = deleted_at.map(sqlite_timestamp);
        let fields = texts
            .iter()
            .map(|t| t.as_ref().map(|t| t.as_bytes()))
            .chain([Some(synced.as_bytes()), deleted.as_deref().map(str::as_bytes)]);
        let result = self.record(fields);
        self.synced_at = synced;
        result.map_err(|e| SinkError::io("writing", &self.path, e))
    }

    fn finish(self: Box<Self>) -> Result<File, SinkError> {
        let path = self.path;
        self.out.into_inner().map_err(|e| SinkError::io("writing", &path, e.into_error()))
    }
}

/// Splits RFC 4180 text into records of fields; `None` is an empty unquoted
/// field (null). Our own reader because the `csv` crate's does not say
/// whether a field was quoted.
fn parse(text: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let mut records = Vec::new();
    let mut record: Vec<Option<String>> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let field = if chars.peek() == Some(&'"') {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        s.push('"');
                    }
                    Some('"') => break,
                    Some(c) => {
                        if c == '\n' {
                            line += 1;
                        }
                        s.push(c)
                    }
                    None => return Err(format!("line {line}: unterminated quoted field")),
                }
            }
            Some(s)
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\r' || c == '\n' {
                    break;
                }
                if c == '"' {
                    return Err(format!("line {line}: quote inside an unquoted field"));
                }
                s.push(c);
                chars.next();
            }
            (!s.is_empty()).then_some(s)
        };
        record.push(field);
        match chars.next() {
            Some(',') => {}
            Some('\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                line += 1;
                records.push(std::mem::take(&mut record));
            }
            Some('\n') | None => {
                line += 1;
                records.push(std::mem::take(&mut record));
            }
            Some(c) => return Err(format!("line {line}: unexpected {c:?} after a field")),
        }
    }
    Ok(records)
}

pub(super) fn read(path: &Path, schema: &TableSchema) -> Result<Vec<Record>, SinkError> {
    let text = std::fs::read_to_string(path).map_err(|e| SinkError::io("reading", path, e))?;
    let mut records = parse(&text).map_err(|e| SinkError::file(path, e))?.into_iter();
    let header = records.next().ok_or_else(|| SinkError::file(path, "no header row"))?;
    let position = |name: &str| header.iter().position(|h| h.as_deref() == Some(name));
    let columns: Vec<Option<usize>> = schema.columns.iter().map(|c| position(&c.name)).collect();
    let (Some(synced), Some(deleted)) = (position(SYNCED_AT), position(DELETED_AT)) else {
        return Err(SinkError::file(path, "the header lacks the system columns"));
    };
    let mut out = Vec::new();
    for (n, mut fields) in records.enumerate() {
        let bad = |reason: String| SinkError::file(path, format!("record {}: {reason}", n + 1));
        let mut values = Vec::with_capacity(schema.columns.len());
        for (c, at) in schema.columns.iter().zip(&columns) {
            let v = match at.and_then(|i| fields.get_mut(i)).and_then(Option::take) {
                None => Value::Null,
                Some(s) => encode::parse_text(c.ty, &s)
                    .map_err(|e| bad(format!("column {}: {e}", c.name)))?,
            };
            values.push(v);
        }
        let time = |i: usize| -> Result<Option<DateTime<Utc>>, SinkError> {
            fields
                .get(i)
                .and_then(Option::as_deref)
                .map(encode::parse_timestamp)
                .transpose()
                .map_err(bad)
        };
        let synced_at = time(synced)?.ok_or_else(|| bad(format!("{SYNCED_AT} is empty")))?;
        let deleted_at = time(deleted)?;
        out.push(Record { row: Row(values), synced_at, deleted_at });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_the_empty_string_parse_apart() {
        let parsed = parse("a,b,c\r\n,\"\",\"x,\"\"y\"\"\r\nz\"\r\n").expect("valid csv");
        assert_eq!(
            parsed,
            vec![
                vec![Some("a".into()), Some("b".into()), Some("c".into())],
                vec![None, Some(String::new()), Some("x,\"y\"\r\nz".into())],
            ]
        );
    }
}
