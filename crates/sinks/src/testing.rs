//! Throwaway test databases (feature `testing`): a temporary SQLite file, or
//! a fresh, uniquely named database on a PostgreSQL or MariaDB/MySQL server,
//! dropped again when the [`TestDatabase`] is dropped.
//!
//! Server discovery, per backend:
//! 1. `CARTAGE_TEST_POSTGRES_URL` / `CARTAGE_TEST_MYSQL_URL` if set (an admin
//!    URL: a user that may create databases); it must answer.
//! 2. Otherwise the local defaults `postgres://postgres@127.0.0.1:5432/test`
//!    (then user `root`) and `mysql://root@127.0.0.1:3306/test`.
//! 3. Otherwise a throwaway server started from the installed binaries
//!    (`initdb` + `postgres` from `/usr/lib/postgresql/*/bin`;
//!    `mariadb-install-db` + `mariadbd`) in a temporary directory on a free
//!    port, shared by the whole test process and stopped when it exits.
//!    `CARTAGE_TEST_THROWAWAY_SERVER=1` skips steps 1 and 2 (to test step 3).
//!
//! If all fail the test panics saying what to install. Tests never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use tokio::sync::OnceCell;

use crate::config::{MysqlConfig, PostgresConfig, SqliteConfig};
use crate::{Backend, DatabaseSink, SinkConfig};

/// A database that exists for one test.
pub struct TestDatabase {
    config: SinkConfig,
    url: String,
    kind: Kind,
}

enum Kind {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Server { backend: Backend, admin_url: String, name: String },
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase").field("config", &self.config).finish()
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "cartage_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000
    )
}

impl TestDatabase {
    /// A fresh SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("creating a temporary directory for a test database");
        let path = dir.path().join("test.db");
        let url = format!("sqlite://{}", path.display());
        let config = SinkConfig::Sqlite(SqliteConfig::new(url.clone()));
        TestDatabase { config, url, kind: Kind::Sqlite { _dir: dir, path } }
    }

    /// A fresh database on a PostgreSQL server.
    pub async fn postgres() -> Self {
        Self::on_server(Backend::Postgres).await
    }

    /// A fresh database on a MariaDB/MySQL server.
    pub async fn mysql() -> Self {
        Self::on_server(Backend::Mysql).await
    }

    /// A fresh database of the given backend.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::sqlite(),
            other => Self::on_server(other).await,
        }
    }

    async fn on_server(backend: Backend) -> Self {
        let admin_url = server_url(backend).await;
        let name = unique_name();
        let admin = connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test server {admin_url}: {e}"));
        let sql = match backend {
            Backend::Postgres => format!(r#"CREATE DATABASE "{name}""#),
            _ => format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
        };
        admin
            .execute_unprepared(&sql)
            .await
            .unwrap_or_else(|e| panic!("creating test database {name} on {admin_url}: {e}"));
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        let config = match backend {
            Backend::Postgres => SinkConfig::Postgres(PostgresConfig::new(url.clone())),
            _ => SinkConfig::Mysql(MysqlConfig::new(url.clone())),
        };
        TestDatabase { config, url, kind: Kind::Server { backend, admin_url, name } }
    }

    /// The sink configuration pointing at this database.
    pub fn config(&self) -> &SinkConfig {
        &self.config
    }

    /// The database URL (no password for the local defaults).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file, for a SQLite test database.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Sqlite { path, .. } => Some(path),
            Kind::Server { .. } => None,
        }
    }

    pub fn backend(&self) -> Backend {
        match &self.kind {
            Kind::Sqlite { .. } => Backend::Sqlite,
            Kind::Server { backend, .. } => *backend,
        }
    }

    /// Connects a sink to this database (panics on failure: it is a test).
    pub async fn sink(&self) -> DatabaseSink {
        DatabaseSink::connect(self.backend(), &self.url)
            .await
            .unwrap_or_else(|e| panic!("connecting to test database {}: {e}", self.url()))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Kind::Server { backend, admin_url, name } = &self.kind else { return };
        let sql = match backend {
            Backend::Postgres => format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#),
            _ => format!("DROP DATABASE IF EXISTS `{name}`"),
        };
        let admin_url = admin_url.clone();
        // Drop runs inside the test's runtime; a thread with its own runtime
        // can block on the async driver without upsetting it.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let Ok(rt) = rt else { return };
            rt.block_on(async {
                if let Ok(admin) = connect(&admin_url).await {
                    if let Err(e) = admin.execute_unprepared(&sql).await {
                        eprintln!("cleaning up a test database: {sql}: {e}");
                    }
                    let _ = admin.close().await;
                }
            });
        })
        .join();
        if dropped.is_err() {
            eprintln!("cleaning up test database {name} panicked");
        }
    }
}

