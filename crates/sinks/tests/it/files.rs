//! What only the file sink does, in each format, against the SQLite
//! database sink: every scenario commits the same batches to both, compares
//! the commit stats, and compares `files::read_table` with
//! `DatabaseSink::read_table` (the contract the cross-sink conformance
//! suite relies on). Each scenario also states what it expects, so a bug
//! shared by both sinks fails too. The scenarios every sink shares (upserts,
//! duplicates, children, deletions, snapshots, tenants) are the conformance
//! suite's (`commit.rs`, `snapshot.rs`), which runs them on the file sink too.

use std::path::{Path, PathBuf};

use cartage_core::{
    CommitBatch, CommitStats, ErrorKind, Row, SharedSchema, Sink, StreamState, TableDeletes,
    TableSchema, Value,
};
use cartage_sinks::files::{self, FilesSink};
use cartage_sinks::testing::TestDatabase;
use cartage_sinks::{DatabaseSink, FileFormat, FilesConfig, SinkConfig, StoredRow};
use chrono::{DateTime, Utc};

use crate::support::*;

/// Generates one `#[tokio::test]` per file format for an
/// `async fn scenario(format: FileFormat)`.
macro_rules! all_formats {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use cartage_sinks::FileFormat;

            #[tokio::test]
            async fn jsonl() {
                super::$scenario(FileFormat::Jsonl).await
            }

            #[tokio::test]
            async fn csv() {
                super::$scenario(FileFormat::Csv).await
            }

            #[tokio::test]
            async fn parquet() {
                super::$scenario(FileFormat::Parquet).await
            }
        }
    )*};
}

all_formats!(
    a_row_deleted_and_written_again_is_live_again,
    values_read_back_exactly,
    a_batch_larger_than_a_row_group_is_written_whole,
    state_round_trips_across_a_restart,
    files_of_a_batch_whose_state_never_committed_are_deleted_on_open,
    a_failed_commit_leaves_no_file_and_no_state,
);

/// The same commits into an SQLite database and a file sink.
struct Twin {
    _db: TestDatabase,
    db: DatabaseSink,
    files: Option<FilesSink>,
    config: FilesConfig,
    _dir: tempfile::TempDir,
}

impl Twin {
    async fn new(format: FileFormat, tables: &[SharedSchema], staged: bool) -> Self {
        Self::with_config(format, tables, staged, |c| c).await
    }

    async fn with_config(
        format: FileFormat,
        tables: &[SharedSchema],
        staged: bool,
        adjust: impl FnOnce(FilesConfig) -> FilesConfig,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = adjust(FilesConfig::new(dir.path().join("out"), format));
        let db = TestDatabase::sqlite();
        let mut sink = db.sink().await;
        sink.prepare(tables, staged).await.expect("prepare database");
        let mut files = config.open().await.expect("open file sink");
        files.prepare(tables, staged).await.expect("prepare files");
        Twin { _db: db, db: sink, files: Some(files), config, _dir: dir }
    }

    fn files(&mut self) -> &mut FilesSink {
        self.files.as_mut().expect("file sink open")
    }

    /// Commits `b` to both sinks and checks they report the same.
    async fn commit(&mut self, b: CommitBatch) -> CommitStats {
        let want = self.db.commit(b.clone()).await.expect("database commit");
        let got = self.files().commit(b).await.expect("file commit");
        assert_eq!(got, want, "commit stats");
        got
    }

    /// Both sinks' view of `schema` for `tenant`, checked equal.
    async fn table_of(&self, schema: &TableSchema, tenant: &str) -> Vec<StoredRow> {
        let want = self.db.read_table(schema, tenant).await.expect("database read_table");
        let got = files::read_table(&self.config, schema, tenant).await.expect("files read_table");
        assert_eq!(got, want, "table {} of tenant {tenant}", schema.name);
        got
    }

    async fn table(&self, schema: &TableSchema) -> Vec<StoredRow> {
        self.table_of(schema, TENANT).await
    }

