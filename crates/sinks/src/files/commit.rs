//! A commit of the file sink: the index lookups that find what to
//! tombstone, the file of each table a batch touches, and the snapshot swap.
//! Everything here runs inside the tenant index's transaction, which
//! [`super::FilesSink`] commits after the files are in place.

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use cartage_core::{
    ColumnType, CommitStats, Row, SharedSchema, SnapshotPart, TableDeletes, TableRows, TableSchema,
    Value,
};
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, Value as SqValue};

use super::index::{self, CHUNK, exec, get_text, placeholders, query};
use super::layout::{self, Pending, TMP_PREFIX};
use super::{FileFormat, encode, format};
use crate::database::validate_schema;
use crate::error::SinkError;

/// Rows read from the index per page during a snapshot swap.
const PAGE_ROWS: usize = 5000;

/// One table's file of a batch: full rows, then tombstones.
struct Output {
    schema: SharedSchema,
    rows: Vec<Row>,
    tombstones: Vec<Row>,
}

/// What every file of one batch shares.
pub(super) struct FileWriter {
    pub(super) dir: PathBuf,
    pub(super) format: FileFormat,
    pub(super) row_group_rows: usize,
    pub(super) stream: String,
    pub(super) synced_at: DateTime<Utc>,
}

impl FileWriter {
    /// Opens `schema`'s file of batch `seq` under its temporary name.
    fn create(
        &self,
        schema: &TableSchema,
        seq: u64,
        pending: &mut Vec<Pending>,
    ) -> Result<Box<dyn format::RecordWriter>, SinkError> {
        let dir = self.dir.join(&schema.name);
        layout::create_dir(&dir)?;
        let name = layout::file_name(seq, &self.stream, self.format.extension());
        let tmp = dir.join(format!("{TMP_PREFIX}{name}"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| SinkError::io("creating", &tmp, e))?;
        pending.push(Pending { tmp: tmp.clone(), path: dir.join(name) });
        let spec = format::FileSpec {
            path: &tmp,
            schema,
            synced_at: self.synced_at,
            row_group_rows: self.row_group_rows,
        };
        format::writer(self.format, file, spec)
    }

    /// Completes a file and fsyncs it.
    fn finish(w: Box<dyn format::RecordWriter>, pending: &[Pending]) -> Result<(), SinkError> {
        let file = w.finish()?;
        let tmp = pending.last().map(|p| p.tmp.as_path()).unwrap_or(Path::new(""));
        file.sync_all().map_err(|e| SinkError::io("syncing", tmp, e))
    }

    fn write_output(
        &self,
        out: &Output,
        seq: u64,
        pending: &mut Vec<Pending>,
    ) -> Result<(), SinkError> {
        if out.rows.is_empty() && out.tombstones.is_empty() {
            return Ok(());
        }
        let mut w = self.create(&out.schema, seq, pending)?;
        for r in &out.rows {
            w.write(r, None)?;
        }
        for r in &out.tombstones {
            w.write(r, Some(self.synced_at))?;
        }
        Self::finish(w, pending)
    }
}

/// An ordinary batch: for each table, tombstones for the live children its
/// parents lost and the upserts into the index; then the deletions; then
/// one file per table touched.
pub(super) async fn write_live(
    txn: &DatabaseTransaction,
    path: &Path,
    writer: &FileWriter,
    seq: u64,
    tables: Vec<TableRows>,
    deleted: Vec<TableDeletes>,
    pending: &mut Vec<Pending>,
) -> Result<CommitStats, SinkError> {
    let mut stats = CommitStats::default();
    let parents: Vec<Option<Vec<String>>> = tables
        .iter()
        .map(|t| match &t.schema.parent_key {
            Some(pk) => parent_keys(&t.schema, pk, &tables).map(Some),
            None => Ok(None),
        })
        .collect::<Result<_, _>>()?;
    let mut outputs: Vec<Output> = Vec::with_capacity(tables.len());
    for (t, parents) in tables.into_iter().zip(parents) {
        let schema = t.schema;
        let key_idx = schema.primary_key_indexes();
        let parent_idx = parent_indexes(&schema)?;
        let entries: Vec<(String, Option<String>, String)> = t
            .rows
            .iter()
            .map(|r| {
                let parent = parent_idx.as_ref().map(|idx| encode::key_text(r, idx));
                (encode::key_text(r, &key_idx), parent, encode::row_text(r))
            })
            .collect();
        let mut tombstones = Vec::new();
        if let Some(parents) = parents {
            let carried: HashSet<&str> = entries.iter().map(|(k, _, _)| k.as_str()).collect();
            let live = live_children(txn, path, &schema.name, &parents).await?;
            let lost: Vec<String> =
                live.into_iter().filter(|k| !carried.contains(k.as_str())).collect();
            mark_dead(txn, path, &schema.name, &lost).await?;
            tombstones = lost.iter().map(|k| tombstone(&schema, k)).collect::<Result<_, _>>()?;
        }
        upsert_live(txn, path, &schema.name, &entries).await?;
        stats.rows.push((schema.name.clone(), t.rows.len() as u64));
        outputs.push(Output { schema, rows: t.rows, tombstones });
    }
    for d in deleted {
        delete_named(txn, path, &d, &mut outputs, &mut stats).await?;
    }
    for out in &outputs {
        writer.write_output(out, seq, pending)?;
    }
    Ok(stats)
}

/// Marks the live rows `d` names, and their live children in the batch's
/// child tables, deleted (as [`crate::DatabaseSink`] does: children of every
/// named parent, deleted before or not).
async fn delete_named(
    txn: &DatabaseTransaction,
    path: &Path,
    d: &TableDeletes,
    outputs: &mut Vec<Output>,
    stats: &mut CommitStats,
) -> Result<(), SinkError> {
    let root = &d.schema;
    validate_schema(root)?;
    layout::check_name("table", &root.name)?;
    let Some(col) = root.column_index(&d.column) else {
        return Err(SinkError::Schema {
            table: root.name.clone(),
            reason: format!(
                "deleted rows are named by column {}, which it does not have",
                d.column
            ),
        });
    };
    let ty = root.columns[col].ty;
    let mut bound = Vec::with_capacity(d.values.len());
    for (i, v) in d.values.iter().enumerate() {
        // `IN (NULL)` names nothing in a database either.
        if v.is_null() {
            continue;
        }
        bound.push(
            match_value(ty, v)
                .map_err(|found| SinkError::value_type(&root.name, &d.column, i, ty, found))?,
        );
    }
    let named = named_keys(txn, path, &root.name, col, &bound).await?;
    let children: Vec<SharedSchema> = outputs
        .iter()
        .filter(|o| o.schema.parent_key.as_ref() == Some(&root.primary_key))
        .map(|o| SharedSchema::clone(&o.schema))
        .collect();
    let add = |stats: &mut CommitStats, table: &str, n: u64| match stats
        .deleted
        .iter_mut()
        .find(|(t, _)| t == table)
    {
        Some((_, m)) => *m += n,
        None => stats.deleted.push((table.to_owned(), n)),
    };
    for child in children {
        let keys: Vec<String> = named.iter().map(|(k, _)| k.clone()).collect();
        let lost = live_children(txn, path, &child.name, &keys).await?;
        mark_dead(txn, path, &child.name, &lost).await?;
        add(stats, &child.name, lost.len() as u64);
        let tombs = lost.iter().map(|k| tombstone(&child, k)).collect::<Result<Vec<_>, _>>()?;
        output_of(outputs, &child).tombstones.extend(tombs);
    }
    let live: Vec<String> = named.into_iter().filter(|(_, live)| *live).map(|(k, _)| k).collect();
    mark_dead(txn, path, &root.name, &live).await?;
    add(stats, &root.name, live.len() as u64);
    let tombs = live.iter().map(|k| tombstone(root, k)).collect::<Result<Vec<_>, _>>()?;
    output_of(outputs, root).tombstones.extend(tombs);
    Ok(())
}

fn output_of<'a>(outputs: &'a mut Vec<Output>, schema: &SharedSchema) -> &'a mut Output {
    let at = match outputs.iter().position(|o| o.schema.name == schema.name) {
        Some(i) => i,
        None => {
            outputs.push(Output {
                schema: SharedSchema::clone(schema),
                rows: Vec::new(),
                tombstones: Vec::new(),
            });
            outputs.len() - 1
        }
    };
    &mut outputs[at]
}

