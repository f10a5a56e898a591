//! Parquet through the `arrow` and `parquet` crates, Snappy-compressed,
//! with logical types readers understand without casts:
//!
//! | column type | Parquet (Arrow) |
//! |---|---|
//! | `Text` | `BYTE_ARRAY` UTF8 (`Utf8`) |
//! | `Int` | `INT64` (`Int64`) |
//! | `Bool` | `BOOLEAN` (`Boolean`) |
//! | `Decimal` | `DECIMAL(38, 12)` (`Decimal128(38, 12)`); a value that does not fit is an error |
//! | `Timestamp`, `_synced_at`, `_deleted_at` | `TIMESTAMP(MICROS, isAdjustedToUTC)` (`Timestamp(µs, "UTC")`) |
//! | `Date` | `DATE` (`Date32`) |
//! | `Json` | UTF8, the JSON text |
//!
//! Rows go into column builders and leave as a record batch every
//! [`BATCH_ROWS`] rows; the writer closes a row group every
//! `row_group_rows` rows.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cartage_core::{ColumnType, Row, TableSchema, Value};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use rust_decimal::Decimal;

use super::{FileSpec, Record, RecordWriter, in_key};
use crate::database::{DELETED_AT, SYNCED_AT};
use crate::error::SinkError;
use crate::{DECIMAL_PRECISION, DECIMAL_SCALE};

/// Rows per record batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;

const UTC: &str = "UTC";

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

/// The Arrow schema of `schema`'s files.
pub(crate) fn arrow_schema(schema: &TableSchema) -> SchemaRef {
    let mut fields: Vec<Field> = schema
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ty = match c.ty {
                ColumnType::Text | ColumnType::Json => DataType::Utf8,
                ColumnType::Int => DataType::Int64,
                ColumnType::Bool => DataType::Boolean,
                ColumnType::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
                ColumnType::Timestamp => timestamp_type(),
                ColumnType::Date => DataType::Date32,
            };
            Field::new(&c.name, ty, !in_key(schema, i))
        })
        .collect();
    fields.push(Field::new(SYNCED_AT, timestamp_type(), false));
    fields.push(Field::new(DELETED_AT, timestamp_type(), true));
    Arc::new(Schema::new(fields))
}

enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
    Decimal(Decimal128Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Date(Date32Builder),
}

impl Builder {
    fn new(ty: &DataType) -> Self {
        match ty {
            DataType::Int64 => Builder::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            DataType::Boolean => Builder::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            DataType::Decimal128(p, s) => Builder::Decimal(
                Decimal128Builder::with_capacity(BATCH_ROWS)
                    .with_precision_and_scale(*p, *s)
                    // Cannot fail: 38 and 12 are a valid precision and scale.
                    .expect("valid decimal precision and scale"),
            ),
            DataType::Timestamp(..) => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS).with_timezone(UTC),
            ),
            DataType::Date32 => Builder::Date(Date32Builder::with_capacity(BATCH_ROWS)),
            _ => Builder::Text(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16)),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Decimal(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
        }
    }
}

fn epoch() -> NaiveDate {
    NaiveDate::default()
}

/// `d` as the unscaled 128-bit integer of a `DECIMAL(38, 12)`, or `None`
/// if it has more fraction or integer digits than that holds.
pub(crate) fn decimal_to_i128(d: Decimal) -> Option<i128> {
    let scale = d.scale() as i32;
    let target = i32::from(DECIMAL_SCALE);
    let m = d.mantissa();
    let unscaled = if scale <= target {
        m.checked_mul(10i128.checked_pow((target - scale) as u32)?)?
    } else {
        let f = 10i128.checked_pow((scale - target) as u32)?;
        if m % f != 0 {
            return None;
        }
        m / f
    };
    (unscaled.unsigned_abs() < 10u128.pow(u32::from(DECIMAL_PRECISION))).then_some(unscaled)
}

pub(super) struct ParquetWriter {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    path: PathBuf,
    table: String,
    columns: Vec<String>,
    synced_at: i64,
}

