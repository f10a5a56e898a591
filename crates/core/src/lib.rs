//! Cartage's core: the record and stream model, the `Source` and `Sink`
//! traits, sync state, and the pipeline driver that joins them.
//!
//! Architecture Invariant: this crate knows no HTTP client and no database.
//! Connectors, the mapping engine and sinks depend on it, never the reverse.

pub mod connector;
pub mod describe;
pub mod error;
pub mod pipeline;
pub mod secret;
pub mod sink;
pub mod source;
pub mod stream;
pub mod value;
pub mod versioned;

pub use connector::ConnectorConfig;
pub use describe::{
    AmountKind, AttributeShape, MoneyShape, RecordSchema, ScalarType, SchemaFormat,
    SourceDescription, StreamType,
};
pub use error::{Error, ErrorKind};
pub use pipeline::{Deletion, MappedRows, Pipeline, PipelineStats, RecordMapper};
pub use secret::Secret;
pub use sink::{
    CommitBatch, CommitStats, RowCheck, Sink, SinkCapabilities, TableDeletes, TableRows,
};
pub use source::{
    Committed, ReadRequest, ReadSummary, Record, SnapshotPart, Source, SourceBatch, StreamCheck,
};
pub use stream::{StreamDef, StreamState, SyncMode, WriteMode};
pub use value::{Column, ColumnType, Row, SharedSchema, TableSchema, Value};
