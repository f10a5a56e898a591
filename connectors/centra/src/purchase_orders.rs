//! The `purchase_orders` stream: Centra's supplier orders, by `updatedAt`
//! window, walked page by page from the last page to the first.
//!
//! `purchaseOrders` pages by `limit`/`page` only (no keyset cursor), and a
//! page walk over a set that changes under it loses rows. Within a window
//! `[from, to]` with `to` fixed before the walk, the set can only shrink: a
//! purchase order changed during the walk gets an `updatedAt` above `to` and
//! leaves it (the next window reads it), and none can join. A walk from the
//! last page down (`paging.rs`) never skips a row of a shrinking list.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::orders::Window;
use cartage_http_source::Checkpoint;

/// The stream's name.
pub const PURCHASE_ORDERS_STREAM: &str = "purchase_orders";

/// The version of [`PurchaseOrdersState`] this crate writes.
pub const STATE_VERSION: u32 = 1;

/// What the stream reads per purchase order when the mapping names no
/// selection: the fields of the data model's `purchase_orders` table.
pub const DEFAULT_PURCHASE_ORDER_SELECTION: &str = "
    id
    status
    createdAt
    updatedAt
    ETA
    confirmedETD
    supplier { id name }
    preferredWarehouse { id }
    currency { code }
    productsTotal { valueInCents currency { code } }
";

/// The checkpoint:
/// `{"v":1,"cursor":"<UTC instant>"|null,"window":{"from":…,"to":…}|null,"next_page":n|null}`.
///
/// - `cursor`: every purchase order with `updatedAt <= cursor` was read; the
///   next window starts at `cursor - lookback`.
/// - `window` and `next_page`: a window in progress, walking down, with
///   pages `next_page`, `next_page - 1`, …, 1 still to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseOrdersState {
    pub v: u32,
    pub cursor: Option<DateTime<Utc>>,
    pub window: Option<Window>,
    pub next_page: Option<u32>,
    /// The page size of the walk in progress (absent in states written
    /// before pages were sized from complexity: they used `page_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl PurchaseOrdersState {
    /// A window finished: everything up to `cursor` was read.
    pub fn done(cursor: Option<DateTime<Utc>>) -> Self {
        PurchaseOrdersState { v: STATE_VERSION, cursor, window: None, next_page: None, limit: None }
    }
}

impl Checkpoint for PurchaseOrdersState {
    const VERSION: u32 = STATE_VERSION;
}

/// The page query of a window (with or without its lower bound), reading
/// `selection` per purchase order.
pub fn purchase_orders_query(selection: &str, has_from: bool) -> String {
    let (param, range) =
        if has_from { (", $from: DateTimeTz!", "from: $from, to: $to") } else { ("", "to: $to") };
    format!(
        "query CartagePurchaseOrders($limit: Int!, $page: Int!, $to: DateTimeTz!{param}) {{
  purchaseOrders(where: {{updatedAt: {{{range}}}}}, sort: [id_ASC], limit: $limit, page: $page) {{
    {selection}
  }}
}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::{ExecutableDocument, Schema};
    use chrono::TimeZone;

    const SCHEMA: &str = include_str!("../schema.graphql");

    #[test]
    fn the_queries_validate_against_the_schema() {
        let schema = Schema::parse_and_validate(SCHEMA, "schema.graphql").unwrap();
        for has_from in [false, true] {
            for selection in [DEFAULT_PURCHASE_ORDER_SELECTION, "id"] {
                let query = purchase_orders_query(selection, has_from);
                if let Err(e) = ExecutableDocument::parse_and_validate(&schema, &query, "q.graphql")
                {
                    panic!("{e}\n{query}");
                }
            }
        }
    }

    #[test]
    fn state_round_trips_in_the_documented_format() {
        let to = Utc.with_ymd_and_hms(2026, 11, 28, 6, 59, 59).unwrap();
        let state = PurchaseOrdersState {
            v: 1,
            cursor: None,
            window: Some(Window { from: None, to: Some(to) }),
            next_page: Some(3),
            limit: Some(40),
        };
        let json = state.to_json();
        assert_eq!(
            json,
            serde_json::json!({"v":1,"cursor":null,"window":{"from":null,"to":"2026-11-28T06:59:59Z"},"next_page":3,"limit":40})
        );
        assert_eq!(PurchaseOrdersState::from_json(&json).unwrap(), state);
        assert!(PurchaseOrdersState::from_json(&serde_json::json!({"v":2})).is_err());
    }
}
