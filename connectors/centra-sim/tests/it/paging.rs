//! Paging limits, every filter of the schema and the sorts, checked against
//! the truth over HTTP.

use crate::common::{config, data, gql, numbers, start};
use centra_sim::model::{OrderStatus, StoreType};
use chrono_tz::Europe::Stockholm;
use serde_json::{Value, json};

#[tokio::test]
async fn limits_outside_1_to_200_are_user_input_errors() {
    let running = start(config(450)).await;
    for (query, field) in [
        ("{ orders(limit: 0) { number } }", "orders"),
        ("{ orders(limit: 201) { number } }", "orders"),
        ("{ warehouses(limit: 201) { id } }", "warehouses"),
        ("{ purchaseOrders(limit: 0) { id } }", "purchaseOrders"),
        ("{ purchaseOrderDeliveries(limit: 500) { id } }", "purchaseOrderDeliveries"),
        ("{ orderConnection(first: 201) { totalCount } }", "orderConnection"),
        ("{ warehouses { stock(limit: 0) { physicalQuantity } } }", "warehouses"),
    ] {
        let v = gql(&running, query, json!({})).await;
        let e = &v["errors"][0];
        assert_eq!(e["message"], "Limit must be in range 1 - 200", "{query}: {v}");
        assert_eq!(e["extensions"]["category"], "userInput", "{query}: {v}");
        assert_eq!(e["path"][0], field, "{query}: {v}");
        assert!(e["locations"][0]["line"].is_number(), "{v}");
        assert!(v["extensions"]["complexity"].is_number());
    }
    let d = data(&running, "{ a: orders(limit: 200) { number } b: orders(limit: 200, page: 3) { number } c: orders(limit: 200, page: 4) { number } d: orders { number } }", json!({})).await;
    assert_eq!(numbers(&d["a"]), (1..=200).collect::<Vec<_>>());
    assert_eq!(numbers(&d["b"]), (401..=450).collect::<Vec<_>>());
    assert!(numbers(&d["c"]).is_empty(), "a page beyond the end is empty");
    assert_eq!(numbers(&d["d"]), (1..=20).collect::<Vec<_>>(), "defaults: limit 20, page 1");
    let v = gql(&running, "{ orders(page: 0) { number } }", json!({})).await;
    assert_eq!(v["errors"][0]["extensions"]["category"], "userInput", "{v}");
    running.shutdown().await;
}

async fn order_numbers(running: &centra_sim::RunningSim, filter: Value) -> Vec<i64> {
    let mut all = Vec::new();
    for page in 1.. {
        let d = data(
            running,
            "query($w: OrderFilter, $p: Int) { orders(where: $w, limit: 200, page: $p) { number } }",
            json!({"w": filter, "p": page}),
        )
        .await;
        let n = numbers(&d["orders"]);
        let done = n.len() < 200;
        all.extend(n);
        if done {
            break;
        }
    }
    let c = data(
        running,
        "query($w: OrderFilter) { counters { orders(where: $w) } }",
        json!({"w": filter}),
    )
    .await;
    assert_eq!(
        c["counters"]["orders"].as_u64(),
        Some(all.len() as u64),
        "counter agrees for {filter}"
    );
    all
}

fn local(t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&Stockholm).format("%Y-%m-%d %H:%M:%S").to_string()
}

