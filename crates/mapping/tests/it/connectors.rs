//! The compiler takes every platform fact from the connector's description:
//! a second, made-up connector with decimal-text money, a flat list of
//! custom fields, its own default time zone, and mappings that say which
//! connector they are written for.

use cartage_core::{
    AmountKind, AttributeShape, ColumnType, MoneyShape, RecordSchema, ScalarType, SchemaFormat,
    SourceDescription, StreamType,
};
use cartage_mapping::{CompileContext, declared_source};
use serde_json::json;

use crate::support::{compile_text_with, run_raw};

const SDL: &str = "
scalar DateTime
type Money { amount: String! currencyCode: String! }
type MoneyBag { shopMoney: Money! }
type Metafield { namespace: String! key: String! value: String }
type Order {
  id: ID!
  createdAt: DateTime!
  totalPriceSet: MoneyBag!
  metafields: [Metafield!]!
}
type Query { orders: [Order!]! }
";

fn shop() -> SourceDescription {
    SourceDescription {
        connector: "shop".into(),
        schema: RecordSchema {
            format: SchemaFormat::GraphqlSdl,
            text: SDL.into(),
            path: "shop.graphql".into(),
        },
        streams: vec![StreamType::new("orders", "Order")],
        money: vec![MoneyShape {
            amount: "amount".into(),
            amount_kind: AmountKind::Decimal,
            currency: vec!["currencyCode".into()],
        }],
        attributes: Some(AttributeShape {
            field: "metafields".into(),
            group_name: vec!["namespace".into()],
            entries: None,
            entry_key: "key".into(),
            entry_values: vec!["value".into()],
            example: "custom.season".into(),
        }),
        scalars: vec![ScalarType::new("DateTime", ColumnType::Timestamp)],
        default_timezone: "America/New_York".into(),
    }
}

const MAPPING: &str = "source: shop
tables:
  orders:
    stream: orders
    columns:
      order_id: id
      created_at: createdAt
      total_gross: totalPriceSet.shopMoney
    custom:
      season: { attribute: custom.season }
";

fn map(record: serde_json::Value) -> serde_json::Value {
    let ctx = CompileContext::new("acme", shop());
    let m = compile_text_with(MAPPING, &[], &ctx).unwrap_or_else(|d| panic!("{d}"));
    run_raw(&m, "orders", &[record.to_string()])
}

#[test]
fn decimal_money_flat_attributes_and_the_connectors_time_zone() {
    let ctx = CompileContext::new("acme", shop());
    let m = compile_text_with(MAPPING, &[], &ctx).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        m.selection("orders"),
        Some(
            "id\ncreatedAt\ntotalPriceSet {\n  shopMoney {\n    amount\n    currencyCode\n  }\n}\nmetafields {\n  namespace\n  key\n  value\n}\n"
        )
    );
    let out = map(json!({
        "id": "gid://shop/Order/1",
        "createdAt": "2026-03-01 12:00:00",
        "totalPriceSet": {"shopMoney": {"amount": "12.3", "currencyCode": "SEK"}},
        "metafields": [
            {"namespace": "other", "key": "season", "value": "no"},
            {"namespace": "custom", "key": "fabric", "value": "wool"},
            {"namespace": "custom", "key": "season", "value": "AW26"}
        ]
    }));
    let order = &out["orders"][0];
    // Decimal text, shown with the currency's two decimals, never a float.
    assert_eq!(order["total_gross"], json!({"decimal": "12.30"}));
    // Naive local time in the connector's default zone (EST in March 1st).
    assert_eq!(order["created_at"], json!({"timestamp": "2026-03-01T17:00:00Z"}));
    assert_eq!(order["custom"], json!({"json": {"season": "AW26"}}));
}

#[test]
fn a_money_amount_that_is_not_decimal_text_names_the_fields() {
    let out = map(json!({
        "id": "1",
        "createdAt": "2026-03-01T00:00:00Z",
        "totalPriceSet": {"shopMoney": {"amount": "12,30", "currencyCode": "SEK"}},
        "metafields": []
    }));
    assert_eq!(
        out["error"],
        json!(
            "data error: stream orders: record \"1\": orders.total_gross: cannot convert {amount: \"12,30\", currencyCode: \"SEK\"} to money: amount is not a decimal number"
        )
    );
}

#[test]
fn a_mapping_for_another_connector_is_refused_where_it_says_so() {
    let ctx = CompileContext::new("acme", connector_centra::description());
    let err = compile_text_with(MAPPING, &[], &ctx).unwrap_err().to_string();
    assert_eq!(
        err,
        "mapping.yaml:1:9: source: the mapping is written for the \"shop\" connector, but is compiled for \"centra\""
    );
}

