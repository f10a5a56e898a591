//! The standard Centra mapping (`mappings/centra/default.yaml`).

use apollo_compiler::{ExecutableDocument, Schema};

use crate::support::*;

fn default_mapping() -> cartage_mapping::CompiledMapping {
    compile_dir(&repo_root().join("mappings"), "centra/default.yaml", &ctx())
        .unwrap_or_else(|d| panic!("{d}"))
}

/// The selection must be a valid query against the schema when the source
/// wraps it in `orders { … }` (and in a connection's `node { … }`).
fn assert_valid_query(selection: &str) {
    let schema = Schema::parse_and_validate(schema_sdl(), "schema.graphql").unwrap();
    for query in [
        format!("query {{ orders(limit: 10) {{ {selection} }} }}"),
        format!("query {{ orderConnection(first: 10) {{ edges {{ node {{ {selection} }} }} }} }}"),
    ] {
        if let Err(e) = ExecutableDocument::parse_and_validate(&schema, &query, "q.graphql") {
            panic!("invalid query:\n{query}\n{}", e.errors);
        }
    }
}

#[test]
fn fills_every_column_of_orders_and_order_lines() {
    let m = default_mapping();
    assert_eq!(m.streams(), vec!["orders"]);
    let names: Vec<&str> = m.tables().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["orders", "order_lines"]);
    // every column gets a value from the golden records of default_orders
    let input = std::fs::read_to_string(
        repo_root().join("crates/mapping/tests/golden/default_orders/input.json"),
    )
    .unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_str(&input).unwrap();
    let rows = run(&m, "orders", &records);
    for table in ["orders", "order_lines"] {
        let rows = rows[table].as_array().unwrap();
        let schema = m.tables().iter().find(|t| t.name == table).unwrap();
        for col in &schema.columns {
            assert!(
                rows.iter().any(|r| !r[&col.name].is_null()),
                "column {table}.{} is null in every golden row",
                col.name
            );
        }
    }
}

#[test]
fn its_query_is_valid_against_the_schema_and_reads_money_exactly() {
    let m = default_mapping();
    let selection = m.selection("orders").unwrap();
    assert_valid_query(selection);
    assert!(selection.contains("valueInCents"));
    assert!(!selection.contains("value\n"), "never the float value:\n{selection}");
    assert!(selection.contains("... on DirectToConsumerOrder {"));
    assert!(selection.contains("... on WholesaleOrder {"));
    assert!(selection.contains("__typename"));
}

#[test]
fn the_mapper_selection_is_the_plans_selection() {
    let m = default_mapping();
    let mapper = m.stream("orders").unwrap();
    assert_eq!(mapper.selection().as_deref(), m.selection("orders"));
    assert_eq!(mapper.tables().len(), 2);
    let lines = &mapper.tables()[1];
    assert_eq!(lines.parent_key, Some(vec!["tenant".to_owned(), "order_id".to_owned()]));
    assert_eq!(lines.primary_key, vec!["tenant", "order_id", "line_id"]);
}

#[test]
fn an_unconvertible_value_names_the_record_the_field_and_the_value() {
    let m = default_mapping();
    let record = serde_json::json!({
        "__typename": "DirectToConsumerOrder", "id": "abc", "number": 1, "status": "PENDING",
        "grandTotal": { "valueInCents": 100, "currency": { "code": "XXQ" } }
    });
    let out = run(&m, "orders", &[record]);
    assert_eq!(
        out["error"],
        "data error: stream orders: record \"abc\": orders.total_gross: cannot convert {valueInCents: 100, currency.code: \"XXQ\"} to money: unknown ISO 4217 currency \"XXQ\""
    );
}

#[test]
fn a_failing_line_leaves_no_row_of_its_order_behind() {
    let m = default_mapping();
    let mapper = m.stream("orders").unwrap();
    let mut out = cartage_core::MappedRows::new(2);
    let good =
        serde_json::json!({"__typename": "WholesaleOrder", "id": "ok", "lines": [{"id": 1}]});
    let bad = serde_json::json!({"__typename": "WholesaleOrder", "id": "bad",
        "lines": [{"id": 1}, {"id": 2, "quantity": "many"}]});
    for r in [&good, &bad] {
        let record = cartage_core::Record::from_json_str(&r.to_string()).unwrap();
        let result = mapper.map_record(&record, &mut out);
        if r == &bad {
            assert_eq!(
                result.unwrap_err().to_string(),
                "data error: stream orders: record \"bad\": order_lines.quantity (lines[1]): cannot convert \"many\" to integer"
            );
        }
    }
    assert_eq!(out.tables[0].len(), 1, "only the good order");
    assert_eq!(out.tables[1].len(), 1, "only the good order's line");
}

