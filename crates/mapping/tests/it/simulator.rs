//! The two customer mappings against the simulator's profiles: the query
//! each mapping derives runs on the simulator (in-process), and the rows
//! the plan makes of its answer equal the simulator's truth.

use std::collections::BTreeMap;

use cartage_core::{MappedRows, Record, Value};
use cartage_mapping::CompiledMapping;
use centra_sim::model::{Attribute, AttributeValue, OrderParty};
use centra_sim::{SimConfig, Simulator};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::support::*;

const ORDERS: u64 = 300;

#[derive(Deserialize)]
struct Response {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    orders: Vec<Box<RawValue>>,
}

/// Maps the first `ORDERS` orders of a simulator with `profile` using the
/// mapping file `file`; returns the rows per table by name.
fn sync(
    profile: &str,
    file: &str,
) -> (Simulator, CompiledMapping, BTreeMap<String, Vec<Vec<Value>>>) {
    let sim = Simulator::new(SimConfig {
        orders: ORDERS,
        profile: profile.into(),
        ..SimConfig::default()
    });
    let mapping =
        compile_dir(&repo_root().join("mappings"), file, &ctx()).unwrap_or_else(|d| panic!("{d}"));
    let selection = mapping.selection("orders").unwrap();
    let query = format!("query {{ orders(limit: 200, page: $page) {{ {selection} }} }}")
        .replace("query {", "query Orders($page: Int!) {");
    let mapper = mapping.stream("orders").unwrap();
    let tables = mapper.tables().to_vec();
    let mut out = MappedRows::new(tables.len());
    for page in 1.. {
        let bytes = sim.execute_raw(&query, serde_json::json!({ "page": page }));
        let response: Response = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        if response.data.orders.is_empty() {
            break;
        }
        for raw in response.data.orders {
            mapper.map_record(&Record::from_raw(raw), &mut out).unwrap();
        }
    }
    let rows = tables
        .iter()
        .zip(out.tables)
        .map(|(t, rows)| (t.name.clone(), rows.into_iter().map(|r| r.0).collect()))
        .collect();
    (sim, mapping, rows)
}

fn col(mapping: &CompiledMapping, table: &str, name: &str) -> usize {
    let t = mapping.tables().iter().find(|t| t.name == table).unwrap();
    t.column_index(name).unwrap_or_else(|| panic!("{table}.{name}"))
}