#[tokio::test]
async fn every_order_filter_matches_the_truth() {
    let running = start(config(600)).await;
    let sim = running.sim().clone();
    // Make updatedAt differ from generation for a few orders.
    sim.control().advance_clock(3600);
    sim.control()
        .update_orders(&centra_sim::control::UpdateOrders {
            select: centra_sim::control::OrderSelection { count: Some(20), numbers: None },
            status: None,
        })
        .expect("update");
    let truth: Vec<_> = sim.orders().collect();
    let pick = |f: &dyn Fn(&centra_sim::model::Order) -> bool| -> Vec<i64> {
        truth.iter().filter(|o| f(o)).map(|o| o.number).collect()
    };
    let a = &truth[100];
    let b = &truth[400];
    let ids = [truth[3].id.clone(), truth[77].id.clone(), "not-an-id".to_string()];
    let mid = truth[300].updated_at;
    let cases: Vec<(Value, Vec<i64>)> = vec![
        (json!({"id": ids}), vec![truth[3].number, truth[77].number]),
        (json!({"number": [5, 9, 599, 10_000]}), vec![5, 9, 599]),
        (
            json!({"status": ["SHIPPED", "CANCELLED"]}),
            pick(&|o| matches!(o.status, OrderStatus::Shipped | OrderStatus::Cancelled)),
        ),
        (json!({"status": ["ARCHIVED"]}), pick(&|o| o.status == OrderStatus::Archived)),
        (
            json!({"createdAt": {"from": local(a.created_at), "to": local(b.created_at)}}),
            pick(&|o| o.created_at >= a.created_at && o.created_at <= b.created_at),
        ),
        (
            json!({"orderDate": {"from": local(a.created_at)}}),
            pick(&|o| o.created_at >= a.created_at),
        ),
        (json!({"updatedAt": {"from": mid.to_rfc3339()}}), pick(&|o| o.updated_at >= mid)),
        (json!({"updatedAt": {"to": local(mid)}}), pick(&|o| o.updated_at <= mid)),
        (json!({"storeType": "WHOLESALE"}), pick(&|o| o.store.store_type == StoreType::Wholesale)),
        (
            json!({"storeType": "DIRECT_TO_CONSUMER"}),
            pick(&|o| o.store.store_type == StoreType::DirectToConsumer),
        ),
        (json!({"storeId": [3]}), pick(&|o| o.store.id == 3)),
        (json!({"marketId": [2, 7]}), pick(&|o| o.market_id == 2 || o.market_id == 7)),
        (
            json!({"storeType": "DIRECT_TO_CONSUMER", "status": ["ARCHIVED"], "marketId": [1]}),
            pick(&|o| {
                o.store.store_type == StoreType::DirectToConsumer
                    && o.status == OrderStatus::Archived
                    && o.market_id == 1
            }),
        ),
    ];
    for (filter, want) in cases {
        assert!(
            !want.is_empty() || filter.get("number").is_some(),
            "case {filter} selects something"
        );
        assert_eq!(order_numbers(&running, filter.clone()).await, want, "filter {filter}");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn order_sorts() {
    let running = start(config(300)).await;
    let d = data(
        &running,
        "{ a: orders(sort: [number_DESC], limit: 3) { number } b: orders(sort: [id_ASC], limit: 3, page: 2) { number }
           c: orders(sort: [orderDate_DESC], limit: 2) { number createdAt } d: orders(sort: [id_DESC], limit: 1) { number } }",
        json!({}),
    )
    .await;
    assert_eq!(numbers(&d["a"]), vec![300, 299, 298]);
    assert_eq!(numbers(&d["b"]), vec![4, 5, 6]);
    assert_eq!(numbers(&d["c"]), vec![300, 299]);
    assert!(d["c"][0]["createdAt"].as_str() >= d["c"][1]["createdAt"].as_str());
    assert_eq!(numbers(&d["d"]), vec![300]);
    running.shutdown().await;
}

#[tokio::test]
async fn warehouse_stock_purchase_order_and_delivery_filters() {
    let running = start(config(10)).await;
    let sim = running.sim().clone();
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array().expect("list").iter().map(|x| x["id"].as_i64().expect("id")).collect()
    };
    // WarehouseFilter and sort.
    let d = data(&running, r#"{ a: warehouses(where: {name: {contains: "store"}}) { id } b: warehouses(where: {id: [1, 3]}, sort: [id_DESC]) { id }
        c: warehouses(where: {status: ACTIVE}) { id } d: warehouses(where: {name: {equals: "3PL Rotterdam"}}) { id } }"#, json!({})).await;
    assert_eq!(ids(&d["a"]), vec![2]);
    assert_eq!(ids(&d["b"]), vec![3, 1]);
    assert_eq!(ids(&d["c"]), vec![1, 2, 3]);
    assert_eq!(ids(&d["d"]), vec![3]);
    let v = gql(
        &running,
        r#"{ warehouses(where: {name: {equals: "a", contains: "b"}}) { id } }"#,
        json!({}),
    )
    .await;
    assert_eq!(v["errors"][0]["extensions"]["category"], "userInput", "{v}");

    // StockFilter on Warehouse.stock and ProductSize.stock.
    let stock = sim.stock();
    let products = sim.products();
    let p = &products[1];
    let size = &p.variants[0].sizes[0];
    let want: Vec<i64> = stock
        .iter()
        .filter(|s| s.warehouse_id == 1 && s.physical >= 10 && s.physical - s.allocated <= 50)
        .map(|s| s.size_id)
        .collect();
    let d = data(&running, "{ warehouses(where: {id: [1]}) { stock(limit: 200, where: {physicalQuantity: {from: 10}, freeToAllocateQuantity: {to: 50}}) { productSize { id } } } }", json!({})).await;
    let got: Vec<i64> = d["warehouses"][0]["stock"]
        .as_array()
        .expect("stock")
        .iter()
        .map(|s| s["productSize"]["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(got.iter().take(200).collect::<Vec<_>>(), want.iter().take(200).collect::<Vec<_>>());
    let q = format!(
        "{{ warehouses(where: {{id: [1]}}) {{ byProduct: stock(where: {{productId: [{}]}}, limit: 200) {{ productSize {{ id }} }} byVariant: stock(where: {{productVariantId: [{}]}}) {{ productSize {{ id }} }} bySize: stock(where: {{productSizeId: [{}], warehouseId: [1]}}) {{ productSize {{ id }} }} other: stock(where: {{warehouseId: [2]}}) {{ productSize {{ id }} }} }} }}",
        p.id, p.variants[0].id, size.id
    );
    let d = data(&running, &q, json!({})).await;
    let w = &d["warehouses"][0];
    let sizes_of_p: Vec<i64> =
        p.variants.iter().flat_map(|v| v.sizes.iter().map(|s| s.id)).collect();
    let got = |k: &str| -> Vec<i64> {
        w[k].as_array()
            .expect("list")
            .iter()
            .map(|s| s["productSize"]["id"].as_i64().expect("id"))
            .collect()
    };
    assert_eq!(got("byProduct"), sizes_of_p);
    assert_eq!(got("byVariant"), p.variants[0].sizes.iter().map(|s| s.id).collect::<Vec<_>>());
    assert_eq!(got("bySize"), vec![size.id]);
    assert!(got("other").is_empty());
    let d = data(&running, "{ orders(limit: 1) { lines { productSize { id stock { warehouse { id } physicalQuantity } } } } }", json!({})).await;
    let ws: Vec<i64> = d["orders"][0]["lines"][0]["productSize"]["stock"]
        .as_array()
        .expect("stock")
        .iter()
        .map(|s| s["warehouse"]["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ws, vec![1, 2, 3], "ProductSize.stock sorted by warehouse");

    // PurchaseOrderFilter.
    let pos = sim.purchase_orders();
    let confirmed: Vec<i64> =
        pos.iter().filter(|p| p.status.as_str() == "CONFIRMED").map(|p| p.id).collect();
    let supplier = pos[0].supplier.id;
    let by_supplier: Vec<i64> =
        pos.iter().filter(|p| p.supplier.id == supplier).map(|p| p.id).collect();
    let pivot = pos[5].created_at;
    let created_after: Vec<i64> =
        pos.iter().filter(|p| p.created_at >= pivot).map(|p| p.id).collect();
    let updated_before: Vec<i64> =
        pos.iter().filter(|p| p.updated_at <= pivot).map(|p| p.id).collect();
    let eta_after: Vec<i64> =
        pos.iter().filter(|p| p.eta.is_some_and(|e| e >= pivot)).map(|p| p.id).collect();
    let wh1: Vec<i64> =
        pos.iter().filter(|p| p.preferred_warehouse_id == Some(1)).map(|p| p.id).collect();
    let d = data(
        &running,
        "query($s: [Int!], $t: DateTimeTz) { a: purchaseOrders(where: {status: [CONFIRMED]}, limit: 200) { id } b: purchaseOrders(where: {supplierId: $s}, limit: 200) { id }
           c: purchaseOrders(where: {createdAt: {from: $t}}, limit: 200) { id } d: purchaseOrders(where: {updatedAt: {to: $t}}, limit: 200) { id }
           e: purchaseOrders(where: {ETA: {from: $t}}, limit: 200) { id } f: purchaseOrders(where: {preferredWarehouseId: [1]}, limit: 200) { id }
           g: purchaseOrders(where: {id: [3, 1]}, sort: [id_DESC]) { id } }",
        json!({"s": [supplier], "t": pivot.to_rfc3339()}),
    )
    .await;
    assert_eq!(ids(&d["a"]), confirmed);
    assert_eq!(ids(&d["b"]), by_supplier);
    assert_eq!(ids(&d["c"]), created_after);
    assert_eq!(ids(&d["d"]), updated_before);
    assert_eq!(ids(&d["e"]), eta_after);
    assert_eq!(ids(&d["f"]), wh1);
    assert_eq!(ids(&d["g"]), vec![3, 1]);

    // PurchaseOrderDeliveryFilter (default sort id_DESC).
    let dels = sim.deliveries();
    let rev = |v: Vec<i64>| -> Vec<i64> { v.into_iter().rev().collect() };
    let inserted: Vec<i64> =
        dels.iter().filter(|d| d.status.as_str() == "INSERTED").map(|d| d.id).collect();
    let d0 = &dels[0];
    let po_supplier = |d: &centra_sim::model::Delivery| {
        pos.iter().find(|p| p.id == d.purchase_order_id).map(|p| p.supplier.id)
    };
    let by_supplier: Vec<i64> =
        dels.iter().filter(|d| po_supplier(d) == Some(supplier)).map(|d| d.id).collect();
    let pivot = dels[dels.len() / 2].created_at;
    let created_after: Vec<i64> =
        dels.iter().filter(|d| d.created_at >= pivot).map(|d| d.id).collect();
    let eta_before: Vec<i64> =
        dels.iter().filter(|d| d.eta.is_some_and(|e| e <= pivot)).map(|d| d.id).collect();
    let wh: Vec<i64> = dels.iter().filter(|d| d.warehouse_id == Some(1)).map(|d| d.id).collect();
    let d = data(
        &running,
        "query($n: [String!], $s: [Int!], $t: DateTimeTz, $id: [Int!]) { a: purchaseOrderDeliveries(where: {status: INSERTED}, limit: 200) { id } b: purchaseOrderDeliveries(where: {number: $n}) { id }
           c: purchaseOrderDeliveries(where: {supplierId: $s}, limit: 200) { id } d: purchaseOrderDeliveries(where: {createdAt: {from: $t}}, limit: 200) { id }
           e: purchaseOrderDeliveries(where: {ETA: {to: $t}}, limit: 200) { id } f: purchaseOrderDeliveries(where: {warehouseId: [1]}, limit: 200) { id }
           g: purchaseOrderDeliveries(where: {id: $id}, sort: [id_ASC]) { id } }",
        json!({"n": [d0.number], "s": [supplier], "t": pivot.to_rfc3339(), "id": [dels[2].id, dels[1].id]}),
    )
    .await;
    assert_eq!(ids(&d["a"]), rev(inserted));
    assert_eq!(ids(&d["b"]), vec![d0.id]);
    assert_eq!(ids(&d["c"]), rev(by_supplier));
    assert_eq!(ids(&d["d"]), rev(created_after));
    assert_eq!(ids(&d["e"]), rev(eta_before));
    assert_eq!(ids(&d["f"]), rev(wh));
    assert_eq!(ids(&d["g"]), vec![dels[1].id, dels[2].id]);
    running.shutdown().await;
}
