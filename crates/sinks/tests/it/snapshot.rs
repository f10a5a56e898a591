//! Snapshot batches: staged until the last, then swapped in whole; rows the
//! snapshot lacks get `_deleted_at`.

use std::sync::Arc;

use cartage_core::{
    Column, ColumnType, CommitBatch, ErrorKind, Row, SharedSchema, Sink, SnapshotPart, StreamState,
    TableDeletes, TableRows, TableSchema, Value,
};
use cartage_sinks::Backend;
use cartage_sinks::testing::{TestDatabase, TestSink};
use chrono::{DateTime, Utc};

use crate::support::{TENANT, ts};
use crate::{all_backends, all_sinks};

// The conformance suite: every sink, databases and files alike.
all_sinks!(
    a_snapshot_is_invisible_until_its_last_batch_then_complete,
    rows_missing_from_a_snapshot_are_marked_deleted_in_parent_and_child_tables,
    a_row_that_reappears_in_a_snapshot_is_live_again,
    an_abandoned_snapshot_changes_nothing_and_its_rows_do_not_leak,
    tenants_sharing_a_table_do_not_affect_each_other,
    ordinary_batches_between_snapshots_upsert_directly,
    a_snapshot_larger_than_one_statement_is_swapped_whole,
);

// What only a database does or refuses.
all_backends!(
    a_failed_snapshot_batch_keeps_what_was_staged_before,
    a_table_name_too_long_for_its_staging_table_is_refused_by_prepare,
    a_snapshot_batch_that_names_deleted_rows_is_refused,
);

const STREAM: &str = "inventory";
const OTHER: &str = "globex";

fn inventory_schema() -> SharedSchema {
    Arc::new(inventory_schema_with_available_nullable(true))
}

fn inventory_schema_with_available_nullable(nullable: bool) -> TableSchema {
    TableSchema {
        name: "inventory_levels".into(),
        columns: vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("warehouse", ColumnType::Text, false),
            Column::new("size_id", ColumnType::Int, false),
            Column::new("available", ColumnType::Int, nullable),
        ],
        primary_key: vec!["tenant".into(), "warehouse".into(), "size_id".into()],
        parent_key: None,
    }
}

fn deliveries_schema() -> SharedSchema {
    Arc::new(TableSchema {
        name: "indeliveries".into(),
        columns: vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("delivery_id", ColumnType::Int, false),
            Column::new("status", ColumnType::Text, true),
        ],
        primary_key: vec!["tenant".into(), "delivery_id".into()],
        parent_key: None,
    })
}

fn delivery_lines_schema() -> SharedSchema {
    Arc::new(TableSchema {
        name: "indelivery_lines".into(),
        columns: vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("delivery_id", ColumnType::Int, false),
            Column::new("line_id", ColumnType::Int, false),
            Column::new("quantity", ColumnType::Int, false),
        ],
        primary_key: vec!["tenant".into(), "delivery_id".into(), "line_id".into()],
        parent_key: Some(vec!["tenant".into(), "delivery_id".into()]),
    })
}

/// Stock of size `size` in warehouse `wh` for `tenant`.
fn level(tenant: &str, wh: &str, size: i64, available: i64) -> Row {
    Row(vec![
        Value::Text(tenant.into()),
        Value::Text(wh.into()),
        Value::Int(size),
        Value::Int(available),
    ])
}

fn stock(wh: &str, size: i64, available: i64) -> Row {
    level(TENANT, wh, size, available)
}

fn delivery(id: i64, status: &str) -> Row {
    Row(vec![Value::Text(TENANT.into()), Value::Int(id), Value::Text(status.into())])
}

fn delivery_line(id: i64, line: i64, quantity: i64) -> Row {
    Row(vec![Value::Text(TENANT.into()), Value::Int(id), Value::Int(line), Value::Int(quantity)])
}

fn state(cursor: i64) -> StreamState {
    StreamState(serde_json::json!({ "page": cursor }))
}