impl ParquetWriter {
    pub(super) fn new(file: File, spec: &FileSpec<'_>) -> Result<Self, SinkError> {
        let schema = arrow_schema(spec.schema);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(spec.row_group_rows.max(1)))
            .build();
        let writer = ArrowWriter::try_new(file, SchemaRef::clone(&schema), Some(props))
            .map_err(|e| SinkError::file(spec.path, e))?;
        let builders = schema.fields().iter().map(|f| Builder::new(f.data_type())).collect();
        Ok(ParquetWriter {
            writer,
            schema,
            builders,
            rows: 0,
            path: spec.path.to_owned(),
            table: spec.schema.name.clone(),
            columns: spec.schema.columns.iter().map(|c| c.name.clone()).collect(),
            synced_at: spec.synced_at.timestamp_micros(),
        })
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.rows == 0 {
            return Ok(());
        }
        let columns = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(SchemaRef::clone(&self.schema), columns)
            .map_err(|e| SinkError::file(&self.path, e))?;
        self.writer.write(&batch).map_err(|e| SinkError::file(&self.path, e))?;
        self.rows = 0;
        Ok(())
    }

    fn append(&mut self, i: usize, v: &Value) -> Result<(), SinkError> {
        let mismatch = |b: &str| {
            SinkError::file(
                &self.path,
                format!("column {}: a {b} column cannot hold {v:?}", self.columns[i]),
            )
        };
        match (&mut self.builders[i], v) {
            (Builder::Text(b), Value::Null) => b.append_null(),
            (Builder::Text(b), Value::Text(s)) => b.append_value(s),
            (Builder::Text(b), Value::Json(j)) => {
                use std::fmt::Write;
                // Writing into the builder's buffer cannot fail.
                let _ = write!(b, "{j}");
                b.append_value("");
            }
            (Builder::Int(b), Value::Null) => b.append_null(),
            (Builder::Int(b), Value::Int(n)) => b.append_value(*n),
            (Builder::Bool(b), Value::Null) => b.append_null(),
            (Builder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Builder::Decimal(b), Value::Null) => b.append_null(),
            (Builder::Decimal(b), Value::Decimal(d)) => match decimal_to_i128(*d) {
                Some(n) => b.append_value(n),
                None => {
                    return Err(SinkError::DecimalRange {
                        table: self.table.clone(),
                        column: self.columns[i].clone(),
                        value: d.to_string(),
                        precision: DECIMAL_PRECISION,
                        scale: DECIMAL_SCALE,
                        integer: DECIMAL_PRECISION as i8 - DECIMAL_SCALE,
                    });
                }
            },
            (Builder::Timestamp(b), Value::Null) => b.append_null(),
            (Builder::Timestamp(b), Value::Timestamp(t)) => b.append_value(t.timestamp_micros()),
            (Builder::Date(b), Value::Null) => b.append_null(),
            (Builder::Date(b), Value::Date(d)) => {
                b.append_value(d.signed_duration_since(epoch()).num_days() as i32)
            }
            (Builder::Text(_), _) => return Err(mismatch("text")),
            (Builder::Int(_), _) => return Err(mismatch("integer")),
            (Builder::Bool(_), _) => return Err(mismatch("boolean")),
            (Builder::Decimal(_), _) => return Err(mismatch("decimal")),
            (Builder::Timestamp(_), _) => return Err(mismatch("timestamp")),
            (Builder::Date(_), _) => return Err(mismatch("date")),
        }
        Ok(())
    }
}

