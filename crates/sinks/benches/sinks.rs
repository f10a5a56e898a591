//! Each sink against its database's bulk-load baseline on the same rows, in
//! the same run (`cargo xtask bench sinks` prints the table of ratios).
//!
//! An iteration commits `BATCHES` batches of 200 new orders and 900 new
//! order lines (the data model's widths) through the sink, or loads the same
//! batches through the baseline ([`cartage_sinks::baseline`]) into a second
//! database the sink prepared, so both write into identical tables.
//! Throughput is in rows.

use std::time::{Duration, Instant};

use cartage_core::Sink;
use cartage_sinks::Backend;
use cartage_sinks::baseline::Baseline;
use cartage_sinks::testing::{SinkUnderTest, TestDatabase, TestSink};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::*;

/// Batches per iteration.
const BATCHES: usize = 5;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

fn bench_database(c: &mut Criterion, which: SinkUnderTest, backend: Backend) {
    let rt = runtime();
    let (orders, lines) = (orders_schema(), lines_schema());
    let tables = [orders.clone(), lines.clone()];

    let target = rt.block_on(TestSink::new(which));
    let mut sink = rt.block_on(target.sink());
    rt.block_on(sink.prepare(&tables, false)).unwrap_or_else(|e| panic!("prepare: {e}"));

    let base_db = rt.block_on(TestDatabase::new(backend));
    {
        let mut prep = rt.block_on(base_db.sink());
        rt.block_on(prep.prepare(&tables, false)).unwrap_or_else(|e| panic!("prepare: {e}"));
        let _ = rt.block_on(prep.close());
    }
    let mut baseline = rt
        .block_on(Baseline::connect(backend, base_db.url()))
        .unwrap_or_else(|e| panic!("baseline connect: {e}"));

    let mut group = c.benchmark_group(format!("sinks/{}", backend.name()));
    group.throughput(Throughput::Elements((BATCHES * (ORDERS + LINES)) as u64));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));

    let mut next = 0;
    group.bench_function("sink", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batches: Vec<_> =
                    (0..BATCHES).map(|i| make_batch(next + i, 0, &orders, &lines)).collect();
                next += BATCHES;
                let start = Instant::now();
                for batch in batches {
                    rt.block_on(sink.commit(batch)).unwrap_or_else(|e| panic!("commit: {e}"));
                }
                total += start.elapsed();
            }
            total
        })
    });
    let mut next = 0;
    group.bench_function("baseline", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batches: Vec<_> =
                    (0..BATCHES).map(|i| make_batch(next + i, 0, &orders, &lines)).collect();
                next += BATCHES;
                let start = Instant::now();
                for batch in &batches {
                    rt.block_on(baseline.load(batch)).unwrap_or_else(|e| panic!("baseline: {e}"));
                }
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn sinks(c: &mut Criterion) {
    bench_database(c, SinkUnderTest::Sqlite, Backend::Sqlite);
    bench_database(c, SinkUnderTest::Postgres, Backend::Postgres);
    bench_database(c, SinkUnderTest::Mysql, Backend::Mysql);
}

criterion_group!(benches, sinks);
criterion_main!(benches);
