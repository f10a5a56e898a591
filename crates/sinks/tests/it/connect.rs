//! Connection errors: clear, one line, naming the URL without its password.

use cartage_core::ErrorKind;
use cartage_sinks::SinkConfig;

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

#[tokio::test]
async fn postgres_error_hides_the_password() {
    // A real server refusing a database that does not exist.
    let url = "postgres://postgres:hunter2-pg-secret@127.0.0.1:5432/cartage_no_such_database";
    let e = connect_error(SinkConfig::Postgres { url: url.into() }).await;
    assert_redacted(
        &e,
        "hunter2-pg-secret",
        "cannot connect to postgres://postgres:***@127.0.0.1:5432/cartage_no_such_database: ",
    );
}

#[tokio::test]
async fn mysql_error_hides_the_password() {
    // A real server refusing a user that does not exist.
    let url = "mysql://cartage_nobody:hunter2-my-secret@127.0.0.1:3306/test";
    let e = connect_error(SinkConfig::Mysql { url: url.into() }).await;
    assert_redacted(
        &e,
        "hunter2-my-secret",
        "cannot connect to mysql://cartage_nobody:***@127.0.0.1:3306/test: ",
    );
}

#[tokio::test]
async fn unreachable_server_error_hides_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("postgres://bob:hunter2-down@127.0.0.1:{port}/db?password=hunter2-down");
    let e = connect_error(SinkConfig::Postgres { url }).await;
    let text = e.to_string();
    assert!(!text.contains("hunter2-down"), "the password leaked: {text}");
    assert!(text.contains(&format!("bob:***@127.0.0.1:{port}/db?password=***")), "{text}");
}

#[tokio::test]
async fn sqlite_error_names_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/missing-dir/acme.db", dir.path().display());
    let e = connect_error(SinkConfig::Sqlite { url: url.clone() }).await;
    assert!(e.to_string().starts_with(&format!("sink error: cannot connect to {url}: ")), "{e}");
}