/// A batch of `tenant`'s stream, every table listed; `part` `None` is an
/// ordinary batch.
fn batch_of(
    tenant: &str,
    tables: Vec<(SharedSchema, Vec<Row>)>,
    part: Option<SnapshotPart>,
    cursor: i64,
    synced_at: DateTime<Utc>,
) -> CommitBatch {
    CommitBatch {
        tenant: tenant.into(),
        stream: STREAM.into(),
        tables: tables.into_iter().map(|(schema, rows)| TableRows { schema, rows }).collect(),
        deleted: Vec::new(),
        state: state(cursor),
        synced_at,
        snapshot: part,
    }
}

/// Part `part` of an inventory snapshot of acme.
fn stock_part(part: SnapshotPart, rows: Vec<Row>, cursor: i64, at: DateTime<Utc>) -> CommitBatch {
    batch_of(TENANT, vec![(inventory_schema(), rows)], Some(part), cursor, at)
}

async fn staged_sink(db: &TestSink, tables: &[SharedSchema]) -> Box<dyn Sink> {
    let mut sink = db.sink().await;
    sink.prepare(tables, true).await.expect("prepare with staging tables");
    sink
}

/// `tenant`'s rows of a table: the row, when it was synced, when deleted.
async fn live_of(
    t: &TestSink,
    schema: &TableSchema,
    tenant: &str,
) -> Vec<(Row, DateTime<Utc>, Option<DateTime<Utc>>)> {
    let stored = t.read_table(schema, tenant).await;
    stored.into_iter().map(|r| (r.row, r.synced_at, r.deleted_at)).collect()
}

async fn live(
    t: &TestSink,
    schema: &TableSchema,
) -> Vec<(Row, DateTime<Utc>, Option<DateTime<Utc>>)> {
    live_of(t, schema, TENANT).await
}

fn stats_rows(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect()
}

async fn a_snapshot_is_invisible_until_its_last_batch_then_complete(db: TestSink) {
    let mut sink = staged_sink(&db, &[inventory_schema()]).await;
    let (t1, t2, t3) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0), ts(1_700_000_003, 0));

    let stats = sink
        .commit(stock_part(SnapshotPart::FIRST, vec![stock("A", 1, 5), stock("A", 2, 0)], 1, t1))
        .await
        .expect("first part");
    assert_eq!(stats.rows, stats_rows(&[("inventory_levels", 2)]));
    assert!(stats.deleted.is_empty(), "nothing swapped yet: {stats:?}");
    assert!(live(&db, &inventory_schema()).await.is_empty(), "staged rows are not live");
    assert_eq!(sink.read_state(TENANT, STREAM).await.expect("state"), Some(state(1)));

    sink.commit(stock_part(SnapshotPart::MIDDLE, vec![stock("B", 1, 7)], 2, t2))
        .await
        .expect("middle part");
    // A reader on another connection sees no part of the snapshot either.
    let mut reader = db.sink().await;
    assert!(live(&db, &inventory_schema()).await.is_empty());
    assert_eq!(reader.read_state(TENANT, STREAM).await.expect("state"), Some(state(2)));

    // The last part restates a row (last wins) and completes the snapshot.
    let stats = sink
        .commit(stock_part(SnapshotPart::LAST, vec![stock("A", 2, 3), stock("C", 9, 1)], 3, t3))
        .await
        .expect("last part");
    assert_eq!(stats.rows, stats_rows(&[("inventory_levels", 2)]));
    assert_eq!(stats.deleted, stats_rows(&[("inventory_levels", 0)]));
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![
            (stock("A", 1, 5), t3, None),
            (stock("A", 2, 3), t3, None),
            (stock("B", 1, 7), t3, None),
            (stock("C", 9, 1), t3, None),
        ]
    );
    assert_eq!(reader.read_state(TENANT, STREAM).await.expect("state"), Some(state(3)));
}

