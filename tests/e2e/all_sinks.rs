//! The same Centra data synced into each of the six sinks (SQLite,
//! PostgreSQL, MariaDB, JSONL, CSV, Parquet) reads back as the same logical
//! content: every value (money to the minor unit, timestamps as instants),
//! and the same rows marked deleted.

use std::collections::BTreeMap;

use cartage_core::Row;
use cartage_sinks::testing::{SinkUnderTest, TestSink};
use cartage_tests::{Harness, TENANT, assert_rows_equal};
use centra_sim::SimConfig;
use centra_sim::control::{OrderSelection, UpdateOrders};
use centra_sim::ratelimit::Tier;

const SINKS: [SinkUnderTest; 6] = [
    SinkUnderTest::Sqlite,
    SinkUnderTest::Postgres,
    SinkUnderTest::Mysql,
    SinkUnderTest::Jsonl,
    SinkUnderTest::Csv,
    SinkUnderTest::Parquet,
];

const DELETED: [i64; 3] = [4, 90, 217];

/// What a reader of one table sees: the rows of live keys, and the rows of
/// keys marked deleted.
#[derive(Debug)]
struct Content {
    live: Vec<Row>,
    deleted: Vec<Row>,
}

/// A backfill, then changes and deletions in Centra and an incremental run,
/// into `which`; returns what the sink then holds of each table.
///
/// Every sink gets its own simulator (deletions are events its run
/// confirms); their clocks are frozen, so all six serve the same data,
/// timestamps included.
async fn sync_into(which: SinkUnderTest) -> BTreeMap<&'static str, Content> {
    let sim = SimConfig {
        orders: 300,
        seed: 71,
        tier: Tier::Unlimited,
        frozen_clock: true,
        ..SimConfig::default()
    };
    let sink = TestSink::new(which).await;
    let h = Harness::start(crate::BIN, sim, sink, "page_size: 50\ntrack_deletions: true").await;
    assert_eq!(h.sync_ok().await.records, 300, "{which:?}: backfill");

    let control = h.simulator().control();
    control.advance_clock(60);
    control
        .update_orders(&UpdateOrders {
            select: OrderSelection { count: Some(40), numbers: None },
            status: None,
        })
        .expect("updating orders");
    control.create_orders(5);
    control
        .delete_orders(&OrderSelection { count: None, numbers: Some(DELETED.to_vec()) })
        .expect("deleting orders");
    h.let_time_pass();
    h.sync_ok().await;
    // Each sink equals its simulator's truth on its own...
    h.assert_matches_truth().await;

    let tables = h.tables();
    let mut content = BTreeMap::new();
    for table in ["orders", "order_lines"] {
        let rows = h.sink.read_table(&tables[table], TENANT).await;
        let (deleted, live): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|r| r.deleted_at.is_some());
        content.insert(
            table,
            Content {
                live: live.into_iter().map(|r| r.row).collect(),
                deleted: deleted.into_iter().map(|r| r.row).collect(),
            },
        );
    }
    content
}

/// ... and all six hold the same: the reference (SQLite) row for row and
/// column for column, live and deleted alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sink_holds_the_same_content() {
    let reference = sync_into(SINKS[0]).await;
    let tables = cartage_tests::mapping_tables();
    assert_eq!(reference["orders"].live.len(), 302, "300 + 5 created - 3 deleted");
    assert_eq!(reference["orders"].deleted.len(), DELETED.len());
    assert!(!reference["order_lines"].deleted.is_empty(), "the deleted orders' lines");

    for which in &SINKS[1..] {
        let content = sync_into(*which).await;
        for (table, want) in &reference {
            let got = &content[table];
            eprintln!("{which:?} {table}: {} live, {} deleted", got.live.len(), got.deleted.len());
            let schema = &tables[*table];
            assert_rows_equal(schema, got.live.clone(), want.live.clone());
            assert_rows_equal(schema, got.deleted.clone(), want.deleted.clone());
        }
    }
}
