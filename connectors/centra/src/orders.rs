//! The `orders` stream's queries, page format and checkpoint.
//!
//! A run reads one window of `updatedAt`, `[from, to]`, walking
//! `orderConnection` with keyset cursors sorted by order number: cursors
//! stay correct while orders change, a new order sorts after every cursor
//! and lies outside the window anyway, and an order changed during the walk
//! gets an `updatedAt` above `to` and falls into the next run's window.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use cartage_http_source::Checkpoint;

/// The version of [`OrdersState`] this crate writes.
pub const STATE_VERSION: u32 = 1;

/// What the `orders` stream reads per order when the mapping names no
/// selection: every field the `orders` and `order_lines` tables of the data
/// model need. Money as `valueInCents` and currency code (never the float),
/// fully cancelled lines included so their cancellation reaches the table.
/// Custom attributes are left to mappings that use them: an unpaged list of
/// lists, they would double the query's complexity, and so halve the orders
/// per second a rate-limited tier allows.
pub const DEFAULT_ORDER_SELECTION: &str = "
    __typename
    id
    number
    status
    isOnHold
    createdAt
    updatedAt
    currencyBaseRate
    store { id name type }
    market { id name }
    pricelist { id name }
    grandTotal { valueInCents currency { code } }
    totals {
      lineValues { valueInCents currency { code } }
      shipping { valueInCents currency { code } }
      handling { valueInCents currency { code } }
      discounts { valueInCents currency { code } }
      taxAdded { valueInCents currency { code } }
      taxDeducted { valueInCents currency { code } }
      taxIncluded { valueInCents currency { code } }
    }
    shippingAddress { country { code } }
    billingAddress { country { code } }
    lines(includeFullyCancelled: true) {
      __typename
      id
      productName
      productNumber
      productVariantName
      size
      quantity
      cancelledQuantity
      returnedQuantity
      unitPrice { valueInCents currency { code } }
      unitOriginalPrice { valueInCents currency { code } }
      lineValue { valueInCents currency { code } }
      discountPercent
      taxPercent
      product { id }
      productVariant { id variantNumber }
      productSize { id SKU EAN sizeNumber description }
    }
    ... on DirectToConsumerOrder {
      customer { id email }
    }
    ... on WholesaleOrder {
      account { id name }
      purchaseOrderNumber
    }
";

/// The alias under which the walk reads `updatedAt` itself when the server
/// sends no `Date` header and the cursor must come from the data.
pub const CURSOR_ALIAS: &str = "cartageUpdatedAt";

/// An `updatedAt` window; a missing bound is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The `orders` stream's checkpoint, stored as JSON beside the data:
/// `{"v":1,"cursor":"<UTC instant>"|null,"window":{"from":…,"to":…}|null,"after":"<connection cursor>"|null}`.
///
/// - `cursor`: every order with `updatedAt <= cursor` was read (as of the
///   end of the window that set it); the next window starts at
///   `cursor - lookback`.
/// - `window` and `after`: a window in progress, to resume after the
///   connection cursor `after` (`null`: from its start).
/// - `seen`: only without a server clock (no `Date` header): the largest
///   `updatedAt` read so far in the open-ended window in progress.
/// - `confirm`: ids of deletion events this state's batch marked, to be
///   confirmed in Centra once it is committed (see `track_deletions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersState {
    pub v: u32,
    pub cursor: Option<DateTime<Utc>>,
    pub window: Option<Window>,
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirm: Vec<i64>,
}

impl OrdersState {
    /// A window finished: everything up to `cursor` was read.
    pub fn done(cursor: Option<DateTime<Utc>>) -> Self {
        OrdersState {
            v: STATE_VERSION,
            cursor,
            window: None,
            after: None,
            seen: None,
            confirm: Vec::new(),
        }
    }
}

impl Checkpoint for OrdersState {
    const VERSION: u32 = STATE_VERSION;
}

