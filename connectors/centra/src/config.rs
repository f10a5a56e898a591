//! The Centra source's configuration, and its validation into a source.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use cartage_core::Secret;
use reqwest::Url;
use serde::{Deserialize, Deserializer};

use crate::budget::{Budget, TierQuotas};
use crate::client::{CentraClient, ClientOptions};
use crate::error::CentraError;
use crate::source::CentraSource;
use crate::window::WindowPolicy;
use cartage_http_source::RetryPolicy;

/// The `source:` block of a connection with `type: centra`.
///
/// ```yaml
/// endpoint: https://acme.centra.com/graphql
/// token: ${env:ACME_CENTRA_TOKEN}
/// tier: growth
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentraConfig {
    /// The GraphQL endpoint, e.g. `https://acme.centra.com/graphql`. Must be
    /// `https` unless the host is a loopback address.
    pub endpoint: String,
    /// The Integration API token. Reference it (`${env:NAME}`,
    /// `${file:/path}`); the runner resolves the reference. Never printed.
    #[serde(deserialize_with = "deserialize_secret")]
    pub token: Secret,
    /// The environment's rate-limit tier: sizes the client-side budget until
    /// the first `rateLimits` calibration reports the real quotas.
    #[serde(default)]
    pub tier: Tier,
    /// The fraction (0 < share <= 1) of the tier's limits this sync may use;
    /// leave the rest to the brand's other integrations. It must leave at
    /// least one request per 10 s (growth: share >= 1/60).
    #[serde(default = "default_budget_share")]
    pub budget_share: f64,
    /// Orders per page (1..=200).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// How far before the stored cursor an incremental read starts, in seconds.
    #[serde(default = "default_lookback_secs")]
    pub lookback_secs: u64,
    /// The Centra instance's time zone, an IANA name: the date filters are
    /// sent as naive wall-clock time in it (`2026-10-25 02:30:00`), the form
    /// Centra documents, so they mean the same instant whether or not Centra
    /// honours an offset. `window.rs` has the DST handling.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// How far the server's `Date` header may be from the local clock, in
    /// seconds, and still bound an `updatedAt` window. Beyond it (or
    /// without a `Date`), `orders` reads an open-ended window with the
    /// cursor from the largest `updatedAt` read, and `purchase_orders`
    /// fails with an error saying so.
    #[serde(default = "default_max_clock_skew_secs")]
    pub max_clock_skew_secs: u64,
    /// Timeout of one HTTP request, body included, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Timeout for establishing a connection, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Retries of a request after a retriable failure (5xx, timeout, cut
    /// connection, unparseable body). Waits on HTTP 429 do not count.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// The longest backoff between two retries, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// The largest response body read, in MiB after decompression: a
    /// larger one (a broken server, a compressed bomb) fails the request
    /// with an error naming the limit instead of exhausting memory.
    #[serde(default = "default_max_response_mib")]
    pub max_response_mib: u64,
    /// The longest wait an HTTP 429's `Retry-After` may impose, in seconds.
    /// A longer value (a broken header: 10^22 s, a date centuries ahead) is
    /// capped with a warning, and the request is sent again after the cap.
    #[serde(default = "default_max_retry_after_secs")]
    pub max_retry_after_secs: u64,
    /// Marks orders deleted in Centra as deleted (`_deleted_at`), from
    /// Centra's `Order` `DELETED` events. Off by default: Centra must have
    /// enabled events for the environment, the token needs `Event:read` and
    /// `Event:write`, and its integration name must be Cartage's alone (one
    /// event queue per integration name: another reader would take the
    /// events). ARCHITECTURE.md, "Deleted orders", has the design.
    #[serde(default)]
    pub track_deletions: bool,
    /// How often the `inventory` stream takes a full snapshot of stock, in
    /// seconds; runs in between re-read only the sizes that can have
    /// changed (see ARCHITECTURE.md, "Inventory").
    #[serde(default = "default_inventory_snapshot_interval_secs")]
    pub inventory_snapshot_interval_secs: u64,
}

/// Centra's rate-limit tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// 60 requests and 250k complexity per 10 s; 5k requests and 30M per hour.
    #[default]
    Growth,
    /// 150 requests and 0.9M complexity per 10 s; 20k and 90M per hour.
    Enhanced,
    /// 450 requests and 1.8M complexity per 10 s; 40k and 180M per hour.
    HighVolume,
    /// 1.5k requests and 4M complexity per 10 s; 85k and 400M per hour.
    Enterprise,
}

