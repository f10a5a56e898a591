//! The `centra-sim` command line: serve a simulated Centra, or benchmark one.

use anyhow::Context as _;
use centra_sim::{SimConfig, Simulator, faults, ratelimit};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;

// glibc malloc dominated the profile of a page (a GraphQL answer is thousands
// of small maps and strings); mimalloc serves the same pages with less CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "centra-sim", version, about = "A simulator of Centra's GraphQL Integration API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct DataArgs {
    /// Orders generated at start.
    #[arg(long, default_value_t = 500)]
    orders: u64,
    /// Seed of all generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Data profile: plain, nordic-fashion or outdoor-wholesale.
    #[arg(long, default_value = "plain")]
    profile: String,
    /// Products in the catalog.
    #[arg(long, default_value_t = 60)]
    products: usize,
    /// Warehouses.
    #[arg(long, default_value_t = 3)]
    warehouses: usize,
    /// Purchase orders.
    #[arg(long, default_value_t = 30)]
    purchase_orders: usize,
    /// Exactly this many product sizes (overrides --products), e.g. 50000.
    #[arg(long)]
    product_sizes: Option<usize>,
}

// One value parsed once at start; boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the GraphQL API and the control API until Ctrl-C.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[command(flatten)]
        data: DataArgs,
        /// The bearer token accepted with every permission.
        #[arg(long, default_value = "sim-token", env = "CENTRA_SIM_TOKEN")]
        token: String,
        /// Integration name of the token (its event queue).
        #[arg(long, default_value = "sim-integration")]
        integration: String,
        /// Rate-limit tier: growth, enhanced, high-volume, enterprise or unlimited.
        #[arg(long, default_value = "growth")]
        tier: String,
        /// Retry-After format on 429: seconds, http-date or epoch.
        #[arg(long, default_value = "seconds")]
        retry_after: String,
        /// How DateRange filter bounds with an offset are read:
        /// honour-offset or ignore-offset (the digits as Stockholm time).
        #[arg(long, default_value = "honour-offset")]
        date_filter: String,
        /// Background order changes per second.
        #[arg(long, default_value_t = 0.0)]
        churn_per_sec: f64,
        /// Let churn delete orders too.
        #[arg(long)]
        churn_deletes: bool,
        /// Fault injection, e.g. "seed=7,p500=0.02,p429burst=0.01:3,pcut=0.01" (docs/simulator.md).
        #[arg(long)]
        faults: Option<String>,
        /// Faults by request number, e.g. "5=503,10-14=429".
        #[arg(long)]
        fault_schedule: Option<String>,
    },
    /// Measure pages of 200 orders with lines per second, in-process.
    Bench {
        #[command(flatten)]
        data: DataArgs,
        /// Pages to fetch.
        #[arg(long, default_value_t = 200)]
        pages: u64,
    },
}

