//! Sink configuration: the `sink:` block of a connection.
//!
//! One config struct per sink, each with its own `build()`. [`SinkConfig`]
//! is the tagged union the configuration file holds, and
//! [`SinkConfig::variant`] is the only place that matches on the sink type:
//! everything else asks the variant through [`SinkVariant`].

use std::fmt;

use async_trait::async_trait;
use cartage_core::{Sink, SinkCapabilities};
use serde::Deserialize;

use crate::database::{Backend, DatabaseSink};
use crate::error::SinkError;
use crate::files::FilesConfig;

/// Where a connection's rows go. One variant per sink, tagged by `type`:
///
/// ```yaml
/// sink:
///   type: sqlite
///   url: sqlite://acme.db
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SinkConfig {
    /// An SQLite database file (the embedded default).
    Sqlite(SqliteConfig),
    /// A PostgreSQL database.
    Postgres(PostgresConfig),
    /// A MySQL or MariaDB database.
    Mysql(MysqlConfig),
    /// JSONL, CSV or Parquet files in a directory.
    Files(FilesConfig),
}

/// What every sink config answers, whatever its type.
#[async_trait]
pub trait SinkVariant: Send + Sync {
    /// The `type:` of the sink, e.g. `sqlite`.
    fn kind(&self) -> &'static str;

    /// Where the rows go, fit for logs and errors (no password).
    fn describe(&self) -> String;

    /// What the sink can do, checked against each stream before the run.
    fn capabilities(&self) -> SinkCapabilities;

    /// Opens the sink the pipeline drives.
    async fn build(&self) -> Result<Box<dyn Sink>, cartage_core::Error>;
}

impl SinkConfig {
    /// The variant's own config: the one match on the sink type.
    pub fn variant(&self) -> &dyn SinkVariant {
        match self {
            SinkConfig::Sqlite(c) => c,
            SinkConfig::Postgres(c) => c,
            SinkConfig::Mysql(c) => c,
            SinkConfig::Files(c) => c,
        }
    }

    /// Opens the sink the pipeline drives.
    pub async fn build(&self) -> Result<Box<dyn Sink>, cartage_core::Error> {
        self.variant().build().await
    }

    /// Where the rows go, fit for logs and errors (no password).
    pub fn describe(&self) -> String {
        self.variant().describe()
    }

    /// What the sink can do.
    pub fn capabilities(&self) -> SinkCapabilities {
        self.variant().capabilities()
    }
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.variant();
        f.debug_struct("SinkConfig").field("type", &v.kind()).field("at", &v.describe()).finish()
    }
}

/// `sink: {type: sqlite, url: ...}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    /// `sqlite://path/to/file.db` (relative to the working directory) or
    /// `sqlite:///absolute/path.db`. The file is created if missing unless
    /// the URL sets `mode=`.
    pub url: String,
}

/// `sink: {type: postgres, url: ...}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// `postgres://user[:password]@host[:port]/database[?sslmode=...]`.
    /// Prefer a password from the environment (`${env:...}`) over one
    /// written in the file; it is redacted from every message. Without
    /// `sslmode` (in the URL or `PGSSLMODE`), a server other than this
    /// machine is reached over TLS only (`sslmode=require`).
    pub url: String,
    /// How long a statement waits for a lock before it fails (PostgreSQL
    /// `lock_timeout`); 0 waits forever. Keeps an `ALTER TABLE` queued behind
    /// a long report from blocking every reader of the table meanwhile.
    #[serde(default = "default_lock_timeout_secs")]
    pub lock_timeout_secs: u64,
    /// How long one statement may run before the server cancels it
    /// (PostgreSQL `statement_timeout`); 0 is no limit.
    #[serde(default = "default_statement_timeout_secs")]
    pub statement_timeout_secs: u64,
}

/// `sink: {type: mysql, url: ...}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlConfig {
    /// `mysql://user[:password]@host[:port]/database[?ssl-mode=...]`. The
    /// password is redacted from every message. Without `ssl-mode`, a server
    /// other than this machine is reached over TLS only
    /// (`ssl-mode=REQUIRED`).
    pub url: String,
    /// How long a schema change waits for the table's metadata lock before
    /// it fails (MySQL `lock_wait_timeout`, at least 1 second).
    #[serde(default = "default_lock_timeout_secs")]
    pub lock_timeout_secs: u64,
}

