//! Helpers shared by the end-to-end tests: a simulator, a test database, the
//! `cartage` process, and the truth the database must equal.
//!
//! The expected rows are computed here, from the simulator's truth types,
//! independently of the mapping engine: a bug in the mapping (or the
//! connector, or the sink) shows up as a difference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cartage_core::{Row, TableSchema, Value};
use cartage_sinks::testing::{TestDatabase, TestSink};
use centra_sim::model::{Order, OrderParty};
use centra_sim::{RunningSim, SimConfig, Simulator};
use rust_decimal::Decimal;

pub use cartage_sinks::Backend;

/// The tenant every end-to-end test syncs.
pub const TENANT: &str = "e2e";

/// The environment variable the test configuration reads the token from.
pub const TOKEN_ENV: &str = "E2E_CENTRA_TOKEN";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The default Centra mapping of the repository.
pub fn default_mapping() -> PathBuf {
    repo_root().join("mappings/centra/default.yaml")
}

/// A simulator, a sink and a working directory for one test.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub sim: RunningSim,
    pub sink: TestSink,
    pub config: PathBuf,
    binary: PathBuf,
}

impl Harness {
    /// Starts a simulator with `sim` and writes a configuration that syncs
    /// it into `db` with the default mapping; `source_extra` adds lines to
    /// the source section (e.g. `page_size: 50`).
    pub async fn start(
        binary: &str,
        sim: SimConfig,
        sink: impl Into<TestSink>,
        source_extra: &str,
    ) -> Self {
        let running = Simulator::new(sim)
            .serve(([127, 0, 0, 1], 0).into())
            .await
            .expect("starting the simulator");
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("cartage.yaml");
        let sink = sink.into();
        let harness = Harness { dir, sim: running, sink, config, binary: PathBuf::from(binary) };
        harness.write_config(&harness.sim.graphql_url.clone(), source_extra);
        harness
    }

    /// (Re)writes the configuration for `endpoint`.
    pub fn write_config(&self, endpoint: &str, source_extra: &str) {
        self.write_config_with_mapping(endpoint, source_extra, &default_mapping());
    }

    /// (Re)writes the configuration for `endpoint` and a mapping file.
    pub fn write_config_with_mapping(&self, endpoint: &str, source_extra: &str, mapping: &Path) {
        self.write_config_for_streams(endpoint, source_extra, mapping, &["orders"]);
    }

    /// (Re)writes the configuration for `endpoint`, a mapping file and the
    /// streams to sync.
    pub fn write_config_for_streams(
        &self,
        endpoint: &str,
        source_extra: &str,
        mapping: &Path,
        streams: &[&str],
    ) {
        self.write_config_with_mappings(endpoint, source_extra, &[mapping], Some(streams));
    }

    /// (Re)writes the configuration: one connection with several mapping
    /// files, and the streams to sync (all that the mappings fill: `None`).
    pub fn write_config_with_mappings(
        &self,
        endpoint: &str,
        source_extra: &str,
        mappings: &[&Path],
        streams: Option<&[&str]>,
    ) {
        let mut source = format!(
            // The simulator's clock starts at 2026-03-01, far from the local
            // one: trust it anyway (ten years of skew).
            "      type: centra\n      endpoint: {endpoint}\n      token: ${{env:{TOKEN_ENV}}}\n      max_clock_skew_secs: 315360000\n"
        );
        for line in source_extra.lines().filter(|l| !l.trim().is_empty()) {
            source.push_str("      ");
            source.push_str(line.trim());
            source.push('\n');
        }
        let sink: Vec<String> = self.sink.yaml().lines().map(str::to_owned).collect();
        let sink = sink.join("\n      ");
        let mapping = match mappings {
            [one] => one.display().to_string(),
            many => {
                let files: Vec<String> = many.iter().map(|m| m.display().to_string()).collect();
                format!("[{}]", files.join(", "))
            }
        };
        let streams = match streams {
            Some(streams) => format!("    streams: [{}]\n", streams.join(", ")),
            None => String::new(),
        };
        let text = format!(
            "connections:\n  - tenant: {TENANT}\n    source:\n{source}    mapping: {mapping}\n    sink:\n      {sink}\n{streams}"
        );
        std::fs::write(&self.config, text).expect("writing cartage.yaml");
    }

