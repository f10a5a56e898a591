//! Typed values, rows and table schemas: what the mapping produces and sinks
//! write.
//!
//! Money is a [`rust_decimal::Decimal`], never a float; timestamps are UTC
//! instants at full precision.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

/// The type of a column, independent of any database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    Text,
    /// A 64-bit signed integer.
    Int,
    Bool,
    /// An exact decimal (money, rates). Sinks use `NUMERIC`/`DECIMAL` or an
    /// exact text form; never a binary float.
    Decimal,
    /// A UTC instant with microsecond precision or better.
    Timestamp,
    Date,
    /// A JSON document (the `custom` column, raw payloads).
    Json,
}

impl ColumnType {
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Int => "integer",
            ColumnType::Bool => "boolean",
            ColumnType::Decimal => "decimal",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Date => "date",
            ColumnType::Json => "json",
        }
    }
}

/// One value of a row. `Null` is allowed in any nullable column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Decimal(Decimal),
    Text(String),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
    Json(serde_json::Value),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The column type this value fits, or `None` for `Null`.
    pub fn column_type(&self) -> Option<ColumnType> {
        Some(match self {
            Value::Null => return None,
            Value::Bool(_) => ColumnType::Bool,
            Value::Int(_) => ColumnType::Int,
            Value::Decimal(_) => ColumnType::Decimal,
            Value::Text(_) => ColumnType::Text,
            Value::Timestamp(_) => ColumnType::Timestamp,
            Value::Date(_) => ColumnType::Date,
            Value::Json(_) => ColumnType::Json,
        })
    }
}

/// A column of a target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: ColumnType, nullable: bool) -> Self {
        Column { name: name.into(), ty, nullable }
    }
}

/// The shape of a target table as the mapping declares it.
///
/// `columns` are the data columns in row order, `tenant` first. Sinks add the
/// system columns `_synced_at` and `_deleted_at` themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    pub name: String,
    pub columns: Vec<Column>,
    /// Column names of the primary key, `tenant` first.
    pub primary_key: Vec<String>,
    /// For a child table (order lines of an order): the leading primary key
    /// columns that identify the parent. When a batch carries a parent, the
    /// sink marks that parent's children missing from the batch as deleted.
    pub parent_key: Option<Vec<String>>,
}

impl TableSchema {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Indexes of the primary key columns in row order.
    pub fn primary_key_indexes(&self) -> Vec<usize> {
        self.primary_key.iter().filter_map(|k| self.column_index(k)).collect()
    }
}

/// One row, positionally aligned with its [`TableSchema::columns`].
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

/// A shared table schema; rows travel with an `Arc` to their schema.
pub type SharedSchema = Arc<TableSchema>;