/// 10 seconds: long enough to wait out ordinary writers, short enough that
/// a schema change queued behind a long query does not stall the readers
/// queued behind it for long (PostgreSQL and MySQL queue lock requests).
fn default_lock_timeout_secs() -> u64 {
    10
}

/// 30 minutes: far beyond any commit or snapshot swap seen (seconds for
/// 100,000 orders), yet a statement that hangs does not hold its locks for
/// good.
fn default_statement_timeout_secs() -> u64 {
    30 * 60
}

/// What a database session is set up with, beyond its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionSettings {
    /// 0: no limit.
    pub lock_timeout_secs: u64,
    /// 0: no limit (PostgreSQL only).
    pub statement_timeout_secs: u64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            lock_timeout_secs: default_lock_timeout_secs(),
            statement_timeout_secs: default_statement_timeout_secs(),
        }
    }
}

impl SqliteConfig {
    /// A config for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        SqliteConfig { url: url.into() }
    }

    fn session(&self) -> SessionSettings {
        SessionSettings::default()
    }
}

impl PostgresConfig {
    /// A config for `url`, with the default timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            lock_timeout_secs: default_lock_timeout_secs(),
            statement_timeout_secs: default_statement_timeout_secs(),
        }
    }

    fn session(&self) -> SessionSettings {
        SessionSettings {
            lock_timeout_secs: self.lock_timeout_secs,
            statement_timeout_secs: self.statement_timeout_secs,
        }
    }
}

impl MysqlConfig {
    /// A config for `url`, with the default lock timeout.
    pub fn new(url: impl Into<String>) -> Self {
        MysqlConfig { url: url.into(), lock_timeout_secs: default_lock_timeout_secs() }
    }

    fn session(&self) -> SessionSettings {
        SessionSettings { lock_timeout_secs: self.lock_timeout_secs, statement_timeout_secs: 0 }
    }
}

macro_rules! database_config {
    ($config:ident, $backend:expr, $schemes:expr) => {
        impl $config {
            /// Connects and returns the concrete sink (for
            /// [`DatabaseSink::read_table`]).
            pub async fn connect(&self) -> Result<DatabaseSink, cartage_core::Error> {
                connect_database($backend, $schemes, &self.url, self.session()).await
            }
        }

        #[async_trait]
        impl SinkVariant for $config {
            fn kind(&self) -> &'static str {
                $backend.name()
            }

            fn describe(&self) -> String {
                redact_url(&self.url)
            }

            fn capabilities(&self) -> SinkCapabilities {
                DATABASE_CAPABILITIES
            }

            async fn build(&self) -> Result<Box<dyn Sink>, cartage_core::Error> {
                Ok(Box::new(self.connect().await?))
            }
        }

        impl fmt::Debug for $config {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($config)).field("url", &redact_url(&self.url)).finish()
            }
        }
    };
}

database_config!(SqliteConfig, Backend::Sqlite, &["sqlite:"]);
database_config!(PostgresConfig, Backend::Postgres, &["postgres://", "postgresql://"]);
database_config!(MysqlConfig, Backend::Mysql, &["mysql://"]);

/// Every database sink does everything the [`cartage_core::Sink`] contract
/// describes.
const DATABASE_CAPABILITIES: SinkCapabilities =
    SinkCapabilities { deletions: true, snapshots: true };

async fn connect_database(
    backend: Backend,
    schemes: &[&str],
    url: &str,
    session: SessionSettings,
) -> Result<DatabaseSink, cartage_core::Error> {
    if !schemes.iter().any(|s| url.starts_with(s)) {
        return Err(SinkError::InvalidUrl {
            url: redact_url(url),
            reason: format!(
                "a {} sink needs a url starting with {}",
                backend.name(),
                schemes.join(" or ")
            ),
        }
        .into());
    }
    Ok(DatabaseSink::connect_with(backend, url, session).await?)
}

