//! The supplier streams with the supply mapping: `purchase_orders`, pages
//! walked from the last down, so purchase orders changing during the walk
//! cost no row (a backfill under churn and one incremental run end equal to
//! the truth), and `indeliveries` with their lines.

use std::time::Duration;

use cartage_sinks::testing::TestDatabase;
use cartage_tests::{
    Harness, TENANT, assert_rows_equal, expected_deliveries, expected_purchase_orders,
    supply_mapping, tables_of, while_changing,
};
use centra_sim::SimConfig;
use centra_sim::control::{DeliveryRequest, UpdatePurchaseOrder};
use centra_sim::ratelimit::Tier;

async fn assert_purchase_orders_match_truth(h: &Harness) {
    let schema = &tables_of(&supply_mapping())["purchase_orders"];
    let sink = h.db().sink().await;
    let stored = sink.read_table(schema, TENANT).await.expect("reading purchase_orders");
    let live = stored.into_iter().filter(|r| r.deleted_at.is_none()).map(|r| r.row).collect();
    assert_rows_equal(schema, live, expected_purchase_orders(h.simulator(), schema));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchase_orders_changing_during_the_walk_are_not_lost() {
    let sim = SimConfig {
        orders: 10,
        purchase_orders: 400,
        seed: 41,
        tier: Tier::Unlimited,
        ..SimConfig::default()
    };
    // Small pages: a walk of ~58 pages that churn hits many times.
    let extra = "page_size: 7";
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), extra).await;
    h.write_config_for_streams(&h.sim.graphql_url, extra, &supply_mapping(), &["purchase_orders"]);

    let control = h.simulator().control();
    let update = move || {
        control
            .update_purchase_order(&UpdatePurchaseOrder { id: None, status: None })
            .expect("updating a purchase order");
    };
    let (during, steps) = while_changing(update, Duration::from_millis(1), h.sync_ok()).await;
    assert!(steps > 20, "churn must overlap the walk (only {steps} updates)");
    // Changed purchase orders leave the window during the walk (the next
    // run reads them); rows shifting between pages are never skipped, only
    // sometimes read twice.
    assert!(during.records > 300, "{}", during.stdout);

    h.let_time_pass();
    h.sync_ok().await;
    assert_purchase_orders_match_truth(&h).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_run_reads_the_changed_purchase_orders() {
    let sim = SimConfig {
        orders: 10,
        purchase_orders: 60,
        seed: 42,
        tier: Tier::Unlimited,
        ..SimConfig::default()
    };
    let h = Harness::start(crate::BIN, sim, TestDatabase::postgres().await, "").await;
    h.write_config_for_streams(
        &h.sim.graphql_url,
        "lookback_secs: 0",
        &supply_mapping(),
        &["purchase_orders"],
    );
    assert_eq!(h.sync_ok().await.records, 60);
    assert_purchase_orders_match_truth(&h).await;

    let control = h.simulator().control();
    control.advance_clock(600);
    let mut changed = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let po = control
            .update_purchase_order(&UpdatePurchaseOrder { id: None, status: None })
            .expect("updating a purchase order");
        changed.insert(po.id);
    }
    let completed = control
        .update_purchase_order(&UpdatePurchaseOrder {
            id: Some(1),
            status: Some("COMPLETED".into()),
        })
        .expect("completing purchase order 1");
    changed.insert(completed.id);
    h.let_time_pass();
    let report = h.sync_ok().await;
    assert_eq!(report.records as usize, changed.len(), "only the changed ones: {}", report.stdout);
    assert_purchase_orders_match_truth(&h).await;
}

/// Deliveries cannot be filtered by `updatedAt`: every run reads them all,
/// from the last page down, and their lines with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_and_their_lines_equal_the_truth_after_each_run() {
    let sim = SimConfig {
        orders: 10,
        purchase_orders: 120,
        seed: 43,
        tier: Tier::Unlimited,
        ..SimConfig::default()
    };
    let h = Harness::start(crate::BIN, sim, TestDatabase::mysql().await, "").await;
    h.write_config_for_streams(
        &h.sim.graphql_url,
        "page_size: 9",
        &supply_mapping(),
        &["indeliveries"],
    );
    let tables = tables_of(&supply_mapping());
    let check = async || {
        let sink = h.db().sink().await;
        let live = |stored: Vec<cartage_sinks::StoredRow>| -> Vec<cartage_core::Row> {
            stored.into_iter().filter(|r| r.deleted_at.is_none()).map(|r| r.row).collect()
        };
        let (deliveries, lines) = expected_deliveries(
            h.simulator(),
            &tables["indeliveries"],
            &tables["indelivery_lines"],
        );
        assert!(!deliveries.is_empty() && !lines.is_empty());
        let stored = sink.read_table(&tables["indeliveries"], TENANT).await.expect("indeliveries");
        assert_rows_equal(&tables["indeliveries"], live(stored), deliveries);
        let stored = sink.read_table(&tables["indelivery_lines"], TENANT).await.expect("lines");
        assert_rows_equal(&tables["indelivery_lines"], live(stored), lines);
    };
    h.sync_ok().await;
    check().await;

    // New deliveries and accepted ones: the next run has them all.
    let control = h.simulator().control();
    for _ in 0..3 {
        control.create_delivery(&DeliveryRequest::default()).expect("creating a delivery");
    }
    control.accept_delivery(&DeliveryRequest::default()).expect("accepting a delivery");
    h.let_time_pass();
    h.sync_ok().await;
    check().await;
}

/// One connection, one source (so one rate-limit budget), two mapping
/// files: orders from the default mapping, supply from the supply mapping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_syncs_orders_and_supply_with_two_mapping_files() {
    let sim = SimConfig {
        orders: 300,
        purchase_orders: 40,
        seed: 44,
        tier: Tier::Unlimited,
        ..SimConfig::default()
    };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "").await;
    let default = cartage_tests::default_mapping();
    let supply = supply_mapping();
    h.write_config_with_mappings(&h.sim.graphql_url, "", &[&default, &supply], None);
    let report = h.sync_ok().await;
    for stream in ["orders", "purchase_orders", "indeliveries"] {
        assert!(report.stdout.contains(&format!("stream {stream}:")), "{}", report.stdout);
    }
    h.assert_matches_truth().await;
    assert_purchase_orders_match_truth(&h).await;

    // A stream two files map is refused before anything runs.
    h.write_config_with_mappings(&h.sim.graphql_url, "", &[&default, &default], None);
    let output = h.sync().await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(r#"stream "orders" is mapped by both"#), "{stderr}");
}
