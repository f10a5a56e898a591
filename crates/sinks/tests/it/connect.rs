//! Connection errors: clear, one line, naming the URL without its password.

use cartage_core::ErrorKind;
use cartage_sinks::Backend;
use cartage_sinks::SinkConfig;
use cartage_sinks::config::{MysqlConfig, PostgresConfig, SqliteConfig};
use cartage_sinks::testing::{TestDatabase, tcp_nodelay_on_local_port};

async fn connect_error(config: SinkConfig) -> cartage_core::Error {
    match config.build().await {
        Ok(_) => panic!("connecting to {config:?} should fail"),
        Err(e) => e,
    }
}

fn assert_redacted(e: &cartage_core::Error, secret: &str, shown_url: &str) {
    let text = e.to_string();
    assert!(!text.contains(secret), "the password leaked: {text}");
    assert!(!format!("{e:?}").contains(secret), "the password leaked: {e:?}");
    assert!(text.contains(shown_url), "{text} does not name {shown_url}");
    assert!(!text.contains('\n'), "not one line: {text}");
    assert_eq!(e.kind(), ErrorKind::Sink, "{text}");
}

/// `scheme://user@host:port/db` -> (`scheme://`, `host:port`).
fn split_url(url: &str) -> (&str, &str) {
    let (scheme, rest) = url.split_once("://").expect("a server url");
    let rest = rest.split_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().expect("a host");
    (&url[..scheme.len() + 3], host)
}

#[tokio::test]
async fn postgres_error_hides_the_password() {
    // A real server refusing a database that does not exist.
    let db = TestDatabase::postgres().await;
    let (scheme, host) = split_url(db.url());
    let url = format!("{scheme}postgres:hunter2-pg-secret@{host}/cartage_no_such_database");
    let e = connect_error(SinkConfig::Postgres(PostgresConfig::new(url))).await;
    assert_redacted(
        &e,
        "hunter2-pg-secret",
        &format!("cannot connect to {scheme}postgres:***@{host}/cartage_no_such_database: "),
    );
}

#[tokio::test]
async fn mysql_error_hides_the_password() {
    // A real server refusing a user that does not exist.
    let db = TestDatabase::mysql().await;
    let (scheme, host) = split_url(db.url());
    let url = format!("{scheme}cartage_nobody:hunter2-my-secret@{host}/test");
    let e = connect_error(SinkConfig::Mysql(MysqlConfig::new(url))).await;
    assert_redacted(
        &e,
        "hunter2-my-secret",
        &format!("cannot connect to {scheme}cartage_nobody:***@{host}/test: "),
    );
}

#[tokio::test]
async fn unreachable_server_error_hides_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://bob:hunter2-down@127.0.0.1:{port}/db?password=hunter2-down");
    let e = connect_error(SinkConfig::Postgres(PostgresConfig::new(url))).await;
    let text = e.to_string();
    assert!(!text.contains("hunter2-down"), "the password leaked: {text}");
    assert!(text.contains(&format!("bob:***@127.0.0.1:{port}/db?password=***")), "{text}");
}

#[tokio::test]
async fn sqlite_error_names_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/missing-dir/acme.db", dir.path().display());
    let e = connect_error(SinkConfig::Sqlite(SqliteConfig::new(url.clone()))).await;
    assert!(e.to_string().starts_with(&format!("sink error: cannot connect to {url}: ")), "{e}");
}

/// Passwords holding each character a URL reserves, literally or
/// percent-encoded; each ends in `x9-secret`, which no message may show.
const AWKWARD_PASSWORDS: &[&str] = &[
    "Zq/x9-secret",
    "Zq?x9-secret",
    "Zq#x9-secret",
    "Zq@x9-secret",
    "Zq:x9-secret",
    "Zq%40x9-secret",
    "Zq%2Fx9-secret",
    "Zq%3F%23%3Ax9-secret",
];

fn assert_hidden(e: &cartage_core::Error, url: &str, shown: &str) {
    let text = e.to_string();
    for shown_text in [text.clone(), format!("{e:?}")] {
        assert!(!shown_text.contains("x9-secret"), "the password of {url} leaked: {shown_text}");
        assert!(!shown_text.contains("Zq"), "part of the password of {url} leaked: {shown_text}");
    }
    assert!(text.contains(shown), "{text} does not name {shown}");
    assert!(!text.contains('\n'), "not one line: {text}");
}

