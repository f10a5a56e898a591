//! `commit`: upserts, in-batch duplicates, removed children, atomicity.

use std::sync::Arc;

use cartage_core::{ErrorKind, Row, Sink, TableDeletes, Value};
use cartage_sinks::testing::TestDatabase;

use cartage_sinks::testing::TestSink;

use crate::support::*;
use crate::{all_backends, all_sinks};

// The conformance suite: every sink, databases and files alike.
all_sinks!(
    upsert_updates_rows_instead_of_duplicating_them,
    duplicates_within_a_batch_keep_the_last_row,
    a_batch_larger_than_one_statement_is_written_whole,
    children_missing_from_the_batch_are_marked_deleted,
    rows_the_source_deleted_are_marked_with_their_children,
    a_sink_reopened_after_a_crash_resumes_from_its_last_commit,
);

// What only a database refuses.
all_backends!(
    a_failed_commit_leaves_neither_rows_nor_state,
    a_value_of_the_wrong_type_fails_the_whole_commit,
);

async fn upsert_updates_rows_instead_of_duplicating_them(db: TestSink) {
    let mut sink = prepared_sink(&db).await;
    let first = ts(1_700_000_000, 0);
    let stats = sink
        .commit(batch(
            vec![(
                orders_schema(),
                vec![order("1", 1, "new", "10.00"), order("2", 2, "new", "20.00")],
            )],
            1,
            first,
        ))
        .await
        .expect("first commit");
    assert_eq!(stats.rows, vec![("orders".to_string(), 2)]);

    let second = ts(1_700_000_100, 500);
    sink.commit(batch(
        vec![(
            orders_schema(),
            vec![order("2", 2, "shipped", "21.00"), order("3", 3, "new", "3.00")],
        )],
        2,
        second,
    ))
    .await
    .expect("second commit");

    let stored = rows_in(&db, &orders_schema()).await;
    let got: Vec<(Row, _)> = stored.iter().map(|r| (r.row.clone(), r.synced_at)).collect();
    assert_eq!(
        got,
        vec![
            (order("1", 1, "new", "10.00"), first),
            (order("2", 2, "shipped", "21.00"), second),
            (order("3", 3, "new", "3.00"), second),
        ]
    );
    assert!(stored.iter().all(|r| r.deleted_at.is_none()));
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), Some(state(2)));
}

async fn duplicates_within_a_batch_keep_the_last_row(db: TestSink) {
    let mut sink = prepared_sink(&db).await;
    let stats = sink
        .commit(batch(
            vec![
                (
                    orders_schema(),
                    vec![
                        order("1", 1, "new", "10.00"),
                        order("2", 2, "new", "20.00"),
                        order("1", 1, "paid", "11.00"),
                        order("1", 1, "shipped", "12.00"),
                    ],
                ),
                (lines_schema(), vec![line("1", 1, "A", 1), line("1", 1, "B", 2)]),
            ],
            1,
            ts(1_700_000_000, 0),
        ))
        .await
        .expect("commit");
    assert_eq!(stats.rows, vec![("orders".to_string(), 2), ("order_lines".to_string(), 1)]);
    assert_eq!(
        data_in(&db, &orders_schema()).await,
        vec![order("1", 1, "shipped", "12.00"), order("2", 2, "new", "20.00")]
    );
    assert_eq!(data_in(&db, &lines_schema()).await, vec![line("1", 1, "B", 2)]);
}