impl Tier {
    /// The tier's name as configured.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Growth => "growth",
            Tier::Enhanced => "enhanced",
            Tier::HighVolume => "high-volume",
            Tier::Enterprise => "enterprise",
        }
    }

    /// The tier's request and complexity quotas.
    pub fn quotas(self) -> TierQuotas {
        let (r10, r3600, c10, c3600) = match self {
            Tier::Growth => (60, 5_000, 250_000, 30_000_000),
            Tier::Enhanced => (150, 20_000, 900_000, 90_000_000),
            Tier::HighVolume => (450, 40_000, 1_800_000, 180_000_000),
            Tier::Enterprise => (1_500, 85_000, 4_000_000, 400_000_000),
        };
        TierQuotas {
            requests_10s: r10,
            requests_1h: r3600,
            complexity_10s: c10,
            complexity_1h: c3600,
        }
    }
}

/// A token from a file often ends in a newline; no token has edge whitespace.
fn deserialize_secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
    String::deserialize(deserializer).map(|token| Secret::new(token.trim()))
}

fn default_budget_share() -> f64 {
    1.0
}

/// 200, Centra's largest page: per-request overhead and the request-count
/// bucket favour big pages, and complexity grows with the page anyway.
fn default_page_size() -> u32 {
    200
}

fn default_lookback_secs() -> u64 {
    300
}

/// A day: a full snapshot of a large catalogue costs a noticeable share of
/// the environment's hourly complexity quota, and the incremental re-reads
/// between snapshots catch what orders, deliveries and stock changes move.
fn default_inventory_snapshot_interval_secs() -> u64 {
    86_400
}

/// Centra's own examples and most instances use Stockholm time.
fn default_timezone() -> String {
    "Europe/Stockholm".into()
}

/// 300 s, the default lookback: a server clock ahead by `s` sets the cursor
/// `s` into the future, and the next window's lookback re-reads exactly
/// `lookback_secs` of it; NTP-synced clocks differ by far less. A clock
/// further off is not trusted to bound a window.
fn default_max_clock_skew_secs() -> u64 {
    300
}

fn default_timeout_ms() -> u64 {
    60_000
}

fn default_connect_timeout_ms() -> u64 {
    10_000
}

fn default_max_retries() -> u32 {
    6
}

fn default_max_backoff_ms() -> u64 {
    30_000
}

/// 64 MiB: by estimate (about 2 KiB per order and 1 KiB per line with the
/// default selection), a page of 200 orders of 30 lines each is ~7 MiB of
/// JSON; 64 leaves room for custom attributes and wide mappings while
/// bounding what one response can take.
fn default_max_response_mib() -> u64 {
    64
}

/// 15 minutes: Centra's honest waits are seconds (the 10 s window) or under a
/// minute (one token of the hour window refills in 0.04–0.72 s); anything
/// longer is a broken header, and a run should not hang for hours on it.
fn default_max_retry_after_secs() -> u64 {
    900
}

impl cartage_core::ConnectorConfig for CentraConfig {
    fn description(&self) -> cartage_core::SourceDescription {
        crate::describe::description()
    }

    fn build(
        &self,
        tenant: &str,
    ) -> Result<std::sync::Arc<dyn cartage_core::Source>, cartage_core::Error> {
        Ok(std::sync::Arc::new(CentraConfig::build(self, tenant)?))
    }

    fn describe_read(
        &self,
        stream: &str,
        selection: Option<&str>,
    ) -> Result<String, cartage_core::Error> {
        crate::describe::describe_read(stream, selection).ok_or_else(|| {
            cartage_core::Error::config(format!("the centra connector has no stream {stream:?}"))
        })
    }
}

impl CentraConfig {
    /// Checks the configuration and builds the source for `tenant`.
    pub fn build(&self, tenant: &str) -> Result<CentraSource, cartage_core::Error> {
        self.build_source(tenant).map_err(cartage_core::Error::from)
    }