/// The node selection without surrounding braces, checked for balance so a
/// broken mapping selection fails before anything is sent.
pub fn normalize_selection(selection: &str) -> Result<String, String> {
    let trimmed = selection.trim();
    let inner = match trimmed.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(inner) if balanced(inner) => inner.trim(),
        _ => trimmed,
    };
    if inner.is_empty() {
        return Err("the order selection is empty".into());
    }
    if !balanced(inner) {
        return Err("the order selection has unbalanced braces".into());
    }
    Ok(inner.to_owned())
}

fn balanced(text: &str) -> bool {
    let mut depth = 0i64;
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && !in_string
}

/// The argument that makes `Order.lines` include fully cancelled lines.
const ALL_LINES: &str = "(includeFullyCancelled: true)";

/// `selection` with every bare `lines` field of the order (no arguments,
/// directly on the order or in an inline fragment on it) written as
/// `lines(includeFullyCancelled: true)`.
///
/// Centra omits fully cancelled lines unless asked, and the sink marks a
/// child row missing from its order's batch `_deleted_at`: a mapping that
/// writes plain `lines` would mark every line cancelled in full as removed.
/// We chose to always fetch them, so a cancellation reaches the tables as
/// a cancelled quantity, not as a deletion. A `lines` with arguments is kept
/// as written: a mapping that says `includeFullyCancelled: false` means it.
/// Nested `lines` (a shipment's, a return's) are other fields, untouched.
pub fn with_cancelled_lines(selection: &str) -> String {
    let bytes = selection.as_bytes();
    let mut out = String::with_capacity(selection.len() + ALL_LINES.len());
    // Per open brace: does it open an inline fragment (still on the order)?
    let mut braces: Vec<bool> = Vec::new();
    let mut parens = 0u32;
    // `...` then `on` seen: the next brace opens an inline fragment.
    let (mut spread, mut fragment_next) = (false, false);
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b')' => {
                parens = if c == b'(' { parens + 1 } else { parens.saturating_sub(1) };
                i += 1;
            }
            b'{' => {
                braces.push(fragment_next);
                (spread, fragment_next) = (false, false);
                i += 1;
            }
            b'}' => {
                braces.pop();
                i += 1;
            }
            b'.' if selection[i..].starts_with("...") => {
                spread = true;
                i += 3;
            }
            _ if c == b'_' || c.is_ascii_alphabetic() => {
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                let name = &selection[start..i];
                out.push_str(name);
                if spread {
                    spread = false;
                    fragment_next = name == "on";
                    continue;
                }
                let next = selection[i..].trim_start().as_bytes().first().copied();
                let on_the_order = parens == 0 && braces.iter().all(|fragment| *fragment);
                if name == "lines" && on_the_order && !matches!(next, Some(b'(' | b':')) {
                    out.push_str(ALL_LINES);
                }
                continue;
            }
            _ => i += 1,
        }
        out.push_str(&selection[start..i]);
    }
    out
}

