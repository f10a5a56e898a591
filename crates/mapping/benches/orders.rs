//! Criterion benchmark of the standard Centra orders mapping: orders mapped
//! per second on one core (3 lines each) and heap allocations per order.
//!
//! The records are the simulator's answers to the query the mapping derives,
//! so keys come in the order Centra sends them and values are realistic.
//! The allocator is mimalloc, as in the `cartage` binary, wrapped to count
//! allocations.
//!
//! `cargo bench -p cartage-mapping --bench orders`

// A global allocator is unsafe to implement; this one only forwards.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use cartage_core::{MappedRows, Record, RecordMapper};
use cartage_mapping::{CompileContext, compile};
use centra_sim::{SimConfig, Simulator};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use serde_json::value::RawValue;

/// mimalloc with a count of allocations and bytes allocated while `on`:
/// off, it costs one relaxed load, so timed runs measure mimalloc alone.
struct Counting {
    on: AtomicBool,
    calls: AtomicUsize,
    bytes: AtomicUsize,
}

impl Counting {
    fn count(&self, size: usize) {
        if self.on.load(Ordering::Relaxed) {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(size, Ordering::Relaxed);
        }
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count(layout.size());
        // SAFETY: forwarded unchanged to the wrapped allocator.
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc` of the wrapped allocator.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count(new_size);
        // SAFETY: as for `dealloc`.
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting =
    Counting { on: AtomicBool::new(false), calls: AtomicUsize::new(0), bytes: AtomicUsize::new(0) };

const BATCH: usize = 1000;
const LINES: usize = 3;

fn mapper() -> (std::sync::Arc<dyn RecordMapper>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("mappings");
    let loader = move |name: &str| -> Option<(String, String)> {
        std::fs::read_to_string(dir.join(name)).ok().map(|t| (name.to_owned(), t))
    };
    let m = compile(
        "centra/default.yaml",
        &loader,
        &CompileContext::new("bench", connector_centra::description()),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    (m.stream("orders").unwrap(), m.selection("orders").unwrap().to_owned())
}

#[derive(Deserialize)]
struct Response {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    orders: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Lines {
    lines: Vec<serde::de::IgnoredAny>,
}

/// `BATCH` orders with `LINES` lines each, as the simulator answers the
/// mapping's own query.
fn records(selection: &str) -> Vec<Record> {
    let sim = Simulator::new(SimConfig { orders: 20 * BATCH as u64, ..SimConfig::default() });
    let query = format!(
        "query Orders($page: Int!) {{ orders(limit: 200, page: $page) {{ {selection} }} }}"
    );
    let mut out = Vec::with_capacity(BATCH);
    for page in 1.. {
        let bytes = sim.execute_raw(&query, serde_json::json!({ "page": page }));
        let response: Response = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        assert!(!response.data.orders.is_empty(), "the simulator ran out of {LINES}-line orders");
        for raw in response.data.orders {
            let shape: Lines = serde_json::from_str(raw.get()).unwrap();
            if shape.lines.len() == LINES {
                out.push(Record::from_raw(raw));
                if out.len() == BATCH {
                    return out;
                }
            }
        }
    }
    unreachable!()
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
    let (mapper, selection) = mapper();
    let records = records(&selection);
    let bytes: usize = records.iter().map(|r| r.json().len()).sum();
    assert_eq!(map_batch(&*mapper, &records), BATCH * (1 + LINES), "an order and its lines");

    // Allocations and a plain single-threaded rate, printed for docs/performance.md.
    GLOBAL.on.store(true, Ordering::Relaxed);
    map_batch(&*mapper, &records);
    GLOBAL.on.store(false, Ordering::Relaxed);
    let calls = GLOBAL.calls.load(Ordering::Relaxed);
    let allocated = GLOBAL.bytes.load(Ordering::Relaxed);
    let rounds = 200;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(map_batch(&*mapper, &records));
    }
    let per_sec = (rounds * BATCH) as f64 / started.elapsed().as_secs_f64();
    let per_cpu_sec = (rounds * BATCH) as f64 / (cpu_seconds() - cpu_before);
    println!(
        "default orders mapping: {per_cpu_sec:.0} orders per CPU-second ({per_sec:.0} orders/s wall clock; {LINES} lines each, {} bytes/order), {:.1} allocations and {:.0} bytes allocated per order (rows included)",
        bytes / BATCH,
        calls as f64 / BATCH as f64,
        allocated as f64 / BATCH as f64,
    );

    let mut group = c.benchmark_group("mapping");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("default_orders_3_lines", |b| b.iter(|| map_batch(&*mapper, &records)));
    group.finish();
}

criterion_group!(benches, orders);
criterion_main!(benches);
