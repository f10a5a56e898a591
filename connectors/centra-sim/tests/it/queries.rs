//! Query features and value fidelity over HTTP: fragments on both order
//! types, `__typename`, variables, exact money, dates through `format`, and
//! the truth types agreeing with what the API serves.

use crate::common::{config, data, start};
use centra_sim::model::{OrderParty, StoreType};
use chrono::{DateTime, Datelike, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Stockholm;
use serde_json::{Value, json};

const ORDER_FIELDS: &str = r#"
  __typename id number status isOnHold createdAt updatedAt orderDate
  store { id name type } market { id name } pricelist { id name } currencyBaseRate
  grandTotal { value valueInCents formattedValue currency { id code } conversionRate }
  grandTotalExcl: grandTotal(includingTax: false) { valueInCents }
  totals { lineValues { valueInCents } shipping { valueInCents } handling { valueInCents }
           discounts { valueInCents } taxAdded { valueInCents } taxDeducted { valueInCents } taxIncluded { valueInCents } }
  shippingAddress { firstName lastName address1 city zipCode country { code } email }
  lines(includeFullyCancelled: true) { __typename id quantity cancelledQuantity returnedQuantity taxPercent discountPercent
    unitPrice { valueInCents } unitPriceExcl: unitPrice(includingTax: false) { valueInCents }
    unitOriginalPrice { valueInCents } lineValue { valueInCents value }
    productSize { SKU EAN } }
  ... on DirectToConsumerOrder { customer { id email } attributes { type { name } } }
  ... on WholesaleOrder { account { id name } purchaseOrderNumber }
"#;

fn minor(v: &Value) -> i64 {
    v["valueInCents"].as_i64().expect("valueInCents")
}

#[tokio::test]
async fn both_order_types_match_the_truth_through_fragments_and_variables() {
    let running = start(config(300)).await;
    let sim = running.sim().clone();
    let q = format!(
        "query Page($limit: Int!, $page: Int) {{ orders(limit: $limit, page: $page) {{ {ORDER_FIELDS} }} }}"
    );
    let d = data(&running, &q, json!({"limit": 150, "page": 1})).await;
    let orders = d["orders"].as_array().expect("orders");
    assert_eq!(orders.len(), 150);
    let (mut dtc, mut wholesale, mut jpy) = (0, 0, 0);
    for o in orders {
        let truth = sim.order(o["number"].as_i64().expect("number")).expect("order exists");
        assert_eq!(o["id"], truth.id.as_str());
        assert_eq!(o["__typename"], truth.type_name());
        assert_eq!(o["status"], truth.status.as_str());
        assert_eq!(o["store"]["type"], truth.store.store_type.as_str());
        assert_eq!(o["market"]["id"], truth.market_id);
        assert_eq!(minor(&o["grandTotal"]), truth.totals.grand_total_incl_tax);
        assert_eq!(minor(&o["grandTotalExcl"]), truth.totals.grand_total_excl_tax);
        assert_eq!(minor(&o["totals"]["lineValues"]), truth.totals.line_values);
        assert_eq!(minor(&o["totals"]["shipping"]), truth.totals.shipping);
        assert_eq!(minor(&o["totals"]["taxIncluded"]), truth.totals.tax_included);
        assert_eq!(minor(&o["totals"]["taxAdded"]), truth.totals.tax_added);
        assert_eq!(minor(&o["totals"]["discounts"]), truth.totals.discounts);
        assert_eq!(o["grandTotal"]["currency"]["code"], truth.currency.code.as_str());
        // `value` is the float of the exact minor units; formattedValue has the exponent's decimals.
        let exp = truth.currency.exponent;
        let value = o["grandTotal"]["value"].as_f64().expect("value");
        assert_eq!(value, truth.totals.grand_total_incl_tax as f64 / 10f64.powi(exp as i32));
        assert_eq!(
            o["grandTotal"]["formattedValue"],
            truth.currency.format(truth.totals.grand_total_incl_tax)
        );
        if exp == 0 {
            jpy += 1;
            assert!(!o["grandTotal"]["formattedValue"].as_str().expect("formatted").contains('.'));
        }
        assert_eq!(o["grandTotal"]["conversionRate"].as_f64(), Some(truth.currency_base_rate));
        let lines = o["lines"].as_array().expect("lines");
        assert_eq!(lines.len(), truth.lines.len());
        assert!((1..=8).contains(&lines.len()));
        for (l, t) in lines.iter().zip(&truth.lines) {
            assert_eq!(l["__typename"], "ProductOrderLine");
            assert_eq!(l["id"], t.id);
            assert_eq!(l["quantity"], t.quantity);
            assert_eq!(l["cancelledQuantity"], t.cancelled_quantity);
            assert_eq!(l["returnedQuantity"], t.returned_quantity);
            assert_eq!(minor(&l["unitPrice"]), t.unit_price_incl_tax);
            assert_eq!(minor(&l["unitPriceExcl"]), t.unit_price_excl_tax);
            assert_eq!(minor(&l["unitOriginalPrice"]), t.unit_original_price_incl_tax);
            assert_eq!(minor(&l["lineValue"]), t.unit_price_incl_tax * t.quantity);
            assert_eq!(l["taxPercent"].as_f64(), Some(t.tax_percent));
            assert_eq!(l["discountPercent"].as_f64(), Some(t.discount_percent));
            assert_eq!(l["productSize"]["SKU"], t.sku.as_str());
        }
        match &truth.party {
            OrderParty::DirectToConsumer { customer, .. } => {
                dtc += 1;
                assert_eq!(truth.store.store_type, StoreType::DirectToConsumer);
                assert!(o.get("account").is_none());
                assert_eq!(
                    o["customer"]["email"].as_str(),
                    customer.as_ref().map(|c| c.email.as_str())
                );
            }
            OrderParty::Wholesale { account, purchase_order_number } => {
                wholesale += 1;
                assert!(o.get("customer").is_none());
                assert_eq!(o["account"]["id"].as_i64(), account.as_ref().map(|a| a.id));
                assert_eq!(o["purchaseOrderNumber"].as_str(), purchase_order_number.as_deref());
            }
        }
    }
    assert!(dtc > 0 && wholesale > 0, "both order types served ({dtc} DTC, {wholesale} wholesale)");
    let _ = jpy;
    // The page and the orders query without variables agree.
    let d2 = data(&running, "{ orders(limit: 3, page: 2) { number } }", json!({})).await;
    assert_eq!(crate::common::numbers(&d2["orders"]), vec![4, 5, 6]);
    running.shutdown().await;
}

#[tokio::test]
async fn lines_hide_fully_cancelled_ones_by_default() {
    let running = start(config(400)).await;
    let sim = running.sim().clone();
    let cancelled = sim
        .orders()
        .find(|o| o.lines.iter().any(|l| l.quantity == 0))
        .expect("some order has a fully cancelled line");
    let d = data(&running, "query($n: [Int!]) { orders(where: {number: $n}) { lines { id } all: lines(includeFullyCancelled: true) { id } } }", json!({"n": [cancelled.number]})).await;
    let shown = d["orders"][0]["lines"].as_array().expect("lines").len();
    let all = d["orders"][0]["all"].as_array().expect("lines").len();
    assert_eq!(all, cancelled.lines.len());
    assert_eq!(shown, cancelled.lines.iter().filter(|l| l.quantity > 0).count());
    assert!(shown < all);
    running.shutdown().await;
}

/// The PHP-style rendering computed independently with chrono-tz.
fn expected(t: DateTime<Utc>) -> String {
    let l = t.with_timezone(&Stockholm);
    let secs = l.offset().fix().local_minus_utc();
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    format!(
        "{:04} {:02} {:02} {:02} {:02} {:02} +{:02}:{:02} +{:02}{:02} {} T {} {} {}",
        l.year(),
        l.month(),
        l.day(),
        l.hour(),
        l.minute(),
        l.second(),
        h,
        m,
        h,
        m,
        if secs == 7200 { "CEST" } else { "CET" },
        t.timestamp(),
        l.day(),
        l.month()
    )
}

#[tokio::test]
async fn dates_follow_the_format_argument_in_stockholm_time_with_dst() {
    let running = start(config(2000)).await;
    let sim = running.sim().clone();
    let all: Vec<_> = sim.orders().collect();
    let summer = all
        .iter()
        .find(|o| o.created_at.with_timezone(&Stockholm).offset().fix().local_minus_utc() == 7200)
        .expect("a summer order");
    let winter = all
        .iter()
        .find(|o| o.created_at.with_timezone(&Stockholm).offset().fix().local_minus_utc() == 3600)
        .expect("a winter order");
    for o in [summer, winter] {
        let d = data(
            &running,
            r#"query($n: [Int!]) { orders(where: {number: $n}) { createdAt updatedAt custom: createdAt(format: "Y m d H i s P O T \\T U j n") } }"#,
            json!({"n": [o.number]}),
        )
        .await;
        let got = &d["orders"][0];
        assert_eq!(got["custom"], expected(o.created_at), "order {}", o.number);
        // The default format: Y-m-d\TH:i:sP.
        let l = o.created_at.with_timezone(&Stockholm);
        assert_eq!(got["createdAt"], l.format("%Y-%m-%dT%H:%M:%S%:z").to_string());
        assert_eq!(
            got["updatedAt"],
            o.updated_at.with_timezone(&Stockholm).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
        );
    }
    // Purchase orders default to an offset without colon.
    let po = &sim.purchase_orders()[0];
    let d = data(
        &running,
        "query($id: [Int!]) { purchaseOrders(where: {id: $id}) { createdAt } }",
        json!({"id": [po.id]}),
    )
    .await;
    assert_eq!(
        d["purchaseOrders"][0]["createdAt"],
        po.created_at.with_timezone(&Stockholm).format("%Y-%m-%dT%H:%M:%S%z").to_string()
    );
    running.shutdown().await;
}

#[tokio::test]
async fn date_inputs_accept_local_and_offset_spellings() {
    let running = start(config(2000)).await;
    let sim = running.sim().clone();
    // A window around a DST switch: 2025-03-30 (02:00 CET -> 03:00 CEST).
    let from_utc = Utc.with_ymd_and_hms(2025, 3, 29, 23, 0, 0).single().expect("valid");
    let to_utc = Utc.with_ymd_and_hms(2025, 4, 2, 21, 59, 59).single().expect("valid");
    let want: Vec<i64> = sim
        .orders()
        .filter(|o| o.created_at >= from_utc && o.created_at <= to_utc)
        .map(|o| o.number)
        .collect();
    assert!(!want.is_empty());
    let q = "query($from: DateTimeTz, $to: DateTimeTz) { orders(limit: 200, where: {createdAt: {from: $from, to: $to}}) { number } }";
    for (from, to) in [
        ("2025-03-30 00:00:00", "2025-04-02 23:59:59"),
        ("2025-03-30T00:00:00+01:00", "2025-04-02T23:59:59+02:00"),
        ("2025-03-30T00:00:00+0100", "2025-04-02T23:59:59+0200"),
        ("2025-03-29T23:00:00Z", "2025-04-02T21:59:59Z"),
    ] {
        let d = data(&running, q, json!({"from": from, "to": to})).await;
        assert_eq!(crate::common::numbers(&d["orders"]), want, "{from} .. {to}");
    }
    let v = crate::common::gql(&running, q, json!({"from": "next tuesday"})).await;
    assert_eq!(v["errors"][0]["extensions"]["category"], "userInput", "{v}");
    running.shutdown().await;
}

#[tokio::test]
async fn profiles_give_different_custom_attributes() {
    let mut names = Vec::new();
    for profile in ["plain", "nordic-fashion", "outdoor-wholesale"] {
        let running = start(centra_sim::SimConfig { profile: profile.into(), ..config(200) }).await;
        let d = data(
            &running,
            "{ orders(limit: 200) { ... on DirectToConsumerOrder { attributes { type { name } elements { key kind ... on AttributeStringElement { value } ... on AttributeChoiceElement { selectedValue } } } customer { attributes { type { name } } } } ... on WholesaleOrder { account { attributes { type { name } } } } } }",
            json!({}),
        )
        .await;
        let mut seen = std::collections::BTreeSet::new();
        for o in d["orders"].as_array().expect("orders") {
            for path in
                [&o["attributes"], &o["customer"]["attributes"], &o["account"]["attributes"]]
            {
                for a in path.as_array().into_iter().flatten() {
                    seen.insert(a["type"]["name"].as_str().expect("name").to_string());
                }
            }
        }
        names.push(seen);
        running.shutdown().await;
    }
    assert!(names[0].is_empty(), "plain has no attributes: {:?}", names[0]);
    assert!(names[1].contains("cus_loyalty") && names[1].contains("ord_source"), "{:?}", names[1]);
    assert!(
        names[2].contains("ord_erp")
            && names[2].contains("acc_terms")
            && names[2].contains("cus_club"),
        "{:?}",
        names[2]
    );
    assert!(names[1].is_disjoint(&names[2]));
}

#[tokio::test]
async fn single_order_by_id_and_counters() {
    let running = start(config(120)).await;
    let sim = running.sim().clone();
    let o = sim.order(42).expect("order 42");
    let d = data(&running, "query($id: String!) { order(id: $id) { number } missing: order(id: \"00000000000000000000000000000000\") { number } counters { orders all: orders(where: {}) } }", json!({"id": o.id})).await;
    assert_eq!(d["order"]["number"], 42);
    assert!(d["missing"].is_null());
    assert_eq!(d["counters"]["orders"], 120);
    running.shutdown().await;
}

#[tokio::test]
async fn stock_obeys_centras_quantity_definitions() {
    let running = start(config(10)).await;
    let d = data(
        &running,
        "{ warehouses { id stock(limit: 200) { freeToAllocateQuantity physicalQuantity allocatedQuantity demandQuantity availableNowQuantity incomingQuantity linkedIncomingQuantity unlinkedIncomingQuantity availableQuantity productSize { SKU productVariant { variantNumber product { productNumber } } } } } }",
        json!({}),
    )
    .await;
    let mut rows = 0;
    for w in d["warehouses"].as_array().expect("warehouses") {
        for s in w["stock"].as_array().expect("stock") {
            let q = |k: &str| s[k].as_i64().expect("quantity");
            assert_eq!(q("physicalQuantity"), q("freeToAllocateQuantity") + q("allocatedQuantity"));
            assert_eq!(
                q("availableNowQuantity"),
                q("freeToAllocateQuantity") - q("demandQuantity")
            );
            assert_eq!(
                q("incomingQuantity"),
                q("linkedIncomingQuantity") + q("unlinkedIncomingQuantity")
            );
            assert_eq!(
                q("availableQuantity"),
                q("availableNowQuantity") + q("unlinkedIncomingQuantity")
            );
            let ps = &s["productSize"];
            if ps["productVariant"].is_null() {
                // Centra's ProductSize.productVariant is nullable; a few sizes have none.
                continue;
            }
            let sku = ps["SKU"].as_str().expect("sku");
            let prefix = format!(
                "{}{}",
                ps["productVariant"]["product"]["productNumber"].as_str().expect("pn"),
                ps["productVariant"]["variantNumber"].as_str().expect("vn")
            );
            assert!(sku.starts_with(&prefix), "{sku} starts with {prefix}");
            rows += 1;
        }
    }
    assert!(rows > 100);
    running.shutdown().await;
}

#[tokio::test]
async fn purchase_orders_and_deliveries_match_the_truth() {
    let running = start(config(10)).await;
    let sim = running.sim().clone();
    let d = data(
        &running,
        "{ purchaseOrders(limit: 200) { id status productsCount productsTotal { valueInCents currency { code } } lines { quantity unitCost { valueInCents } productSize { id } }
           purchaseOrderDeliveries(limit: 200) { id number status lines { quantity unitCost { valueInCents } landedCost { valueInCents } } } } }",
        json!({}),
    )
    .await;
    let pos = sim.purchase_orders();
    let dels = sim.deliveries();
    let served = d["purchaseOrders"].as_array().expect("purchase orders");
    assert_eq!(served.len(), pos.len());
    let mut statuses = std::collections::BTreeSet::new();
    for (s, t) in served.iter().zip(&pos) {
        assert_eq!(s["id"], t.id);
        assert_eq!(s["productsCount"], t.products_count());
        assert_eq!(minor(&s["productsTotal"]), t.products_total());
        assert_eq!(s["lines"].as_array().expect("lines").len(), t.lines.len());
        let mine: Vec<_> = dels.iter().filter(|d| d.purchase_order_id == t.id).collect();
        let sd = s["purchaseOrderDeliveries"].as_array().expect("deliveries");
        assert_eq!(sd.len(), mine.len());
        // Default sort id_DESC.
        for (x, y) in sd.iter().zip(mine.iter().rev()) {
            assert_eq!(x["id"], y.id);
            assert_eq!(x["number"], y.number.as_str());
            statuses.insert(y.status.as_str());
            for (l, tl) in x["lines"].as_array().expect("lines").iter().zip(&y.lines) {
                assert_eq!(minor(&l["landedCost"]), tl.landed_cost);
                assert!(tl.landed_cost >= tl.unit_cost);
            }
        }
    }
    assert!(statuses.len() >= 3, "several delivery statuses: {statuses:?}");
    running.shutdown().await;
}