impl RecordWriter for ParquetWriter {
    fn write(&mut self, row: &Row, deleted_at: Option<DateTime<Utc>>) -> Result<(), SinkError> {
        let n = self.columns.len();
        for (i, v) in row.0.iter().enumerate().take(n) {
            self.append(i, v)?;
        }
        if let Builder::Timestamp(b) = &mut self.builders[n] {
            b.append_value(self.synced_at);
        }
        if let Builder::Timestamp(b) = &mut self.builders[n + 1] {
            b.append_option(deleted_at.map(|t| t.timestamp_micros()));
        }
        self.rows += 1;
        if self.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<File, SinkError> {
        self.flush()?;
        let path = self.path.clone();
        self.writer.into_inner().map_err(|e| SinkError::file(&path, e))
    }
}

pub(super) fn read(path: &Path, schema: &TableSchema) -> Result<Vec<Record>, SinkError> {
    let file = File::open(path).map_err(|e| SinkError::io("opening", path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| SinkError::file(path, e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| SinkError::file(path, e))?;
        let column = |name: &str| batch.column_by_name(name).cloned();
        let columns: Vec<Option<ArrayRef>> =
            schema.columns.iter().map(|c| column(&c.name)).collect();
        let (Some(synced), Some(deleted)) = (column(SYNCED_AT), column(DELETED_AT)) else {
            return Err(SinkError::file(path, "the file lacks the system columns"));
        };
        let times = |a: &ArrayRef, name: &str| -> Result<Vec<Option<DateTime<Utc>>>, SinkError> {
            let a = a.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| {
                SinkError::file(path, format!("column {name} is not a microsecond timestamp"))
            })?;
            Ok((0..a.len())
                .map(|r| {
                    (!a.is_null(r)).then(|| DateTime::from_timestamp_micros(a.value(r))).flatten()
                })
                .collect())
        };
        let synced = times(&synced, SYNCED_AT)?;
        let deleted = times(&deleted, DELETED_AT)?;
        let mut rows: Vec<Vec<Value>> =
            (0..batch.num_rows()).map(|_| Vec::with_capacity(schema.columns.len())).collect();
        for (c, a) in schema.columns.iter().zip(&columns) {
            let bad = |reason: &str| SinkError::file(path, format!("column {}: {reason}", c.name));
            let Some(a) = a else {
                rows.iter_mut().for_each(|r| r.push(Value::Null));
                continue;
            };
            for (r, values) in rows.iter_mut().enumerate() {
                if a.is_null(r) {
                    values.push(Value::Null);
                    continue;
                }
                let v = match c.ty {
                    ColumnType::Text => Value::Text(
                        a.as_string_opt::<i32>()
                            .ok_or_else(|| bad("not utf8"))?
                            .value(r)
                            .to_owned(),
                    ),
                    ColumnType::Json => {
                        let s = a.as_string_opt::<i32>().ok_or_else(|| bad("not utf8"))?.value(r);
                        Value::Json(serde_json::from_str(s).map_err(|e| bad(&e.to_string()))?)
                    }
                    ColumnType::Int => Value::Int(
                        a.as_primitive_opt::<Int64Type>().ok_or_else(|| bad("not int64"))?.value(r),
                    ),
                    ColumnType::Bool => {
                        Value::Bool(a.as_boolean_opt().ok_or_else(|| bad("not boolean"))?.value(r))
                    }
                    ColumnType::Decimal => {
                        let a = a
                            .as_primitive_opt::<Decimal128Type>()
                            .ok_or_else(|| bad("not decimal128"))?;
                        let scale = match a.data_type() {
                            DataType::Decimal128(_, s) => *s,
                            _ => DECIMAL_SCALE,
                        };
                        let d = Decimal::try_from_i128_with_scale(a.value(r), scale.max(0) as u32)
                            .map_err(|e| bad(&e.to_string()))?;
                        Value::Decimal(d.normalize())
                    }
                    ColumnType::Timestamp => {
                        let a = a
                            .as_primitive_opt::<TimestampMicrosecondType>()
                            .ok_or_else(|| bad("not a microsecond timestamp"))?;
                        Value::Timestamp(
                            DateTime::from_timestamp_micros(a.value(r))
                                .ok_or_else(|| bad("timestamp out of range"))?,
                        )
                    }
                    ColumnType::Date => {
                        let a =
                            a.as_primitive_opt::<Date32Type>().ok_or_else(|| bad("not date32"))?;
                        Value::Date(
                            epoch()
                                .checked_add_signed(chrono::Duration::days(i64::from(a.value(r))))
                                .ok_or_else(|| bad("date out of range"))?,
                        )
                    }
                };
                values.push(v);
            }
        }
        for ((values, s), d) in rows.into_iter().zip(synced).zip(deleted) {
            let synced_at =
                s.ok_or_else(|| SinkError::file(path, format!("{SYNCED_AT} is null")))?;
            out.push(Record { row: Row(values), synced_at, deleted_at: d });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn decimals_fit_38_12_exactly_or_not_at_all() {
        let d = |s: &str| Decimal::from_str(s).expect("test decimal");
        assert_eq!(decimal_to_i128(d("1.50")), Some(1_500_000_000_000));
        assert_eq!(decimal_to_i128(d("-0.000000000001")), Some(-1));
        assert_eq!(decimal_to_i128(d("1.0000000000000")), Some(1_000_000_000_000));
        assert_eq!(decimal_to_i128(d("0.0000000000001")), None, "13 fraction digits");
        assert_eq!(
            decimal_to_i128(d("79228162514264.337593543950")),
            Some(79_228_162_514_264_337_593_543_950)
        );
        assert_eq!(decimal_to_i128(d("79228162514264337593543950335")), None, "29 integer digits");
    }
}