/// The value a deletion names, as `json_extract` returns the index's copy
/// of it; on a mismatch, the name of the value's type.
fn match_value(ty: ColumnType, v: &Value) -> Result<SqValue, &'static str> {
    Ok(match (ty, v) {
        (ColumnType::Int, Value::Int(n)) => SqValue::BigInt(Some(*n)),
        (ColumnType::Bool, Value::Bool(b)) => SqValue::BigInt(Some(i64::from(*b))),
        (ColumnType::Text, Value::Text(s)) => SqValue::String(Some(s.clone())),
        (ColumnType::Decimal, Value::Int(n)) => {
            SqValue::String(Some(rust_decimal::Decimal::from(*n).to_string()))
        }
        (ColumnType::Timestamp, Value::Timestamp(t)) => SqValue::String(
            encode::text(&Value::Timestamp(encode::micros(*t))).map(|t| t.into_owned()),
        ),
        (ColumnType::Decimal, Value::Decimal(_))
        | (ColumnType::Date, Value::Date(_))
        | (ColumnType::Json, Value::Json(_)) => {
            SqValue::String(encode::text(v).map(|t| t.into_owned()))
        }
        (_, other) => return Err(other.column_type().map_or("null", ColumnType::name)),
    })
}

/// Keys of `table` whose column `col` holds one of `values`, with whether
/// each is live.
async fn named_keys(
    txn: &DatabaseTransaction,
    path: &Path,
    table: &str,
    col: usize,
    values: &[SqValue],
) -> Result<Vec<(String, bool)>, SinkError> {
    let mut out = Vec::new();
    for chunk in values.chunks(CHUNK) {
        let sql = format!(
            "SELECT key, live FROM keys WHERE tbl = ? AND json_extract(row, '$[{col}]') IN ({})",
            placeholders(chunk.len())
        );
        let mut params = vec![SqValue::from(table)];
        params.extend(chunk.iter().cloned());
        let rows = query(txn, &sql, params, || {
            format!("finding the deleted rows of table {table} in {}", path.display())
        })
        .await?;
        for r in rows {
            let live: i64 = r
                .try_get_by_index(1)
                .map_err(|e| SinkError::statement(format!("reading {}", path.display()), e))?;
            out.push((get_text(&r, 0, path)?, live != 0));
        }
    }
    Ok(out)
}