    async fn state(&mut self, tenant: &str, stream: &str) -> Option<StreamState> {
        let want = self.db.read_state(tenant, stream).await.expect("database state");
        let got = self.files().read_state(tenant, stream).await.expect("file state");
        assert_eq!(got, want, "state of {tenant}/{stream}");
        got
    }

    /// Closes the file sink and opens a new one (a restart).
    async fn restart(&mut self) {
        if let Some(f) = self.files.take() {
            f.close().await.expect("close file sink");
        }
        self.files = Some(self.config.open().await.expect("reopen file sink"));
    }

    fn table_dir(&self, table: &str) -> PathBuf {
        self.config.path.join(TENANT).join(table)
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn deleted(stored: &[StoredRow]) -> Vec<Option<DateTime<Utc>>> {
    stored.iter().map(|r| r.deleted_at).collect()
}

fn orders(ids: &[&str]) -> Vec<Row> {
    ids.iter().map(|id| order(id, id.parse().expect("numeric id"), "new", "1.00")).collect()
}

async fn a_row_deleted_and_written_again_is_live_again(format: FileFormat) {
    let mut twin = Twin::new(format, &[orders_schema(), lines_schema()], false).await;
    let (t1, t2, t3) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0), ts(1_700_000_003, 0));
    twin.commit(batch(vec![(orders_schema(), orders(&["1", "2"]))], 1, t1)).await;
    // Written and deleted in one batch: the deletion comes after the upsert.
    let mut b = batch(vec![(orders_schema(), vec![order("2", 2, "paid", "2.00")])], 2, t2);
    b.deleted = vec![TableDeletes {
        schema: orders_schema(),
        column: "order_id".into(),
        // A null names nothing, as `IN (NULL)` does in a database.
        values: vec![Value::Text("2".into()), Value::Null],
    }];
    twin.commit(b).await;
    let stored = twin.table(&orders_schema()).await;
    assert_eq!((stored[1].synced_at, stored[1].deleted_at), (t2, Some(t2)));
    assert_eq!(stored[1].row, order("2", 2, "paid", "2.00"));
    twin.commit(batch(vec![(orders_schema(), vec![order("2", 2, "back", "3.00")])], 3, t3)).await;
    let stored = twin.table(&orders_schema()).await;
    assert_eq!((stored[1].synced_at, stored[1].deleted_at), (t3, None));
}

async fn values_read_back_exactly(format: FileFormat) {
    let mut twin = Twin::new(format, &[orders_schema(), lines_schema()], false).await;
    let with = |id: &str, status: Value, total: &str, secs, micros, custom: Value| {
        let mut r = order(id, 1, "x", total);
        r.0[3] = status;
        r.0[4] = Value::Bool(matches!(id, "b" | "d"));
        r.0[6] = Value::Timestamp(ts(secs, micros));
        r.0[7] = Value::Date(chrono::NaiveDate::from_ymd_opt(2024, 2, 29).expect("leap day"));
        r.0[8] = custom;
        r
    };
    let doc = serde_json::json!({
        "note": "Lämna vid dörren, \"tack\"\r\n📦 \\", "tags": ["vip", null], "big": 9007199254740993u64
    });
    let rows = vec![
        with(
            "a",
            Value::Text(String::new()),
            "12345678901234.567890123456",
            1_700_000_000,
            999_999,
            Value::Null,
        ),
        with("b", Value::Null, "-98765432109876.000000000001", 946_684_800, 1, Value::Json(doc)),
        with(
            "c",
            Value::Text("x,\"y\"\nz".into()),
            "0.000000000001",
            0,
            0,
            Value::Json(serde_json::json!("s")),
        ),
        with(
            "d",
            Value::Text("null".into()),
            "-0.01",
            -86_400,
            500_000,
            Value::Json(serde_json::Value::Null),
        ),
        with(
            "e",
            Value::Text(" ".into()),
            "79228162514264.337593543950",
            4_102_444_799,
            123_456,
            Value::Json(serde_json::json!([])),
        ),
        with("f", Value::Text("1.50".into()), "1.50", 1_700_000_000, 0, Value::Null),
    ];
    let at = ts(1_750_000_000, 654_321);
    twin.commit(batch(vec![(orders_schema(), rows.clone())], 1, at)).await;
    let stored = twin.table(&orders_schema()).await;
    assert_eq!(stored.iter().map(|r| r.row.clone()).collect::<Vec<_>>(), rows);
    assert!(stored.iter().all(|r| r.synced_at == at && r.deleted_at.is_none()));
    // Money keeps its digits, not only its value.
    for (s, r) in stored.iter().zip(&rows) {
        let (Value::Decimal(got), Value::Decimal(want)) = (&s.row.0[5], &r.0[5]) else {
            panic!("decimal column read back as {:?}", s.row.0[5]);
        };
        assert_eq!(got.normalize().to_string(), want.normalize().to_string());
    }
}

