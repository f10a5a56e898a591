//! A simulator of Centra's GraphQL Integration API, served over real HTTP.
//!
//! Tests embed it in-process:
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use centra_sim::{SimConfig, Simulator};
//! let sim = Simulator::new(SimConfig { orders: 1_000, ..SimConfig::default() });
//! let running = sim.serve("127.0.0.1:0".parse().expect("literal address")).await?;
//! // POST GraphQL to running.graphql_url with `Authorization: Bearer {running.token}`.
//! let truth = running.sim().order(1);
//! running.shutdown().await;
//! # let _ = truth; Ok(()) }
//! ```
//!
//! The data is deterministic: the same [`SimConfig`] always serves the same
//! bytes. [`Simulator::control`] (and the HTTP control API under `/__sim/`)
//! changes it over time; [`model`] holds the truth types tests compare with.

pub mod auth;
pub mod complexity;
pub mod control;
pub mod data;
pub mod dates;
pub mod error;
pub mod events;
pub mod faults;
mod graphql;
pub mod model;
mod query;
pub mod ratelimit;
mod server;
mod state;
mod stock;

pub use control::{Control, DateHeader, RemoveDeliveries};
pub use dates::DateFilterReading;
pub use error::SimError;

use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// The schema the simulator serves, verbatim.
pub const SCHEMA_SDL: &str = include_str!("../../centra/schema.graphql");

/// Everything that decides what a simulator serves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of all generated data.
    pub seed: u64,
    /// Orders generated at start (numbers 1..=orders).
    pub orders: u64,
    /// Data profile: `plain`, `nordic-fashion` or `outdoor-wholesale`.
    pub profile: String,
    /// The bearer token accepted with every permission.
    pub token: String,
    /// The integration name of that token (its event queue).
    pub integration: String,
    /// Rate-limit tier.
    pub tier: ratelimit::Tier,
    /// Background order changes per second (0 = none).
    pub churn_per_sec: f64,
    /// Whether churn also deletes orders.
    pub churn_deletes: bool,
    /// Fault injection.
    pub faults: faults::FaultConfig,
    /// How 429 responses write `Retry-After`.
    pub retry_after: ratelimit::RetryAfterFormat,
    /// Number of products in the catalog.
    pub products: usize,
    /// Number of warehouses.
    pub warehouses: usize,
    /// Number of purchase orders.
    pub purchase_orders: usize,
    /// When set, the catalog has exactly this many product sizes (products
    /// are generated until it does, whatever `products` says); the inventory
    /// benchmark uses 50,000 with 20 warehouses (1M stock rows).
    pub product_sizes: Option<usize>,
    /// How `DateRange` filter bounds with an offset are read.
    pub date_filter: dates::DateFilterReading,
    /// When set, simulated time moves only by `advance_clock`, not with the
    /// wall clock: two simulators given the same calls then serve the same
    /// data, timestamps included (tests that compare sinks rely on it).
    pub frozen_clock: bool,
}

impl Default for SimConfig {
    /// A small demo store: 500 orders, seed 1, profile `plain`, token `sim-token`.
    fn default() -> Self {
        Self {
            seed: 1,
            orders: 500,
            profile: "plain".into(),
            token: "sim-token".into(),
            integration: "sim-integration".into(),
            tier: ratelimit::Tier::default(),
            churn_per_sec: 0.0,
            churn_deletes: false,
            faults: faults::FaultConfig::default(),
            retry_after: ratelimit::RetryAfterFormat::default(),
            products: 60,
            warehouses: 3,
            purchase_orders: 30,
            product_sizes: None,
            date_filter: dates::DateFilterReading::default(),
            frozen_clock: false,
        }
    }
}

/// Counters of what the simulator did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SimStats {
    /// HTTP requests that reached `/graphql` (before the fault layer).
    pub requests: u64,
    /// Requests the GraphQL handler answered (after the fault layer).
    pub graphql_handled: u64,
    /// Requests answered by the fault layer without reaching the handler.
    pub faults_injected: u64,
    /// 401 responses.
    pub unauthorized: u64,
    /// 429 responses sent by the rate limiter (including `oversized`).
    pub rate_limited: u64,
    /// Requests refused because their complexity exceeds the whole 10-second
    /// complexity quota (they can never be admitted).
    pub oversized: u64,
    /// Sum of `extensions.complexity` over executed requests.
    pub complexity_total: u64,
    /// Orders changed through the control API or churn.
    pub orders_changed: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub handled: AtomicU64,
    pub unauthorized: AtomicU64,
    pub rate_limited: AtomicU64,
    pub oversized: AtomicU64,
    pub complexity_total: AtomicU64,
    pub orders_changed: AtomicU64,
}

