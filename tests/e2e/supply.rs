//! Inventory and the supplier module end to end: full stock snapshots staged
//! and swapped in whole, incremental re-reads of the sizes that moved,
//! deliveries removed in Centra marked deleted, and every order and supply
//! table equal to the simulator's truth after churn and one incremental run.

use std::process::Stdio;
use std::time::Duration;

use cartage_core::{Row, Sink};
use cartage_sinks::testing::TestDatabase;
use cartage_tests::{
    Harness, TENANT, assert_rows_equal, expected_deliveries, expected_inventory,
    expected_purchase_orders, supply_mapping, tables_of,
};
use centra_sim::SimConfig;
use centra_sim::control::{
    ChangeStock, DeliveryRequest, OrderSelection, RemoveDeliveries, UpdateOrders,
    UpdatePurchaseOrder,
};
use centra_sim::faults::FaultConfig;
use centra_sim::ratelimit::Tier;

fn live(stored: Vec<cartage_sinks::StoredRow>) -> Vec<Row> {
    stored.into_iter().filter(|r| r.deleted_at.is_none()).map(|r| r.row).collect()
}

/// Asserts `inventory_levels`, `purchase_orders`, `indeliveries` and
/// `indelivery_lines` equal the simulator's truth.
async fn assert_supply_matches_truth(h: &Harness) {
    let tables = tables_of(&supply_mapping());
    let sink = h.db().sink().await;
    let sim = h.simulator();
    let read = async |table: &str| {
        live(sink.read_table(&tables[table], TENANT).await.expect("reading a supply table"))
    };
    let inventory = expected_inventory(sim, &tables["inventory_levels"]);
    assert!(!inventory.is_empty());
    assert_rows_equal(&tables["inventory_levels"], read("inventory_levels").await, inventory);
    let pos = expected_purchase_orders(sim, &tables["purchase_orders"]);
    assert_rows_equal(&tables["purchase_orders"], read("purchase_orders").await, pos);
    let (deliveries, lines) =
        expected_deliveries(sim, &tables["indeliveries"], &tables["indelivery_lines"]);
    assert_rows_equal(&tables["indeliveries"], read("indeliveries").await, deliveries);
    assert_rows_equal(&tables["indelivery_lines"], read("indelivery_lines").await, lines);
}