    fn build_source(&self, tenant: &str) -> Result<CentraSource, CentraError> {
        let endpoint = validate_endpoint(&self.endpoint)?;
        if self.token.expose().trim().is_empty() {
            return Err(CentraError::Config("centra token is empty".into()));
        }
        if !(self.budget_share > 0.0 && self.budget_share <= 1.0) {
            return Err(CentraError::Config(format!(
                "centra budget_share {} is out of range (expected 0 < share <= 1)",
                self.budget_share
            )));
        }
        // A share that leaves less than one request per 10 s window makes
        // a sync crawl for days; refuse it rather than appear hung.
        let requests_10s = self.tier.quotas().requests_10s as f64;
        if requests_10s * self.budget_share < 1.0 {
            return Err(CentraError::Config(format!(
                "centra budget_share {} is too small for the {} tier: it leaves less than one request per 10 s (expected at least {:.4})",
                self.budget_share,
                self.tier.name(),
                1.0 / requests_10s
            )));
        }
        if !(1..=200).contains(&self.page_size) {
            return Err(CentraError::Config(format!(
                "centra page_size {} is out of range (expected 1..=200)",
                self.page_size
            )));
        }
        for (name, value) in [
            ("timeout_ms", self.timeout_ms),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("max_backoff_ms", self.max_backoff_ms),
            ("max_retry_after_secs", self.max_retry_after_secs),
            ("max_response_mib", self.max_response_mib),
        ] {
            if value == 0 {
                return Err(CentraError::Config(format!("centra {name} must be greater than 0")));
            }
        }
        let timezone: chrono_tz::Tz = self.timezone.trim().parse().map_err(|_| {
            CentraError::Config(format!(
                "centra timezone {:?} is not an IANA time zone name (e.g. Europe/Stockholm)",
                self.timezone
            ))
        })?;
        let budget = Arc::new(Budget::new(self.tier.quotas(), self.budget_share));
        let client = CentraClient::new(ClientOptions {
            endpoint,
            token: self.token.clone(),
            timeout: Duration::from_millis(self.timeout_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            retry: RetryPolicy::new(
                self.max_retries,
                Duration::from_millis(self.max_backoff_ms),
                Duration::from_secs(self.max_retry_after_secs),
            ),
            budget,
            max_response_bytes: self.max_response_mib.saturating_mul(crate::client::MIB),
        })?;
        Ok(CentraSource::new(
            tenant.to_owned(),
            client,
            self.page_size,
            WindowPolicy {
                lookback: Duration::from_secs(self.lookback_secs),
                timezone,
                max_clock_skew: Duration::from_secs(self.max_clock_skew_secs),
            },
            self.track_deletions,
            Duration::from_secs(self.inventory_snapshot_interval_secs),
        ))
    }
}

/// Parses the endpoint and enforces `https` for every non-loopback host.
fn validate_endpoint(text: &str) -> Result<Url, CentraError> {
    let url = Url::parse(text.trim())
        .map_err(|e| CentraError::Config(format!("centra endpoint {text:?} is not a url: {e}")))?;
    let Some(host) = url.host_str() else {
        return Err(CentraError::Config(format!("centra endpoint {url} has no host")));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let host_is_loopback = match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    };
    match url.scheme() {
        "https" => {}
        "http" if host_is_loopback => {}
        "http" => {
            return Err(CentraError::Config(format!(
                "centra endpoint {url} must use https (plain http is allowed only for loopback hosts)"
            )));
        }
        other => {
            return Err(CentraError::Config(format!(
                "centra endpoint {url} has scheme {other:?} (expected https)"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CentraError::Config(
            "centra endpoint must not carry credentials; put the token in `token`".into(),
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(CentraError::Config(format!(
            "centra endpoint {url} has no path (expected the GraphQL path, e.g. {}graphql)",
            url
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CentraError::Config(format!(
            "centra endpoint {url} must not have a query or fragment"
        )));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml_json: serde_json::Value) -> Result<CentraConfig, serde_json::Error> {
        serde_json::from_value(yaml_json)
    }

    fn config(endpoint: &str) -> CentraConfig {
        parse(serde_json::json!({"endpoint": endpoint, "token": "tok-secret-123"})).unwrap()
    }

    fn build_error(config: &CentraConfig) -> String {
        match config.build("acme") {
            Ok(_) => panic!("expected {} to be refused", config.endpoint),
            Err(e) => {
                assert_eq!(e.kind(), cartage_core::ErrorKind::Config);
                e.to_string()
            }
        }
    }

    #[test]
    fn defaults_fill_every_optional_field() {
        let c = config("https://acme.centra.com/graphql");
        assert_eq!(c.tier, Tier::Growth);
        assert_eq!(c.budget_share, 1.0);
        assert_eq!(c.page_size, 200);
        assert_eq!(c.lookback_secs, 300);
        assert_eq!(c.timeout_ms, 60_000);
        assert_eq!(c.max_retries, 6);
        assert_eq!(c.max_backoff_ms, 30_000);
        assert_eq!(c.max_retry_after_secs, 900);
        assert_eq!(c.max_response_mib, 64);
        assert_eq!(c.timezone, "Europe/Stockholm");
        assert_eq!(c.max_clock_skew_secs, 300);
        assert!(c.build("acme").is_ok());
    }

    #[test]
    fn tiers_parse_in_kebab_case_and_unknown_keys_are_refused() {
        let c = parse(serde_json::json!({
            "endpoint": "https://a.centra.com/graphql", "token": "t", "tier": "high-volume"
        }))
        .unwrap();
        assert_eq!(c.tier, Tier::HighVolume);
        let e = parse(
            serde_json::json!({"endpoint": "https://a/graphql", "token": "t", "pagesize": 3}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown field `pagesize`"), "{e}");
        let e = parse(
            serde_json::json!({"endpoint": "https://a/graphql", "token": "t", "tier": "gold"}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("unknown variant `gold`"), "{e}");
    }

    #[test]
    fn https_is_required_except_on_loopback() {
        for ok in [
            "https://acme.centra.com/graphql",
            "http://127.0.0.1:8080/graphql",
            "http://127.3.4.5/graphql",
            "http://localhost:9/graphql",
            "http://[::1]:8080/graphql",
        ] {
            assert!(config(ok).build("acme").is_ok(), "{ok} should be accepted");
        }
        assert_eq!(
            build_error(&config("http://acme.centra.com/graphql")),
            "configuration error: centra endpoint http://acme.centra.com/graphql must use https \
             (plain http is allowed only for loopback hosts)"
        );
        assert!(build_error(&config("http://10.0.0.1/graphql")).contains("must use https"));
        assert!(
            build_error(&config("http://localhost.evil.com/graphql")).contains("must use https")
        );
        assert!(build_error(&config("ftp://acme.centra.com/graphql")).contains("scheme \"ftp\""));
    }

    #[test]
    fn endpoint_must_be_a_url_with_a_path() {
        assert!(build_error(&config("acme.centra.com/graphql")).contains("is not a url"));
        assert!(build_error(&config("https://acme.centra.com")).contains("has no path"));
        assert!(build_error(&config("https://acme.centra.com/")).contains("has no path"));
        assert!(
            build_error(&config("https://u:p@acme.centra.com/graphql")).contains("credentials")
        );
    }

    #[test]
    fn numeric_options_are_range_checked() {
        let mut c = config("https://acme.centra.com/graphql");
        c.page_size = 0;
        assert!(build_error(&c).contains("page_size 0 is out of range"));
        c.page_size = 201;
        assert!(build_error(&c).contains("page_size 201 is out of range"));
        c.page_size = 200;
        c.budget_share = 0.0;
        assert!(build_error(&c).contains("budget_share 0 is out of range"));
        c.budget_share = 1.5;
        assert!(build_error(&c).contains("budget_share 1.5 is out of range"));
        c.budget_share = 1e-9;
        assert_eq!(
            build_error(&c),
            "configuration error: centra budget_share 0.000000001 is too small for the growth tier: \
             it leaves less than one request per 10 s (expected at least 0.0167)"
        );
        c.budget_share = 0.02;
        assert!(c.build("acme").is_ok());
        c.budget_share = 0.5;
        c.timezone = "Mars/Olympus".into();
        assert_eq!(
            build_error(&c),
            "configuration error: centra timezone \"Mars/Olympus\" is not an IANA time zone name (e.g. Europe/Stockholm)"
        );
        c.timezone = "America/New_York".into();
        assert!(c.build("acme").is_ok());
        c.timeout_ms = 0;
        assert!(build_error(&c).contains("timeout_ms must be greater than 0"));
    }

    #[test]
    fn tokens_lose_edge_whitespace() {
        let c = parse(
            serde_json::json!({"endpoint": "https://a.centra.com/graphql", "token": " tok\n"}),
        )
        .unwrap();
        assert_eq!(c.token.expose(), "tok");
    }

    #[test]
    fn the_token_never_shows_in_debug_or_errors() {
        let mut c = config("http://acme.centra.com/graphql");
        assert!(!format!("{c:?}").contains("tok-secret-123"));
        assert!(!build_error(&c).contains("tok-secret-123"));
        c.token = Secret::new("  ");
        c.endpoint = "https://acme.centra.com/graphql".into();
        assert_eq!(build_error(&c), "configuration error: centra token is empty");
    }
}
