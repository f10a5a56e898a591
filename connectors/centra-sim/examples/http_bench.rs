//! Pages of 200 orders with lines per second over real HTTP, and the RSS of
//! the process, at a given number of orders:
//! `cargo run --release -p centra-sim --example http_bench -- 1000000 200`.

use centra_sim::ratelimit::Tier;
use centra_sim::{SimConfig, Simulator};
use serde_json::json;
use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const QUERY: &str = r#"query Page($after: String) {
  orderConnection(first: 200, after: $after, sort: [number_ASC]) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id number status createdAt updatedAt
      store { id type } market { id name } pricelist { id name }
      grandTotal { value valueInCents currency { code } conversionRate }
      totals { shipping { valueInCents } handling { valueInCents } taxIncluded { valueInCents } taxAdded { valueInCents } }
      shippingAddress { firstName lastName address1 city zipCode country { code } email }
      lines { id quantity cancelledQuantity returnedQuantity taxPercent discountPercent
        unitPrice { valueInCents } unitOriginalPrice { valueInCents } lineValue { valueInCents }
        productVariant { id variantNumber } productSize { id SKU EAN sizeNumber description } }
      ... on DirectToConsumerOrder { customer { id email } }
      ... on WholesaleOrder { purchaseOrderNumber account { id name } }
    } }
  }
}"#;

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let orders: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let pages: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let t = Instant::now();
    let sim = Simulator::new(SimConfig { orders, tier: Tier::Unlimited, ..SimConfig::default() });
    println!("{orders} orders indexed in {:.2}s, RSS {} MiB", t.elapsed().as_secs_f64(), rss_mib());
    let running = sim.serve("127.0.0.1:0".parse().expect("literal address")).await.expect("bind");
    let client = reqwest::Client::new();
    let mut after: Option<String> = None;
    let mut bytes = 0usize;
    let t = Instant::now();
    for _ in 0..pages {
        let resp = client
            .post(&running.graphql_url)
            .bearer_auth(&running.token)
            .json(&json!({ "query": QUERY, "variables": { "after": after } }))
            .send()
            .await
            .expect("answer");
        let body = resp.bytes().await.expect("body");
        bytes += body.len();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert!(v.get("errors").is_none(), "{v}");
        after = v["data"]["orderConnection"]["pageInfo"]["endCursor"].as_str().map(str::to_string);
    }
    let el = t.elapsed().as_secs_f64();
    println!(
        "{pages} pages of 200 orders with lines over HTTP (client in the same process, keyset cursor walk): {:.1} pages/s, {:.1} ms/page, {:.0} KiB/page, RSS {} MiB",
        pages as f64 / el,
        el * 1000.0 / pages as f64,
        bytes as f64 / pages as f64 / 1024.0,
        rss_mib()
    );
    running.shutdown().await;
}