/// The page query for a window with the given bounds. Only the variables
/// used are declared (GraphQL refuses unused ones), so there is one query
/// text per combination of bounds. `read_cursor` adds `updatedAt` under
/// [`CURSOR_ALIAS`]. Bare `lines` become `lines(includeFullyCancelled:
/// true)` ([`with_cancelled_lines`]).
pub fn orders_query(selection: &str, has_from: bool, has_to: bool, read_cursor: bool) -> String {
    let selection = with_cancelled_lines(selection);
    let mut params = String::from("$first: Int!, $after: String");
    let mut range = Vec::new();
    if has_from {
        params.push_str(", $from: DateTimeTz!");
        range.push("from: $from");
    }
    if has_to {
        params.push_str(", $to: DateTimeTz!");
        range.push("to: $to");
    }
    let filter = if range.is_empty() {
        String::new()
    } else {
        format!(", where: {{updatedAt: {{{}}}}}", range.join(", "))
    };
    let cursor =
        if read_cursor { format!("\n        {CURSOR_ALIAS}: updatedAt") } else { String::new() };
    format!(
        "query CartageOrders({params}) {{
  orderConnection(first: $first, after: $after{filter}, sort: [number_ASC]) {{
    edges {{
      cursor
      node {{
        {selection}{cursor}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"
    )
}

/// One page of `orderConnection`.
#[derive(Debug, Deserialize)]
pub(crate) struct OrdersPage {
    #[serde(rename = "orderConnection")]
    pub connection: Connection,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Connection {
    pub edges: Vec<Edge>,
    #[serde(rename = "pageInfo")]
    pub page_info: PageInfo,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Edge {
    pub cursor: String,
    pub node: Box<RawValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageInfo {
    #[serde(rename = "hasNextPage")]
    pub has_next_page: bool,
    #[serde(rename = "endCursor")]
    pub end_cursor: Option<String>,
}

/// The `updatedAt` a node carries under [`CURSOR_ALIAS`], as a UTC instant.
pub(crate) fn node_updated_at(node: &RawValue) -> Result<DateTime<Utc>, String> {
    #[derive(Deserialize)]
    struct Cursor<'a> {
        #[serde(rename = "cartageUpdatedAt", borrow)]
        updated_at: std::borrow::Cow<'a, str>,
    }
    let cursor: Cursor<'_> =
        serde_json::from_str(node.get()).map_err(|e| format!("order without updatedAt: {e}"))?;
    parse_centra_instant(&cursor.updated_at)
}

/// Parses Centra's default date forms (`+01:00` and `+0100` offsets).
pub fn parse_centra_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z"))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("unreadable date {text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::{ExecutableDocument, Schema};
    use chrono::TimeZone;

    const SCHEMA: &str = include_str!("../schema.graphql");

    fn validate(query: &str) {
        let schema = Schema::parse_and_validate(SCHEMA, "schema.graphql")
            .expect("the crate's schema is valid");
        if let Err(errors) = ExecutableDocument::parse_and_validate(&schema, query, "query.graphql")
        {
            panic!("query does not validate:\n{errors}\n{query}");
        }
    }

    #[test]
    fn every_query_the_connector_sends_validates_against_the_schema() {
        let selection = normalize_selection(DEFAULT_ORDER_SELECTION).unwrap();
        for has_from in [false, true] {
            for has_to in [false, true] {
                for read_cursor in [false, true] {
                    validate(&orders_query(&selection, has_from, has_to, read_cursor));
                }
            }
        }
        validate(crate::client::RATE_LIMITS_QUERY);
    }

    #[test]
    fn a_wrong_selection_fails_validation() {
        let schema = Schema::parse_and_validate(SCHEMA, "schema.graphql").unwrap();
        let query = orders_query("id nosuchfield", true, true, false);
        assert!(ExecutableDocument::parse_and_validate(&schema, &query, "q.graphql").is_err());
    }

    #[test]
    fn selections_may_come_with_or_without_braces() {
        assert_eq!(normalize_selection(" { id number } ").unwrap(), "id number");
        assert_eq!(normalize_selection("id lines { id }").unwrap(), "id lines { id }");
        assert_eq!(normalize_selection("{ id } { number }").unwrap(), "{ id } { number }");
        assert!(normalize_selection("id lines { id").is_err());
        assert!(normalize_selection("  ").is_err());
        assert_eq!(
            normalize_selection(r#"createdAt(format: "}") id"#).unwrap(),
            r#"createdAt(format: "}") id"#
        );
    }

    fn check_lines(selection: &str, expected: &str) {
        assert_eq!(with_cancelled_lines(selection), expected, "selection: {selection}");
    }

    /// Regression: a mapping writing plain `lines` lost fully cancelled
    /// lines, and the sink marked them `_deleted_at` as if removed.
    #[test]
    fn bare_order_lines_are_asked_with_fully_cancelled_ones() {
        let all = "lines(includeFullyCancelled: true)";
        check_lines("id lines { id }", &format!("id {all} {{ id }}"));
        check_lines("lines{id}", &format!("{all}{{id}}"));
        check_lines("id\nlines\n", &format!("id\n{all}\n"));
        check_lines("all: lines { id }", &format!("all: {all} {{ id }}"));
        check_lines("lines: lines { id }", &format!("lines: {all} {{ id }}"));
        check_lines(
            "... on DirectToConsumerOrder { lines { id } }",
            &format!("... on DirectToConsumerOrder {{ {all} {{ id }} }}"),
        );
        check_lines(
            "lines @include(if: true) { id }",
            &format!("{all} @include(if: true) {{ id }}"),
        );
        // Kept as written: explicit arguments, nested fields, other names,
        // strings and comments.
        for kept in [
            "lines(includeFullyCancelled: false) { id }",
            "lines(includeFullyCancelled:true){id}",
            "shipments { lines { id } }",
            "linesCount lineValues",
            r#"createdAt(format: "lines {") id"#,
            "# lines { id }\nid",
            "...OrderLines",
        ] {
            check_lines(kept, kept);
        }
        let selection = normalize_selection(DEFAULT_ORDER_SELECTION).unwrap();
        assert_eq!(with_cancelled_lines(&selection), selection);
        let query = orders_query("id lines { id }", true, true, false);
        assert!(query.contains(&format!("id {all} {{ id }}")), "{query}");
        validate(&query);
    }

    #[test]
    fn queries_declare_only_the_bounds_they_use() {
        let q = orders_query("id", false, true, false);
        assert!(q.contains("$to: DateTimeTz!") && !q.contains("$from"));
        assert!(q.contains("where: {updatedAt: {to: $to}}"));
        let q = orders_query("id", false, false, true);
        assert!(!q.contains("where") && q.contains("cartageUpdatedAt: updatedAt"));
    }

    #[test]
    fn state_round_trips_in_the_documented_format() {
        let to = Utc.with_ymd_and_hms(2026, 11, 28, 6, 59, 59).unwrap();
        let state = OrdersState {
            v: 1,
            cursor: None,
            window: Some(Window { from: None, to: Some(to) }),
            after: Some("bnVtYmVyOjE2Ng==".into()),
            seen: None,
            confirm: Vec::new(),
        };
        let json = state.to_json();
        assert_eq!(
            json,
            serde_json::json!({"v":1,"cursor":null,"window":{"from":null,"to":"2026-11-28T06:59:59Z"},"after":"bnVtYmVyOjE2Ng=="})
        );
        assert_eq!(OrdersState::from_json(&json).unwrap(), state);
        assert_eq!(
            OrdersState::done(Some(to)).to_json(),
            serde_json::json!({"v":1,"cursor":"2026-11-28T06:59:59Z","window":null,"after":null})
        );
        assert!(
            OrdersState::from_json(&serde_json::json!({"v": 2}))
                .unwrap_err()
                .contains("version Some(2)")
        );
        assert!(OrdersState::from_json(&serde_json::json!({"cursor": "x"})).is_err());
    }

    #[test]
    fn dates_come_back_in_both_offset_spellings() {
        let at = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap();
        assert_eq!(parse_centra_instant("2026-03-29T03:30:00+02:00").unwrap(), at);
        assert_eq!(parse_centra_instant("2026-03-29T02:30:00+0100").unwrap(), at);
        assert!(parse_centra_instant("yesterday").is_err());
    }

    #[test]
    fn pages_keep_each_node_as_raw_json() {
        let body = r#"{"orderConnection":{"edges":[
            {"cursor":"a","node":{"id":"x1","cartageUpdatedAt":"2026-11-28T08:00:00+01:00","lines":[{"id":1}]}}],
            "pageInfo":{"hasNextPage":true,"endCursor":"a"}}}"#;
        let page: OrdersPage = serde_json::from_str(body).unwrap();
        let node = &page.connection.edges[0].node;
        assert_eq!(
            node.get(),
            r#"{"id":"x1","cartageUpdatedAt":"2026-11-28T08:00:00+01:00","lines":[{"id":1}]}"#
        );
        assert_eq!(
            node_updated_at(node).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 28, 7, 0, 0).unwrap()
        );
        assert!(page.connection.page_info.has_next_page);
    }
}
