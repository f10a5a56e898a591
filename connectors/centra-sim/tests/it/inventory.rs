//! Stock that moves like Centra's, the stock change ledger, nullable fields,
//! the new event shapes, oversized requests, date filters and the controls
//! the connector's hardening tests use, all over real HTTP.

use crate::common::{config, control, data, gql, post_raw, start};
use centra_sim::dates::DateFilterReading;
use centra_sim::ratelimit::Tier;
use centra_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

/// `(warehouse id, size id) -> (physical, allocated, fta)` as served.
async fn served_stock(running: &centra_sim::RunningSim) -> Vec<(i64, i64, i64, i64, i64)> {
    let mut out = Vec::new();
    for page in 1.. {
        let d = data(
            running,
            "query($p: Int!) { warehouses { id stock(limit: 200, page: $p) { physicalQuantity allocatedQuantity freeToAllocateQuantity productSize { id } } } }",
            json!({ "p": page }),
        )
        .await;
        let mut any = false;
        for w in d["warehouses"].as_array().expect("warehouses") {
            for s in w["stock"].as_array().expect("stock") {
                any = true;
                let q = |k: &str| s[k].as_i64().expect("quantity");
                out.push((
                    w["id"].as_i64().expect("id"),
                    s["productSize"]["id"].as_i64().expect("size id"),
                    q("physicalQuantity"),
                    q("allocatedQuantity"),
                    q("freeToAllocateQuantity"),
                ));
            }
        }
        if !any {
            break;
        }
    }
    out.sort();
    out
}