async fn a_batch_larger_than_one_statement_is_written_whole(db: TestSink) {
    let mut sink = prepared_sink(&db).await;
    // 1,300 orders and 2,603 lines: several full statements plus remainders.
    let orders: Vec<Row> = (0..1300)
        .map(|i| order(&format!("{i:05}"), i, "new", &format!("{i}.{:02}", i % 100)))
        .collect();
    let lines: Vec<Row> = (0..2603)
        .map(|i| line(&format!("{:05}", i / 2), i % 2 + i / 1300 * 10, &format!("SKU-{i}"), i))
        .collect();
    let stats = sink
        .commit(batch(
            vec![(orders_schema(), orders.clone()), (lines_schema(), lines.clone())],
            1,
            ts(1_700_000_000, 0),
        ))
        .await
        .expect("commit");
    assert_eq!(stats.rows, vec![("orders".to_string(), 1300), ("order_lines".to_string(), 2603)]);
    assert_eq!(data_in(&db, &orders_schema()).await, orders);
    let mut expected = lines;
    expected.sort_by(|a, b| {
        let key = |r: &Row| match (&r.0[1], &r.0[2]) {
            (Value::Text(o), Value::Int(l)) => (o.clone(), *l),
            _ => unreachable!("test rows"),
        };
        key(a).cmp(&key(b))
    });
    assert_eq!(data_in(&db, &lines_schema()).await, expected);
}

async fn children_missing_from_the_batch_are_marked_deleted(db: TestSink) {
    let mut sink = prepared_sink(&db).await;
    let t1 = ts(1_700_000_001, 0);
    let t2 = ts(1_700_000_002, 0);
    let t3 = ts(1_700_000_003, 0);
    let orders = |ids: &[&str]| -> Vec<Row> {
        ids.iter().map(|id| order(id, id.parse().expect("numeric id"), "new", "1.00")).collect()
    };
    sink.commit(batch(
        vec![
            (orders_schema(), orders(&["1", "2", "3"])),
            (
                lines_schema(),
                vec![
                    line("1", 1, "A", 1),
                    line("1", 2, "B", 1),
                    line("1", 3, "C", 1),
                    line("2", 1, "D", 1),
                    line("3", 1, "E", 1),
                ],
            ),
        ],
        1,
        t1,
    ))
    .await
    .expect("first commit");

    // Order 1 lost line 2; order 3 lost all its lines (it comes without
    // lines); order 2 is not in the batch, so its lines stay as they are.
    sink.commit(batch(
        vec![
            (orders_schema(), orders(&["1", "3"])),
            (lines_schema(), vec![line("1", 1, "A", 2), line("1", 3, "C", 1)]),
        ],
        2,
        t2,
    ))
    .await
    .expect("second commit");
    let state_of = |stored: &[cartage_sinks::StoredRow]| -> Vec<(i64, String, Option<_>)> {
        stored
            .iter()
            .map(|r| match (&r.row.0[1], &r.row.0[2]) {
                (Value::Text(o), Value::Int(l)) => (*l, o.clone(), r.deleted_at),
                _ => unreachable!("test rows"),
            })
            .collect()
    };
    let stored = rows_in(&db, &lines_schema()).await;
    assert_eq!(
        state_of(&stored),
        vec![
            (1, "1".into(), None),
            (2, "1".into(), Some(t2)),
            (3, "1".into(), None),
            (1, "2".into(), None),
            (1, "3".into(), Some(t2)),
        ]
    );
    assert_eq!(stored[0].row, line("1", 1, "A", 2));
    assert_eq!(stored[0].synced_at, t2);
    assert_eq!(stored[3].synced_at, t1);

    // Line 2 comes back, line 3 goes; an already deleted line keeps the
    // time it was deleted at. Only the child table is in this batch.
    sink.commit(batch(
        vec![(lines_schema(), vec![line("1", 1, "A", 2), line("1", 2, "B", 5)])],
        3,
        t3,
    ))
    .await
    .expect("third commit");
    let stored = rows_in(&db, &lines_schema()).await;
    assert_eq!(
        state_of(&stored),
        vec![
            (1, "1".into(), None),
            (2, "1".into(), None),
            (3, "1".into(), Some(t3)),
            (1, "2".into(), None),
            (1, "3".into(), Some(t2)),
        ]
    );
    assert_eq!(stored[1].row, line("1", 2, "B", 5));
}