/// The query for [`live_children`] of `n` parents.
fn live_children_sql(n: usize) -> String {
    // The index is named: without statistics SQLite picks the primary key
    // (`tbl = ?`) and reads every row of the table, every batch, so a
    // commit would cost more the larger the table grows.
    format!(
        "SELECT key FROM keys INDEXED BY keys_parent WHERE tbl = ? AND live = 1 AND parent IN ({})",
        placeholders(n)
    )
}

/// Live keys of `table` whose parent key is one of `parents`.
async fn live_children(
    txn: &DatabaseTransaction,
    path: &Path,
    table: &str,
    parents: &[String],
) -> Result<Vec<String>, SinkError> {
    let mut out = Vec::new();
    for chunk in parents.chunks(CHUNK) {
        let sql = live_children_sql(chunk.len());
        let mut params = vec![SqValue::from(table)];
        params.extend(chunk.iter().map(|p| SqValue::from(p.as_str())));
        let rows = query(txn, &sql, params, || {
            format!("finding the children of table {table} in {}", path.display())
        })
        .await?;
        for r in rows {
            out.push(get_text(&r, 0, path)?);
        }
    }
    Ok(out)
}

async fn mark_dead(
    txn: &DatabaseTransaction,
    path: &Path,
    table: &str,
    keys: &[String],
) -> Result<(), SinkError> {
    for chunk in keys.chunks(CHUNK) {
        let sql = format!(
            "UPDATE keys SET live = 0 WHERE tbl = ? AND key IN ({})",
            placeholders(chunk.len())
        );
        let mut params = vec![SqValue::from(table)];
        params.extend(chunk.iter().map(|k| SqValue::from(k.as_str())));
        exec(txn, &sql, params, || {
            format!("marking deleted rows of table {table} in {}", path.display())
        })
        .await?;
    }
    Ok(())
}