fn stock_rows(report: &cartage_tests::SyncReport) -> u64 {
    report
        .stdout
        .lines()
        .skip_while(|l| !l.contains("stream inventory:"))
        .find_map(|l| l.trim().strip_prefix("inventory_levels"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no inventory_levels rows in the summary:\n{}", report.stdout))
}

/// Orders allocate and ship stock, deliveries are created, accepted and
/// removed, purchase orders and stock change: after a full sync and one
/// incremental run (which re-reads only the sizes that moved), all six
/// tables equal the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_equals_the_truth_after_churn_and_one_incremental_run() {
    let sim = SimConfig {
        orders: 300,
        products: 40,
        warehouses: 3,
        purchase_orders: 40,
        seed: 51,
        tier: Tier::Unlimited,
        ..SimConfig::default()
    };
    let h = Harness::start(crate::BIN, sim, TestDatabase::postgres().await, "").await;
    let default = cartage_tests::default_mapping();
    let supply = supply_mapping();
    h.write_config_with_mappings(&h.sim.graphql_url, "page_size: 50", &[&default, &supply], None);
    let first = h.sync_ok().await;
    for stream in ["orders", "inventory", "purchase_orders", "indeliveries"] {
        assert!(first.stdout.contains(&format!("stream {stream}:")), "{}", first.stdout);
    }
    let snapshot_rows = stock_rows(&first);
    assert_eq!(snapshot_rows as usize, h.simulator().stock().len());
    h.assert_matches_truth().await;
    assert_supply_matches_truth(&h).await;

    let control = h.simulator().control();
    control.advance_clock(60);
    control.create_orders(15);
    control
        .update_orders(&UpdateOrders {
            select: OrderSelection { count: Some(10), numbers: None },
            status: Some("SHIPPED".into()),
        })
        .expect("shipping orders");
    control
        .cancel_orders(&OrderSelection { count: Some(4), numbers: None })
        .expect("cancelling orders");
    control
        .change_stock(&ChangeStock { count: Some(12), ..ChangeStock::default() })
        .expect("stock");
    for _ in 0..3 {
        control.create_delivery(&DeliveryRequest::default()).expect("creating a delivery");
    }
    for _ in 0..2 {
        control.accept_delivery(&DeliveryRequest::default()).expect("accepting a delivery");
    }
    let removed = control
        .remove_deliveries(&RemoveDeliveries { ids: None, count: Some(2) })
        .expect("removing deliveries");
    assert_eq!(removed.len(), 2);
    for _ in 0..3 {
        control
            .update_purchase_order(&UpdatePurchaseOrder::default())
            .expect("updating a purchase order");
    }
    h.let_time_pass();

    let second = h.sync_ok().await;
    let reread = stock_rows(&second);
    assert!(
        reread > 0 && reread < snapshot_rows / 2,
        "the incremental run re-reads only moved sizes: {reread} of {snapshot_rows} rows\n{}",
        second.stdout
    );
    h.assert_matches_truth().await;
    assert_supply_matches_truth(&h).await;

    // The removed deliveries are still there, marked deleted, lines too.
    let tables = tables_of(&supply_mapping());
    let sink = h.db().sink().await;
    let stored = sink.read_table(&tables["indeliveries"], TENANT).await.expect("indeliveries");
    for id in removed {
        let row = stored
            .iter()
            .find(|r| r.row.0[1] == cartage_core::Value::Int(id))
            .unwrap_or_else(|| panic!("delivery {id} is gone from the table"));
        assert!(row.deleted_at.is_some(), "delivery {id} was removed in centra");
    }
}

/// A full snapshot killed half-way leaves the previous snapshot visible and
/// whole; the next run finishes a snapshot equal to the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_killed_half_way_leaves_the_previous_one_whole() {
    let faults = FaultConfig {
        p_slow: 1.0,
        slow_delay: Duration::from_millis(30),
        ..FaultConfig::default()
    };
    let sim = SimConfig {
        orders: 10,
        products: 120,
        warehouses: 2,
        seed: 52,
        tier: Tier::Unlimited,
        faults,
        ..SimConfig::default()
    };
    let extra = "page_size: 10\n      inventory_snapshot_interval_secs: 0";
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), extra).await;
    h.write_config_for_streams(&h.sim.graphql_url, extra, &supply_mapping(), &["inventory"]);
    h.sync_ok().await;
    let schema = &tables_of(&supply_mapping())["inventory_levels"];
    let before = expected_inventory(h.simulator(), schema);
    assert_rows_equal(
        schema,
        h.live_rows_of(&supply_mapping(), "inventory_levels").await,
        before.clone(),
    );

    // Stock moves; the next run takes a new full snapshot (interval 0).
    h.simulator()
        .control()
        .change_stock(&ChangeStock { count: Some(40), ..ChangeStock::default() })
        .expect("changing stock");
    h.let_time_pass();
    let config = h.config.to_string_lossy().into_owned();
    let mut child = h
        .command(&["sync", "--config", &config])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting cartage");
    // Wait until pages of the new snapshot are staged (its state names the
    // walk and a page), then kill the process.
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut sink = h.db().sink().await;
        let state = sink.read_state(TENANT, "inventory").await.expect("reading the state");
        let staged = state.as_ref().is_some_and(|s| s.0["source"]["walk"]["next_page"].is_u64());
        if staged {
            break;
        }
        assert!(child.try_wait().expect("polling cartage").is_none(), "cartage ended too early");
    }
    child.start_kill().expect("killing cartage");
    assert!(!child.wait().await.expect("reaping cartage").success());
    assert_rows_equal(
        schema,
        h.live_rows_of(&supply_mapping(), "inventory_levels").await,
        before.clone(),
    );
    assert_ne!(before, expected_inventory(h.simulator(), schema), "the stock did move");

    h.sync_ok().await;
    assert_rows_equal(
        schema,
        h.live_rows_of(&supply_mapping(), "inventory_levels").await,
        expected_inventory(h.simulator(), schema),
    );
}