async fn a_batch_larger_than_a_row_group_is_written_whole(format: FileFormat) {
    let tables = [orders_schema(), lines_schema()];
    let mut twin =
        Twin::with_config(format, &tables, false, |c| FilesConfig { row_group_rows: 100, ..c })
            .await;
    let orders: Vec<Row> = (0..9000)
        .map(|i| order(&format!("{i:05}"), i, "new", &format!("{i}.{:02}", i % 100)))
        .collect();
    twin.commit(batch(vec![(orders_schema(), orders.clone())], 1, ts(1_700_000_000, 0))).await;
    let stored = twin.table(&orders_schema()).await;
    assert_eq!(stored.into_iter().map(|r| r.row).collect::<Vec<_>>(), orders);
    if format == FileFormat::Parquet {
        let path = twin.table_dir("orders").join("000000000001-orders.parquet");
        let file = std::fs::File::open(path).expect("parquet file");
        let reader = parquet::file::reader::SerializedFileReader::new(file).expect("parquet");
        use parquet::file::reader::FileReader;
        assert_eq!(reader.metadata().num_row_groups(), 90, "row groups of 100 rows");
    }
}

async fn state_round_trips_across_a_restart(format: FileFormat) {
    let mut twin = Twin::new(format, &[orders_schema(), lines_schema()], false).await;
    assert_eq!(twin.state(TENANT, "orders").await, None);
    // A batch without rows still moves the state on (and writes no file).
    twin.commit(batch(vec![(orders_schema(), vec![])], 1, ts(1_700_000_000, 0))).await;
    assert!(names_in(&twin.table_dir("orders")).is_empty());
    twin.commit(batch(vec![(orders_schema(), orders(&["1"]))], 2, ts(1_700_000_001, 0))).await;
    twin.restart().await;
    assert_eq!(twin.state(TENANT, "orders").await, Some(state(2)));
    assert_eq!(twin.state(TENANT, "returns").await, None);
    twin.commit(batch(vec![(orders_schema(), orders(&["2"]))], 3, ts(1_700_000_002, 0))).await;
    assert_eq!(twin.table(&orders_schema()).await.len(), 2);
    let ext = format.extension();
    assert_eq!(
        names_in(&twin.table_dir("orders")),
        vec![format!("000000000001-orders.{ext}"), format!("000000000002-orders.{ext}")],
        "the sequence carries on after the restart"
    );
}

/// Copies the tenant's index files (the database and any WAL) from `from`
/// to `to`, replacing what `to` has.
fn copy_index(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("index copy directory");
    for suffix in ["", "-wal", "-shm"] {
        let name = format!("{}{suffix}", files::INDEX_FILE);
        let _ = std::fs::remove_file(to.join(&name));
        if from.join(&name).exists() {
            std::fs::copy(from.join(&name), to.join(&name)).expect("copy index file");
        }
    }
}