/// Replaces the password of a URL's userinfo (`user:secret@host`) and any
/// `password=` query parameter with `***`.
///
/// A password may hold characters a URL reserves (`/`, `?`, `#`, `@`),
/// written literally rather than percent-encoded: see the private `userinfo` for how
/// the userinfo is found then. When in doubt, more is hidden, never less.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    let mut query_from = 0;
    if let Some(info) = userinfo(url) {
        query_from = info.end;
        if let Some(colon) = url[info.clone()].find(':') {
            out.replace_range(info.start + colon + 1..info.end, "***");
            query_from = info.start + colon + 1 + "***".len();
        }
    }
    if let Some(q) = out[query_from..].find('?').map(|i| query_from + i) {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// The byte range of a URL's userinfo (`user[:password]`, before the `@`
/// that ends it), if it has one.
///
/// A well-formed URL's authority ends at the first `/`, `?` or `#`, and its
/// userinfo at the authority's last `@`. A password holding one of those
/// characters literally moves the real `@` further on, so when another `@`
/// follows the authority, the userinfo ends instead at the last `@` between
/// a plausible user name and something that looks like a host. That can hide
/// part of a path or query that holds an `@` too, but shows no password.
fn userinfo(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let host_end =
        |from: usize| rest[from..].find(['/', '?', '#']).map_or(rest.len(), |i| from + i);
    let authority_end = host_end(0);
    let in_authority = rest[..authority_end].rfind('@');
    let at = match in_authority {
        Some(at) if !rest[authority_end..].contains('@') => at,
        _ => {
            // A user name holds no reserved character (a password may).
            let plausible = |at: &usize| {
                let user = rest[..*at].split(':').next().unwrap_or_default();
                let host = &rest[at + 1..host_end(at + 1)];
                !user.contains(['/', '?', '#', '[', ']', '@'])
                    && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:[]%".contains(c))
            };
            rest.match_indices('@').map(|(i, _)| i).rev().find(plausible)?
        }
    };
    Some(start..start + at)
}

/// `s` with `%XX` escapes decoded (and, in a query, `+` as a space); `None`
/// when nothing changes or the result is not UTF-8.
fn percent_decoded(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let digit = |j: usize| bytes.get(j).and_then(|&b| char::from(b).to_digit(16));
                if let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) {
                    // Two hex digits: at most 255.
                    out.push((high * 16 + low) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok().filter(|d| d != s)
}

/// The password a URL carries (userinfo or `password=`), as written and
/// percent-decoded (as a driver would echo it), to scrub from driver
/// messages. Longest first, so a password containing another is scrubbed
/// whole.
pub(crate) fn url_passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut query_from = 0;
    if let Some(info) = userinfo(url) {
        query_from = info.end;
        if let Some((_, pw)) = url[info].split_once(':')
            && !pw.is_empty()
        {
            found.extend(percent_decoded(pw, false));
            found.push(pw.to_owned());
        }
    }
    if let Some(q) = url[query_from..].find('?') {
        for pair in url[query_from + q + 1..].split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && k.eq_ignore_ascii_case("password")
            {
                // A literal `#` starts the fragment: the driver sees less.
                let before_fragment = v.split('#').next().unwrap_or(v);
                for v in [v, before_fragment] {
                    found.extend(percent_decoded(v, true));
                    found.push(v.to_owned());
                }
            }
        }
    }
    found.retain(|p| !p.is_empty());
    found.sort_by_key(|p| std::cmp::Reverse(p.len()));
    found.dedup();
    found
}

/// `message` with every password of `url` (see [`url_passwords`]) replaced
/// by `***`.
pub(crate) fn scrub(message: &str, url: &str) -> String {
    let mut message = message.to_owned();
    for pw in url_passwords(url) {
        message = message.replace(&pw, "***");
    }
    message
}

/// Whether a connection to `url` must insist on TLS: the URL names a
/// server other than this machine, and neither the URL (`sslmode`,
/// `ssl-mode`) nor `env_mode` (PostgreSQL's `PGSSLMODE`) chooses a mode.
/// Loopback addresses and Unix sockets carry no traffic across a network.
pub(crate) fn tls_required(url: &str, env_mode: Option<&str>) -> bool {
    if env_mode.is_some_and(|m| !m.trim().is_empty()) {
        return false;
    }
    let Some(scheme_end) = url.find("://") else { return false };
    let after_info = userinfo(url).map_or(scheme_end + 3, |i| i.end + 1);
    let rest = &url[after_info..];
    let authority_end = rest.find(['/', '?', '#']).map_or(rest.len(), |i| i);
    let mut host = host_of(&rest[..authority_end]).to_owned();
    if let Some(q) = rest.find('?') {
        for pair in rest[q + 1..].split(['&', '#']) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k.to_ascii_lowercase().as_str() {
                "sslmode" | "ssl-mode" | "ssl_mode" => return false,
                "host" | "hostaddr" | "socket" => host = v.to_owned(),
                _ => {}
            }
        }
    }
    !is_local_host(&host)
}

