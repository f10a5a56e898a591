//! `sink: {type: files, path: DIR, format: jsonl|csv|parquet}`: the file
//! sink's configuration.

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use cartage_core::{Sink, SinkCapabilities};
use serde::Deserialize;

use super::FilesSink;
use crate::config::SinkVariant;

/// `sink: {type: files, path: DIR, format: parquet}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// The directory the files go into (relative to the working directory,
    /// or absolute); created if missing. Files land in `DIR/<tenant>/<table>/`.
    pub path: PathBuf,
    /// `jsonl`, `csv` or `parquet`.
    pub format: FileFormat,
    /// Parquet only: the most rows in one row group. Readers (DuckDB,
    /// pyarrow, Spark) parallelise and skip by row group; DuckDB's own
    /// default, 122,880, keeps groups large enough to compress well and small
    /// enough that the writer buffers only that many rows of a table at once.
    #[serde(default = "default_row_group_rows")]
    pub row_group_rows: usize,
}

/// DuckDB's own row group size (see [`FilesConfig::row_group_rows`]).
fn default_row_group_rows() -> usize {
    122_880
}

/// The format of a file sink's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// Apache Parquet, Snappy-compressed.
    Parquet,
}

impl FileFormat {
    /// The file name extension (and the `format:` value).
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Jsonl => "jsonl",
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

impl FilesConfig {
    /// A config writing `format` files under `path`.
    pub fn new(path: impl Into<PathBuf>, format: FileFormat) -> Self {
        FilesConfig { path: path.into(), format, row_group_rows: default_row_group_rows() }
    }

    /// Opens the concrete sink (creating the directory).
    pub async fn open(&self) -> Result<FilesSink, cartage_core::Error> {
        Ok(FilesSink::open(self)?)
    }
}

/// The file sink writes tombstone rows for deletions and swaps snapshots in
/// whole (see [`crate::files`]).
const FILES_CAPABILITIES: SinkCapabilities = SinkCapabilities { deletions: true, snapshots: true };

#[async_trait]
impl SinkVariant for FilesConfig {
    fn kind(&self) -> &'static str {
        "files"
    }

    fn describe(&self) -> String {
        format!("{} ({})", self.path.display(), self.format.extension())
    }

    fn capabilities(&self) -> SinkCapabilities {
        FILES_CAPABILITIES
    }

    async fn build(&self) -> Result<Box<dyn Sink>, cartage_core::Error> {
        Ok(Box::new(self.open().await?))
    }
}

impl fmt::Debug for FilesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilesConfig")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("row_group_rows", &self.row_group_rows)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SinkConfig;

    #[test]
    fn config_parses_with_defaults_and_rejects_unknown_fields() {
        let c: SinkConfig =
            serde_json::from_str(r#"{"type":"files","path":"out","format":"parquet"}"#)
                .expect("valid config");
        assert_eq!(c, SinkConfig::Files(FilesConfig::new("out", FileFormat::Parquet)));
        assert_eq!(c.variant().kind(), "files");
        assert_eq!(c.describe(), "out (parquet)");
        assert_eq!(c.capabilities(), FILES_CAPABILITIES);
        let c: SinkConfig = serde_json::from_str(
            r#"{"type":"files","path":"out","format":"csv","row_group_rows":10}"#,
        )
        .expect("valid config");
        let SinkConfig::Files(f) = c else { panic!("files config") };
        assert_eq!((f.format, f.row_group_rows), (FileFormat::Csv, 10));
        let e = serde_json::from_str::<SinkConfig>(
            r#"{"type":"files","path":"out","format":"jsonl","compress":true}"#,
        )
        .expect_err("unknown field");
        assert!(e.to_string().contains("unknown field `compress`"), "{e}");
        let e =
            serde_json::from_str::<SinkConfig>(r#"{"type":"files","path":"out","format":"xlsx"}"#)
                .expect_err("unknown format");
        assert!(e.to_string().contains("unknown variant `xlsx`"), "{e}");
    }
}
