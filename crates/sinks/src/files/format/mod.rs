//! The three file formats: a streaming writer per file, and a reader that
//! hands back every record of a file (for [`super::read_table`]).
//!
//! Every file holds the table's columns in schema order, then `_synced_at`
//! (the batch time) and `_deleted_at` (null, or when the row was deleted).
//! Only key columns are non-null in a file's schema: a tombstone row carries
//! its key and nulls.

use std::fs::File;
use std::path::Path;

use cartage_core::{Row, TableSchema};
use chrono::{DateTime, Utc};

use super::FileFormat;
use crate::error::SinkError;

mod csv;
mod jsonl;
pub(crate) mod parquet;

/// One record of a file as read back.
pub(crate) struct Record {
    pub row: Row,
    pub synced_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Writes the records of one file, in order. Memory: a Parquet writer holds
/// up to one row group; the text formats only a write buffer.
pub(crate) trait RecordWriter: Send {
    /// Appends a full row (`deleted_at` `None`) or a tombstone (the key
    /// columns set, the rest null, `deleted_at` set).
    fn write(&mut self, row: &Row, deleted_at: Option<DateTime<Utc>>) -> Result<(), SinkError>;

    /// Completes the file (footer, buffers) and returns it for the fsync.
    fn finish(self: Box<Self>) -> Result<File, SinkError>;
}

/// What every writer needs to know about its file.
pub(crate) struct FileSpec<'a> {
    pub path: &'a Path,
    pub schema: &'a TableSchema,
    pub synced_at: DateTime<Utc>,
    pub row_group_rows: usize,
}

pub(crate) fn writer(
    format: FileFormat,
    file: File,
    spec: FileSpec<'_>,
) -> Result<Box<dyn RecordWriter>, SinkError> {
    Ok(match format {
        FileFormat::Jsonl => Box::new(jsonl::JsonlWriter::new(file, &spec)),
        FileFormat::Csv => Box::new(csv::CsvWriter::new(file, &spec)?),
        FileFormat::Parquet => Box::new(parquet::ParquetWriter::new(file, &spec)?),
    })
}

/// Reads every record of the file at `path`, in file order. Columns the file
/// lacks (added to the schema since it was written) read as null.
pub(crate) fn read(
    format: FileFormat,
    path: &Path,
    schema: &TableSchema,
) -> Result<Vec<Record>, SinkError> {
    match format {
        FileFormat::Jsonl => jsonl::read(path, schema),
        FileFormat::Csv => csv::read(path, schema),
        FileFormat::Parquet => parquet::read(path, schema),
    }
}

/// Whether column `i` of `schema` is part of the primary key (non-null in
/// every file).
pub(crate) fn in_key(schema: &TableSchema, i: usize) -> bool {
    schema.primary_key.contains(&schema.columns[i].name)
}