#[test]
fn the_declared_source_is_inherited_through_extends() {
    let files = [
        ("base.yaml", "source: shop\ntables: {}\n"),
        ("acme.yaml", "extends: base.yaml\n"),
        ("bare.yaml", "tables: {}\n"),
    ];
    let loader = |name: &str| {
        files.iter().find(|(n, _)| *n == name).map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
    };
    assert_eq!(declared_source("acme.yaml", &loader).unwrap().as_deref(), Some("shop"));
    assert_eq!(declared_source("bare.yaml", &loader).unwrap(), None);
    assert!(declared_source("missing.yaml", &loader).is_err());
}

#[test]
fn attribute_on_a_connector_without_custom_attributes_points_to_paths() {
    let mut source = shop();
    source.attributes = None;
    let err = compile_text_with(MAPPING, &[], &CompileContext::new("acme", source))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "mapping.yaml:10:28: custom field season of table orders: attribute: the shop connector has no custom attributes; read custom fields with a path"
    );
}

#[test]
fn money_on_a_connector_without_money_says_so() {
    let mut source = shop();
    source.money.clear();
    let text = "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: { path: createdAt, type: money }\n";
    let err =
        compile_text_with(text, &[], &CompileContext::new("acme", source)).unwrap_err().to_string();
    assert_eq!(
        err,
        "mapping.yaml:6:45: column total_gross of table orders: type money needs a path to a money object (the shop connector has none), the value is timestamp"
    );
}

/// A REST source: its records described by JSON Schema, not GraphQL.
fn rest() -> SourceDescription {
    SourceDescription {
        connector: "rest".into(),
        schema: RecordSchema {
            format: SchemaFormat::JsonSchema,
            text: r##"{"$defs": {
              "Order": {"type": "object", "properties": {
                "id": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "total": {"$ref": "#/$defs/Money"},
                "lines": {"type": "array", "items": {"type": "object", "properties": {
                  "line": {"type": "integer"}, "sku": {"type": "string"},
                  "quantity": {"type": "integer"}}}},
                "meta": {"type": ["object", "null"]}
              }},
              "Money": {"type": "object", "properties": {
                "cents": {"type": "integer"}, "currency": {"type": "string"}}}
            }}"##
                .into(),
            path: "connectors/rest/records.json".into(),
        },
        streams: vec![StreamType::new("orders", "Order")],
        money: vec![MoneyShape {
            amount: "cents".into(),
            amount_kind: AmountKind::MinorUnits,
            currency: vec!["currency".into()],
        }],
        attributes: None,
        scalars: vec![],
        default_timezone: "UTC".into(),
    }
}

#[test]
fn a_json_schema_source_compiles_and_maps_like_a_graphql_one() {
    let text = "tables:
  orders:
    stream: orders
    columns:
      order_id: { path: id, type: string }
      created_at: created_at
      total_gross: total
    custom:
      meta: meta
  order_lines:
    stream: orders
    each: lines
    columns:
      order_id: { path: $.id, type: string }
      line_id: line
      sku: sku
      quantity: quantity
";
    let m = compile_text_with(text, &[], &CompileContext::new("acme", rest()))
        .unwrap_or_else(|d| panic!("{d}"));
    let out = run_raw(
        &m,
        "orders",
        &[r#"{"id": 7, "created_at": "2026-03-01T12:00:00+01:00", "total": {"cents": 1999, "currency": "EUR"},
             "lines": [{"line": 1, "sku": "A", "quantity": 2}], "meta": {"channel": "pos"}}"#
            .to_owned()],
    );
    let order = &out["orders"][0];
    assert_eq!(order["order_id"], json!("7"));
    assert_eq!(order["created_at"], json!({"timestamp": "2026-03-01T11:00:00Z"}));
    assert_eq!(order["total_gross"], json!({"decimal": "19.99"}));
    assert_eq!(order["custom"], json!({"json": {"meta": {"channel": "pos"}}}));
    assert_eq!(out["order_lines"][0]["quantity"], json!(2));
    assert_eq!(out["order_lines"][0]["order_id"], json!("7"));
}

#[test]
fn a_json_schema_source_gets_the_same_located_errors() {
    let text = "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: { path: idd, type: string }\n";
    let err =
        compile_text_with(text, &[], &CompileContext::new("acme", rest())).unwrap_err().to_string();
    assert_eq!(
        err,
        "mapping.yaml:5:25: column order_id of table orders: path \"idd\": type Order has no field \"idd\"; did you mean \"id\"?"
    );

    let mut broken = rest();
    broken.schema.text = r#"{"$defs": {"Order": {"properties": {"id": {"anyOf": []}}}}}"#.into();
    let err =
        compile_text_with(text, &[], &CompileContext::new("acme", broken)).unwrap_err().to_string();
    assert_eq!(
        err,
        "connectors/rest/records.json: invalid record schema of connector rest: /$defs/Order/properties/id: \"anyOf\" is not supported (describe one type per field)"
    );
}
