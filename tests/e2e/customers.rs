//! The two customer mappings, each synced end to end from the simulator
//! profile it was written for, and checked against the simulator's truth.

use std::collections::BTreeMap;

use cartage_core::{Row, TableSchema, Value};
use cartage_sinks::testing::TestDatabase;
use cartage_tests::{Harness, repo_root, tables_of};
use centra_sim::SimConfig;
use centra_sim::model::{Attribute, AttributeValue, Order, OrderParty};
use centra_sim::ratelimit::Tier;

/// The value a mapping reads for `type_name.key`: a string element's value,
/// a choice element's selected value.
fn attribute(attributes: &[Attribute], type_name: &str, key: &str) -> Option<String> {
    let attribute = attributes.iter().find(|a| a.type_name == type_name)?;
    let element = attribute.elements.iter().find(|e| e.key == key)?;
    match &element.value {
        AttributeValue::String { value } => Some(value.clone()),
        AttributeValue::Choice { selected_value, .. } => selected_value.clone(),
        _ => None,
    }
}

fn column<'r>(schema: &TableSchema, row: &'r Row, name: &str) -> &'r Value {
    &row.0[schema.column_index(name).unwrap_or_else(|| panic!("no column {name}"))]
}

fn custom_text(schema: &TableSchema, row: &Row, key: &str) -> Option<String> {
    match column(schema, row, "custom") {
        Value::Json(json) => json.get(key).and_then(|v| v.as_str()).map(str::to_owned),
        other => panic!("custom is JSON, got {other:?}"),
    }
}

async fn sync_profile(profile: &str, mapping: &str) -> (Harness, BTreeMap<String, (Row, Order)>) {
    let sim = SimConfig {
        orders: 600,
        seed: 71,
        profile: profile.to_owned(),
        tier: Tier::Unlimited,
        ..SimConfig::default()
    };
    let h = Harness::start(crate::BIN, sim, TestDatabase::sqlite(), "").await;
    let mapping = repo_root().join(mapping);
    h.write_config_with_mapping(&h.sim.graphql_url.clone(), "", &mapping);
    let report = h.sync_ok().await;
    assert_eq!(report.records, 600, "{}", report.stdout);

    let tables = tables_of(&mapping);
    let orders = &tables["orders"];
    let truth: BTreeMap<String, Order> =
        h.simulator().orders().map(|o| (o.id.clone(), o)).collect();
    let mut joined = BTreeMap::new();
    for row in h.live_rows_of(&mapping, "orders").await {
        let Value::Text(id) = column(orders, &row, "order_id").clone() else { panic!("order_id") };
        let order =
            truth.get(&id).unwrap_or_else(|| panic!("order {id} is not in the truth")).clone();
        joined.insert(id, (row, order));
    }
    assert_eq!(joined.len(), truth.len());
    let lines = h.live_rows_of(&mapping, "order_lines").await.len();
    assert_eq!(lines, truth.values().map(|o| o.lines.len()).sum::<usize>());
    (h, joined)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nordic_fashion_mapping_syncs_its_custom_fields() {
    let mapping = repo_root().join("mappings/nordic-fashion.yaml");
    let (_h, joined) = sync_profile("nordic-fashion", "mappings/nordic-fashion.yaml").await;
    let tables = tables_of(&mapping);
    let schema = &tables["orders"];
    let mut channels = 0;
    for (row, order) in joined.values() {
        let status = match order.status.as_str() {
            "PENDING" | "CONFIRMED" | "PROCESSING" => "open",
            "SHIPPED" | "ARCHIVED" => "completed",
            _ => "cancelled",
        };
        assert_eq!(column(schema, row, "status"), &Value::Text(status.to_owned()));
        let expected = match &order.party {
            OrderParty::DirectToConsumer { attributes, .. } => {
                attribute(attributes, "ord_source", "channel")
            }
            OrderParty::Wholesale { .. } => None,
        };
        channels += usize::from(expected.is_some());
        assert_eq!(custom_text(schema, row, "sales_channel"), expected, "order {}", order.number);
    }
    assert!(channels > 50, "the profile must carry the attribute on many orders ({channels})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outdoor_wholesale_mapping_syncs_its_extra_columns() {
    let mapping = repo_root().join("mappings/outdoor-wholesale.yaml");
    let (_h, joined) = sync_profile("outdoor-wholesale", "mappings/outdoor-wholesale.yaml").await;
    let tables = tables_of(&mapping);
    let schema = &tables["orders"];
    for (row, order) in joined.values() {
        let expected = match &order.party {
            OrderParty::DirectToConsumer { attributes, .. } => {
                attribute(attributes, "ord_erp", "erp_ref")
            }
            OrderParty::Wholesale { purchase_order_number, .. } => purchase_order_number.clone(),
        }
        .unwrap_or_else(|| format!("CENTRA-{}", order.number));
        assert_eq!(
            column(schema, row, "order_reference"),
            &Value::Text(expected),
            "order {}",
            order.number
        );
    }
}