/// Upserts `(key, parent, row)` entries into `target` (`keys`, live; or
/// `stage`).
async fn upsert_entries(
    txn: &DatabaseTransaction,
    path: &Path,
    target: &str,
    table: &str,
    entries: &[(String, Option<String>, String)],
) -> Result<(), SinkError> {
    let (columns, values, update) = match target {
        "keys" => ("tbl, key, parent, row, live", "(?, ?, ?, ?, 1)", ", live = 1"),
        _ => ("tbl, key, parent, row", "(?, ?, ?, ?)", ""),
    };
    for chunk in entries.chunks(CHUNK / 4) {
        let sql = format!(
            "INSERT INTO {target} ({columns}) VALUES {} ON CONFLICT (tbl, key) DO UPDATE SET \
             parent = excluded.parent, row = excluded.row{update}",
            vec![values; chunk.len()].join(", ")
        );
        let mut params = Vec::with_capacity(chunk.len() * 4);
        for (k, p, r) in chunk {
            params.push(SqValue::from(table));
            params.push(SqValue::from(k.as_str()));
            params.push(SqValue::String(p.clone()));
            params.push(SqValue::from(r.as_str()));
        }
        exec(txn, &sql, params, || {
            format!("recording rows of table {table} in {}", path.display())
        })
        .await?;
    }
    Ok(())
}

async fn upsert_live(
    txn: &DatabaseTransaction,
    path: &Path,
    table: &str,
    entries: &[(String, Option<String>, String)],
) -> Result<(), SinkError> {
    upsert_entries(txn, path, "keys", table, entries).await
}

/// A snapshot batch: stage its rows in the index; with `last`, write each
/// table's staged rows and tombstones for the live rows it lacks, and make
/// the staged keys the live ones.
pub(super) async fn write_snapshot(
    txn: &DatabaseTransaction,
    path: &Path,
    writer: &FileWriter,
    seq: u64,
    part: SnapshotPart,
    tables: Vec<TableRows>,
    pending: &mut Vec<Pending>,
) -> Result<CommitStats, SinkError> {
    let mut stats = CommitStats::default();
    for t in &tables {
        let table = t.schema.name.as_str();
        if part.first {
            exec(txn, "DELETE FROM stage WHERE tbl = ?", vec![table.into()], || {
                format!("discarding the staged rows of table {table} in {}", path.display())
            })
            .await?;
        }
        let key_idx = t.schema.primary_key_indexes();
        let parent_idx = parent_indexes(&t.schema)?;
        let entries: Vec<(String, Option<String>, String)> = t
            .rows
            .iter()
            .map(|r| {
                let parent = parent_idx.as_ref().map(|idx| encode::key_text(r, idx));
                (encode::key_text(r, &key_idx), parent, encode::row_text(r))
            })
            .collect();
        upsert_entries(txn, path, "stage", table, &entries).await?;
        stats.rows.push((table.to_owned(), t.rows.len() as u64));
    }
    if !part.last {
        return Ok(stats);
    }
    for t in &tables {
        let marked = swap(txn, path, writer, seq, &t.schema, pending).await?;
        stats.deleted.push((t.schema.name.clone(), marked));
    }
    Ok(stats)
}