#[test]
fn the_supply_mapping_fills_stock_and_the_supplier_module() {
    let m = compile_dir(&repo_root().join("mappings"), "centra/supply.yaml", &ctx())
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(m.streams(), vec!["indeliveries", "inventory", "purchase_orders"]);
    let stock = serde_json::json!({
        "warehouse": {"id": 2, "name": "Main"},
        "productSize": {"id": 111, "SKU": "P1-M", "EAN": null},
        "physicalQuantity": 38, "allocatedQuantity": 20, "freeToAllocateQuantity": 18,
        "demandQuantity": 1, "availableNowQuantity": 17, "incomingQuantity": 10, "onDeliveryQuantity": 0
    });
    let rows = run(&m, "inventory", std::slice::from_ref(&stock));
    assert_eq!(
        rows["inventory_levels"][0],
        serde_json::json!({
            "tenant": "acme", "warehouse_id": 2, "size_id": 111, "warehouse_name": "Main",
            "sku": "P1-M", "ean": null, "physical": null, "allocated": null, "free_to_allocate": 18,
            "demand": null, "available_now": null, "incoming": null, "on_delivery": null, "observed_at": null
        })
    );
    let full = compile_dir(&repo_root().join("mappings"), "centra/supply-full-stock.yaml", &ctx())
        .unwrap_or_else(|d| panic!("{d}"));
    let rows = run(&full, "inventory", std::slice::from_ref(&stock));
    assert_eq!(
        rows["inventory_levels"][0],
        serde_json::json!({
            "tenant": "acme", "warehouse_id": 2, "size_id": 111, "warehouse_name": "Main",
            "sku": "P1-M", "ean": null, "physical": 38, "allocated": 20, "free_to_allocate": 18,
            "demand": 1, "available_now": 17, "incoming": 10, "on_delivery": 0, "observed_at": null
        })
    );
    // The standard file asks Centra only for the free quantity.
    let selection = m.stream("inventory").unwrap().selection().unwrap();
    assert!(selection.contains("freeToAllocateQuantity"), "{selection}");
    assert!(!selection.contains("physicalQuantity"), "{selection}");
    let delivery = serde_json::json!({
        "id": 957, "number": "957-1", "status": "INSERTED", "purchaseOrder": {"id": 12},
        "supplier": {"id": 3, "name": "Mill"}, "warehouse": {"id": 2}, "currency": {"code": "EUR"},
        "createdAt": "2021-12-31T13:44:23+0100", "ETA": null, "exFactoryDate": "2022-01-10T00:00:00+0100",
        "shippingCost": {"valueInCents": 12050, "currency": {"code": "EUR"}},
        "otherCosts": {"valueInCents": 0, "currency": {"code": "EUR"}},
        "lines": [{"productSize": {"id": 111, "SKU": "P1-M", "EAN": "7350000000011"}, "quantity": 5,
                   "linkedQuantity": 2, "unlinkedQuantity": 3,
                   "unitCost": {"valueInCents": 1999, "currency": {"code": "EUR"}},
                   "landedCost": {"valueInCents": 2105, "currency": {"code": "EUR"}}}]
    });
    let rows = run(&m, "indeliveries", &[delivery]);
    let d = &rows["indeliveries"][0];
    assert_eq!(d["created_at"], serde_json::json!({"timestamp": "2021-12-31T12:44:23Z"}));
    assert_eq!(d["shipping_cost"], serde_json::json!({"decimal": "120.50"}));
    assert_eq!(d["status"], "inserted");
    assert_eq!(d["purchase_order_id"], 12);
    let l = &rows["indelivery_lines"][0];
    assert_eq!(l["delivery_id"], 957);
    assert_eq!(l["landed_cost"], serde_json::json!({"decimal": "21.05"}));
    assert_eq!(l["unlinked_quantity"], 3);
    let po = m.selection("purchase_orders").unwrap();
    assert!(po.contains("productsTotal {\n  valueInCents"), "{po}");
}

#[test]
fn a_deleted_order_names_its_row_by_number() {
    use cartage_core::{Deletion, ErrorKind, MappedRows, Record, Value};
    let m = default_mapping();
    let mapper = m.stream("orders").unwrap();
    let orders = m.tables().iter().position(|t| t.name == "orders").unwrap();
    let number = m.tables()[orders].column_index("order_number").unwrap();
    let mut out = MappedRows::new(mapper.tables().len());
    let deleted = |json: &str| Record::from_json_str(json).unwrap();
    mapper.map_deleted(&deleted(r#"{"number":1234}"#), &mut out).unwrap();
    assert_eq!(out.deleted, [Deletion { table: orders, column: number, value: Value::Int(1234) }]);
    assert!(out.tables.iter().all(Vec::is_empty), "a deletion writes no rows");

    let e = mapper.map_deleted(&deleted(r#"{"code":"X1"}"#), &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(
        e.to_string(),
        "configuration error: stream orders: the source names deleted records by code, but table orders has no column read straight from it"
    );
    let e = mapper.map_deleted(&deleted(r#"{"number":"twelve"}"#), &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Data);
    assert!(e.to_string().contains(r#"order_number: cannot convert "twelve" to integer"#), "{e}");
    let e = mapper.map_deleted(&deleted(r#"[1]"#), &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Data, "{e}");
}

#[test]
fn deletions_are_checked_before_the_run_and_follow_the_reject_policy() {
    use cartage_core::{MappedRows, Record};
    let m = default_mapping();
    let mapper = m.stream("orders").unwrap();
    mapper.check_deleted(&[]).unwrap();
    mapper.check_deleted(&["number".into()]).unwrap();
    let e = mapper.check_deleted(&["code".into(), "ref".into()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "configuration error: the source names deleted records by code, ref, but table orders has no column read straight from any of them"
    );

    // With `on_error: reject`, a deleted record whose key does not convert
    // goes to `_rejects` (and marks nothing) instead of failing every run.
    let rejecting = compile_text("extends: centra/default.yaml\non_error: reject\n", &[])
        .unwrap_or_else(|d| panic!("{d}"));
    let mapper = rejecting.stream("orders").unwrap();
    let rejects = mapper.tables().iter().position(|t| t.name == "_rejects").unwrap();
    let mut out = MappedRows::new(mapper.tables().len());
    let record = Record::from_json_str(r#"{"number":"twelve"}"#).unwrap();
    mapper.map_deleted(&record, &mut out).unwrap();
    assert!(out.deleted.is_empty());
    assert_eq!(out.tables[rejects].len(), 1);
    let reason = format!("{:?}", out.tables[rejects][0].0[3]);
    assert!(reason.contains("cannot convert"), "{reason}");
}
