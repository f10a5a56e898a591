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
use cartage_sinks::baseline::Baseline;
use cartage_sinks::testing::{SinkUnderTest, TestDatabase, TestSink};
use cartage_sinks::{Backend, FileFormat, FilesConfig, SinkConfig};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};

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

/// The group `sinks/<name>` (`sinks_<name>` on disk, which `cargo xtask
/// bench sinks` reads), its throughput in rows.
fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(format!("sinks/{name}"));
    group.throughput(Throughput::Elements((BATCHES * (ORDERS + LINES)) as u64));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    group
}

fn bench_database(c: &mut Criterion, which: SinkUnderTest, backend: Backend) {
    let rt = runtime();
    let tables = [orders_schema(), lines_schema()];

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

    let mut group = group(c, backend.name());

    let mut next = 0;
    group.bench_function("sink", |b| {
        b.iter_custom(|iters| time_commits(&rt, sink.as_mut(), &mut next, iters))
    });
    let mut next = 0;
    group.bench_function("baseline", |b| {
        b.iter_custom(|iters| time_baseline(&rt, &mut baseline, &mut next, iters))
    });
    group.finish();
}

/// Commits `BATCHES` batches through `sink`, `iters` times, each time
/// with new keys; returns the time the commits took.
fn time_commits(
    rt: &tokio::runtime::Runtime,
    sink: &mut dyn Sink,
    next: &mut usize,
    iters: u64,
) -> Duration {
    let (orders, lines) = (orders_schema(), lines_schema());
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let batches: Vec<_> =
            (0..BATCHES).map(|i| make_batch(*next + i, 0, &orders, &lines)).collect();
        *next += BATCHES;
        let start = Instant::now();
        for batch in batches {
            rt.block_on(sink.commit(batch)).unwrap_or_else(|e| panic!("commit: {e}"));
        }
        total += start.elapsed();
    }
    total
}

/// [`time_commits`] through the baseline loader.
fn time_baseline(
    rt: &tokio::runtime::Runtime,
    baseline: &mut Baseline,
    next: &mut usize,
    iters: u64,
) -> Duration {
    let (orders, lines) = (orders_schema(), lines_schema());
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let batches: Vec<_> =
            (0..BATCHES).map(|i| make_batch(*next + i, 0, &orders, &lines)).collect();
        *next += BATCHES;
        let start = Instant::now();
        for batch in &batches {
            rt.block_on(baseline.load(batch)).unwrap_or_else(|e| panic!("baseline: {e}"));
        }
        total += start.elapsed();
    }
    total
}

/// A file sink with its default settings (row groups, fsync); Parquet
/// against arrow's writer alone on the same rows.
fn bench_files(c: &mut Criterion, format: FileFormat) {
    let rt = runtime();
    let tables = [orders_schema(), lines_schema()];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temporary directory: {e}"));
    let config = SinkConfig::Files(FilesConfig::new(dir.path().join("sink"), format));
    let mut sink = rt.block_on(config.build()).unwrap_or_else(|e| panic!("open: {e}"));
    rt.block_on(sink.prepare(&tables, false)).unwrap_or_else(|e| panic!("prepare: {e}"));

    let mut group = group(c, format.extension());
    let mut next = 0;
    group.bench_function("sink", |b| {
        b.iter_custom(|iters| time_commits(&rt, sink.as_mut(), &mut next, iters))
    });
    if format == FileFormat::Parquet {
        let mut baseline = Baseline::parquet(&dir.path().join("baseline"))
            .unwrap_or_else(|e| panic!("baseline: {e}"));
        let mut next = 0;
        group.bench_function("baseline", |b| {
            b.iter_custom(|iters| time_baseline(&rt, &mut baseline, &mut next, iters))
        });
    }
    group.finish();
}

fn sinks(c: &mut Criterion) {
    bench_database(c, SinkUnderTest::Sqlite, Backend::Sqlite);
    bench_database(c, SinkUnderTest::Postgres, Backend::Postgres);
    bench_database(c, SinkUnderTest::Mysql, Backend::Mysql);
    bench_files(c, FileFormat::Parquet);
    bench_files(c, FileFormat::Jsonl);
    bench_files(c, FileFormat::Csv);
}

criterion_group!(benches, sinks);
criterion_main!(benches);