fn config(d: &DataArgs) -> anyhow::Result<SimConfig> {
    if centra_sim::data::Profile::parse(&d.profile).is_none() {
        anyhow::bail!(
            "unknown profile {:?} (expected plain, nordic-fashion or outdoor-wholesale)",
            d.profile
        );
    }
    Ok(SimConfig {
        seed: d.seed,
        orders: d.orders,
        profile: d.profile.clone(),
        products: d.products,
        warehouses: d.warehouses,
        purchase_orders: d.purchase_orders,
        product_sizes: d.product_sizes,
        ..SimConfig::default()
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    match Cli::parse().command {
        Command::Serve {
            addr,
            data,
            token,
            integration,
            tier,
            retry_after,
            date_filter,
            churn_per_sec,
            churn_deletes,
            faults: fault_spec,
            fault_schedule,
        } => {
            let tier: ratelimit::Tier =
                tier.parse().map_err(|e| anyhow::anyhow!("--tier {tier}: {e:?}"))?;
            let retry_after = match retry_after.as_str() {
                "seconds" => ratelimit::RetryAfterFormat::Seconds,
                "http-date" => ratelimit::RetryAfterFormat::HttpDate,
                "epoch" => ratelimit::RetryAfterFormat::Epoch,
                other => {
                    anyhow::bail!("--retry-after {other}: expected seconds, http-date or epoch")
                }
            };
            let date_filter: centra_sim::dates::DateFilterReading =
                date_filter.parse().map_err(|e| anyhow::anyhow!("--date-filter: {e}"))?;
            let mut fault_config = match &fault_spec {
                Some(spec) => faults::FaultConfig::parse(spec)
                    .with_context(|| format!("--faults {spec:?}"))?,
                None => faults::FaultConfig::default(),
            };
            if let Some(spec) = &fault_schedule {
                fault_config = fault_config
                    .with_schedule(spec)
                    .with_context(|| format!("--fault-schedule {spec:?}"))?;
            }
            // Injected 429s write Retry-After like the rate limiter's.
            fault_config.retry_after_format = retry_after;
            let cfg = SimConfig {
                token,
                integration,
                tier,
                retry_after,
                date_filter,
                churn_per_sec,
                churn_deletes,
                faults: fault_config,
                ..config(&data)?
            };
            let started = std::time::Instant::now();
            let sim = Simulator::new(cfg);
            let running = sim.serve(addr).await.with_context(|| format!("binding {addr}"))?;
            println!(
                "centra-sim serving {} orders (seed {}, profile {}) in {:.1}s",
                data.orders,
                data.seed,
                data.profile,
                started.elapsed().as_secs_f64()
            );
            println!("GraphQL: {}", running.graphql_url);
            println!("token:   {}", running.token);
            println!("control: {}/__sim/ (see docs/simulator.md)", running.base_url);
            if fault_spec.is_some() || fault_schedule.is_some() {
                println!("faults:  {:?}", running.sim().config().faults);
            }
            tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
            println!("stopping");
            running.shutdown().await;
        }
        Command::Bench { data, pages } => bench(config(&data)?, pages)?,
    }
    Ok(())
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`, 100 ticks/s).
fn cpu_secs() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = s.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The page query of the benchmark: what a sync reads per order.
pub const BENCH_QUERY: &str = r#"query Page($page: Int!) {
  orders(limit: 200, page: $page, sort: [number_ASC]) {
    id number status createdAt updatedAt
    store { id type } market { id name } pricelist { id name }
    grandTotal { value valueInCents currency { code } conversionRate }
    totals { shipping { valueInCents } handling { valueInCents } taxIncluded { valueInCents } taxAdded { valueInCents } }
    shippingAddress { firstName lastName address1 city zipCode country { code } email }
    lines { id quantity cancelledQuantity returnedQuantity taxPercent discountPercent
      unitPrice { valueInCents } unitOriginalPrice { valueInCents } lineValue { valueInCents }
      productVariant { id variantNumber } productSize { id SKU EAN sizeNumber description } }
    ... on DirectToConsumerOrder { customer { id email attributes { type { name } elements { key ... on AttributeStringElement { value } } } } }
    ... on WholesaleOrder { purchaseOrderNumber account { id name } }
  }
}"#;

fn bench(cfg: SimConfig, pages: u64) -> anyhow::Result<()> {
    let rss0 = rss_kib().unwrap_or(0);
    let t0 = std::time::Instant::now();
    let orders = cfg.orders;
    let sim = Simulator::new(cfg);
    let build = t0.elapsed();
    let rss1 = rss_kib().unwrap_or(0);
    let total_pages = orders.div_ceil(200).max(1);
    let cpu0 = cpu_secs();
    let t1 = std::time::Instant::now();
    let mut bytes = 0usize;
    let mut worst = std::time::Duration::ZERO;
    for i in 0..pages {
        // Spread the pages over the whole order range.
        let page = 1 + (i * 7919) % total_pages;
        let ts = std::time::Instant::now();
        let body = sim.execute_raw(BENCH_QUERY, serde_json::json!({ "page": page }));
        worst = worst.max(ts.elapsed());
        if body.starts_with(b"{\"errors\"") {
            anyhow::bail!("bench query failed: {}", String::from_utf8_lossy(&body));
        }
        bytes += body.len();
    }
    let el = t1.elapsed();
    let cpu = cpu_secs() - cpu0;
    let rss2 = rss_kib().unwrap_or(0);
    println!("orders: {orders}");
    println!(
        "build: {:.2}s, RSS before {} MiB, after build {} MiB, after paging {} MiB",
        build.as_secs_f64(),
        rss0 / 1024,
        rss1 / 1024,
        rss2 / 1024
    );
    println!(
        "pages of 200 orders with lines: {pages} in {:.2}s = {:.1} pages/s ({:.2} ms mean, {:.2} ms worst), {:.0} KiB/page",
        el.as_secs_f64(),
        pages as f64 / el.as_secs_f64(),
        el.as_secs_f64() * 1000.0 / pages as f64,
        worst.as_secs_f64() * 1000.0,
        bytes as f64 / pages as f64 / 1024.0
    );
    println!(
        "CPU time: {:.2} ms per page = {:.1} pages per CPU-second (wall time is inflated on a busy machine)",
        cpu * 1000.0 / pages as f64,
        pages as f64 / cpu
    );
    Ok(())
}