async fn rows_missing_from_a_snapshot_are_marked_deleted_in_parent_and_child_tables(db: TestSink) {
    let tables = [deliveries_schema(), delivery_lines_schema()];
    let mut sink = staged_sink(&db, &tables).await;
    let (t1, t2) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0));
    let deliveries = |part, parents: Vec<Row>, lines: Vec<Row>, cursor, at| {
        batch_of(
            TENANT,
            vec![(deliveries_schema(), parents), (delivery_lines_schema(), lines)],
            Some(part),
            cursor,
            at,
        )
    };
    sink.commit(deliveries(
        SnapshotPart::WHOLE,
        vec![delivery(1, "open"), delivery(2, "open"), delivery(3, "open")],
        vec![
            delivery_line(1, 1, 10),
            delivery_line(1, 2, 20),
            delivery_line(2, 1, 30),
            delivery_line(3, 1, 40),
        ],
        1,
        t1,
    ))
    .await
    .expect("first snapshot");

    // Delivery 2 was removed, and line 2 of delivery 1. Delivery 1's lines
    // come in two batches: the first batch carries delivery 1 without line
    // 3, which must not count as removed (it is in the next batch).
    sink.commit(deliveries(
        SnapshotPart::FIRST,
        vec![delivery(1, "received")],
        vec![delivery_line(1, 1, 11)],
        2,
        t2,
    ))
    .await
    .expect("first part");
    let stats = sink
        .commit(deliveries(
            SnapshotPart::LAST,
            vec![delivery(3, "open")],
            vec![delivery_line(1, 3, 33), delivery_line(3, 1, 40)],
            3,
            t2,
        ))
        .await
        .expect("last part");
    assert_eq!(stats.rows, stats_rows(&[("indeliveries", 1), ("indelivery_lines", 2)]));
    assert_eq!(stats.deleted, stats_rows(&[("indeliveries", 1), ("indelivery_lines", 2)]));
    assert_eq!(
        live(&db, &deliveries_schema()).await,
        vec![
            (delivery(1, "received"), t2, None),
            (delivery(2, "open"), t1, Some(t2)),
            (delivery(3, "open"), t2, None),
        ]
    );
    assert_eq!(
        live(&db, &delivery_lines_schema()).await,
        vec![
            (delivery_line(1, 1, 11), t2, None),
            (delivery_line(1, 2, 20), t1, Some(t2)),
            (delivery_line(1, 3, 33), t2, None),
            (delivery_line(2, 1, 30), t1, Some(t2)),
            (delivery_line(3, 1, 40), t2, None),
        ]
    );
}

async fn a_row_that_reappears_in_a_snapshot_is_live_again(db: TestSink) {
    let mut sink = staged_sink(&db, &[inventory_schema()]).await;
    let (t1, t2, t3, t4) =
        (ts(1_700_000_001, 0), ts(1_700_000_002, 0), ts(1_700_000_003, 0), ts(1_700_000_004, 0));
    let whole = |rows, cursor, at| stock_part(SnapshotPart::WHOLE, rows, cursor, at);
    sink.commit(whole(vec![stock("A", 1, 5), stock("A", 2, 6)], 1, t1)).await.expect("first");
    sink.commit(whole(vec![stock("A", 1, 5)], 2, t2)).await.expect("second");
    // Still missing: it keeps the time it was first marked.
    let stats = sink.commit(whole(vec![stock("A", 1, 5)], 3, t3)).await.expect("third");
    assert_eq!(stats.deleted, stats_rows(&[("inventory_levels", 0)]));
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![(stock("A", 1, 5), t3, None), (stock("A", 2, 6), t1, Some(t2))]
    );
    sink.commit(whole(vec![stock("A", 1, 5), stock("A", 2, 8)], 4, t4)).await.expect("fourth");
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![(stock("A", 1, 5), t4, None), (stock("A", 2, 8), t4, None)]
    );
}

