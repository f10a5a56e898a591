//! Commit throughput of the SQLite sink: one batch of 200 orders and 900
//! order lines (22 and 19 columns, as the data model's tables) per commit,
//! into a file database in WAL mode.
//!
//! `insert`: every batch brings new orders (a backfill). `update`: the same
//! orders again with changed values (an incremental run re-reading them).
//! Throughput in elements is rows (1,100 per batch).

use std::time::{Duration, Instant};

use cartage_core::{CommitBatch, Sink};
use cartage_sinks::testing::TestDatabase;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::*;

fn commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"));
    let orders = orders_schema();
    let lines = lines_schema();
    let db = TestDatabase::sqlite();
    let mut sink = rt.block_on(db.sink());
    rt.block_on(sink.prepare(&[orders.clone(), lines.clone()], false))
        .unwrap_or_else(|e| panic!("prepare: {e}"));

    let mut group = c.benchmark_group("sqlite_commit");
    group.throughput(Throughput::Elements((ORDERS + LINES) as u64));
    group.sample_size(20).measurement_time(Duration::from_secs(15));

    let mut next = 0;
    group.bench_function("insert_200_orders_900_lines", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = make_batch(next, 0, &orders, &lines);
                next += 1;
                let start = Instant::now();
                rt.block_on(sink.commit(batch)).unwrap_or_else(|e| panic!("commit: {e}"));
                total += start.elapsed();
            }
            total
        })
    });

    let mut version = 1;
    group.bench_function("update_200_orders_900_lines", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = make_batch(0, version, &orders, &lines);
                version += 1;
                let start = Instant::now();
                rt.block_on(sink.commit(batch)).unwrap_or_else(|e| panic!("commit: {e}"));
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();

    // CPU per order: criterion measures wall time, which on a shared machine
    // includes waiting; this sums the CPU time of all the process's threads
    // (the tokio thread and SQLite's worker) over commits of pre-built
    // batches.
    let batches: Vec<CommitBatch> =
        (0..CPU_BATCHES).map(|i| make_batch(next + i, 0, &orders, &lines)).collect();
    let (cpu0, wall0) = (process_cpu(), Instant::now());
    for batch in batches {
        rt.block_on(sink.commit(batch)).unwrap_or_else(|e| panic!("commit: {e}"));
    }
    let (cpu, wall) = (process_cpu().saturating_sub(cpu0), wall0.elapsed());
    let rows = (CPU_BATCHES * (ORDERS + LINES)) as f64;
    let orders_n = (CPU_BATCHES * ORDERS) as f64;
    println!(
        "sqlite_commit/cpu: {CPU_BATCHES} commits of {ORDERS} orders + {LINES} lines: \
         {:.0} rows/s, {:.0} orders/s wall; CPU {:.2} us/row, {:.1} us/order",
        rows / wall.as_secs_f64(),
        orders_n / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / rows,
        cpu.as_secs_f64() * 1e6 / orders_n,
    );
}

const CPU_BATCHES: usize = 40;
criterion_group!(benches, commit);
criterion_main!(benches);