/// Writes one table's completed snapshot (its staged rows, then tombstones
/// for the live keys not staged), page by page, and swaps it into the
/// index. Returns the number of tombstones.
async fn swap(
    txn: &DatabaseTransaction,
    path: &Path,
    writer: &FileWriter,
    seq: u64,
    schema: &SharedSchema,
    pending: &mut Vec<Pending>,
) -> Result<u64, SinkError> {
    let table = schema.name.as_str();
    let types: Vec<ColumnType> = schema.columns.iter().map(|c| c.ty).collect();
    let action = || format!("swapping the snapshot of table {table} in {}", path.display());
    let mut file: Option<Box<dyn format::RecordWriter>> = None;
    let mut after = String::new();
    loop {
        let rows = query(
            txn,
            "SELECT key, row FROM stage WHERE tbl = ? AND key > ? ORDER BY key LIMIT ?",
            vec![table.into(), after.as_str().into(), (PAGE_ROWS as i64).into()],
            action,
        )
        .await?;
        let Some(last) = rows.last() else { break };
        after = get_text(last, 0, path)?;
        let w = match &mut file {
            Some(w) => w,
            None => file.insert(writer.create(schema, seq, pending)?),
        };
        for r in &rows {
            let text = get_text(r, 1, path)?;
            let values = encode::parse_values(&types, &text).map_err(|e| decode_err(table, e))?;
            w.write(&Row(values), None)?;
        }
    }
    let mut marked = 0u64;
    let mut after = String::new();
    loop {
        let rows = query(
            txn,
            "SELECT k.key FROM keys k WHERE k.tbl = ? AND k.live = 1 AND k.key > ? AND NOT EXISTS \
             (SELECT 1 FROM stage s WHERE s.tbl = k.tbl AND s.key = k.key) ORDER BY k.key LIMIT ?",
            vec![table.into(), after.as_str().into(), (PAGE_ROWS as i64).into()],
            action,
        )
        .await?;
        let Some(last) = rows.last() else { break };
        after = get_text(last, 0, path)?;
        let w = match &mut file {
            Some(w) => w,
            None => file.insert(writer.create(schema, seq, pending)?),
        };
        for r in &rows {
            let key = get_text(r, 0, path)?;
            w.write(&tombstone(schema, &key)?, Some(writer.synced_at))?;
            marked += 1;
        }
    }
    if let Some(w) = file {
        FileWriter::finish(w, pending)?;
    }
    exec(
        txn,
        "UPDATE keys SET live = 0 WHERE tbl = ? AND live = 1 AND NOT EXISTS \
         (SELECT 1 FROM stage s WHERE s.tbl = keys.tbl AND s.key = keys.key)",
        vec![table.into()],
        action,
    )
    .await?;
    exec(
        txn,
        "INSERT INTO keys (tbl, key, parent, row, live) SELECT tbl, key, parent, row, 1 FROM stage \
         WHERE tbl = ? ON CONFLICT (tbl, key) DO UPDATE SET parent = excluded.parent, \
         row = excluded.row, live = 1",
        vec![table.into()],
        action,
    )
    .await?;
    exec(txn, "DELETE FROM stage WHERE tbl = ?", vec![table.into()], action).await?;
    Ok(marked)
}

fn decode_err(table: &str, reason: String) -> SinkError {
    SinkError::Decode { table: table.to_owned(), column: index::INDEX_FILE.to_owned(), reason }
}

/// A tombstone row of `schema` for the index key `key`: the key columns
/// set, every other column null.
fn tombstone(schema: &TableSchema, key: &str) -> Result<Row, SinkError> {
    let idx = schema.primary_key_indexes();
    let types: Vec<ColumnType> = idx.iter().map(|&i| schema.columns[i].ty).collect();
    let values = encode::parse_values(&types, key).map_err(|e| decode_err(&schema.name, e))?;
    let mut row = vec![Value::Null; schema.columns.len()];
    for (i, v) in idx.into_iter().zip(values) {
        row[i] = v;
    }
    Ok(Row(row))
}