async fn rows_the_source_deleted_are_marked_with_their_children(db: TestSink) {
    let mut sink = prepared_sink(&db).await;
    let t1 = ts(1_700_000_001, 0);
    let t2 = ts(1_700_000_002, 0);
    let t3 = ts(1_700_000_003, 0);
    sink.commit(batch(
        vec![
            (
                orders_schema(),
                vec![
                    order("a", 1, "new", "1.00"),
                    order("b", 2, "new", "1.00"),
                    order("c", 3, "new", "1.00"),
                ],
            ),
            (
                lines_schema(),
                vec![
                    line("a", 1, "A", 1),
                    line("a", 2, "B", 1),
                    line("b", 1, "C", 1),
                    line("c", 1, "D", 1),
                ],
            ),
        ],
        1,
        t1,
    ))
    .await
    .expect("first commit");

    // Orders 1 and 3 are deleted by number (as Centra's events name them);
    // number 9 names nothing. No rows in this batch, only deletions.
    let deleting = |numbers: &[i64], cursor, at| {
        let mut b = batch(vec![(orders_schema(), vec![]), (lines_schema(), vec![])], cursor, at);
        b.deleted = vec![TableDeletes {
            schema: orders_schema(),
            column: "order_number".into(),
            values: numbers.iter().map(|n| Value::Int(*n)).collect(),
        }];
        b
    };
    let stats = sink.commit(deleting(&[1, 3, 9], 2, t2)).await.expect("deleting commit");
    assert_eq!(stats.deleted, vec![("order_lines".into(), 3), ("orders".into(), 2)]);
    let deleted_at = |stored: Vec<cartage_sinks::StoredRow>| -> Vec<Option<_>> {
        stored.into_iter().map(|r| r.deleted_at).collect()
    };
    assert_eq!(deleted_at(rows_in(&db, &orders_schema()).await), vec![Some(t2), None, Some(t2)]);
    assert_eq!(
        deleted_at(rows_in(&db, &lines_schema()).await),
        vec![Some(t2), Some(t2), None, Some(t2)]
    );
    assert_eq!(sink.read_state(TENANT, "orders").await.unwrap(), Some(state(2)));

    // The same deletion again (a re-read event) changes nothing: the rows
    // keep the time they were first marked.
    let stats = sink.commit(deleting(&[1], 3, t3)).await.expect("repeated deletion");
    assert_eq!(stats.deleted, vec![("order_lines".into(), 0), ("orders".into(), 0)]);
    assert_eq!(deleted_at(rows_in(&db, &orders_schema()).await), vec![Some(t2), None, Some(t2)]);

    // Another tenant's order with the same number is not touched.
    let mut other = deleting(&[2], 4, t3);
    other.tenant = "someone-else".into();
    sink.commit(other).await.expect("other tenant");
    assert_eq!(deleted_at(rows_in(&db, &orders_schema()).await), vec![Some(t2), None, Some(t2)]);
}

async fn a_failed_commit_leaves_neither_rows_nor_state(db: TestDatabase) {
    // The table is created with `sku NOT NULL`; the batch below claims it is
    // nullable, so only the database itself refuses the second table's row,
    // after the first table's upsert already ran in the transaction.
    let mut sink = db.sink().await;
    let strict = Arc::new(lines_schema_with_sku_nullable(false));
    sink.prepare(&[orders_schema(), strict], false).await.expect("prepare");
    let t1 = ts(1_700_000_001, 0);
    sink.commit(batch(
        vec![
            (orders_schema(), vec![order("1", 1, "new", "10.00")]),
            (lines_schema(), vec![line("1", 1, "A", 1)]),
        ],
        1,
        t1,
    ))
    .await
    .expect("good commit");

    let mut bad_line = line("2", 1, "X", 1);
    bad_line.0[3] = Value::Null;
    let e = sink
        .commit(batch(
            vec![
                (
                    orders_schema(),
                    vec![order("1", 1, "cancelled", "0.00"), order("2", 2, "new", "5.00")],
                ),
                (lines_schema(), vec![line("1", 1, "A", 9), bad_line]),
            ],
            2,
            ts(1_700_000_002, 0),
        ))
        .await
        .expect_err("a NULL in a NOT NULL column");
    assert_eq!(e.kind(), ErrorKind::Sink, "{e}");
    // The error names the keys of the statement holding the refused value.
    assert!(
        e.to_string().starts_with(
            r#"sink error: upserting into table order_lines (2 rows with keys from ("acme", "1", 1) to ("acme", "2", 1)): "#
        ),
        "{e}"
    );

    // Nothing of the failed batch is visible, on this or a new connection.
    for sink in [&sink, &db.sink().await] {
        let orders = rows(sink, &orders_schema()).await;
        assert_eq!(
            orders.iter().map(|r| r.row.clone()).collect::<Vec<_>>(),
            vec![order("1", 1, "new", "10.00")]
        );
        assert_eq!(orders[0].synced_at, t1);
        assert_eq!(data(sink, &lines_schema()).await, vec![line("1", 1, "A", 1)]);
    }
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), Some(state(1)));

    // The sink is still usable after the failure.
    sink.commit(batch(vec![(orders_schema(), vec![order("2", 2, "new", "5.00")])], 3, t1))
        .await
        .expect("commit after a failure");
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), Some(state(3)));
}

