//! `cargo xtask`: the project's one task runner (ci, bench, demo).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Cartage's task runner")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Everything CI checks: rustfmt, clippy -D warnings, the whole test suite, docs.
    Ci,
    /// Runs the demo: the simulator in-process, synced into ./cartage-demo.db.
    Demo,
    /// Benchmarks. `sync` runs end-to-end backfills; `mapping`, `sinks` and
    /// `sim` run the criterion benches of those crates.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
    /// Internal: runs a command as this process's only child and prints its
    /// wall time, CPU time and peak RSS as JSON (used by `bench sync`).
    #[command(hide = true)]
    Measure {
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Backfills N orders from the simulator (unlimited tier) into SQLite
    /// with the release `cartage` binary, `--runs` times per size, and
    /// reports each size's median run; then as many full inventory
    /// snapshots of `--warehouses` x `--sizes` product sizes.
    Sync {
        /// Order counts to run, comma-separated (0: none).
        #[arg(long, value_delimiter = ',', default_values_t = [100_000u64, 1_000_000])]
        orders: Vec<u64>,
        /// Runs per size; the median (by CPU per order) is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Product sizes of the inventory snapshot's catalogue; 0 skips the
        /// inventory bench.
        #[arg(long, default_value_t = 50_000)]
        sizes: usize,
        /// Warehouses of the inventory snapshot.
        #[arg(long, default_value_t = 20)]
        warehouses: usize,
    },
    /// The mapping engine's criterion bench.
    Mapping,
    /// Every sink against its database's bulk-load baseline on the same
    /// rows (criterion), then a table of rows/s and ratios; `--all` also
    /// runs the SQLite commit bench (insert/update, CPU per row).
    Sinks {
        #[arg(long)]
        all: bool,
    },
    /// The simulator's criterion bench.
    Sim,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    std::env::set_current_dir(&root)?;
    match cli.task {
        Task::Ci => ci(),
        Task::Demo => run(cargo().args([
            "run",
            "--release",
            "-p",
            "cartage-runner",
            "--features",
            "demo",
            "--",
            "demo",
        ])),
        Task::Bench { what } => match what {
            Bench::Sync { orders, runs, sizes, warehouses } => {
                bench_sync(&root, &orders, runs.max(1), sizes, warehouses)
            }
            Bench::Mapping => run(cargo().args(["bench", "-p", "cartage-mapping"])),
            Bench::Sinks { all } => bench_sinks(&root, all),
            Bench::Sim => run(cargo().args(["bench", "-p", "centra-sim"])),
        },
        Task::Measure { command } => measure(&command),
    }
}

