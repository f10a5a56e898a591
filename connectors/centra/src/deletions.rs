//! Deleted orders, from Centra's Events API.
//!
//! An `updatedAt` window never sees a deleted order: it leaves every result
//! set. Centra reports it as an `Order` `DELETED` event instead, whose
//! `objectReference` is the order's number. The connector subscribes its
//! integration's queue to those events, and after each window hands them to
//! the pipeline as deleted records `{"number": N}`.
//!
//! An event is confirmed (removed from Centra's queue) only once the batch
//! carrying it is committed, and its id is kept in that batch's state until
//! then: a crash before the commit re-reads the event, a crash after it
//! confirms the id on the next run. Marking a row deleted twice changes
//! nothing, so the effect is exactly once.

use serde::{Deserialize, Deserializer};

/// Subscribes the token's integration to deleted orders (idempotent).
pub(crate) const LISTEN: &str = "mutation CartageListen {
  setEventListeners(input: [{objectType: Order, changeTypes: [DELETED]}]) { userErrors { message } }
}";

/// The integration's listeners: the check that the token may read events.
pub(crate) const LISTENERS: &str = "query CartageListeners { eventListeners { objectType } }";

/// The oldest unconfirmed order deletions.
pub(crate) const EVENTS: &str = "query CartageDeletedOrders($limit: Int!) {
  events(where: {objectType: [Order], changeType: [DELETED]}, limit: $limit) { id objectReference }
}";

/// Removes events from the queue.
pub(crate) const CONFIRM: &str = "mutation CartageConfirm($ids: [Int!]!) {
  confirmEvents(input: {eventsIds: $ids}) { userErrors { message } }
}";

/// Events read per request.
pub(crate) const EVENTS_PER_PAGE: u32 = 100;

#[derive(Debug, Deserialize)]
pub(crate) struct EventsData {
    pub events: Vec<Event>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Event {
    pub id: i64,
    /// For an order, its number. `Int64` may arrive as a number or a string.
    #[serde(deserialize_with = "int64")]
    pub object_reference: i64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListenData {
    #[serde(rename = "setEventListeners")]
    pub payload: Payload,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConfirmData {
    #[serde(rename = "confirmEvents")]
    pub payload: Payload,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Payload {
    pub user_errors: Vec<UserError>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserError {
    pub message: String,
}

fn int64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int64 {
        Number(i64),
        Text(String),
    }
    match Int64::deserialize(deserializer)? {
        Int64::Number(n) => Ok(n),
        Int64::Text(t) => t.trim().parse().map_err(serde::de::Error::custom),
    }
}

/// The deleted record the pipeline maps: the order by its number.
pub(crate) fn deleted_order(number: i64) -> String {
    format!(r#"{{"number":{number}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::{ExecutableDocument, Schema};

    #[test]
    fn the_event_operations_validate_against_the_schema() {
        let schema =
            Schema::parse_and_validate(include_str!("../schema.graphql"), "schema.graphql")
                .unwrap();
        for operation in [LISTEN, LISTENERS, EVENTS, CONFIRM] {
            if let Err(e) = ExecutableDocument::parse_and_validate(&schema, operation, "op.graphql")
            {
                panic!("{e}\n{operation}");
            }
        }
    }

    #[test]
    fn object_references_read_as_numbers_or_strings() {
        let data: EventsData = serde_json::from_str(
            r#"{"events":[{"id":7,"objectReference":1234},{"id":8,"objectReference":"99"}]}"#,
        )
        .unwrap();
        let refs: Vec<(i64, i64)> =
            data.events.iter().map(|e| (e.id, e.object_reference)).collect();
        assert_eq!(refs, [(7, 1234), (8, 99)]);
        assert!(
            serde_json::from_str::<EventsData>(r#"{"events":[{"id":1,"objectReference":"x"}]}"#)
                .is_err()
        );
        assert_eq!(deleted_order(1234), r#"{"number":1234}"#);
    }
}
