//! Changing a mapping between runs: a column added to it is filled into the
//! rows already stored (the stream is read again from the start), and a
//! column whose type it changes is refused before anything is written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use cartage_core::{Row, TableSchema, Value};
use cartage_sinks::testing::TestDatabase;
use cartage_tests::{Harness, TENANT, repo_root, tables_of};
use centra_sim::SimConfig;
use centra_sim::ratelimit::Tier;

const ORDERS: u64 = 120;

/// `shop.yaml` in the test's folder: the default mapping, with `extra`
/// appended under `tables.orders`.
fn write_mapping(h: &Harness, extra: &str) -> PathBuf {
    let default = std::fs::read_to_string(repo_root().join("mappings/centra/default.yaml"))
        .expect("reading the default mapping");
    std::fs::write(h.dir.path().join("default.yaml"), default).expect("writing default.yaml");
    let path = h.dir.path().join("shop.yaml");
    let text = format!("extends: default.yaml\ntables:\n  orders:\n    stream: orders\n{extra}");
    std::fs::write(&path, text).expect("writing shop.yaml");
    path
}

fn value<'r>(schema: &TableSchema, row: &'r Row, name: &str) -> &'r Value {
    &row.0[schema.column_index(name).unwrap_or_else(|| panic!("no column {name}"))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_added_to_the_mapping_is_filled_into_every_stored_row() {
    let sim = SimConfig { orders: ORDERS, seed: 5, tier: Tier::Unlimited, ..SimConfig::default() };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "").await;
    let endpoint = h.sim.graphql_url.clone();
    let mapping = write_mapping(&h, "");
    h.write_config_with_mapping(&endpoint, "", &mapping);
    assert_eq!(h.sync_ok().await.records, ORDERS);
    h.let_time_pass();
    assert_eq!(h.sync_ok().await.records, 0, "an unchanged mapping reads only what changed");

    // The mapping now also reads the market's id into a column of its own.
    let mapping = write_mapping(
        &h,
        "    extra_columns:\n      market_id: { path: market.id, type: integer }\n",
    );
    h.let_time_pass();
    let report = h.sync_ok().await;
    assert_eq!(report.records, ORDERS, "the stream is read again from the start");
    assert!(
        report.stderr.contains("the mapping changed since the stored rows were written"),
        "{}",
        report.stderr
    );

    let tables = tables_of(&mapping);
    let schema = &tables["orders"];
    let truth: BTreeMap<String, i64> =
        h.simulator().orders().map(|o| (o.id.clone(), o.market_id)).collect();
    let rows = h.live_rows_of(&mapping, "orders").await;
    assert_eq!(rows.len(), truth.len());
    for row in &rows {
        let Value::Text(id) = value(schema, row, "order_id") else { panic!("order_id") };
        assert_eq!(value(schema, row, "market_id"), &Value::Int(truth[id]), "order {id}");
    }
    h.let_time_pass();
    assert_eq!(h.sync_ok().await.records, 0, "the new version is stored: no second re-read");

    // Retyping the column is refused before anything is written.
    write_mapping(&h, "    extra_columns:\n      market_id: { path: market.id, type: string }\n");
    let output = h.sync().await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(
        errors,
        [format!(
            "error: configuration error: tenant {TENANT}: stream orders: table orders column market_id is stored as BIGINT but the mapping now makes it text: migrate it (ALTER TABLE orders DROP COLUMN market_id; the next run adds it as text and reads the stream again to fill it), or rename the column in the mapping"
        )]
    );
    // Read with the integer mapping's schema: shop.yaml now says string.
    let stored = h.db().sink().await.read_table(schema, TENANT).await.expect("reading orders");
    let after: Vec<Row> = stored.into_iter().map(|r| r.row).collect();
    assert_eq!(after, rows, "nothing written");
}

/// Two tenants' mappings that give one extra column of a table they share
/// different types: refused before the run, naming both, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_sharing_a_table_with_different_column_types_are_refused() {
    let sim = SimConfig { orders: 10, ..SimConfig::default() };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "").await;
    let text = write_mapping(
        &h,
        "    extra_columns:\n      channel: { path: market.name, type: string }\n",
    );
    let acme = h.dir.path().join("acme.yaml");
    std::fs::rename(&text, &acme).expect("renaming");
    let globex = write_mapping(
        &h,
        "    extra_columns:\n      channel: { path: market.id, type: integer }\n",
    );
    let connection = |tenant: &str, mapping: &std::path::Path| {
        format!(
            "  - tenant: {tenant}\n    source:\n      type: centra\n      endpoint: {}\n      token: ${{env:{}}}\n    mapping: {}\n    sink:\n      type: sqlite\n      url: {}\n",
            h.sim.graphql_url,
            cartage_tests::TOKEN_ENV,
            mapping.display(),
            h.db().url()
        )
    };
    let config =
        format!("connections:\n{}{}", connection("acme", &acme), connection("globex", &globex));
    std::fs::write(&h.config, config).expect("writing cartage.yaml");

    let output = h.sync().await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(
        errors,
        [format!(
            "error: tenants acme and globex share table orders but not the type of its column channel: {} makes it text, {} makes it integer; give the column one type in both mappings, or different names",
            acme.display(),
            globex.display()
        )]
    );
    let path = h.db().sqlite_path().expect("a SQLite test database");
    assert!(!path.exists(), "{} was created", path.display());
}