/// The host of an authority `host[:port]` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn is_local_host(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']);
    host.is_empty()
        || host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || host.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("%2f"))
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_redact(url: &str, expected: &str) {
        assert_eq!(redact_url(url), expected, "redacting {url}");
    }

    #[test]
    fn redacts_userinfo_and_query_passwords() {
        check_redact(
            "postgres://bob:s3cret@db.example.com:5432/shop",
            "postgres://bob:***@db.example.com:5432/shop",
        );
        check_redact("mysql://root:p%40ss@127.0.0.1/test", "mysql://root:***@127.0.0.1/test");
        check_redact("mysql://a:b@c@host/db", "mysql://a:***@host/db");
        check_redact("postgres://bob@host/db", "postgres://bob@host/db");
        check_redact(
            "postgres://host/db?user=bob&password=hunter2&sslmode=require",
            "postgres://host/db?user=bob&password=***&sslmode=require",
        );
        check_redact("sqlite://acme.db?mode=rwc", "sqlite://acme.db?mode=rwc");
        check_redact("sqlite::memory:", "sqlite::memory:");
    }

    #[test]
    fn finds_passwords_to_scrub() {
        assert_eq!(url_passwords("postgres://bob:s3cret@h/db?password=x2"), vec!["s3cret", "x2"]);
        assert!(url_passwords("postgres://bob@h/db").is_empty());
        // As written and as a driver decodes it.
        assert_eq!(url_passwords("mysql://root:p%40ss%2Fw@h/db"), vec!["p%40ss%2Fw", "p@ss/w"]);
        assert_eq!(url_passwords("postgres://h/db?password=a+b%26c"), vec!["a+b%26c", "a b&c"]);
    }

    /// Regression: a password holding `/`, `?` or `#` literally ended the
    /// authority early, and the rest of it was shown as host and path.
    #[test]
    fn a_password_with_any_reserved_character_is_hidden_raw_and_decoded() {
        let secrets = [
            "Zq/x9",
            "Zq?x9",
            "Zq#x9",
            "Zq@x9",
            "Zq:x9",
            "Zq%40x9",
            "Zq%2Fx9",
            "Zq%3Fx9",
            "Zq%23x9",
            "Zq/a?b#c@d:x9",
            "Zq%25%2F%3F",
        ];
        for secret in secrets {
            for (url, shown) in [
                (
                    format!("postgres://bob:{secret}@db.example.com:5432/shop?sslmode=require"),
                    "postgres://bob:***@db.example.com:5432/shop?sslmode=require",
                ),
                (
                    format!("mysql://root:{secret}@127.0.0.1/test"),
                    "mysql://root:***@127.0.0.1/test",
                ),
                (format!("postgres://[::1]:5432/db?password={secret}"), ""),
            ] {
                let redacted = redact_url(&url);
                if !shown.is_empty() {
                    assert_eq!(redacted, shown, "redacting {url}");
                }
                let passwords = url_passwords(&url);
                let message = format!("driver says: {url} / password {}", passwords.join(" "));
                let scrubbed = scrub(&message, &url);
                for form in passwords.iter().map(String::as_str).chain([secret]) {
                    assert!(!redacted.contains(form), "{form} shown in {redacted}");
                    assert!(!scrubbed.contains(form), "{form} shown in {scrubbed}");
                }
                let decoded = percent_decoded(secret, false).unwrap_or_else(|| secret.to_owned());
                assert!(passwords.contains(&decoded), "{url}: {passwords:?} lacks {decoded}");
            }
        }
        // An `@` in the query after a plain userinfo keeps the host shown.
        check_redact(
            "postgres://bob:pw@h/db?application_name=x",
            "postgres://bob:***@h/db?application_name=x",
        );
    }

    #[test]
    fn tls_is_required_for_other_machines_unless_the_url_or_environment_says_otherwise() {
        let check = |url: &str, env: Option<&str>, expected: bool| {
            assert_eq!(tls_required(url, env), expected, "{url} (PGSSLMODE {env:?})");
        };
        check("postgres://u@db.example.com/x", None, true);
        check("postgres://u:p%40ss@db.example.com:5432/x", None, true);
        check("postgres://u:pa/ss@10.0.0.7/x", None, true);
        check("mysql://u@db.example.com/x", None, true);
        check("postgres://u@[2001:db8::1]:5432/x", None, true);
        check("postgres://u@db.example.com/x?sslmode=disable", None, false);
        check("postgres://u@db.example.com/x?sslmode=verify-full", None, false);
        check("mysql://u@db.example.com/x?ssl-mode=DISABLED", None, false);
        check("postgres://u@db.example.com/x", Some("disable"), false);
        check("postgres://u@db.example.com/x", Some(""), true);
        // This machine: loopback addresses and Unix sockets.
        for local in [
            "postgres://u@localhost/x",
            "postgres://u@127.0.0.1:5432/x",
            "postgres://u@127.0.0.2/x",
            "postgres://u@[::1]:5432/x",
            "postgres:///x",
            "postgres://%2Fvar%2Frun%2Fpostgresql/x",
            "postgres://u@db.example.com/x?host=/var/run/postgresql",
            "mysql://root@127.0.0.1:3306/test",
            "mysql://root@localhost/test?socket=/run/mysqld/mysqld.sock",
        ] {
            check(local, None, false);
        }
        // A host given in the query is the one connected to.
        check("postgres://u@localhost/x?host=db.example.com", None, true);
    }

    #[test]
    fn timeouts_have_named_defaults_and_can_be_set() {
        let c: SinkConfig =
            serde_json::from_str(r#"{"type":"postgres","url":"postgres://h/db"}"#).expect("valid");
        let SinkConfig::Postgres(pg) = c else { panic!("a postgres config") };
        assert_eq!((pg.lock_timeout_secs, pg.statement_timeout_secs), (10, 1800));
        let c: SinkConfig = serde_json::from_str(
            r#"{"type":"postgres","url":"postgres://h/db","lock_timeout_secs":2,"statement_timeout_secs":0}"#,
        )
        .expect("valid");
        let SinkConfig::Postgres(pg) = c else { panic!("a postgres config") };
        assert_eq!(
            pg.session(),
            SessionSettings { lock_timeout_secs: 2, statement_timeout_secs: 0 }
        );
        let c: SinkConfig =
            serde_json::from_str(r#"{"type":"mysql","url":"mysql://h/db","lock_timeout_secs":3}"#)
                .expect("valid");
        let SinkConfig::Mysql(my) = c else { panic!("a mysql config") };
        assert_eq!(my.session().lock_timeout_secs, 3);
    }

    #[test]
    fn config_parses_tagged_and_rejects_unknown_fields() {
        let c: SinkConfig = serde_json::from_str(r#"{"type":"sqlite","url":"sqlite://acme.db"}"#)
            .expect("valid config");
        assert_eq!(c, SinkConfig::Sqlite(SqliteConfig::new("sqlite://acme.db")));
        let c: SinkConfig =
            serde_json::from_str(r#"{"type":"mysql","url":"mysql://root@127.0.0.1/test"}"#)
                .expect("valid config");
        assert_eq!(c.variant().kind(), "mysql");
        let e = serde_json::from_str::<SinkConfig>(
            r#"{"type":"postgres","url":"postgres://h/db","pool":3}"#,
        )
        .expect_err("unknown field");
        assert!(e.to_string().contains("unknown field `pool`"), "{e}");
        let e = serde_json::from_str::<SinkConfig>(r#"{"type":"oracle","url":"x"}"#)
            .expect_err("unknown type");
        assert!(e.to_string().contains("unknown variant `oracle`"), "{e}");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let c = SinkConfig::Postgres(PostgresConfig::new("postgres://bob:s3cret@h/db"));
        for shown in [
            format!("{c:?}"),
            c.describe(),
            format!("{:?}", PostgresConfig::new("postgres://bob:s3cret@h/db")),
        ] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("bob:***@h/db"), "{shown}");
        }
    }

    #[tokio::test]
    async fn a_url_of_the_wrong_scheme_is_a_config_error() {
        let c = SinkConfig::Postgres(PostgresConfig::new("mysql://root:pw@127.0.0.1/test"));
        let e = c.build().await.map(|_| ()).expect_err("wrong scheme");
        assert_eq!(e.kind(), cartage_core::ErrorKind::Config);
        assert_eq!(
            e.to_string(),
            "configuration error: invalid sink url mysql://root:***@127.0.0.1/test: a postgres sink needs a url starting with postgres:// or postgresql://"
        );
    }
}