async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10));
    let db = Database::connect(opts).await?;
    db.execute_unprepared("SELECT 1").await?;
    Ok(db)
}

/// `url` with its database (path) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let auth_start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[auth_start..].find('/').map_or(url.len(), |i| auth_start + i);
    let query = url[path_start..].find('?').map_or("", |i| &url[path_start + i..]);
    format!("{}/{name}{query}", &url[..path_start])
}

static POSTGRES: OnceCell<Result<String, String>> = OnceCell::const_new();
static MYSQL: OnceCell<Result<String, String>> = OnceCell::const_new();

/// The admin URL of a server for `backend`, found or started once per process.
async fn server_url(backend: Backend) -> String {
    let cell = match backend {
        Backend::Postgres => &POSTGRES,
        _ => &MYSQL,
    };
    match cell.get_or_init(|| discover(backend)).await {
        Ok(url) => url.clone(),
        Err(message) => panic!("{message}"),
    }
}

async fn discover(backend: Backend) -> Result<String, String> {
    let (env, defaults, install): (&str, &[&str], &str) = match backend {
        Backend::Postgres => (
            "CARTAGE_TEST_POSTGRES_URL",
            &["postgres://postgres@127.0.0.1:5432/test", "postgres://root@127.0.0.1:5432/test"],
            "apt-get install postgresql",
        ),
        _ => (
            "CARTAGE_TEST_MYSQL_URL",
            &["mysql://root@127.0.0.1:3306/test"],
            "apt-get install mariadb-server",
        ),
    };
    let force_throwaway = std::env::var("CARTAGE_TEST_THROWAWAY_SERVER").is_ok_and(|v| v == "1");
    if !force_throwaway {
        if let Ok(url) = std::env::var(env) {
            return match connect(&url).await {
                Ok(db) => {
                    let _ = db.close().await;
                    Ok(url)
                }
                Err(e) => Err(format!(
                    "{env} is set but its server does not answer ({}): {e}",
                    crate::redact_url(&url)
                )),
            };
        }
        let mut failures = Vec::new();
        for url in defaults {
            match connect(url).await {
                Ok(db) => {
                    let _ = db.close().await;
                    return Ok((*url).to_owned());
                }
                Err(e) => failures.push(format!("{url}: {e}")),
            }
        }
        eprintln!(
            "no {} server answered ({}); starting a throwaway one",
            backend.name(),
            failures.join("; ")
        );
    }
    let started = tokio::task::spawn_blocking(move || match backend {
        Backend::Postgres => start_postgres(),
        _ => start_mariadb(),
    })
    .await
    .map_err(|e| format!("starting a throwaway {} server panicked: {e}", backend.name()))
    .and_then(|r| r);
    let url = started.map_err(|e| {
        format!(
            "no {} server for the tests: none answered and a throwaway one could not be started: {e}. \
             Install one (`{install}`) or set {env}",
            backend.name()
        )
    })?;
    // The server takes a moment to accept connections.
    let mut last = String::new();
    for _ in 0..100 {
        match connect(&url).await {
            Ok(db) => {
                let _ = db.close().await;
                return Ok(url);
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("the throwaway {} server at {url} never answered: {last}", backend.name()))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("finding a free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| format!("finding a free port: {e}"))
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("running {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A temporary directory that outlives the test process's statics; the
/// server's watchdog removes it after stopping the server.
fn server_dir(prefix: &str) -> Result<PathBuf, String> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(|e| format!("creating a server directory: {e}"))?;
    Ok(dir.keep())
}

/// Runs `server` (a shell command line) in the background under a watchdog
/// that stops it when this process exits.
fn spawn_watched(server: &str, dir: &Path) -> Result<(), String> {
    let script = format!(
        "{server} & child=$!; while kill -0 {parent} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 1; done; kill $child 2>/dev/null; wait $child; rm -rf {dir}",
        parent = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| format!("starting the server: {e}"))
}

fn start_postgres() -> Result<String, String> {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL binaries in /usr/lib/postgresql: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists() && p.join("postgres").exists())
        .collect();
    bins.sort();
    let bin = bins.pop().ok_or("no initdb and postgres under /usr/lib/postgresql/*/bin")?;
    let dir = server_dir("cartage-pg-")?;
    let data = dir.join("data");
    let port = free_port()?;
    // PostgreSQL refuses to run as root: run it as the `postgres` user.
    let as_user = if is_root() {
        run(
            Command::new("chown").arg("-R").arg("postgres").arg(&dir),
            "chown of the server directory",
        )?;
        "runuser -u postgres -- "
    } else {
        ""
    };
    run(
        Command::new("sh").arg("-c").arg(format!(
            "{as_user}{} -D {} -U postgres --auth=trust --no-sync -E UTF8",
            bin.join("initdb").display(),
            data.display()
        )),
        "initdb",
    )?;
    spawn_watched(
        &format!(
            "{as_user}{} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            bin.join("postgres").display(),
            data.display(),
            dir.display()
        ),
        &dir,
    )?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

fn start_mariadb() -> Result<String, String> {
    let find = |names: &[&str]| -> Option<String> {
        names.iter().find_map(|n| {
            ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
                .iter()
                .map(|d| Path::new(d).join(n))
                .find(|p| p.exists())
                .map(|p| p.display().to_string())
        })
    };
    let install = find(&["mariadb-install-db", "mysql_install_db"])
        .ok_or("no mariadb-install-db or mysql_install_db")?;
    let server = find(&["mariadbd", "mysqld"]).ok_or("no mariadbd or mysqld")?;
    let dir = server_dir("cartage-mariadb-")?;
    let data = dir.join("data");
    let port = free_port()?;
    let user = if is_root() { "--user=root" } else { "" };
    run(
        Command::new("sh").arg("-c").arg(format!(
            "{install} --no-defaults {user} --datadir={} --auth-root-authentication-method=normal --skip-test-db",
            data.display()
        )),
        "mariadb-install-db",
    )?;
    spawn_watched(
        &format!(
            "{server} --no-defaults {user} --datadir={data} --port={port} --socket={sock} --bind-address=127.0.0.1 --pid-file={pid} --skip-log-bin --innodb-flush-log-at-trx-commit=2",
            data = data.display(),
            sock = dir.join("mysqld.sock").display(),
            pid = dir.join("mysqld.pid").display(),
        ),
        &dir,
    )?;
    Ok(format!("mysql://root@127.0.0.1:{port}/mysql"))
}

/// The sinks the conformance suite runs every scenario on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkUnderTest {
    Sqlite,
    Postgres,
    Mysql,
    Jsonl,
    Csv,
    Parquet,
}

/// A throwaway sink of any kind, with a way to read back what it holds, for
/// tests that every sink must pass alike.
#[derive(Debug)]
pub struct TestSink {
    inner: TestSinkInner,
}

#[derive(Debug)]
enum TestSinkInner {
    Database(TestDatabase),
    Files { _dir: tempfile::TempDir, config: SinkConfig, files: crate::FilesConfig },
}

impl From<TestDatabase> for TestSink {
    fn from(db: TestDatabase) -> Self {
        TestSink { inner: TestSinkInner::Database(db) }
    }
}

impl TestSink {
    /// A fresh, empty sink of the given kind.
    pub async fn new(which: SinkUnderTest) -> Self {
        let inner = match which {
            SinkUnderTest::Sqlite => TestSinkInner::Database(TestDatabase::sqlite()),
            SinkUnderTest::Postgres => TestSinkInner::Database(TestDatabase::postgres().await),
            SinkUnderTest::Mysql => TestSinkInner::Database(TestDatabase::mysql().await),
            SinkUnderTest::Jsonl => Self::files(crate::FileFormat::Jsonl),
            SinkUnderTest::Csv => Self::files(crate::FileFormat::Csv),
            SinkUnderTest::Parquet => Self::files(crate::FileFormat::Parquet),
        };
        TestSink { inner }
    }

    fn files(format: crate::FileFormat) -> TestSinkInner {
        let dir = tempfile::tempdir().expect("creating a temporary directory for a file sink");
        // Small row groups, so that tests write files of several.
        let files =
            crate::FilesConfig { path: dir.path().join("out"), format, row_group_rows: 1_000 };
        TestSinkInner::Files { _dir: dir, config: SinkConfig::Files(files.clone()), files }
    }

    /// The `sink:` configuration pointing at this sink.
    pub fn config(&self) -> &SinkConfig {
        match &self.inner {
            TestSinkInner::Database(db) => db.config(),
            TestSinkInner::Files { config, .. } => config,
        }
    }

    /// The database behind it, for a database sink.
    pub fn database(&self) -> Option<&TestDatabase> {
        match &self.inner {
            TestSinkInner::Database(db) => Some(db),
            TestSinkInner::Files { .. } => None,
        }
    }

    /// The file sink's configuration, for a file sink.
    pub fn files_config(&self) -> Option<&crate::FilesConfig> {
        match &self.inner {
            TestSinkInner::Database(_) => None,
            TestSinkInner::Files { files, .. } => Some(files),
        }
    }

    /// Opens the sink as the pipeline does (panics on failure: it is a test).
    pub async fn sink(&self) -> Box<dyn cartage_core::Sink> {
        self.config()
            .build()
            .await
            .unwrap_or_else(|e| panic!("opening the test sink {:?}: {e}", self.config()))
    }

    /// The `sink:` block of a configuration file for this sink (its lines
    /// after `sink:`, unindented).
    pub fn yaml(&self) -> String {
        match &self.inner {
            TestSinkInner::Database(db) => {
                format!("type: {}\nurl: {}\n", db.backend().name(), db.url())
            }
            TestSinkInner::Files { files, .. } => format!(
                "type: files\npath: {}\nformat: {}\nrow_group_rows: {}\n",
                files.path.display(),
                files.format.extension(),
                files.row_group_rows
            ),
        }
    }

    /// Every row of `tenant` in a table as the sink's readers see it (see
    /// [`DatabaseSink::read_table`]), read through a new connection.
    pub async fn read_table(
        &self,
        schema: &cartage_core::TableSchema,
        tenant: &str,
    ) -> Vec<crate::StoredRow> {
        self.try_read_table(schema, tenant)
            .await
            .unwrap_or_else(|e| panic!("reading table {}: {e}", schema.name))
    }

    /// [`TestSink::read_table`], or the error (e.g. no such table yet).
    pub async fn try_read_table(
        &self,
        schema: &cartage_core::TableSchema,
        tenant: &str,
    ) -> Result<Vec<crate::StoredRow>, cartage_core::Error> {
        match &self.inner {
            TestSinkInner::Database(db) => {
                let sink = db.sink().await;
                let rows = sink.read_table(schema, tenant).await;
                let _ = sink.close().await;
                rows
            }
            TestSinkInner::Files { files, .. } => {
                crate::files::read_table(files, schema, tenant).await
            }
        }
    }
}

/// Whether this process's TCP socket on local port `port` has
/// `TCP_NODELAY` (`None`: no such socket, or not Linux): the sinks set it on
/// their PostgreSQL and MySQL connections (see `database::nodelay`).
pub fn tcp_nodelay_on_local_port(port: u16) -> Option<bool> {
    crate::database::nodelay::nodelay_on_local_port(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_database_replaces_only_the_path() {
        assert_eq!(with_database("postgres://u@h:1/test", "x"), "postgres://u@h:1/x");
        assert_eq!(with_database("mysql://root@h", "x"), "mysql://root@h/x");
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name(), unique_name());
    }
}