/// Regression: a literal `/`, `?` or `#` in a password ended the URL's
/// authority early in the redaction, and the rest of the password was shown.
#[tokio::test]
async fn postgres_error_hides_a_password_whatever_characters_it_holds() {
    let db = TestDatabase::postgres().await;
    let (scheme, host) = split_url(db.url());
    for secret in AWKWARD_PASSWORDS {
        let url = format!("{scheme}postgres:{secret}@{host}/cartage_no_such_database");
        let e = connect_error(SinkConfig::Postgres(PostgresConfig::new(url.clone()))).await;
        assert_hidden(&e, &url, &format!("cannot connect to {scheme}postgres:***@{host}/"));
        let url = format!("{scheme}postgres@{host}/cartage_no_such_database?password={secret}");
        let e = connect_error(SinkConfig::Postgres(PostgresConfig::new(url.clone()))).await;
        assert_hidden(&e, &url, "password=***");
    }
}

#[tokio::test]
async fn mysql_error_hides_a_password_whatever_characters_it_holds() {
    let db = TestDatabase::mysql().await;
    let (scheme, host) = split_url(db.url());
    for secret in AWKWARD_PASSWORDS {
        let url = format!("{scheme}cartage_nobody:{secret}@{host}/test");
        let e = connect_error(SinkConfig::Mysql(MysqlConfig::new(url.clone()))).await;
        assert_hidden(&e, &url, &format!("cannot connect to {scheme}cartage_nobody:***@{host}/"));
    }
}

#[tokio::test]
async fn a_loopback_server_without_sslmode_connects_without_tls() {
    // The local test servers offer no TLS: requiring it would fail here.
    for db in [TestDatabase::postgres().await, TestDatabase::mysql().await] {
        assert!(!db.url().contains("ssl"), "{}", db.url());
        db.config().build().await.unwrap_or_else(|e| panic!("connecting to {}: {e}", db.url()));
    }
}

/// The client port of one of the sink's connections, as the server sees it.
async fn client_port(sink: &cartage_sinks::DatabaseSink, backend: Backend) -> u16 {
    use sea_orm::ConnectionTrait;
    let sql = match backend {
        Backend::Postgres => "SELECT inet_client_port()::TEXT AS port",
        _ => "SELECT host AS port FROM information_schema.processlist WHERE id = CONNECTION_ID()",
    };
    let row = sink
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sink.connection().get_database_backend(),
            sql,
        ))
        .await
        .expect("client port query")
        .expect("a row");
    let text: String = row.try_get_by_index(0).expect("port text");
    let port = text.rsplit_once(':').map_or(text.as_str(), |(_, p)| p);
    port.parse().unwrap_or_else(|e| panic!("client port {text:?}: {e}"))
}

/// Without `TCP_NODELAY`, every statement longer than a TCP segment waits
/// up to 40 ms for the server's delayed ACK (sqlx 0.9.0 does not set it).
#[tokio::test]
async fn server_connections_do_not_wait_for_delayed_acks() {
    for backend in [Backend::Postgres, Backend::Mysql] {
        let db = TestDatabase::new(backend).await;
        let sink = db.sink().await;
        let port = client_port(&sink, backend).await;
        assert_eq!(
            tcp_nodelay_on_local_port(port),
            Some(true),
            "{backend:?}: the connection on local port {port} has Nagle's algorithm on"
        );
        let _ = sink.close().await;
    }
}

/// A prepared statement's generic plan, made while a table was small, would
/// scan the whole table for every batch once it is large: the sink's
/// PostgreSQL sessions plan each execution.
#[tokio::test]
async fn postgres_sessions_plan_each_execution() {
    use sea_orm::ConnectionTrait;
    let db = TestDatabase::new(Backend::Postgres).await;
    let sink = db.sink().await;
    let row = sink
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT current_setting('plan_cache_mode')",
        ))
        .await
        .expect("setting query")
        .expect("a row");
    let mode: String = row.try_get_by_index(0).expect("text");
    assert_eq!(mode, "force_custom_plan");
    let _ = sink.close().await;
}

/// The commits run on a connection of their own, which an in-memory
/// database (gone with its connection) cannot share: refused, saying so.
#[tokio::test]
async fn an_in_memory_sqlite_database_is_refused() {
    let e = connect_error(SinkConfig::Sqlite(SqliteConfig::new("sqlite::memory:"))).await;
    let text = e.to_string();
    assert!(text.contains("in-memory database cannot be a sink"), "{text}");
    assert_eq!(e.kind(), ErrorKind::Sink, "{text}");
}
