//! The `indeliveries` stream: Centra's purchase order deliveries (inbound
//! supplier deliveries) with their lines.
//!
//! `PurchaseOrderDeliveryFilter` has no `updatedAt`, so there is no
//! incremental window: each run reads every delivery, sorted by id
//! ascending, from the last page down (`paging.rs`). New deliveries
//! (higher ids) land beyond the pages still to read and a delivery removed
//! mid-walk shifts only rows already read, so none is skipped. A run that
//! stops resumes its walk at the page it had reached.

use serde::{Deserialize, Serialize};

use cartage_http_source::Checkpoint;

/// The stream's name (the data model's table is `indeliveries`).
pub const DELIVERIES_STREAM: &str = "indeliveries";

/// The version of [`DeliveriesState`] this crate writes.
pub const STATE_VERSION: u32 = 1;

/// What the stream reads per delivery when the mapping names no selection:
/// the fields of the data model's `indeliveries` and `indelivery_lines`.
pub const DEFAULT_DELIVERY_SELECTION: &str = "
    id
    number
    status
    createdAt
    ETA
    exFactoryDate
    shippingCost { valueInCents currency { code } }
    otherCosts { valueInCents currency { code } }
    currency { code }
    supplier { id name }
    purchaseOrder { id }
    warehouse { id }
    lines {
      quantity
      linkedQuantity
      unlinkedQuantity
      unitCost { valueInCents currency { code } }
      landedCost { valueInCents currency { code } }
      productSize { id SKU EAN }
    }
";

/// The checkpoint: `{"v":1,"next_page":n|null}`: a walk in progress with
/// pages `next_page`, …, 1 still to read, or (`null`) none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesState {
    pub v: u32,
    pub next_page: Option<u32>,
    /// The page size of the walk in progress (absent in states written
    /// before pages were sized from complexity: they used `page_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl DeliveriesState {
    /// The walk finished: the next run reads everything again.
    pub fn done() -> Self {
        DeliveriesState { v: STATE_VERSION, next_page: None, limit: None }
    }

    /// After a page of `limit` deliveries, with `next` pages still to read
    /// (0: done).
    pub fn after(next: u32, limit: u32) -> Self {
        let next_page = (next > 0).then_some(next);
        DeliveriesState { v: STATE_VERSION, next_page, limit: next_page.map(|_| limit) }
    }
}

impl Checkpoint for DeliveriesState {
    const VERSION: u32 = STATE_VERSION;
}

/// The page query, reading `selection` per delivery.
pub fn deliveries_query(selection: &str) -> String {
    format!(
        "query CartageDeliveries($limit: Int!, $page: Int!) {{
  purchaseOrderDeliveries(sort: [id_ASC], limit: $limit, page: $page) {{
    {selection}
  }}
}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::{ExecutableDocument, Schema};

    const SCHEMA: &str = include_str!("../schema.graphql");

    #[test]
    fn the_queries_validate_against_the_schema() {
        let schema = Schema::parse_and_validate(SCHEMA, "schema.graphql").unwrap();
        for selection in [DEFAULT_DELIVERY_SELECTION, "id"] {
            let query = deliveries_query(selection);
            if let Err(e) = ExecutableDocument::parse_and_validate(&schema, &query, "q.graphql") {
                panic!("{e}\n{query}");
            }
        }
    }

    #[test]
    fn state_round_trips_in_the_documented_format() {
        assert_eq!(
            DeliveriesState::after(4, 50).to_json(),
            serde_json::json!({"v":1,"next_page":4,"limit":50})
        );
        assert_eq!(DeliveriesState::after(0, 50), DeliveriesState::done());
        // A state written before pages were sized still reads.
        let old = serde_json::json!({"v":1,"next_page":4});
        assert_eq!(DeliveriesState::from_json(&old).unwrap().limit, None);
        let json = serde_json::json!({"v":1,"next_page":null});
        assert_eq!(DeliveriesState::from_json(&json).unwrap(), DeliveriesState::done());
        assert!(DeliveriesState::from_json(&serde_json::json!({"v":1,"page":2})).is_err());
    }
}
