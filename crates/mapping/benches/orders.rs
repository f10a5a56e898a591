//! Criterion benchmark of the standard Centra orders mapping: orders mapped
//! per second on one core (3 lines each) and heap allocations per order,
//! counted by an instrumented global allocator.
//!
//! `cargo bench -p cartage-mapping --bench orders`

use std::alloc::System;
use std::path::Path;
use std::time::Instant;

use cartage_core::{MappedRows, Record, RecordMapper};
use cartage_mapping::{CompileContext, compile};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BATCH: usize = 1000;

fn money(cents: i64, code: &str) -> String {
    format!(r#"{{"valueInCents":{cents},"currency":{{"code":"{code}"}}}}"#)
}

/// A Centra order as the connector receives it for the default selection.
fn order(n: usize) -> String {
    let code = ["SEK", "EUR", "USD", "JPY"][n % 4];
    let dtc = !n.is_multiple_of(5);
    let lines: Vec<String> = (0..3)
        .map(|i| {
            let id = n * 3 + i;
            format!(
                r#"{{"productNumber":"P{p}","id":{id},"productSize":{{"SKU":"P{p}-{i}-M","EAN":"73500000{id:05}","id":{id},"description":"Medium"}},"product":{{"id":{p}}},"productVariant":{{"id":{v}}},"size":"M","productName":"Parka \"Nord\" {p}","quantity":{q},"cancelledQuantity":0,"returnedQuantity":0,"unitPrice":{up},"unitOriginalPrice":{uop},"lineValue":{lv},"discountPercent":10,"taxPercent":25}}"#,
                p = 100 + id % 50,
                v = 1000 + id % 200,
                q = 1 + i,
                up = money(67500 + id as i64, code),
                uop = money(75000, code),
                lv = money((67500 + id as i64) * (1 + i as i64), code),
            )
        })
        .collect();
    let party = if dtc {
        format!(r#""customer":{{"id":{},"email":"jon.snow{n}@example.com"}}"#, n % 997)
    } else {
        format!(r#""account":{{"id":{}}},"purchaseOrderNumber":"PO-{n}""#, n % 97)
    };
    format!(
        r#"{{"__typename":"{ty}","id":"{id:032x}","number":{n},"status":"CONFIRMED","isOnHold":false,"createdAt":"2022-11-09T13:15:11+01:00","updatedAt":"2022-11-09T14:55:27+01:00","market":{{"name":"Sweden"}},"pricelist":{{"name":"Retail"}},"shippingAddress":{{"country":{{"code":"SE"}}}},"billingAddress":{{"country":{{"code":"SE"}}}},"grandTotal":{gt},"totals":{{"itemsValue":{gt},"shipping":{sh},"discounts":{sh},"taxAdded":{sh},"taxIncluded":{tax}}},"currencyBaseRate":0.0912,{party},"lines":[{lines}]}}"#,
        ty = if dtc { "DirectToConsumerOrder" } else { "WholesaleOrder" },
        id = n as u128 * 0x9e37_79b9_7f4a_7c15,
        gt = money(412_345, code),
        sh = money(4_900, code),
        tax = money(82_469, code),
        lines = lines.join(","),
    )
}

fn mapper() -> std::sync::Arc<dyn RecordMapper> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema = std::fs::read_to_string(root.join("connectors/centra/schema.graphql")).unwrap();
    let dir = root.join("mappings");
    let loader = move |name: &str| -> Option<(String, String)> {
        std::fs::read_to_string(dir.join(name)).ok().map(|t| (name.to_owned(), t))
    };
    let m = compile("centra/default.yaml", &loader, &CompileContext::centra("bench", schema))
        .unwrap_or_else(|d| panic!("{d}"));
    m.stream("orders").unwrap()
}

/// CPU time this process has used (user + system), in seconds: unlike the
/// wall clock, it does not count time other processes held the core.
fn cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).expect("getrusage of this process");
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    secs(usage.user_time()) + secs(usage.system_time())
}

fn map_batch(mapper: &dyn RecordMapper, records: &[Record]) -> usize {
    let mut out = MappedRows::new(mapper.tables().len());
    for r in records {
        mapper.map_record(r, &mut out).unwrap();
    }
    out.tables.iter().map(Vec::len).sum()
}

fn orders(c: &mut Criterion) {
    let mapper = mapper();
    let records: Vec<Record> =
        (0..BATCH).map(|n| Record::from_json_str(&order(n)).unwrap()).collect();
    let bytes: usize = records.iter().map(|r| r.json().len()).sum();
    assert_eq!(map_batch(&*mapper, &records), BATCH * 4, "an order and its 3 lines each");

    // Allocations and a plain single-threaded rate, printed for docs/performance.md.
    let region = Region::new(GLOBAL);
    map_batch(&*mapper, &records);
    let stats = region.change();
    let rounds = 100;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(map_batch(&*mapper, &records));
    }
    let per_sec = (rounds * BATCH) as f64 / started.elapsed().as_secs_f64();
    let per_cpu_sec = (rounds * BATCH) as f64 / (cpu_seconds() - cpu_before);
    println!(
        "default orders mapping: {:.0} orders per CPU-second ({:.0} orders/s wall clock on a shared machine; 3 lines each, {} bytes/order), {:.1} allocations and {:.0} bytes allocated per order (rows included)",
        per_cpu_sec,
        per_sec,
        bytes / BATCH,
        stats.allocations as f64 / BATCH as f64,
        stats.bytes_allocated as f64 / BATCH as f64,
    );

    let mut group = c.benchmark_group("mapping");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("default_orders_3_lines", |b| b.iter(|| map_batch(&*mapper, &records)));
    group.finish();
}

criterion_group!(benches, orders);
criterion_main!(benches);