pub(crate) struct Clock {
    start: Instant,
    advanced_secs: i64,
    /// Wall-clock time does not count (see [`SimConfig::frozen_clock`]).
    frozen: bool,
}

pub(crate) struct Inner {
    pub config: SimConfig,
    pub world: RwLock<state::World>,
    clock: Mutex<Clock>,
    pub events: events::EventStore,
    pub tokens: auth::TokenStore,
    pub limiter: ratelimit::RateLimiter,
    pub schema: Valid<Schema>,
    pub counters: Counters,
    pub date_header: Mutex<control::DateHeader>,
}

/// A simulated Centra instance. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Simulator {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("seed", &self.inner.config.seed)
            .field("orders", &self.inner.config.orders)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Generates the world (the order index is built now; order details lazily).
    ///
    /// An unknown profile name falls back to `plain` (the CLI rejects it first).
    pub fn new(config: SimConfig) -> Self {
        let world = state::World::new(&config);
        let frozen = config.frozen_clock;
        let schema = Schema::parse_and_validate(SCHEMA_SDL, "schema.graphql")
            // The SDL is compiled in and covered by tests; it always validates.
            .unwrap_or_else(|e| panic!("the embedded schema does not validate: {}", e.errors));
        let tokens = auth::TokenStore::new(vec![auth::TokenSpec::all_permissions(
            config.token.clone(),
            config.integration.clone(),
        )]);
        Self {
            inner: Arc::new(Inner {
                limiter: ratelimit::RateLimiter::new(config.tier),
                config,
                world: RwLock::new(world),
                clock: Mutex::new(Clock { start: Instant::now(), advanced_secs: 0, frozen }),
                events: events::EventStore::new(),
                tokens,
                schema,
                counters: Counters::default(),
                date_header: Mutex::new(control::DateHeader::Normal),
            }),
        }
    }

    /// The configuration this simulator was built from.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// The simulated clock: the fixed epoch (2026-03-01 12:00 Europe/Stockholm)
    /// plus real time elapsed since [`Simulator::new`] plus manual advances,
    /// in whole seconds.
    pub fn now(&self) -> DateTime<Utc> {
        let c = lock(&self.inner.clock);
        let elapsed = if c.frozen { 0 } else { c.start.elapsed().as_secs() as i64 };
        data::ts(data::EPOCH_BASE_UNIX + elapsed + c.advanced_secs)
    }

    pub(crate) fn advance(&self, seconds: i64) -> DateTime<Utc> {
        lock(&self.inner.clock).advanced_secs += seconds.max(0);
        self.now()
    }

    /// Current orders (not deleted), by number ascending.
    pub fn orders(&self) -> impl Iterator<Item = model::Order> + '_ {
        let numbers: Vec<i64> = {
            let w = read(&self.inner.world);
            w.index
                .iter()
                .enumerate()
                .filter(|(_, e)| !e.deleted)
                .map(|(i, _)| i as i64 + 1)
                .collect()
        };
        numbers.into_iter().filter_map(|n| self.order(n))
    }

    /// The current order with this number, `None` when unknown or deleted.
    pub fn order(&self, number: i64) -> Option<model::Order> {
        read(&self.inner.world).order(number)
    }

    /// The catalog (products, variants, sizes). Stock movements do not
    /// change a size's `updatedAt`.
    pub fn products(&self) -> Vec<model::Product> {
        read(&self.inner.world).generator.catalog.clone()
    }

    /// The warehouses.
    pub fn warehouses(&self) -> Vec<model::Warehouse> {
        read(&self.inner.world).warehouses.clone()
    }

    /// Stock of every size in every warehouse, by warehouse then size id.
    pub fn stock(&self) -> Vec<model::StockLevel> {
        read(&self.inner.world).stock.iter().flatten().cloned().collect()
    }

    /// The purchase orders, by id.
    pub fn purchase_orders(&self) -> Vec<model::PurchaseOrder> {
        read(&self.inner.world).purchase_orders.clone()
    }

    /// The purchase order deliveries that exist (removed ones excluded), by id.
    pub fn deliveries(&self) -> Vec<model::Delivery> {
        read(&self.inner.world).deliveries.clone()
    }

    /// The stock change ledger (deliveries accepted, manual changes), by id.
    pub fn stock_changes(&self) -> Vec<model::StockChange> {
        read(&self.inner.world).stock_changes.clone()
    }

    /// What the unshipped orders hold (allocated units and demand), by order
    /// number then line.
    pub fn allocations(&self) -> Vec<model::Allocation> {
        let w = read(&self.inner.world);
        let mut numbers: Vec<&i64> = w.allocations.keys().collect();
        numbers.sort();
        numbers.into_iter().flat_map(|n| w.allocations[n].iter().cloned()).collect()
    }

    /// The markets (currency, pricelist, store of each).
    pub fn markets(&self) -> Vec<model::Market> {
        data::markets()
    }

    /// The stores.
    pub fn stores(&self) -> Vec<model::Store> {
        data::stores()
    }

    /// The operations of the control API.
    pub fn control(&self) -> Control {
        Control { sim: self.clone() }
    }

    /// The accepted tokens (add more, with fewer permissions or an expiry).
    pub fn tokens(&self) -> &auth::TokenStore {
        &self.inner.tokens
    }

    /// The event queues.
    pub fn events(&self) -> &events::EventStore {
        &self.inner.events
    }

    /// The shared rate limiter (e.g. to let "another integration" consume quota).
    pub fn rate_limiter(&self) -> &ratelimit::RateLimiter {
        &self.inner.limiter
    }

    /// Counters.
    pub fn stats(&self) -> SimStats {
        let c = &self.inner.counters;
        let requests = c.requests.load(Ordering::Relaxed);
        let handled = c.handled.load(Ordering::Relaxed);
        SimStats {
            requests,
            graphql_handled: handled,
            faults_injected: requests.saturating_sub(handled),
            unauthorized: c.unauthorized.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            oversized: c.oversized.load(Ordering::Relaxed),
            complexity_total: c.complexity_total.load(Ordering::Relaxed),
            orders_changed: c.orders_changed.load(Ordering::Relaxed),
        }
    }

    /// Executes one GraphQL request in-process, as `token` would over HTTP,
    /// skipping auth, rate limits and faults. Returns the response JSON.
    /// Benchmarks and unit tests use it; clients should use HTTP.
    pub fn execute(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        let token = auth::TokenSpec::all_permissions(
            self.inner.config.token.clone(),
            self.inner.config.integration.clone(),
        );
        let body = serde_json::json!({ "query": query, "variables": variables });
        graphql::execute(self, &Arc::new(token), &body, None).body
    }

    /// Like [`Simulator::execute`], but returns the response bytes exactly as
    /// HTTP would send them (the benchmark's path).
    pub fn execute_raw(&self, query: &str, variables: serde_json::Value) -> Vec<u8> {
        let token = auth::TokenSpec::all_permissions(
            self.inner.config.token.clone(),
            self.inner.config.integration.clone(),
        );
        let body = serde_json::json!({ "query": query, "variables": variables });
        match graphql::prepare(self, &body) {
            Ok(p) => graphql::run(self, &Arc::new(token), &p, false).bytes,
            Err(r) => r.bytes,
        }
    }

    /// Binds `addr` (port 0 picks a free port) and serves until
    /// [`RunningSim::shutdown`]. Starts churn when configured.
    pub async fn serve(&self, addr: std::net::SocketAddr) -> std::io::Result<RunningSim> {
        server::serve(self.clone(), addr).await
    }
}

/// A simulator serving HTTP.
#[derive(Debug)]
pub struct RunningSim {
    /// `http://127.0.0.1:PORT/graphql`.
    pub graphql_url: String,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The token the simulator accepts with every permission.
    pub token: String,
    /// The bound address.
    pub addr: std::net::SocketAddr,
    sim: Simulator,
    cancel: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningSim {
    /// The simulator behind the server.
    pub fn sim(&self) -> &Simulator {
        &self.sim
    }

    /// Stops the server and churn, and waits for them.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for t in self.tasks {
            // A task that panicked has nothing left to clean up.
            let _ = t.await;
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|e| e.into_inner())
}