async fn files_of_a_batch_whose_state_never_committed_are_deleted_on_open(format: FileFormat) {
    let mut twin = Twin::new(format, &[orders_schema(), lines_schema()], false).await;
    let (t1, t2) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0));
    twin.commit(batch(
        vec![(orders_schema(), orders(&["1", "2"])), (lines_schema(), vec![line("1", 1, "A", 1)])],
        1,
        t1,
    ))
    .await;
    // A crash between the rename of batch 2's files and its index commit:
    // batch 2 commits, then the index is put back as it was after batch 1.
    twin.files.take().expect("file sink").close().await.expect("close");
    let tenant_dir = twin.config.path.join(TENANT);
    let saved = twin._dir.path().join("saved-index");
    copy_index(&tenant_dir, &saved);
    let mut crashed = twin.config.open().await.expect("open");
    let mut doomed = batch(
        vec![(orders_schema(), vec![order("1", 1, "lost", "9.00")]), (lines_schema(), vec![])],
        2,
        t2,
    );
    doomed.deleted = vec![TableDeletes {
        schema: orders_schema(),
        column: "order_number".into(),
        values: vec![Value::Int(2)],
    }];
    crashed.commit(doomed).await.expect("commit whose index commit is undone");
    crashed.close().await.expect("close");
    copy_index(&saved, &tenant_dir);
    let ext = format.extension();
    let orphan = format!("000000000002-orders.{ext}");
    assert!(names_in(&twin.table_dir("orders")).contains(&orphan));
    assert!(
        names_in(&twin.table_dir("order_lines")).contains(&format!("000000000002-orders.{ext}"))
    );
    // A temporary file left by a crash mid-write.
    let tmp = twin.table_dir("orders").join(format!(".tmp-000000000002-orders.{ext}"));
    std::fs::write(&tmp, b"half a file").expect("temporary file");

    // Readers ignore files beyond the committed sequence...
    twin.table(&orders_schema()).await;
    twin.table(&lines_schema()).await;
    // ...and opening the tenant deletes them; the state is batch 1's.
    twin.restart().await;
    assert_eq!(twin.state(TENANT, "orders").await, Some(state(1)));
    assert_eq!(names_in(&twin.table_dir("orders")), vec![format!("000000000001-orders.{ext}")]);
    assert_eq!(
        names_in(&twin.table_dir("order_lines")),
        vec![format!("000000000001-orders.{ext}")]
    );
    // The batch is redone (with newer data), and the index still knows
    // which keys are live: deleting order 2 now writes its tombstone.
    let mut redo = batch(vec![(orders_schema(), vec![order("1", 1, "paid", "9.50")])], 2, t2);
    redo.deleted = vec![TableDeletes {
        schema: orders_schema(),
        column: "order_number".into(),
        values: vec![Value::Int(2)],
    }];
    twin.commit(redo).await;
    let stored = twin.table(&orders_schema()).await;
    assert_eq!(deleted(&stored), vec![None, Some(t2)]);
    assert_eq!(stored[0].row, order("1", 1, "paid", "9.50"));
    twin.table(&lines_schema()).await;
}

async fn a_failed_commit_leaves_no_file_and_no_state(format: FileFormat) {
    let mut twin = Twin::new(format, &[orders_schema(), lines_schema()], false).await;
    twin.commit(batch(vec![(orders_schema(), orders(&["1"]))], 1, ts(1_700_000_001, 0))).await;
    let mut bad = order("2", 2, "new", "1.00");
    bad.0[5] = Value::Text("12.50".into());
    let e = twin
        .files()
        .commit(batch(
            vec![(orders_schema(), vec![order("3", 3, "new", "1.00"), bad])],
            2,
            ts(1_700_000_002, 0),
        ))
        .await
        .expect_err("text in a decimal column");
    assert_eq!(e.kind(), ErrorKind::Data);
    assert_eq!(
        e.to_string(),
        "data error: table orders, column total_gross, row 1: expected a decimal value, found text"
    );
    let ext = format.extension();
    assert_eq!(names_in(&twin.table_dir("orders")), vec![format!("000000000001-orders.{ext}")]);
    assert_eq!(twin.state(TENANT, "orders").await, Some(state(1)));
    twin.table(&orders_schema()).await;
}

