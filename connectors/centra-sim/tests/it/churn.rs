//! Change over time: cursors that stay correct while orders change, the
//! control API, the simulated `Date` header, and determinism.

use crate::common::{config, control, data, numbers, post_raw, start};
use centra_sim::SimConfig;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const PAGE: &str = "query($after: String, $before: String, $first: Int, $last: Int, $sort: [OrderSort!]) {
  orderConnection(first: $first, after: $after, last: $last, before: $before, sort: $sort) {
    totalCount edges { cursor node { number } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

async fn walk(
    running: &centra_sim::RunningSim,
    sort: &str,
    backward: bool,
    churn: bool,
) -> (Vec<i64>, BTreeSet<i64>) {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut touched = BTreeSet::new();
    for step in 0.. {
        let vars = if backward {
            json!({"last": 7, "before": cursor, "sort": [sort]})
        } else {
            json!({"first": 7, "after": cursor, "sort": [sort]})
        };
        let d = data(running, PAGE, vars).await;
        let c = &d["orderConnection"];
        let mut page: Vec<i64> = c["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["number"].as_i64().expect("n"))
            .collect();
        if backward {
            page.reverse();
        }
        seen.extend(&page);
        let more = if backward {
            c["pageInfo"]["hasPreviousPage"].as_bool()
        } else {
            c["pageInfo"]["hasNextPage"].as_bool()
        };
        if more != Some(true) {
            break;
        }
        cursor = Some(
            c["pageInfo"][if backward { "startCursor" } else { "endCursor" }]
                .as_str()
                .expect("cursor")
                .to_string(),
        );
        if churn {
            // Between pages: updates, creates, cancels and deletes.
            let u = control(running, "orders/update", json!({"count": 3})).await;
            let k = control(running, "orders/cancel", json!({"count": 1})).await;
            let del = control(running, "orders/delete", json!({"count": 1 + step % 2})).await;
            control(running, "orders/create", json!({"count": 2})).await;
            for v in [&u, &k, &del] {
                touched.extend(
                    v["numbers"]
                        .as_array()
                        .expect("numbers")
                        .iter()
                        .map(|n| n.as_i64().expect("n")),
                );
            }
        }
    }
    (seen, touched)
}

#[tokio::test]
async fn cursors_skip_and_repeat_nothing_while_orders_change() {
    for (sort, backward) in
        [("number_ASC", false), ("orderDate_DESC", false), ("number_ASC", true), ("id_DESC", true)]
    {
        let running = start(config(150)).await;
        let sim = running.sim().clone();
        let before: BTreeSet<i64> = sim.orders().map(|o| o.number).collect();
        let (seen, _touched) = walk(&running, sort, backward, true).await;
        let after: BTreeSet<i64> = sim.orders().map(|o| o.number).collect();
        let throughout: BTreeSet<i64> = before.intersection(&after).copied().collect();
        let mut counts = BTreeMap::new();
        for n in &seen {
            *counts.entry(*n).or_insert(0) += 1;
        }
        assert!(
            counts.values().all(|&c| c == 1),
            "{sort} backward={backward}: an order was repeated: {counts:?}"
        );
        for n in &throughout {
            assert!(
                counts.contains_key(n),
                "{sort} backward={backward}: order {n} existed throughout but was skipped"
            );
        }
        // The walk follows the sort.
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        let desc = sort.ends_with("DESC") != backward;
        if desc {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "{sort} backward={backward}");
        assert!(after.len() != before.len() || before != after, "churn changed something");
        running.shutdown().await;
    }
}

#[tokio::test]
async fn connection_pages_and_cursor_format() {
    let running = start(config(30)).await;
    let d = data(&running, PAGE, json!({"first": 10})).await;
    let c = &d["orderConnection"];
    assert_eq!(c["totalCount"], 30);
    assert_eq!(c["pageInfo"]["hasNextPage"], true);
    assert_eq!(c["pageInfo"]["hasPreviousPage"], false);
    use base64::Engine as _;
    let end = c["pageInfo"]["endCursor"].as_str().expect("cursor");
    let decoded = base64::engine::general_purpose::STANDARD.decode(end).expect("base64");
    assert_eq!(String::from_utf8(decoded).expect("utf8"), "number:10");
    let d = data(&running, PAGE, json!({"first": 25, "after": end})).await;
    let c = &d["orderConnection"];
    let got: Vec<i64> = c["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["number"].as_i64().expect("n"))
        .collect();
    assert_eq!(got, (11..=30).collect::<Vec<_>>());
    assert_eq!(c["pageInfo"]["hasNextPage"], false);
    assert_eq!(c["pageInfo"]["hasPreviousPage"], true);
    // last without before: the final page.
    let d = data(&running, PAGE, json!({"last": 4})).await;
    let got: Vec<i64> = d["orderConnection"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["number"].as_i64().expect("n"))
        .collect();
    assert_eq!(got, vec![27, 28, 29, 30]);
    // A cursor of another sort is refused.
    let v = crate::common::gql(
        &running,
        PAGE,
        json!({"first": 2, "after": end, "sort": ["orderDate_ASC"]}),
    )
    .await;
    assert_eq!(v["errors"][0]["extensions"]["category"], "userInput", "{v}");
    running.shutdown().await;
}

#[tokio::test]
async fn control_api_changes_orders_bumps_updated_at_and_moves_the_date_header() {
    let running = start(config(50)).await;
    let sim = running.sim().clone();
    let http = reqwest::Client::new();
    let date_of = |r: &reqwest::Response| -> std::time::SystemTime {
        httpdate::parse_http_date(r.headers()["date"].to_str().expect("ascii")).expect("http date")
    };
    let r = http.get(format!("{}/__sim/stats", running.base_url)).send().await.expect("stats");
    let t0 = date_of(&r);
    let now0 = sim.now();
    assert!(
        (t0.duration_since(std::time::UNIX_EPOCH).expect("after epoch").as_secs() as i64
            - now0.timestamp())
        .abs()
            <= 2,
        "Date is simulated time"
    );
    let adv = control(&running, "clock/advance", json!({"seconds": 86_400})).await;
    assert!(adv["now"].is_string());
    let r = http
        .post(&running.graphql_url)
        .bearer_auth(&running.token)
        .json(&json!({"query": "{ orders(limit: 1) { number } }"}))
        .send()
        .await
        .expect("graphql");
    let t1 = date_of(&r);
    assert!(
        t1.duration_since(t0).expect("later").as_secs() >= 86_400,
        "the GraphQL Date header moved with the clock"
    );

    let before = sim.order(7).expect("order 7");
    let u =
        control(&running, "orders/update", json!({"numbers": [7], "status": "PROCESSING"})).await;
    assert_eq!(u["numbers"], json!([7]));
    let after = sim.order(7).expect("order 7");
    assert_eq!(after.status.as_str(), "PROCESSING");
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.updated_at, sim.now().min(after.updated_at));
    let truth: Value = http
        .get(format!("{}/__sim/orders/7", running.base_url))
        .send()
        .await
        .expect("truth")
        .json()
        .await
        .expect("json");
    assert_eq!(truth["status"], "PROCESSING");
    let d = data(
        &running,
        "{ orders(where: {number: [7]}) { status updatedAt(format: \"U\") } }",
        json!({}),
    )
    .await;
    assert_eq!(d["orders"][0]["status"], "PROCESSING");
    assert_eq!(d["orders"][0]["updatedAt"], after.updated_at.timestamp().to_string());

    let c = control(&running, "orders/create", json!({"count": 2})).await;
    assert_eq!(c["numbers"], json!([51, 52]));
    let created = sim.order(51).expect("created");
    assert_eq!(created.created_at, created.updated_at);
    let k = control(&running, "orders/cancel", json!({"numbers": [8]})).await;
    assert_eq!(k["numbers"], json!([8]));
    let cancelled = sim.order(8).expect("order 8");
    assert!(cancelled.lines.iter().all(|l| l.quantity == 0));
    assert_eq!(cancelled.totals.line_values, 0);
    control(&running, "orders/delete", json!({"numbers": [9]})).await;
    assert!(sim.order(9).is_none());
    let d = data(
        &running,
        "{ orders(where: {number: [8, 9, 10]}) { number status } counters { orders } }",
        json!({}),
    )
    .await;
    assert_eq!(numbers(&d["orders"]), vec![8, 10]);
    assert_eq!(d["orders"][0]["status"], "CANCELLED");
    assert_eq!(d["counters"]["orders"], 51);
    let r = http.get(format!("{}/__sim/orders/9", running.base_url)).send().await.expect("truth");
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{}/__sim/orders/update", running.base_url))
        .json(&json!({"numbers": [9]}))
        .send()
        .await
        .expect("update");
    assert_eq!(r.status(), 404);

    // Stock, deliveries, purchase orders.
    let s = control(&running, "stock/change", json!({"warehouse_id": 1, "size_id": 3, "delta": 5}))
        .await;
    let level = &s["stock"][0];
    let d = data(&running, "{ warehouses(where: {id: [1]}) { stock(where: {productSizeId: [3]}) { physicalQuantity } } }", json!({})).await;
    assert_eq!(d["warehouses"][0]["stock"][0]["physicalQuantity"], level["physical"]);
    let po = sim
        .purchase_orders()
        .into_iter()
        .find(|p| p.status.as_str() == "CONFIRMED")
        .expect("a confirmed purchase order");
    let created = control(&running, "deliveries/create", json!({"purchase_order_id": po.id})).await;
    assert_eq!(created["status"], "INSERTED");
    let id = created["id"].as_i64().expect("id");
    let accepted = control(&running, "deliveries/accept", json!({"delivery_id": id})).await;
    assert_eq!(accepted["status"], "ACCEPTED");
    let d = data(&running, "query($id: [Int!]) { purchaseOrderDeliveries(where: {id: $id}) { status purchaseOrder { id } } }", json!({"id": [id]})).await;
    assert_eq!(d["purchaseOrderDeliveries"][0]["status"], "ACCEPTED");
    assert_eq!(d["purchaseOrderDeliveries"][0]["purchaseOrder"]["id"], po.id);
    let p =
        control(&running, "purchase-orders/update", json!({"id": po.id, "status": "COMPLETED"}))
            .await;
    assert_eq!(p["status"], "COMPLETED");
    let stats: Value = http
        .get(format!("{}/__sim/stats", running.base_url))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert!(stats["requests"].as_u64().expect("requests") >= 5);
    assert!(stats["orders_changed"].as_u64().expect("changed") >= 5);
    running.shutdown().await;
}

#[tokio::test]
async fn background_churn_changes_orders_while_serving() {
    let running = start(SimConfig { churn_per_sec: 200.0, ..config(100) }).await;
    let sim = running.sim().clone();
    let start = std::time::Instant::now();
    while sim.stats().orders_changed < 20 {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "churn made no changes");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let d = data(&running, "{ counters { orders } }", json!({})).await;
    assert!(
        d["counters"]["orders"].as_i64().expect("count") >= 100,
        "churn without deletes never shrinks"
    );
    running.shutdown().await;
}

const BIG: &str = "{ orders(limit: 200) { id number status createdAt updatedAt grandTotal { value valueInCents formattedValue } lines { id quantity unitPrice { value } productSize { SKU EAN } }
  ... on DirectToConsumerOrder { customer { email attributes { type { name } } } attributes { elements { key } } } ... on WholesaleOrder { account { name } } }
  warehouses { stock(limit: 50) { physicalQuantity availableQuantity } } purchaseOrders(limit: 50) { id lines { quantity } purchaseOrderDeliveries { number } } }";

#[tokio::test]
async fn same_flags_give_the_same_bytes_and_another_seed_other_data() {
    let cfg = SimConfig { profile: "nordic-fashion".into(), ..config(400) };
    let a = start(cfg.clone()).await;
    let b = start(cfg.clone()).await;
    let c = start(SimConfig { seed: 2, ..cfg }).await;
    let (sa, ba) = post_raw(&a, BIG, json!({})).await;
    let (sb, bb) = post_raw(&b, BIG, json!({})).await;
    let (_, bc) = post_raw(&c, BIG, json!({})).await;
    assert_eq!((sa, sb), (200, 200));
    assert!(ba.len() > 100_000, "a big answer: {} bytes", ba.len());
    assert!(ba == bb, "same flags, same bytes");
    assert!(ba != bc, "another seed, other data");
    // The same control operations keep them identical.
    for r in [&a, &b] {
        control(r, "orders/update", json!({"count": 10})).await;
        control(r, "orders/create", json!({"count": 3})).await;
    }
    let q = "{ orders(limit: 200, sort: [number_DESC]) { number status lines { quantity cancelledQuantity returnedQuantity } } }";
    assert_eq!(post_raw(&a, q, json!({})).await.1, post_raw(&b, q, json!({})).await.1);
    for r in [a, b, c] {
        r.shutdown().await;
    }
}