/// The indexes of a child table's parent key columns.
fn parent_indexes(schema: &TableSchema) -> Result<Option<Vec<usize>>, SinkError> {
    let Some(pk) = &schema.parent_key else { return Ok(None) };
    pk.iter().map(|k| schema.column_index(k)).collect::<Option<Vec<_>>>().map(Some).ok_or_else(
        || SinkError::Schema {
            table: schema.name.clone(),
            reason: format!("parent key {pk:?} names a missing column"),
        },
    )
}

/// The distinct parent keys (as index text) of a child table's batch: those
/// of the parent table's rows in the batch and of the child rows themselves
/// (as [`crate::DatabaseSink`] takes them).
fn parent_keys(
    child: &TableSchema,
    parent_key: &[String],
    tables: &[TableRows],
) -> Result<Vec<String>, SinkError> {
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    let sources = tables
        .iter()
        .filter(|t| t.schema.name == child.name || t.schema.primary_key.as_slice() == parent_key);
    for t in sources {
        let Some(idx) =
            parent_key.iter().map(|k| t.schema.column_index(k)).collect::<Option<Vec<_>>>()
        else {
            return Err(SinkError::Schema {
                table: t.schema.name.clone(),
                reason: format!("parent key {parent_key:?} names a missing column"),
            });
        };
        for r in &t.rows {
            let k = encode::key_text(r, &idx);
            if seen.insert(k.clone()) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

/// Checks row widths and keeps the last row of each primary key, in the
/// order of those last occurrences (as the database sinks do).
pub(super) fn dedupe(schema: &TableSchema, rows: Vec<Row>) -> Result<Vec<Row>, SinkError> {
    let width = schema.columns.len();
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.0.len() != width) {
        return Err(SinkError::RowWidth {
            table: schema.name.clone(),
            row: i,
            found: r.0.len(),
            expected: width,
        });
    }
    let key = schema.primary_key_indexes();
    let mut last: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(encode::key_text(r, &key), i);
    }
    if last.len() == rows.len() {
        return Ok(rows);
    }
    let keep: HashSet<usize> = last.into_values().collect();
    Ok(rows.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the children of a batch's parents were found by reading
    /// every row of the child table (a commit cost grew with the table).
    #[tokio::test]
    async fn children_are_found_through_the_parent_index() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let index = super::super::index::TenantIndex::open(dir.path()).await.expect("index");
        let txn = index.begin().await.expect("transaction");
        let sql = format!("EXPLAIN QUERY PLAN {}", live_children_sql(3));
        let params = vec![SqValue::from("t"), "a".into(), "b".into(), "c".into()];
        let rows = query(&txn, &sql, params, || "plan".into()).await.expect("plan");
        let plan: Vec<String> =
            rows.iter().map(|r| r.try_get_by_index::<String>(3).expect("detail")).collect();
        assert_eq!(plan, ["SEARCH keys USING INDEX keys_parent (tbl=? AND parent=?)"]);
    }

    #[test]
    fn tombstones_carry_the_key_and_nulls() {
        let schema = TableSchema {
            name: "order_lines".into(),
            columns: vec![
                cartage_core::Column::new("tenant", ColumnType::Text, false),
                cartage_core::Column::new("sku", ColumnType::Text, true),
                cartage_core::Column::new("line_id", ColumnType::Int, false),
            ],
            primary_key: vec!["tenant".into(), "line_id".into()],
            parent_key: None,
        };
        let full = Row(vec![Value::Text("acme".into()), Value::Text("A".into()), Value::Int(3)]);
        let t = tombstone(&schema, &encode::key_text(&full, &[0, 2])).expect("valid key");
        assert_eq!(t, Row(vec![Value::Text("acme".into()), Value::Null, Value::Int(3)]));
    }
}