// --- format-specific checks, outside the matrix ---

#[tokio::test]
async fn parquet_files_carry_logical_types_and_keys_are_required() {
    let mut twin = Twin::new(FileFormat::Parquet, &[orders_schema(), lines_schema()], false).await;
    twin.commit(batch(vec![(orders_schema(), orders(&["1"]))], 1, ts(1_700_000_000, 0))).await;
    let path = twin.table_dir("orders").join("000000000001-orders.parquet");
    let file = std::fs::File::open(path).expect("parquet file");
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet");
    use arrow_schema::{DataType, TimeUnit};
    let ts_utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let got: Vec<(String, DataType, bool)> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
        .collect();
    let want = vec![
        ("tenant", DataType::Utf8, false),
        ("order_id", DataType::Utf8, false),
        ("order_number", DataType::Int64, true),
        ("status", DataType::Utf8, true),
        ("on_hold", DataType::Boolean, true),
        ("total_gross", DataType::Decimal128(38, 12), true),
        ("created_at", ts_utc.clone(), true),
        ("ship_date", DataType::Date32, true),
        ("custom", DataType::Utf8, true),
        ("_synced_at", ts_utc.clone(), false),
        ("_deleted_at", ts_utc, true),
    ];
    let want: Vec<(String, DataType, bool)> =
        want.into_iter().map(|(n, t, null)| (n.to_string(), t, null)).collect();
    assert_eq!(got, want);
    // The Parquet logical type, not only the embedded Arrow schema.
    let descr = builder.parquet_schema();
    let column = |name: &str| {
        (0..descr.num_columns()).map(|i| descr.column(i)).find(|c| c.name() == name).expect(name)
    };
    assert_eq!(
        format!("{:?}", column("created_at").logical_type_ref()),
        "Some(Timestamp(TimestampType { is_adjusted_to_u_t_c: true, unit: MICROS }))"
    );
    assert_eq!(
        format!("{:?}", column("total_gross").logical_type_ref()),
        "Some(Decimal(DecimalType { scale: 12, precision: 38 }))"
    );
}

#[tokio::test]
async fn a_decimal_that_does_not_fit_parquet_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = FilesConfig::new(dir.path(), FileFormat::Parquet);
    let mut sink = config.open().await.expect("open");
    let e = sink
        .commit(batch(
            vec![(orders_schema(), vec![order("1", 1, "new", "0.0000000000001")])],
            1,
            ts(1_700_000_000, 0),
        ))
        .await
        .expect_err("13 fraction digits");
    assert_eq!(e.kind(), ErrorKind::Data);
    assert_eq!(
        e.to_string(),
        "data error: table orders, column total_gross: decimal 0.0000000000001 does not fit DECIMAL(38,12) (at most 26 integer and 12 fraction digits); it is not rounded"
    );
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), None);
    assert!(names_in(&dir.path().join(TENANT).join("orders")).is_empty(), "no file left");
}

/// The same value is refused per row before the commit (the mapping's
/// `on_error` then decides); trailing zeros are not digits lost.
#[tokio::test]
async fn parquet_row_check_refuses_what_the_file_cannot_hold() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let sink = FilesConfig::new(dir.path(), FileFormat::Parquet).open().await.expect("open");
    let check = sink.row_check().expect("Parquet has a row check");
    let schema = orders_schema();
    assert_eq!(
        check.check(&schema, &order("1", 1, "new", "0.0000000000001")),
        Err(format!(
            "table orders, column total_gross, key (\"{TENANT}\", \"1\"): decimal 0.0000000000001 does not fit the Parquet column's DECIMAL(38,12) (12 digits after the point at most, 26 before it)"
        ))
    );
    let big = "1".repeat(27);
    assert!(check.check(&schema, &order("2", 2, "new", &big)).is_err(), "27 integer digits");
    assert_eq!(check.check(&schema, &order("3", 3, "new", "1.500000000000000")), Ok(()));
    assert_eq!(check.check(&schema, &order("4", 4, "new", &"9".repeat(26))), Ok(()));
    for format in [FileFormat::Jsonl, FileFormat::Csv] {
        let sink = FilesConfig::new(dir.path(), format).open().await.expect("open");
        assert!(sink.row_check().is_none(), "{format:?} writes every decimal exactly");
    }
}