async fn an_abandoned_snapshot_changes_nothing_and_its_rows_do_not_leak(db: TestSink) {
    let mut sink = staged_sink(&db, &[inventory_schema()]).await;
    let (t1, t2, t3) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0), ts(1_700_000_003, 0));
    sink.commit(stock_part(
        SnapshotPart::WHOLE,
        vec![stock("A", 1, 5), stock("A", 2, 6), stock("A", 3, 7)],
        1,
        t1,
    ))
    .await
    .expect("first snapshot");
    let before = live(&db, &inventory_schema()).await;

    // A snapshot stops after two of its batches (the run failed or was killed).
    sink.commit(stock_part(SnapshotPart::FIRST, vec![stock("A", 1, 0), stock("X", 1, 1)], 2, t2))
        .await
        .expect("abandoned first part");
    sink.commit(stock_part(SnapshotPart::MIDDLE, vec![stock("Y", 1, 1)], 3, t2))
        .await
        .expect("abandoned middle part");
    assert_eq!(live(&db, &inventory_schema()).await, before, "nothing visible changed");

    // The next run, on a new connection, starts a new snapshot.
    let mut sink = staged_sink(&db, &[inventory_schema()]).await;
    sink.commit(stock_part(SnapshotPart::FIRST, vec![stock("A", 1, 4)], 4, t3))
        .await
        .expect("new first part");
    let stats = sink
        .commit(stock_part(SnapshotPart::LAST, vec![stock("A", 2, 6)], 5, t3))
        .await
        .expect("new last part");
    assert_eq!(stats.deleted, stats_rows(&[("inventory_levels", 1)]));
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![
            (stock("A", 1, 4), t3, None),
            (stock("A", 2, 6), t3, None),
            (stock("A", 3, 7), t1, Some(t3)),
        ],
        "X and Y, staged by the abandoned snapshot, never appear"
    );
    assert_eq!(sink.read_state(TENANT, STREAM).await.expect("state"), Some(state(5)));
}

async fn a_failed_snapshot_batch_keeps_what_was_staged_before(db: TestDatabase) {
    let db = TestSink::from(db);
    // The tables are created with `available NOT NULL`; the batches below
    // claim it is nullable, so only the database refuses the NULL, inside
    // the transaction, after the `first` batch discarded the staged rows.
    let strict = Arc::new(inventory_schema_with_available_nullable(false));
    let mut sink = staged_sink(&db, &[strict]).await;
    let (t1, t2) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0));
    sink.commit(stock_part(SnapshotPart::FIRST, vec![stock("A", 1, 5), stock("A", 2, 6)], 1, t1))
        .await
        .expect("first part");

    let mut bad = stock("A", 3, 0);
    bad.0[3] = Value::Null;
    let e = sink
        .commit(stock_part(SnapshotPart::WHOLE, vec![stock("B", 1, 1), bad], 2, t2))
        .await
        .expect_err("a NULL in a NOT NULL column");
    assert_eq!(e.kind(), ErrorKind::Sink, "{e}");
    assert!(
        e.to_string().starts_with(
            "sink error: staging rows of table inventory_levels (2 rows with keys from ("
        ),
        "{e}"
    );
    assert_eq!(sink.read_state(TENANT, STREAM).await.expect("state"), Some(state(1)));
    assert!(live(&db, &inventory_schema()).await.is_empty());

    // The snapshot resumes from its committed state; its staged rows are intact.
    sink.commit(stock_part(SnapshotPart::LAST, vec![stock("A", 3, 7)], 3, t2))
        .await
        .expect("last part");
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![
            (stock("A", 1, 5), t2, None),
            (stock("A", 2, 6), t2, None),
            (stock("A", 3, 7), t2, None)
        ]
    );
}