fn truth_stock(sim: &Simulator) -> Vec<(i64, i64, i64, i64, i64)> {
    let mut v: Vec<_> = sim
        .stock()
        .iter()
        .map(|l| (l.warehouse_id, l.size_id, l.physical, l.allocated, l.free_to_allocate()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn served_stock_equals_the_truth_after_order_churn_and_moves_with_orders() {
    let running = start(SimConfig { products: 8, ..config(60) }).await;
    let sim = running.sim().clone();
    control(&running, "orders/create", json!({"count": 5})).await;
    control(&running, "orders/update", json!({"count": 20})).await;
    control(&running, "orders/cancel", json!({"count": 3})).await;
    control(&running, "orders/delete", json!({"count": 2})).await;
    for _ in 0..30 {
        sim.control().churn_step(true);
    }
    assert_eq!(served_stock(&running).await, truth_stock(&sim));
    for l in sim.stock() {
        assert_eq!(l.unshipped, l.allocated + l.demand, "{l:?}");
        assert!(l.free_to_allocate() >= 0 && l.allocated >= 0 && l.demand >= 0, "{l:?}");
    }
    // A new order lowers free to allocate by what it allocated.
    let before = truth_stock(&sim);
    let n =
        control(&running, "orders/create", json!({})).await["numbers"][0].as_i64().expect("number");
    let held: Vec<_> = sim.allocations().into_iter().filter(|a| a.order_number == n).collect();
    assert!(!held.is_empty());
    let after = truth_stock(&sim);
    let fta = |v: &[(i64, i64, i64, i64, i64)], w: i64, s: i64| {
        v.iter().find(|r| r.0 == w && r.1 == s).map(|r| r.4).expect("row")
    };
    let a = &held[0];
    let same: i64 = held
        .iter()
        .filter(|x| (x.warehouse_id, x.size_id) == (a.warehouse_id, a.size_id))
        .map(|x| x.allocated)
        .sum();
    assert_eq!(
        fta(&after, a.warehouse_id, a.size_id),
        fta(&before, a.warehouse_id, a.size_id) - same
    );
    assert_eq!(served_stock(&running).await, after);
    running.shutdown().await;
}

#[tokio::test]
async fn the_stock_change_ledger_pages_by_keyset_and_filters() {
    let running = start(config(10)).await;
    let sim = running.sim().clone();
    for (w, s, d) in [(1, 3, 5), (2, 4, -1), (1, 5, 9), (3, 6, 2), (1, 7, 4)] {
        control(&running, "stock/change", json!({"warehouse_id": w, "size_id": s, "delta": d}))
            .await;
    }
    control(&running, "clock/advance", json!({"seconds": 3600})).await;
    let po = sim
        .purchase_orders()
        .into_iter()
        .find(|p| {
            p.status == centra_sim::model::PurchaseOrderStatus::Confirmed
                && p.preferred_warehouse_id.is_some()
        })
        .expect("a confirmed purchase order");
    let d = control(&running, "deliveries/create", json!({"purchase_order_id": po.id})).await;
    control(&running, "deliveries/accept", json!({"delivery_id": d["id"]})).await;
    let truth = sim.stock_changes();
    assert!(truth.len() >= 5, "{truth:?}");
    // Walk everything two at a time.
    let q = "query($a: String, $w: StockChangeFilter) { stockChangeConnection(first: 2, after: $a, where: $w) { totalCount edges { cursor node { id type warehouse { id } createdAt lines { deliveredQuantity productSize { id } } } } pageInfo { hasNextPage endCursor } } }";
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let d = data(&running, q, json!({ "a": after, "w": null })).await;
        let c = &d["stockChangeConnection"];
        assert_eq!(c["totalCount"].as_u64(), Some(truth.len() as u64));
        for e in c["edges"].as_array().expect("edges") {
            let id = e["node"]["id"].as_i64().expect("id");
            let t = truth.iter().find(|t| t.id == id).expect("a true change");
            assert_eq!(e["node"]["type"], t.change_type.as_str());
            assert_eq!(e["node"]["warehouse"]["id"], t.warehouse_id);
            let lines: Vec<(i64, i64)> = e["node"]["lines"]
                .as_array()
                .expect("lines")
                .iter()
                .map(|l| {
                    (
                        l["productSize"]["id"].as_i64().expect("size"),
                        l["deliveredQuantity"].as_i64().expect("quantity"),
                    )
                })
                .collect();
            let want: Vec<(i64, i64)> =
                t.lines.iter().map(|l| (l.size_id, l.delivered_quantity)).collect();
            assert_eq!(lines, want);
            ids.push(id);
        }
        if c["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(ids, truth.iter().map(|t| t.id).collect::<Vec<_>>());
    // Filters: type, warehouse, createdAt.
    let d = data(&running, q, json!({ "a": null, "w": {"type": ["DELIVERY"]} })).await;
    assert_eq!(d["stockChangeConnection"]["totalCount"], 1);
    let d = data(&running, q, json!({ "a": null, "w": {"warehouseId": [1], "type": ["MANUAL"]} }))
        .await;
    assert_eq!(d["stockChangeConnection"]["totalCount"], 3);
    let since =
        centra_sim::dates::php_format(sim.now() - chrono::Duration::seconds(60), "Y-m-d H:i:s");
    let d = data(&running, q, json!({ "a": null, "w": {"createdAt": {"from": since}} })).await;
    assert_eq!(d["stockChangeConnection"]["totalCount"], 1);
    // Warehouse.stockChanges: newest first by default.
    let d = data(
        &running,
        "{ warehouses(where: {id: [1]}) { stockChanges(where: {type: [MANUAL]}) { id } } }",
        json!({}),
    )
    .await;
    let got: Vec<i64> = d["warehouses"][0]["stockChanges"]
        .as_array()
        .expect("list")
        .iter()
        .map(|x| x["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(got, vec![5, 3, 1]);
    let bad =
        gql(&running, "{ stockChangeConnection(after: \"nope\") { totalCount } }", json!({})).await;
    assert!(bad["errors"][0]["message"].as_str().expect("message").starts_with("Invalid cursor"));
    running.shutdown().await;
}

#[tokio::test]
async fn nullable_names_and_variants_are_null_sometimes_like_the_truth() {
    let running =
        start(SimConfig { orders: 300, tier: Tier::Unlimited, ..SimConfig::default() }).await;
    let sim = running.sim().clone();
    let d = data(
        &running,
        "{ orders(limit: 200) { number lines(includeFullyCancelled: true) { id productName productVariantName } } }",
        json!({}),
    )
    .await;
    let (mut no_name, mut no_variant, mut lines) = (0, 0, 0);
    for o in d["orders"].as_array().expect("orders") {
        let truth = sim.order(o["number"].as_i64().expect("number")).expect("order");
        for (l, t) in o["lines"].as_array().expect("lines").iter().zip(&truth.lines) {
            assert_eq!(l["productName"].as_str(), t.product_name.as_deref());
            assert_eq!(l["productVariantName"].as_str(), t.product_variant_name.as_deref());
            no_name += usize::from(t.product_name.is_none());
            no_variant += usize::from(t.product_variant_name.is_none());
            lines += 1;
        }
    }
    assert!(lines > 500, "{lines}");
    assert!(no_name > 0 && no_name < lines / 10, "{no_name} of {lines}");
    assert!(no_variant > 0 && no_variant < lines / 8, "{no_variant} of {lines}");
    let sizes: Vec<_> =
        sim.products().into_iter().flat_map(|p| p.variants).flat_map(|v| v.sizes).collect();
    let without = sizes.iter().filter(|s| s.product_variant_id.is_none()).count();
    assert!(without > 0 && without < sizes.len() / 10, "{without} of {}", sizes.len());
    let s = sizes.iter().find(|s| s.product_variant_id.is_none()).expect("a size without variant");
    let d = data(
        &running,
        "query($s: [Int!]) { warehouses(limit: 1) { stock(where: {productSizeId: $s}) { productSize { id productVariant { id } } } } }",
        json!({ "s": [s.id] }),
    )
    .await;
    assert_eq!(d["warehouses"][0]["stock"][0]["productSize"]["id"], s.id);
    assert!(d["warehouses"][0]["stock"][0]["productSize"]["productVariant"].is_null());
    running.shutdown().await;
}

#[tokio::test]
async fn events_carry_markets_listeners_carry_times_and_unset_takes_objects() {
    let running = start(config(20)).await;
    let sim = running.sim().clone();
    let d = data(&running, "mutation { setEventListeners(input: [{objectType: Order}, {objectType: StockChange}]) { eventListeners { objectType createdAt updatedAt } } }", json!({})).await;
    let l = &d["setEventListeners"]["eventListeners"][0];
    assert_eq!(l["createdAt"], l["updatedAt"]);
    assert!(l["createdAt"].as_str().expect("date").starts_with("2026-03-01T12:00"), "{l}");
    let o = sim.control().create_orders(1).remove(0);
    control(&running, "stock/change", json!({"warehouse_id": 1, "size_id": 2, "delta": 3})).await;
    let q = "query($m: [Int!]) { events(where: {marketId: $m}) { objectType changeType market { id name } object { __typename ... on StockChange { id type } } } }";
    let d = data(&running, q, json!({ "m": [o.market_id] })).await;
    let evs = d["events"].as_array().expect("events");
    assert_eq!(evs.len(), 1, "{d}");
    assert_eq!(evs[0]["market"]["id"], o.market_id);
    assert_eq!(evs[0]["market"]["name"], o.market_name.as_str());
    let d = data(&running, q, json!({ "m": null })).await;
    let sc = &d["events"][1];
    assert_eq!(sc["objectType"], "StockChange");
    assert!(sc["market"].is_null());
    assert_eq!(sc["object"]["__typename"], "StockChange");
    assert_eq!(sc["object"]["type"], "MANUAL");
    // Unset only CREATED of orders: the queued order event goes, the stock change stays.
    let d = data(&running, "mutation { unsetEventListeners(input: [{objectType: Order, changeTypes: [CREATED]}]) { __typename eventListeners { objectType changeTypes } userErrors { message } } }", json!({})).await;
    let p = &d["unsetEventListeners"];
    assert_eq!(p["__typename"], "EventListenerUnsetPayload");
    assert_eq!(
        p["eventListeners"][0]["changeTypes"],
        json!(["UPDATED", "COMPLETED", "DELETED", "DEPENDENT_DATA_CHANGED"])
    );
    let d = data(&running, q, json!({ "m": null })).await;
    assert_eq!(d["events"].as_array().expect("events").len(), 1);
    assert_eq!(d["events"][0]["objectType"], "StockChange");
    running.shutdown().await;
}

#[tokio::test]
async fn a_request_over_the_whole_complexity_quota_is_refused_with_a_reason() {
    let running = start(SimConfig { tier: Tier::Growth, ..config(10) }).await;
    // 200 × (1 + 10 × (1 + 1 + 200 × (1 + 2))) = 1,204,200 > 250,000.
    let q = "{ orders(limit: 200) { lines { productSize { stock(limit: 200) { physicalQuantity } } } } }";
    let resp = reqwest::Client::new()
        .post(&running.graphql_url)
        .bearer_auth(&running.token)
        .json(&json!({ "query": q }))
        .send()
        .await
        .expect("request reaches the simulator");
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let body: Value = resp.json().await.expect("JSON body");
    assert_eq!(
        body,
        json!({"errors":[{"message":"query complexity 1204200 exceeds the QUERY_COMPLEXITY quota 250000 per TEN_SECONDS","extensions":{"category":"rate-limit"}}]})
    );
    let stats = running.sim().stats();
    assert_eq!((stats.oversized, stats.rate_limited), (1, 1));
    // Nothing was charged: a normal request passes.
    let (status, _) = post_raw(&running, "{ orders(limit: 1) { number } }", json!({})).await;
    assert_eq!(status, 200);
    running.shutdown().await;
}

#[tokio::test]
async fn ignore_offset_reads_filter_digits_as_stockholm_time() {
    let honour = Simulator::new(config(200));
    let ignore =
        Simulator::new(SimConfig { date_filter: DateFilterReading::IgnoreOffset, ..config(200) });
    let o = honour.order(150).expect("order");
    // The order's creation instant written in UTC with an offset.
    let utc = o.created_at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let q = "query($t: DateTimeTz) { orders(where: {createdAt: {from: $t, to: $t}}) { number } }";
    let got = honour.execute(q, json!({ "t": utc }));
    assert_eq!(got["data"]["orders"], json!([{ "number": 150 }]), "{got}");
    // Read as Stockholm wall-clock time the same digits are 1-2 hours earlier.
    let got = ignore.execute(q, json!({ "t": utc }));
    assert_eq!(got["data"]["orders"], json!([]), "{got}");
    let local = centra_sim::dates::php_format(o.created_at, "Y-m-d\\TH:i:s+00:00");
    let got = ignore.execute(q, json!({ "t": local }));
    assert_eq!(got["data"]["orders"], json!([{ "number": 150 }]), "{got}");
}

#[tokio::test]
async fn deliveries_can_be_removed_and_the_date_header_controlled() {
    let running = start(config(10)).await;
    let sim = running.sim().clone();
    let id = sim.deliveries()[0].id;
    let r = control(&running, "deliveries/remove", json!({"ids": [id]})).await;
    assert_eq!(r["ids"], json!([id]));
    assert!(sim.deliveries().iter().all(|d| d.id != id));
    let d = data(
        &running,
        "query($i: [Int!]) { purchaseOrderDeliveries(where: {id: $i}) { id } }",
        json!({ "i": [id] }),
    )
    .await;
    assert_eq!(d["purchaseOrderDeliveries"], json!([]));

    let date = |resp: &reqwest::Response| {
        resp.headers()
            .get("date")
            .map(|v| httpdate::parse_http_date(v.to_str().expect("ascii")).expect("an HTTP date"))
    };
    let get = || reqwest::get(format!("{}/__sim/now", running.base_url));
    let now = std::time::SystemTime::from(sim.now());
    let normal = date(&get().await.expect("get")).expect("a date header");
    assert!(normal.duration_since(now).unwrap_or_default().as_secs() <= 2);
    control(&running, "clock/date-header", json!({"mode": "skewed", "seconds": -600})).await;
    let skewed = date(&get().await.expect("get")).expect("a date header");
    let behind = std::time::SystemTime::from(sim.now()).duration_since(skewed).expect("behind");
    assert!((599..=602).contains(&behind.as_secs()), "{behind:?}");
    assert_eq!(
        sim.control().date_header(),
        centra_sim::control::DateHeader::Skewed { seconds: -600 }
    );
    control(&running, "clock/date-header", json!({"mode": "absent"})).await;
    let resp = get().await.expect("get");
    assert_eq!(date(&resp), None);
    control(&running, "clock/date-header", json!({"mode": "normal"})).await;
    assert!(date(&get().await.expect("get")).is_some());
    running.shutdown().await;
}

/// The inventory benchmark's world: 20 warehouses × 50,000 sizes = 1M stock
/// rows. Built in bounded time; a page of 20 × 200 rows, by page index or by
/// a set of size ids, is served without work proportional to all rows.
#[test]
fn a_million_stock_rows_build_and_serve_pages_quickly() {
    let started = std::time::Instant::now();
    let sim = Simulator::new(SimConfig {
        orders: 100,
        warehouses: 20,
        product_sizes: Some(50_000),
        tier: Tier::Unlimited,
        ..SimConfig::default()
    });
    let built = started.elapsed();
    let sizes: usize = sim.products().iter().flat_map(|p| &p.variants).map(|v| v.sizes.len()).sum();
    assert_eq!(sizes, 50_000);
    let q = "query($p: Int!, $w: StockFilter) { warehouses(limit: 20) { id stock(limit: 200, page: $p, where: $w) { freeToAllocateQuantity productSize { id SKU EAN } warehouse { id name } } } }";
    // The last page costs no more than the first.
    let mut times = Vec::new();
    for page in [1, 125, 250] {
        let t = std::time::Instant::now();
        let d = sim.execute(q, json!({ "p": page, "w": null }));
        times.push(t.elapsed());
        let ws = d["data"]["warehouses"].as_array().expect("warehouses");
        assert_eq!(ws.len(), 20);
        let first = ws[0]["stock"][0]["productSize"]["id"].as_i64().expect("size id");
        assert_eq!(first, (page - 1) * 200 + 1);
        assert_eq!(ws[19]["stock"].as_array().expect("rows").len(), 200);
        assert_eq!(d["extensions"]["complexity"], 20 * (1 + 200 * 3));
    }
    let t = std::time::Instant::now();
    let d = sim.execute(q, json!({ "p": 251, "w": null }));
    assert_eq!(d["data"]["warehouses"][0]["stock"], json!([]));
    // Re-reading a set of sizes in every warehouse.
    let ids: Vec<i64> = (0..200).map(|i| 49_999 - i * 37).collect();
    let d = sim.execute(q, json!({ "p": 1, "w": { "productSizeId": ids, "warehouseId": [2, 7] } }));
    let ws = d["data"]["warehouses"].as_array().expect("warehouses");
    let served: Vec<usize> = ws.iter().map(|w| w["stock"].as_array().map_or(0, Vec::len)).collect();
    assert_eq!(served.iter().sum::<usize>(), 400, "two warehouses × 200 sizes");
    let by_ids = t.elapsed();
    // Generous bounds for an unoptimised build on a shared 2-core machine;
    // a release build serves a page in a few milliseconds.
    assert!(built < std::time::Duration::from_secs(60), "built in {built:?}");
    for t in times.iter().chain([&by_ids]) {
        assert!(*t < std::time::Duration::from_secs(5), "{times:?} {by_ids:?}");
    }
    if let Some(peak_kb) = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
    }) {
        eprintln!("built in {built:?}, pages {times:?}, by ids {by_ids:?}, peak {peak_kb} kB");
    }
    let spread = times.iter().max().expect("times").as_secs_f64()
        / times.iter().min().expect("times").as_secs_f64();
    assert!(spread < 10.0, "page times should not grow with the page index: {times:?}");
}