#[tokio::test]
async fn csv_writes_null_and_the_empty_string_apart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = FilesConfig::new(dir.path(), FileFormat::Csv);
    let mut sink = config.open().await.expect("open");
    let mut empty = order("1", 1, "", "1.50");
    empty.0[8] = Value::Json(serde_json::json!({"a": "b,c"}));
    let mut null = order("2", 2, "x", "2");
    null.0[3] = Value::Null;
    sink.commit(batch(vec![(orders_schema(), vec![empty, null])], 1, ts(1_700_000_000, 5)))
        .await
        .expect("commit");
    let text = std::fs::read_to_string(dir.path().join("acme/orders/000000000001-orders.csv"))
        .expect("csv file");
    assert_eq!(
        text,
        "tenant,order_id,order_number,status,on_hold,total_gross,created_at,ship_date,custom,_synced_at,_deleted_at\r\n\
         acme,1,1,\"\",false,1.50,2023-11-14T22:13:21.123456Z,,\"{\"\"a\"\":\"\"b,c\"\"}\",2023-11-14T22:13:20.000005Z,\r\n\
         acme,2,2,,false,2,2023-11-14T22:13:22.123456Z,,,2023-11-14T22:13:20.000005Z,\r\n"
    );
}

#[tokio::test]
async fn jsonl_lines_are_objects_with_exact_decimals_and_json_text() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = FilesConfig::new(dir.path(), FileFormat::Jsonl);
    let mut sink = config.open().await.expect("open");
    let mut row = order("1", 1, "new", "1.50");
    row.0[8] = Value::Json(serde_json::json!({"a": 1}));
    sink.commit(batch(vec![(orders_schema(), vec![row])], 1, ts(1_700_000_000, 0)))
        .await
        .expect("commit");
    let text = std::fs::read_to_string(dir.path().join("acme/orders/000000000001-orders.jsonl"))
        .expect("jsonl file");
    assert_eq!(
        text,
        "{\"tenant\":\"acme\",\"order_id\":\"1\",\"order_number\":1,\"status\":\"new\",\"on_hold\":false,\"total_gross\":\"1.50\",\"created_at\":\"2023-11-14T22:13:21.123456Z\",\"ship_date\":null,\"custom\":\"{\\\"a\\\":1}\",\"_synced_at\":\"2023-11-14T22:13:20.000000Z\",\"_deleted_at\":null}\n"
    );
}

#[tokio::test]
async fn a_directory_that_cannot_be_created_is_a_config_error_naming_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"").expect("file");
    let config = SinkConfig::Files(FilesConfig::new(blocker.join("out"), FileFormat::Jsonl));
    let e = config.build().await.map(|_| ()).expect_err("a file is in the way");
    assert_eq!(e.kind(), ErrorKind::Config);
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "configuration error: sink directory {}: cannot create it: ",
            blocker.join("out").display()
        )),
        "{shown}"
    );
}

#[tokio::test]
async fn a_tenant_that_cannot_name_a_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut sink = FilesConfig::new(dir.path(), FileFormat::Jsonl).open().await.expect("open");
    let mut b = batch(vec![(orders_schema(), orders(&["1"]))], 1, ts(1_700_000_000, 0));
    b.tenant = "../escape".into();
    let e = sink.commit(b).await.expect_err("bad tenant");
    assert_eq!(
        e.to_string(),
        r#"data error: tenant "../escape" cannot name a file or directory: it starts with a dot"#
    );
}