async fn a_value_of_the_wrong_type_fails_the_whole_commit(db: TestDatabase) {
    let mut sink = prepared(&db).await;
    let mut bad = order("2", 2, "new", "1.00");
    bad.0[5] = Value::Text("12.50".into());
    let e = sink
        .commit(batch(
            vec![(orders_schema(), vec![order("1", 1, "new", "1.00"), bad])],
            1,
            ts(1_700_000_000, 0),
        ))
        .await
        .expect_err("text in a decimal column");
    assert_eq!(e.kind(), ErrorKind::Data);
    assert_eq!(
        e.to_string(),
        "data error: table orders, column total_gross, row 1: expected a decimal value, found text"
    );
    assert!(rows(&sink, &orders_schema()).await.is_empty());
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), None);
}

async fn a_sink_reopened_after_a_crash_resumes_from_its_last_commit(db: TestSink) {
    let (t1, t2) = (ts(1_700_000_001, 0), ts(1_700_000_002, 0));
    let first = batch(
        vec![
            (orders_schema(), vec![order("1", 1, "new", "10.00")]),
            (lines_schema(), vec![line("1", 1, "A", 1), line("1", 2, "B", 1)]),
        ],
        1,
        t1,
    );
    let second = batch(
        vec![
            (
                orders_schema(),
                vec![order("1", 1, "shipped", "10.00"), order("2", 2, "new", "5.00")],
            ),
            (lines_schema(), vec![line("1", 1, "A", 1), line("2", 1, "C", 3)]),
        ],
        2,
        t2,
    );
    {
        let mut sink = prepared_sink(&db).await;
        sink.commit(first).await.expect("first batch");
        // The process dies here: the sink is dropped without closing.
    }
    // The next run opens the sink again, finds the first batch's state, and
    // redoes the second batch twice over (a crash after its commit but
    // before the run noticed): nothing is duplicated or lost.
    let mut sink = prepared_sink(&db).await;
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), Some(state(1)));
    sink.commit(second.clone()).await.expect("second batch");
    drop(sink);
    let mut sink = prepared_sink(&db).await;
    assert_eq!(sink.read_state(TENANT, "orders").await.expect("state"), Some(state(2)));
    sink.commit(second).await.expect("second batch again");

    assert_eq!(
        data_in(&db, &orders_schema()).await,
        vec![order("1", 1, "shipped", "10.00"), order("2", 2, "new", "5.00")]
    );
    let lines = rows_in(&db, &lines_schema()).await;
    let got: Vec<(Row, Option<_>)> = lines.into_iter().map(|r| (r.row, r.deleted_at)).collect();
    assert_eq!(
        got,
        vec![
            (line("1", 1, "A", 1), None),
            (line("1", 2, "B", 1), Some(t2)),
            (line("2", 1, "C", 3), None),
        ]
    );
}