fn attr(attrs: &[Attribute], ty: &str, key: &str) -> Option<String> {
    let el = attrs.iter().find(|a| a.type_name == ty)?.elements.iter().find(|e| e.key == key)?;
    match &el.value {
        AttributeValue::String { value } => Some(value.clone()),
        AttributeValue::Choice { selected_value, .. } => selected_value.clone(),
        AttributeValue::File { url } => url.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

fn text(v: Option<String>) -> serde_json::Value {
    v.map(serde_json::Value::String).unwrap_or(serde_json::Value::Null)
}

/// Checks the standard columns every customer mapping inherits.
fn check_standard_columns(
    sim: &Simulator,
    mapping: &CompiledMapping,
    rows: &BTreeMap<String, Vec<Vec<Value>>>,
) {
    let orders = &rows["orders"];
    assert_eq!(orders.len() as u64, ORDERS);
    let lines: usize = sim.orders().take(ORDERS as usize).map(|o| o.lines.len()).sum();
    assert_eq!(rows["order_lines"].len(), lines, "every line of every order");
    for row in orders {
        let Value::Int(number) = row[col(mapping, "orders", "order_number")] else { panic!() };
        let truth = sim.order(number).unwrap();
        assert_eq!(row[col(mapping, "orders", "order_id")], Value::Text(truth.id.clone()));
        let gross = Decimal::from_i128_with_scale(
            i128::from(truth.totals.grand_total_incl_tax),
            truth.currency.exponent,
        );
        assert_eq!(
            row[col(mapping, "orders", "total_gross")],
            Value::Decimal(gross),
            "order {number}"
        );
        let tax = Decimal::from_i128_with_scale(
            i128::from(truth.totals.tax_added + truth.totals.tax_included),
            truth.currency.exponent,
        );
        assert_eq!(row[col(mapping, "orders", "total_tax")], Value::Decimal(tax), "order {number}");
        assert_eq!(row[col(mapping, "orders", "created_at")], Value::Timestamp(truth.created_at));
        assert_eq!(
            row[col(mapping, "orders", "currency")],
            Value::Text(truth.currency.code.clone())
        );
    }
}

#[test]
fn nordic_fashion_maps_gifts_and_loyalty_from_the_simulator() {
    let (sim, mapping, rows) = sync("nordic-fashion", "nordic-fashion.yaml");
    check_standard_columns(&sim, &mapping, &rows);
    let (mut gifts, mut tiers) = (0, 0);
    for row in &rows["orders"] {
        let Value::Int(number) = row[col(&mapping, "orders", "order_number")] else { panic!() };
        let truth = sim.order(number).unwrap();
        let Value::Json(custom) = &row[col(&mapping, "orders", "custom")] else { panic!() };
        let (order_attrs, customer_attrs) = match &truth.party {
            OrderParty::DirectToConsumer { customer, attributes } => (
                attributes.clone(),
                customer.as_ref().map(|c| c.attributes.clone()).unwrap_or_default(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        let wrap = attr(&order_attrs, "ord_gift", "wrap");
        gifts += usize::from(wrap.is_some());
        tiers += usize::from(attr(&customer_attrs, "cus_loyalty", "tier").is_some());
        assert_eq!(
            custom.get("gift_wrap").cloned().unwrap_or_default(),
            text(wrap.clone()),
            "order {number}"
        );
        assert_eq!(
            custom.get("gift_message").cloned().unwrap_or_default(),
            text(attr(&order_attrs, "ord_gift", "message").map(|m| m.trim().to_owned()))
        );
        assert_eq!(
            custom.get("sales_channel").cloned().unwrap_or_default(),
            text(attr(&order_attrs, "ord_source", "channel"))
        );
        assert_eq!(
            custom.get("loyalty_tier").cloned().unwrap_or_default(),
            text(attr(&customer_attrs, "cus_loyalty", "tier"))
        );
        let since =
            attr(&customer_attrs, "cus_loyalty", "member_since").map(|s| s.parse::<i64>().unwrap());
        assert_eq!(custom.get("member_since").and_then(|v| v.as_i64()), since);
        assert_eq!(row[col(&mapping, "orders", "is_gift")], Value::Bool(wrap.is_some()));
        let status = match truth.status.as_str() {
            "PENDING" | "CONFIRMED" | "PROCESSING" => "open",
            "SHIPPED" | "ARCHIVED" => "completed",
            _ => "cancelled",
        };
        assert_eq!(row[col(&mapping, "orders", "status")], Value::Text(status.into()));
    }
    assert!(
        gifts > 10 && tiers > 100,
        "the profile's attributes were exercised: {gifts} gifts, {tiers} tiers"
    );
}

#[test]
fn outdoor_wholesale_maps_erp_club_and_account_terms_from_the_simulator() {
    let (sim, mapping, rows) = sync("outdoor-wholesale", "outdoor-wholesale.yaml");
    check_standard_columns(&sim, &mapping, &rows);
    assert_eq!(rows["_rejects"].len(), 0, "no record rejected");
    let (mut wholesale, mut erp) = (0, 0);
    for row in &rows["orders"] {
        let Value::Int(number) = row[col(&mapping, "orders", "order_number")] else { panic!() };
        let truth = sim.order(number).unwrap();
        let Value::Json(custom) = &row[col(&mapping, "orders", "custom")] else { panic!() };
        let get = |k: &str| custom.get(k).cloned().unwrap_or_default();
        match &truth.party {
            OrderParty::DirectToConsumer { customer, attributes } => {
                let cus = customer.as_ref().map(|c| c.attributes.clone()).unwrap_or_default();
                let erp_ref = attr(attributes, "ord_erp", "erp_ref");
                erp += usize::from(erp_ref.is_some());
                assert_eq!(get("erp_ref"), text(erp_ref.clone()));
                assert_eq!(
                    get("packing_list_url"),
                    text(attr(attributes, "ord_erp", "packing_list"))
                );
                assert_eq!(get("club_id"), text(attr(&cus, "cus_club", "club_id")));
                let news =
                    attr(&cus, "cus_club", "newsletter").map(|v| serde_json::Value::Bool(v == "1"));
                assert_eq!(get("newsletter"), news.unwrap_or_default());
                let reference = erp_ref.unwrap_or_else(|| format!("CENTRA-{number}"));
                assert_eq!(row[col(&mapping, "orders", "order_reference")], Value::Text(reference));
                assert_eq!(row[col(&mapping, "orders", "credit_limit_eur")], Value::Null);
            }
            OrderParty::Wholesale { account, purchase_order_number } => {
                wholesale += 1;
                let acc = account.as_ref().map(|a| a.attributes.clone()).unwrap_or_default();
                assert_eq!(get("payment_terms"), text(attr(&acc, "acc_terms", "payment_terms")));
                let limit = attr(&acc, "acc_terms", "credit_limit")
                    .map(|l| Value::Decimal(l.parse().unwrap()));
                assert_eq!(
                    row[col(&mapping, "orders", "credit_limit_eur")],
                    limit.unwrap_or(Value::Null)
                );
                let reference =
                    purchase_order_number.clone().unwrap_or_else(|| format!("CENTRA-{number}"));
                assert_eq!(row[col(&mapping, "orders", "order_reference")], Value::Text(reference));
            }
        }
    }
    assert!(
        wholesale > 50 && erp > 50,
        "both order kinds were exercised: {wholesale} wholesale, {erp} with ERP refs"
    );
}