async fn tenants_sharing_a_table_do_not_affect_each_other(db: TestSink) {
    let mut sink = staged_sink(&db, &[inventory_schema()]).await;
    let (t1, t2, t3) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0), ts(1_700_000_003, 0));
    let other = |part, rows, cursor, at| {
        batch_of(OTHER, vec![(inventory_schema(), rows)], Some(part), cursor, at)
    };
    sink.commit(stock_part(SnapshotPart::WHOLE, vec![stock("A", 1, 5), stock("A", 2, 6)], 1, t1))
        .await
        .expect("acme snapshot");
    sink.commit(other(SnapshotPart::WHOLE, vec![level(OTHER, "A", 1, 9)], 1, t1))
        .await
        .expect("globex snapshot");

    // Globex starts a snapshot (same keys as acme's rows); acme meanwhile
    // completes one of its own, with and without rows of its own.
    sink.commit(other(SnapshotPart::FIRST, vec![level(OTHER, "A", 2, 1)], 2, t2))
        .await
        .expect("globex first part");
    sink.commit(stock_part(SnapshotPart::FIRST, vec![stock("A", 1, 4)], 2, t2))
        .await
        .expect("acme first part");
    let stats =
        sink.commit(stock_part(SnapshotPart::LAST, vec![], 3, t2)).await.expect("acme last part");
    assert_eq!(stats.deleted, stats_rows(&[("inventory_levels", 1)]));
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![(stock("A", 1, 4), t2, None), (stock("A", 2, 6), t1, Some(t2))]
    );
    assert_eq!(
        live_of(&db, &inventory_schema(), OTHER).await,
        vec![(level(OTHER, "A", 1, 9), t1, None)],
        "globex's live rows are untouched, its staged row not swapped"
    );

    sink.commit(other(SnapshotPart::LAST, vec![level(OTHER, "B", 1, 2)], 3, t3))
        .await
        .expect("globex last part");
    assert_eq!(
        live_of(&db, &inventory_schema(), OTHER).await,
        vec![
            (level(OTHER, "A", 1, 9), t1, Some(t3)),
            (level(OTHER, "A", 2, 1), t3, None),
            (level(OTHER, "B", 1, 2), t3, None),
        ],
        "acme's snapshot discarded none of globex's staged rows"
    );
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![(stock("A", 1, 4), t2, None), (stock("A", 2, 6), t1, Some(t2))]
    );
    assert_eq!(sink.read_state(TENANT, STREAM).await.expect("state"), Some(state(3)));
    assert_eq!(sink.read_state(OTHER, STREAM).await.expect("state"), Some(state(3)));
}

async fn ordinary_batches_between_snapshots_upsert_directly(db: TestSink) {
    let mut sink = staged_sink(&db, &[inventory_schema()]).await;
    let (t1, t2, t3) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0), ts(1_700_000_003, 0));
    sink.commit(stock_part(SnapshotPart::WHOLE, vec![stock("A", 1, 5), stock("A", 2, 6)], 1, t1))
        .await
        .expect("snapshot");

    // An incremental run: two changed rows, live at once, nothing marked.
    let stats = sink
        .commit(batch_of(
            TENANT,
            vec![(inventory_schema(), vec![stock("A", 2, 2), stock("B", 1, 1)])],
            None,
            2,
            t2,
        ))
        .await
        .expect("ordinary batch");
    assert_eq!(stats.rows, stats_rows(&[("inventory_levels", 2)]));
    assert!(stats.deleted.is_empty());
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![
            (stock("A", 1, 5), t1, None),
            (stock("A", 2, 2), t2, None),
            (stock("B", 1, 1), t2, None),
        ]
    );
    assert_eq!(sink.read_state(TENANT, STREAM).await.expect("state"), Some(state(2)));

    // The next snapshot is the truth again.
    sink.commit(stock_part(SnapshotPart::WHOLE, vec![stock("A", 2, 3), stock("B", 1, 1)], 3, t3))
        .await
        .expect("next snapshot");
    assert_eq!(
        live(&db, &inventory_schema()).await,
        vec![
            (stock("A", 1, 5), t1, Some(t3)),
            (stock("A", 2, 3), t3, None),
            (stock("B", 1, 1), t3, None),
        ]
    );
}