    /// The database a database test runs on (panics for a file sink).
    pub fn db(&self) -> &TestDatabase {
        self.sink.database().expect("this test runs on a database sink")
    }

    pub fn simulator(&self) -> &Simulator {
        self.sim.sim()
    }

    /// `cartage sync` with the test configuration and token, as a process.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .args(args)
            .env(TOKEN_ENV, &self.sim.token)
            .env("RUST_LOG", "info")
            .current_dir(self.dir.path())
            .kill_on_drop(true);
        command
    }

    /// Runs `cartage sync` to its end and returns what it printed.
    pub async fn sync(&self) -> Output {
        let config = self.config.to_string_lossy().into_owned();
        self.command(&["sync", "--config", &config]).output().await.expect("running cartage")
    }

    /// Runs `cartage sync` and fails the test unless it exits 0.
    pub async fn sync_ok(&self) -> SyncReport {
        let output = self.sync().await;
        assert!(
            output.status.success(),
            "cartage sync failed with {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        SyncReport::parse(&output)
    }

    /// The tables of the default mapping, as the sink created them.
    pub fn tables(&self) -> BTreeMap<String, Arc<TableSchema>> {
        mapping_tables()
    }

    /// Live rows of `table` as a mapping file declares it (extra columns).
    pub async fn live_rows_of(&self, mapping: &Path, table: &str) -> Vec<Row> {
        let tables = tables_of(mapping);
        let rows = self.sink.read_table(&tables[table], TENANT).await;
        rows.into_iter().filter(|r| r.deleted_at.is_none()).map(|r| r.row).collect()
    }

    /// Live rows (not marked deleted) of `table` for the test tenant.
    pub async fn live_rows(&self, table: &str) -> Vec<Row> {
        self.try_live_rows(table).await.expect("reading back a table")
    }

    /// [`Harness::live_rows`], or the error (e.g. the table does not exist yet).
    pub async fn try_live_rows(&self, table: &str) -> Result<Vec<Row>, cartage_core::Error> {
        let tables = self.tables();
        let schema = &tables[table];
        let rows = self.sink.try_read_table(schema, TENANT).await?;
        Ok(rows.into_iter().filter(|r| r.deleted_at.is_none()).map(|r| r.row).collect())
    }

    /// Lets simulated time pass: the connector leaves changes of the
    /// server's current second to the next run (its window ends one second
    /// before the server's clock), so a follow-up run "later" must be later.
    pub fn let_time_pass(&self) {
        self.simulator().control().advance_clock(2);
    }

    /// Asserts the database equals the simulator's current truth, row for
    /// row and column for column.
    pub async fn assert_matches_truth(&self) {
        let (orders, lines) = expected_rows(self.simulator());
        let tables = self.tables();
        assert_rows_equal(&tables["orders"], self.live_rows("orders").await, orders);
        assert_rows_equal(&tables["order_lines"], self.live_rows("order_lines").await, lines);
    }
}

/// Runs `during` (a sync) while another task calls `step` (a change to the
/// simulator) every `pause`, as fast as it goes; returns what `during`
/// returned and how many steps ran.
pub async fn while_changing<T>(
    step: impl Fn() + Send + 'static,
    pause: Duration,
    during: impl std::future::Future<Output = T>,
) -> (T, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let changes = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut steps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                step();
                steps += 1;
                tokio::time::sleep(pause).await;
            }
            steps
        })
    };
    let result = during.await;
    stop.store(true, Ordering::Relaxed);
    (result, changes.await.expect("the task changing the simulator"))
}

/// What `cartage sync` printed in its summary, parsed.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    pub records: u64,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub stdout: String,
    pub stderr: String,
}

impl SyncReport {
    pub fn parse(output: &Output) -> Self {
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let mut report = SyncReport { stdout: stdout.clone(), stderr, ..Default::default() };
        for line in stdout.lines() {
            if let Some((_, rest)) = line.split_once(": ")
                && let Some(n) = rest.strip_suffix(" s").and_then(|r| r.split(" records").next())
            {
                report.records += n.trim().parse::<u64>().unwrap_or(0);
            }
            let line = line.trim();
            if line.starts_with("requests ") {
                let numbers: Vec<u64> = line
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| s.parse().ok())
                    .collect();
                // requests N · retries N · rate-limited (429) N · rate-limit waits N (S s)
                report.requests += numbers[0];
                report.retries += numbers[1];
                report.rate_limited += numbers[3];
            }
        }
        report
    }
}