/// Runs the `sinks` bench and prints, per sink, the median rows/s of the
/// sink and of its baseline, from criterion's estimates of this run.
fn bench_sinks(root: &Path, all: bool) -> Result<()> {
    let criterion = target_dir(root).join("criterion");
    // Estimates left by an earlier run must not pass for this run's.
    for entry in std::fs::read_dir(&criterion).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("sinks_") {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    let mut bench = cargo();
    bench.args(["bench", "-p", "cartage-sinks"]);
    if !all {
        bench.args(["--bench", "sinks"]);
    }
    run(&mut bench)?;
    let mut groups: Vec<PathBuf> = std::fs::read_dir(&criterion)
        .with_context(|| format!("reading {}", criterion.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("sinks_")))
        .collect();
    groups.sort();
    println!("\n| sink | sink rows/s | baseline | baseline rows/s | sink / baseline |");
    println!("|---|---|---|---|---|");
    for group in groups {
        let name = group.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let rows_per_s = |function: &str| -> Result<f64> {
            let benchmark: serde_json::Value =
                read_json(&group.join(function).join("new/benchmark.json"))?;
            let estimates: serde_json::Value =
                read_json(&group.join(function).join("new/estimates.json"))?;
            let elements = benchmark["throughput"]["Elements"].as_f64().context("throughput")?;
            let median_ns = estimates["median"]["point_estimate"].as_f64().context("median")?;
            Ok(elements / (median_ns / 1e9))
        };
        let sink = rows_per_s("sink")?;
        // JSONL and CSV have no baseline.
        let base = rows_per_s("baseline").ok();
        let backend = name.trim_start_matches("sinks_");
        let what = match backend {
            "sqlite" => "prepared multi-row INSERT (rusqlite)",
            "postgres" => "COPY FROM STDIN",
            "mysql" => "multi-row INSERT",
            "parquet" => "arrow ArrowWriter alone",
            _ => "baseline",
        };
        match base {
            Some(base) => {
                println!("| {backend} | {sink:.0} | {what} | {base:.0} | {:.2} |", sink / base)
            }
            None => println!("| {backend} | {sink:.0} | none | | |"),
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = env!("CARGO_MANIFEST_DIR");
    Path::new(manifest).parent().map(Path::to_path_buf).context("xtask has no parent directory")
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn run(command: &mut Command) -> Result<()> {
    eprintln!("$ {}", describe(command));
    let status = command.status().with_context(|| format!("running {}", describe(command)))?;
    if !status.success() {
        bail!("`{}` failed with {status}", describe(command));
    }
    Ok(())
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

fn ci() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // The workspace build links the simulators into the runner (the tests
    // enable `demo`); check the production build without them too.
    run(cargo().args(["clippy", "-p", "cartage-runner", "--all-targets", "--", "-D", "warnings"]))?;
    run(cargo().args(["test", "--workspace", "--all-targets"]))?;
    run(cargo().args(["test", "--workspace", "--doc"]))?;
    run(cargo().args(["doc", "--workspace", "--no-deps"]).env("RUSTDOCFLAGS", "-D warnings"))?;
    eprintln!("ci: all checks passed");
    Ok(())
}

/// Runs `command` as the only child of this process, then reports what
/// `getrusage(RUSAGE_CHILDREN)` says of it: exact CPU time and peak RSS of
/// that one process, unaffected by anything else on the machine.
fn measure(command: &[String]) -> Result<()> {
    use nix::sys::resource::{UsageWho, getrusage};
    let started = Instant::now();
    // The report is this process's stdout: keep the child's off it.
    let status = Command::new(&command[0])
        .args(&command[1..])
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("starting {}", command[0]))?;
    let wall = started.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let cpu = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e3 + t.tv_usec() as f64 / 1e3;
    let report = serde_json::json!({
        "success": status.success(),
        "wall_ms": wall.as_secs_f64() * 1e3,
        "user_ms": cpu(usage.user_time()),
        "sys_ms": cpu(usage.system_time()),
        // Linux reports ru_maxrss in KiB.
        "max_rss_kib": usage.max_rss(),
    });
    println!("{report}");
    if !status.success() {
        bail!("{} failed with {status}", command[0]);
    }
    Ok(())
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bench_sync(
    root: &Path,
    order_counts: &[u64],
    runs: usize,
    sizes: usize,
    warehouses: usize,
) -> Result<()> {
    run(cargo().args(["build", "--release", "-p", "cartage-runner", "-p", "centra-sim"]))?;
    let target = root.join("target/release");
    let mut results = Vec::new();
    for &orders in order_counts.iter().filter(|&&n| n > 0) {
        let mut lines = Vec::with_capacity(runs);
        for n in 1..=runs {
            eprintln!("bench sync: {orders} orders, run {n} of {runs}");
            let line = sync_once(root, &target, &Workload::Orders(orders))?;
            eprintln!("bench sync: {line}");
            lines.push(line);
        }
        let cpu = |l: &serde_json::Value| l["cpu_us_per_order"].as_f64().unwrap_or(f64::MAX);
        lines.sort_by(|a, b| cpu(a).total_cmp(&cpu(b)));
        let spread: Vec<f64> = lines.iter().map(cpu).collect();
        let rates: Vec<f64> =
            lines.iter().map(|l| l["orders_per_s"].as_f64().unwrap_or(0.0)).collect();
        let mut median = lines[lines.len() / 2].clone();
        median["runs"] = runs.into();
        median["cpu_us_per_order_all_runs"] = spread.into();
        median["orders_per_s_all_runs"] = rates.into();
        results.push(median);
    }
    if sizes > 0 {
        let workload = Workload::Inventory { sizes, warehouses };
        let mut lines = Vec::with_capacity(runs);
        for n in 1..=runs {
            eprintln!(
                "bench sync: inventory of {warehouses} warehouses x {sizes} sizes, run {n} of {runs}"
            );
            let line = sync_once(root, &target, &workload)?;
            eprintln!("bench sync: {line}");
            lines.push(line);
        }
        let cpu = |l: &serde_json::Value| l["cpu_us_per_row"].as_f64().unwrap_or(f64::MAX);
        lines.sort_by(|a, b| cpu(a).total_cmp(&cpu(b)));
        let spread: Vec<f64> = lines.iter().map(cpu).collect();
        let mut median = lines[lines.len() / 2].clone();
        median["runs"] = runs.into();
        median["cpu_us_per_row_all_runs"] = spread.into();
        results.push(median);
    }
    println!("{}", serde_json::to_string_pretty(&results)?);
    Ok(())
}

/// What one bench run syncs.
enum Workload {
    /// A backfill of this many orders.
    Orders(u64),
    /// One full inventory snapshot.
    Inventory { sizes: usize, warehouses: usize },
}

/// One sync of `workload`: a fresh simulator and a fresh database.
fn sync_once(root: &Path, target: &Path, workload: &Workload) -> Result<serde_json::Value> {
    let (mapping, stream, orders, catalogue) = match *workload {
        Workload::Orders(orders) => ("default.yaml", "orders", orders, None),
        Workload::Inventory { sizes, warehouses } => {
            ("supply.yaml", "inventory", 1, Some((sizes, warehouses)))
        }
    };
    let mapping = root.join("mappings/centra").join(mapping);
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let token = "bench-token";
    let mut sim = Command::new(target.join("centra-sim"));
    sim.args(["serve", "--addr", &addr, "--orders", &orders.to_string(), "--seed", "1"]).args([
        "--tier",
        "unlimited",
        "--token",
        token,
    ]);
    if let Some((sizes, warehouses)) = catalogue {
        sim.args(["--product-sizes", &sizes.to_string(), "--warehouses", &warehouses.to_string()]);
    }
    let sim = sim.stdout(Stdio::null()).spawn().context("starting centra-sim")?;
    let _sim = KillOnDrop(sim);
    wait_for_port(&addr, Duration::from_secs(300))?;

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let summary = dir.path().join("summary.json");
    let config = dir.path().join("cartage.yaml");
    std::fs::write(
        &config,
        format!(
            "connections:\n  - tenant: bench\n    source:\n      type: centra\n      endpoint: http://{addr}/graphql\n      token: ${{env:BENCH_CENTRA_TOKEN}}\n      max_clock_skew_secs: 315360000\n    mapping: {}\n    sink:\n      type: sqlite\n      url: sqlite://{}\n    streams: [{stream}]\n",
            mapping.display(),
            db.display()
        ),
    )?;
    let xtask = std::env::current_exe()?;
    let output = Command::new(xtask)
        .args(["measure", "--"])
        .arg(target.join("cartage"))
        .args(["sync", "--config"])
        .arg(&config)
        .args(["--summary-json"])
        .arg(&summary)
        .env("BENCH_CENTRA_TOKEN", token)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit())
        .output()
        .context("running cartage under measure")?;
    if !output.status.success() {
        bail!("cartage sync failed for {orders} orders");
    }
    let usage: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("parsing the measure report")?;
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&summary).context("reading the sync summary")?,
    )?;
    let rows: u64 = summary["rows"]
        .as_object()
        .map(|tables| tables.values().filter_map(|n| n.as_u64()).sum())
        .unwrap_or(0);
    let records = summary["records"].as_u64().unwrap_or(0);
    let wall_s = usage["wall_ms"].as_f64().unwrap_or(0.0) / 1e3;
    let cpu_ms = usage["user_ms"].as_f64().unwrap_or(0.0) + usage["sys_ms"].as_f64().unwrap_or(0.0);
    let peak_rss_mib = round(usage["max_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0, 1);
    if let Some((sizes, warehouses)) = catalogue {
        if rows != (sizes * warehouses) as u64 {
            bail!(
                "the inventory snapshot wrote {rows} rows, the simulator has {}",
                sizes * warehouses
            );
        }
        return Ok(serde_json::json!({
            "sizes": sizes,
            "warehouses": warehouses,
            "rows": rows,
            "wall_s": round(wall_s, 2),
            "rows_per_s": round(rows as f64 / wall_s, 0),
            "cpu_us_per_row": round(cpu_ms * 1e3 / rows as f64, 2),
            "peak_rss_mib": peak_rss_mib,
            "requests": summary["requests"],
        }));
    }
    if records != orders {
        bail!("cartage read {records} orders, the simulator has {orders}");
    }
    Ok(serde_json::json!({
        "orders": orders,
        "rows": rows,
        "wall_s": round(wall_s, 2),
        "orders_per_s": round(orders as f64 / wall_s, 0),
        "rows_per_s": round(rows as f64 / wall_s, 0),
        "cpu_us_per_order": round(cpu_ms * 1e3 / orders as f64, 1),
        "peak_rss_mib": peak_rss_mib,
        "requests": summary["requests"],
    }))
}

fn round(value: f64, digits: i32) -> f64 {
    let factor = 10f64.powi(digits);
    (value * factor).round() / factor
}

fn wait_for_port(addr: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing listens on {addr} after {timeout:?}")
}
