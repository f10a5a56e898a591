//! What the Centra connector tells the mapping compiler and the runner: its
//! schema, the record type of each stream, Centra's money and custom
//! attribute shapes, and the request each stream sends.

use cartage_core::{
    AmountKind, AttributeShape, ColumnType, MoneyShape, RecordSchema, ScalarType, SchemaFormat,
    SourceDescription, StreamType,
};

use crate::deliveries::{DEFAULT_DELIVERY_SELECTION, DELIVERIES_STREAM, deliveries_query};
use crate::inventory::{DEFAULT_INVENTORY_SELECTION, INVENTORY_STREAM, stock_query};
use crate::orders::{DEFAULT_ORDER_SELECTION, orders_query};
use crate::purchase_orders::{
    DEFAULT_PURCHASE_ORDER_SELECTION, PURCHASE_ORDERS_STREAM, purchase_orders_query,
};
use crate::source::ORDERS_STREAM;

/// The connector's name in configurations (`type: centra`) and mappings.
pub const CONNECTOR: &str = "centra";

/// The subset of Centra's Integration API schema the connector reads, as SDL.
pub const SCHEMA_SDL: &str = include_str!("../schema.graphql");

/// The time zone of a Centra instance when the mapping names none: Centra
/// sends some date-times without an offset, in the instance's zone.
pub const DEFAULT_TIMEZONE: &str = "Europe/Stockholm";

/// The Centra connector's description.
pub fn description() -> SourceDescription {
    SourceDescription {
        connector: CONNECTOR.to_owned(),
        schema: RecordSchema {
            format: SchemaFormat::GraphqlSdl,
            text: SCHEMA_SDL.to_owned(),
            path: "connectors/centra/schema.graphql".to_owned(),
        },
        streams: vec![
            StreamType::new(ORDERS_STREAM, "Order"),
            StreamType::new(INVENTORY_STREAM, "Stock"),
            StreamType::new(PURCHASE_ORDERS_STREAM, "PurchaseOrder"),
            StreamType::new(DELIVERIES_STREAM, "PurchaseOrderDelivery"),
        ],
        // `MonetaryValue { valueInCents currency { code } }`.
        money: vec![MoneyShape {
            amount: "valueInCents".to_owned(),
            amount_kind: AmountKind::MinorUnits,
            currency: vec!["currency".to_owned(), "code".to_owned()],
        }],
        // `attributes { type { name } elements { key ... on X { value } } }`.
        attributes: Some(AttributeShape {
            field: "attributes".to_owned(),
            group_name: vec!["type".to_owned(), "name".to_owned()],
            entries: Some("elements".to_owned()),
            entry_key: "key".to_owned(),
            entry_values: vec!["value".to_owned(), "selectedValue".to_owned(), "url".to_owned()],
            example: "cus_extra.id".to_owned(),
        }),
        scalars: vec![
            // "2022-11-09T13:15:11+01:00", or without an offset in the
            // instance's zone.
            ScalarType::new("DateTimeTz", ColumnType::Timestamp),
            ScalarType::new("Int64", ColumnType::Int),
        ],
        default_timezone: DEFAULT_TIMEZONE.to_owned(),
    }
}

/// The query one page of `stream` sends, with a comment saying which page.
pub fn describe_read(stream: &str, selection: Option<&str>) -> Option<String> {
    let (what, query) = match stream {
        ORDERS_STREAM => (
            "one page of an incremental window",
            orders_query(selection.unwrap_or(DEFAULT_ORDER_SELECTION), true, true, true),
        ),
        PURCHASE_ORDERS_STREAM => (
            "one page of an incremental window",
            purchase_orders_query(selection.unwrap_or(DEFAULT_PURCHASE_ORDER_SELECTION), true),
        ),
        DELIVERIES_STREAM => (
            "one page of the full read",
            deliveries_query(selection.unwrap_or(DEFAULT_DELIVERY_SELECTION)),
        ),
        INVENTORY_STREAM => (
            "one page of stock rows per warehouse (a snapshot; re-reads of changed sizes add `where: {productSizeId: $sizes}`)",
            stock_query(selection.unwrap_or(DEFAULT_INVENTORY_SELECTION), false),
        ),
        _ => return None,
    };
    Some(format!("# stream {stream}: {what}\n{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_has_a_record_type_and_a_query() {
        let d = description();
        assert_eq!(d.stream_names(), ["orders", "inventory", "purchase_orders", "indeliveries"]);
        for s in d.stream_names() {
            let q = describe_read(s, None).expect(s);
            assert!(q.starts_with(&format!("# stream {s}: ")), "{q}");
            assert!(q.contains("query Cartage"), "{q}");
        }
        assert_eq!(describe_read("customers", None), None);
    }
}