/// The tables of the default mapping, compiled by the mapping engine.
pub fn mapping_tables() -> BTreeMap<String, Arc<TableSchema>> {
    tables_of(&default_mapping())
}

/// The tables a mapping file fills (with its extra columns).
pub fn tables_of(mapping: &Path) -> BTreeMap<String, Arc<TableSchema>> {
    let context = cartage_mapping::CompileContext::new(TENANT, connector_centra::description());
    let load = |name: &str| std::fs::read_to_string(name).ok().map(|t| (name.to_owned(), t));
    let compiled = cartage_mapping::compile(&mapping.to_string_lossy(), &load, &context)
        .unwrap_or_else(|e| panic!("the default mapping does not compile:\n{e}"));
    compiled.tables().iter().map(|t| (t.name.clone(), Arc::clone(t))).collect()
}

fn money(minor: i64, exponent: u32) -> Value {
    Value::Decimal(Decimal::new(minor, exponent))
}

fn float_decimal(value: f64) -> Value {
    // The JSON number text Centra sends is the shortest representation of
    // the float; the mapping keeps exactly that text.
    Value::Decimal(value.to_string().parse().expect("a finite float"))
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

fn opt_text(value: Option<&str>) -> Value {
    value.map_or(Value::Null, text)
}

/// The rows the default mapping must produce for the simulator's current
/// orders: (`orders`, `order_lines`), computed from the truth types.
/// The standard mapping of stock and the supplier module.
pub fn supply_mapping() -> PathBuf {
    repo_root().join("mappings/centra/supply.yaml")
}

/// The `purchase_orders` rows the supply mapping makes of the simulator's
/// current purchase orders, computed from the simulator's model.
pub fn expected_purchase_orders(sim: &Simulator, schema: &TableSchema) -> Vec<Row> {
    let ts = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(Value::Null, Value::Timestamp);
    sim.purchase_orders()
        .iter()
        .map(|po| {
            let cell = |column: &str| match column {
                "tenant" => text(TENANT),
                "purchase_order_id" => Value::Int(po.id),
                "status" => text(po.status.as_str().to_lowercase()),
                "supplier_id" => Value::Int(po.supplier.id),
                "supplier_name" => text(&po.supplier.name),
                "preferred_warehouse_id" => {
                    po.preferred_warehouse_id.map_or(Value::Null, Value::Int)
                }
                "currency" => text(&po.currency.code),
                "created_at" => Value::Timestamp(po.created_at),
                "updated_at" => Value::Timestamp(po.updated_at),
                "eta" => ts(po.eta),
                "confirmed_etd" => ts(po.confirmed_etd),
                "products_total" => money(po.products_total(), po.currency.exponent),
                other => panic!("purchase_orders has a column the test does not know: {other}"),
            };
            Row(schema.columns.iter().map(|c| cell(&c.name)).collect())
        })
        .collect()
}

/// Each product size's SKU and EAN, by size id.
fn size_codes(sim: &Simulator) -> BTreeMap<i64, (String, Option<String>)> {
    sim.products()
        .into_iter()
        .flat_map(|p| p.variants.into_iter())
        .flat_map(|v| v.sizes.into_iter())
        .map(|s| (s.id, (s.sku, s.ean)))
        .collect()
}

/// The `inventory_levels` rows the supply mapping makes of the simulator's
/// current stock (the free quantity only; the other quantities are left
/// empty by the standard mapping).
pub fn expected_inventory(sim: &Simulator, schema: &TableSchema) -> Vec<Row> {
    let sizes = size_codes(sim);
    let warehouses: BTreeMap<i64, String> =
        sim.warehouses().into_iter().map(|w| (w.id, w.name)).collect();
    sim.stock()
        .iter()
        .map(|level| {
            let (sku, ean) = sizes.get(&level.size_id).cloned().unwrap_or_default();
            let cell = |column: &str| match column {
                "tenant" => text(TENANT),
                "warehouse_id" => Value::Int(level.warehouse_id),
                "size_id" => Value::Int(level.size_id),
                "warehouse_name" => text(&warehouses[&level.warehouse_id]),
                "sku" => text(&sku),
                "ean" => opt_text(ean.as_deref()),
                "free_to_allocate" => Value::Int(level.free_to_allocate()),
                "physical" | "allocated" | "demand" | "available_now" | "incoming"
                | "on_delivery" | "observed_at" => Value::Null,
                other => panic!("inventory_levels has a column the test does not know: {other}"),
            };
            Row(schema.columns.iter().map(|c| cell(&c.name)).collect())
        })
        .collect()
}

/// The `indeliveries` and `indelivery_lines` rows the supply mapping makes
/// of the simulator's current deliveries, from the simulator's model.
pub fn expected_deliveries(
    sim: &Simulator,
    deliveries: &TableSchema,
    lines: &TableSchema,
) -> (Vec<Row>, Vec<Row>) {
    let sizes = size_codes(sim);
    let pos: BTreeMap<i64, _> = sim.purchase_orders().into_iter().map(|p| (p.id, p)).collect();
    let ts = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(Value::Null, Value::Timestamp);
    let mut out = (Vec::new(), Vec::new());
    for d in sim.deliveries() {
        let po = &pos[&d.purchase_order_id];
        let exp = po.currency.exponent;
        let cell = |column: &str| match column {
            "tenant" => text(TENANT),
            "delivery_id" => Value::Int(d.id),
            "delivery_number" => text(&d.number),
            "purchase_order_id" => Value::Int(d.purchase_order_id),
            "status" => text(d.status.as_str().to_lowercase()),
            "supplier_id" => Value::Int(po.supplier.id),
            "supplier_name" => text(&po.supplier.name),
            "warehouse_id" => d.warehouse_id.map_or(Value::Null, Value::Int),
            "currency" => text(&po.currency.code),
            "created_at" => Value::Timestamp(d.created_at),
            "eta" => ts(d.eta),
            "ex_factory_date" => ts(d.ex_factory_date),
            "shipping_cost" => money(d.shipping_cost, exp),
            "other_costs" => money(d.other_costs, exp),
            other => panic!("indeliveries has a column the test does not know: {other}"),
        };
        out.0.push(Row(deliveries.columns.iter().map(|c| cell(&c.name)).collect()));
        for l in &d.lines {
            let (sku, ean) = sizes.get(&l.size_id).cloned().unwrap_or_default();
            let cell = |column: &str| match column {
                "tenant" => text(TENANT),
                "delivery_id" => Value::Int(d.id),
                "size_id" => Value::Int(l.size_id),
                "sku" => text(&sku),
                "ean" => opt_text(ean.as_deref()),
                "quantity" => Value::Int(l.quantity),
                "linked_quantity" => Value::Int(l.linked_quantity),
                "unlinked_quantity" => Value::Int(l.unlinked_quantity),
                "unit_cost" => money(l.unit_cost, exp),
                "landed_cost" => money(l.landed_cost, exp),
                other => panic!("indelivery_lines has a column the test does not know: {other}"),
            };
            out.1.push(Row(lines.columns.iter().map(|c| cell(&c.name)).collect()));
        }
    }
    out
}

pub fn expected_rows(sim: &Simulator) -> (Vec<Row>, Vec<Row>) {
    let eans: BTreeMap<i64, (Option<String>, String)> = sim
        .products()
        .into_iter()
        .flat_map(|p| p.variants.into_iter())
        .flat_map(|v| v.sizes.into_iter())
        .map(|s| (s.id, (s.ean, s.description)))
        .collect();
    let mut orders = Vec::new();
    let mut lines = Vec::new();
    for order in sim.orders() {
        orders.push(expected_order(&order));
        // The default mapping reads `lines(includeFullyCancelled: true)`.
        for line in &order.lines {
            let exp = order.currency.exponent;
            let (ean, label) =
                eans.get(&line.size_id).cloned().unwrap_or((None, line.size.clone()));
            let mut custom = serde_json::Map::new();
            custom.insert("product_number".into(), line.product_number.clone().into());
            lines.push(Row(vec![
                text(TENANT),
                text(&order.id),
                Value::Int(line.id),
                text(&line.sku),
                opt_text(ean.as_deref()),
                Value::Int(line.product_id),
                Value::Int(line.variant_id),
                Value::Int(line.size_id),
                text(label),
                opt_text(line.product_name.as_deref()),
                Value::Int(line.quantity),
                Value::Int(line.cancelled_quantity),
                Value::Int(line.returned_quantity),
                money(line.unit_price_incl_tax, exp),
                money(line.unit_original_price_incl_tax, exp),
                money(line.line_value_incl_tax(), exp),
                float_decimal(line.discount_percent),
                float_decimal(line.tax_percent),
                Value::Json(serde_json::Value::Object(custom)),
            ]));
        }
    }
    (orders, lines)
}

fn expected_order(order: &Order) -> Row {
    let exp = order.currency.exponent;
    let t = &order.totals;
    let country = order
        .shipping_address
        .as_ref()
        .and_then(|a| a.country.as_ref())
        .or_else(|| order.billing_address.as_ref().and_then(|a| a.country.as_ref()))
        .map(|c| c.code.clone());
    let (store_type, customer_id, customer_email, account_id, po_number) = match &order.party {
        OrderParty::DirectToConsumer { customer, .. } => (
            "dtc",
            customer.as_ref().map_or(Value::Null, |c| Value::Int(c.id)),
            customer.as_ref().map_or(Value::Null, |c| text(&c.email)),
            Value::Null,
            None,
        ),
        OrderParty::Wholesale { account, purchase_order_number } => (
            "wholesale",
            Value::Null,
            Value::Null,
            account.as_ref().map_or(Value::Null, |a| Value::Int(a.id)),
            purchase_order_number.clone(),
        ),
    };
    let mut custom = serde_json::Map::new();
    if let Some(po) = po_number {
        custom.insert("purchase_order_number".into(), po.into());
    }
    Row(vec![
        text(TENANT),
        text(&order.id),
        Value::Int(order.number),
        text(store_type),
        text(order.status.as_str().to_lowercase()),
        Value::Bool(order.is_on_hold),
        text(&order.currency.code),
        text(&order.market_name),
        text(&order.pricelist.name),
        opt_text(country.as_deref()),
        customer_id,
        customer_email,
        account_id,
        Value::Timestamp(order.created_at),
        Value::Timestamp(order.updated_at),
        money(t.grand_total_incl_tax, exp),
        money(t.line_values, exp),
        money(t.shipping, exp),
        money(t.discounts, exp),
        money(t.tax_added + t.tax_included, exp),
        float_decimal(order.currency_base_rate),
        Value::Json(serde_json::Value::Object(custom)),
    ])
}

fn key(schema: &TableSchema, row: &Row) -> String {
    schema
        .primary_key_indexes()
        .iter()
        .map(|&i| match &row.0[i] {
            Value::Int(n) => format!("{n:020}"),
            Value::Text(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\u{1}")
}

/// Asserts two row sets are equal as sets keyed by primary key, and reports
/// the first differences by column name.
pub fn assert_rows_equal(schema: &TableSchema, actual: Vec<Row>, expected: Vec<Row>) {
    let index = |rows: Vec<Row>| -> BTreeMap<String, Row> {
        let mut map = BTreeMap::new();
        for row in rows {
            let k = key(schema, &row);
            assert!(map.insert(k.clone(), row).is_none(), "{}: duplicate key {k:?}", schema.name);
        }
        map
    };
    let actual = index(actual);
    let expected = index(expected);
    let missing: Vec<&String> = expected.keys().filter(|k| !actual.contains_key(*k)).collect();
    let extra: Vec<&String> = actual.keys().filter(|k| !expected.contains_key(*k)).collect();
    let mut diffs = Vec::new();
    for (k, want) in &expected {
        let Some(got) = actual.get(k) else { continue };
        for (i, column) in schema.columns.iter().enumerate() {
            if got.0.get(i) != want.0.get(i) {
                diffs.push(format!(
                    "{k:?}.{}: got {:?}, want {:?}",
                    column.name,
                    got.0.get(i),
                    want.0.get(i)
                ));
            }
        }
    }
    assert!(
        missing.is_empty() && extra.is_empty() && diffs.is_empty(),
        "{}: {} rows missing (first: {:?}), {} unexpected (first: {:?}), {} values differ:\n{}",
        schema.name,
        missing.len(),
        missing.first(),
        extra.len(),
        extra.first(),
        diffs.len(),
        diffs.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
    );
}