async fn a_snapshot_larger_than_one_statement_is_swapped_whole(db: TestSink) {
    let mut sink = staged_sink(&db, &[inventory_schema()]).await;
    let (t1, t2) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0));
    let rows = |from: i64, to: i64, available: i64| -> Vec<Row> {
        (from..to).map(|i| stock(&format!("W{:02}", i % 7), i, available)).collect()
    };
    // 5,000 rows in three parts of uneven size, then 4,100 of them again.
    sink.commit(stock_part(SnapshotPart::FIRST, rows(0, 2_100, 1), 1, t1)).await.expect("part 1");
    sink.commit(stock_part(SnapshotPart::MIDDLE, rows(2_100, 2_101, 1), 2, t1))
        .await
        .expect("part 2");
    sink.commit(stock_part(SnapshotPart::LAST, rows(2_101, 5_000, 1), 3, t1))
        .await
        .expect("part 3");
    assert_eq!(live(&db, &inventory_schema()).await.len(), 5_000);

    sink.commit(stock_part(SnapshotPart::FIRST, rows(900, 3_000, 2), 4, t2)).await.expect("part 1");
    let stats = sink
        .commit(stock_part(SnapshotPart::LAST, rows(3_000, 5_000, 2), 5, t2))
        .await
        .expect("part 2");
    assert_eq!(stats.deleted, stats_rows(&[("inventory_levels", 900)]));
    let stored = live(&db, &inventory_schema()).await;
    let deleted = stored.iter().filter(|(_, _, d)| *d == Some(t2)).count();
    let updated = stored
        .iter()
        .filter(|(r, at, d)| *at == t2 && d.is_none() && r.0[3] == Value::Int(2))
        .count();
    assert_eq!((stored.len(), deleted, updated), (5_000, 900, 4_100));
}

async fn a_table_name_too_long_for_its_staging_table_is_refused_by_prepare(db: TestDatabase) {
    let backend = db.backend();
    let db = TestSink::from(db);
    let mut long = inventory_schema_with_available_nullable(true);
    long.name = "t".repeat(49);
    let long = Arc::new(long);
    let mut sink = db.sink().await;
    // Without staging tables the name is fine everywhere.
    sink.prepare(&[Arc::clone(&long)], false).await.expect("prepare without staging");
    let staged = sink.prepare(&[Arc::clone(&long)], true).await;
    match backend {
        Backend::Postgres => {
            let e = staged.expect_err("64 bytes is past postgres's 63");
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(
                e.to_string().contains("would be 64 bytes long, but postgres allows 63"),
                "{e}"
            );
        }
        // MySQL allows 64 characters, SQLite any length.
        _ => {
            staged.expect("prepare with staging");
            sink.commit(batch_of(
                TENANT,
                vec![(Arc::clone(&long), vec![stock("A", 1, 1)])],
                Some(SnapshotPart::WHOLE),
                1,
                ts(1_700_000_001, 0),
            ))
            .await
            .expect("snapshot into the long-named table");
            assert_eq!(live(&db, &long).await.len(), 1);
        }
    }
}

async fn a_snapshot_batch_that_names_deleted_rows_is_refused(db: TestDatabase) {
    let db = TestSink::from(db);
    let mut sink = staged_sink(&db, &[inventory_schema()]).await;
    let mut batch =
        stock_part(SnapshotPart::WHOLE, vec![stock("A", 1, 5)], 1, ts(1_700_000_001, 0));
    batch.deleted = vec![TableDeletes {
        schema: inventory_schema(),
        column: "size_id".into(),
        values: vec![Value::Int(2)],
    }];
    let e = sink.commit(batch).await.expect_err("deletions in a snapshot");
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert_eq!(
        e.to_string(),
        "internal error: stream inventory: a snapshot batch cannot mark rows of table \
         inventory_levels deleted: rows the snapshot lacks are the deleted ones"
    );
    assert!(live(&db, &inventory_schema()).await.is_empty());
    assert_eq!(sink.read_state(TENANT, STREAM).await.expect("state"), None);
}
