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
    /// written in the file; it is redacted from every message.
    pub url: String,
}

/// `sink: {type: mysql, url: ...}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MysqlConfig {
    /// `mysql://user[:password]@host[:port]/database`. The password is
    /// redacted from every message.
    pub url: String,
}

macro_rules! database_config {
    ($config:ident, $backend:expr, $schemes:expr) => {
        impl $config {
            /// A config for `url`.
            pub fn new(url: impl Into<String>) -> Self {
                $config { url: url.into() }
            }

            /// Connects and returns the concrete sink (for
            /// [`DatabaseSink::read_table`]).
            pub async fn connect(&self) -> Result<DatabaseSink, cartage_core::Error> {
                connect_database($backend, $schemes, &self.url).await
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
    Ok(DatabaseSink::connect(backend, url).await?)
}

/// Replaces the password of a URL's userinfo (`user:secret@host`) and any
/// `password=` query parameter with `***`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end =
            out[auth_start..].find(['/', '?', '#']).map_or(out.len(), |i| auth_start + i);
        if let Some(at) = out[auth_start..auth_end].rfind('@') {
            let userinfo = auth_start..auth_start + at;
            if let Some(colon) = out[userinfo.clone()].find(':') {
                out.replace_range(userinfo.start + colon + 1..userinfo.end, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
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

/// The password a URL carries (userinfo or `password=`), to scrub it from
/// driver messages that might echo it.
pub(crate) fn url_passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let auth = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some(at) = auth.rfind('@')
            && let Some((_, pw)) = auth[..at].split_once(':')
            && !pw.is_empty()
        {
            found.push(pw.to_owned());
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=')
                && k.eq_ignore_ascii_case("password")
                && !v.is_empty()
            {
                found.push(v.to_owned());
            }
        }
    }
    found
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
