//! Properties: no YAML text panics the compiler, no JSON record panics a
//! compiled plan, and exact conversions round-trip.

use cartage_core::{MappedRows, Record, RecordMapper};
use proptest::prelude::*;

use crate::support::*;

/// Words of the mapping language and of the schema, so generated documents
/// reach deep into the compiler instead of failing on the first key.
const WORDS: &[&str] = &[
    "tables",
    "orders",
    "order_lines",
    "stream",
    "each",
    "lines",
    "columns",
    "custom",
    "extra_columns",
    "extends",
    "timezone",
    "on_error",
    "reject",
    "constants",
    "tenants",
    "acme",
    "path",
    "value",
    "constant",
    "attribute",
    "of",
    "coalesce",
    "concat",
    "separator",
    "format",
    "add",
    "sub",
    "mul",
    "div",
    "if",
    "then",
    "else",
    "equals",
    "in",
    "is_null",
    "greater_than",
    "trim",
    "case",
    "lower",
    "map",
    "unmapped",
    "keep",
    "type",
    "money",
    "decimal",
    "integer",
    "string",
    "json",
    "date",
    "timestamp",
    "round",
    "default",
    "order_id",
    "line_id",
    "id",
    "number",
    "status",
    "grandTotal",
    "totals.taxAdded",
    "$.id",
    "__typename",
    "DirectToConsumerOrder",
    "DirectToConsumerOrder.customer",
    "cus_extra.id",
    "market.name",
    "lines[0].id",
    "lines[-1]",
    "{number}-{market.name}",
    "null",
    "true",
    "1.5",
    "-3",
    "",
    "mapping.yaml",
    "a.yaml",
];

#[derive(Debug, Clone)]
enum Y {
    Scalar(String),
    List(Vec<Y>),
    Map(Vec<(String, Y)>),
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => "[a-zA-Z_{}$.\\[\\]0-9 -]{0,12}",
    ]
}

fn yaml_tree() -> impl Strategy<Value = Y> {
    let leaf = word().prop_map(Y::Scalar);
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Y::List),
            prop::collection::vec((word(), inner), 0..6).prop_map(Y::Map),
        ]
    })
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn render(y: &Y, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match y {
        Y::Scalar(s) => {
            out.push_str(&quote(s));
            out.push('\n');
        }
        Y::List(items) if items.is_empty() => out.push_str("[]\n"),
        Y::Map(items) if items.is_empty() => out.push_str("{}\n"),
        Y::List(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&pad);
                out.push_str("- ");
                render(item, indent + 2, out);
            }
        }
        Y::Map(items) => {
            out.push('\n');
            for (k, v) in items {
                out.push_str(&pad);
                out.push_str(&quote(k));
                out.push_str(": ");
                render(v, indent + 2, out);
            }
        }
    }
}

fn document(tree: &Y) -> String {
    let mut out = String::new();
    match tree {
        Y::Map(items) => {
            for (k, v) in items {
                out.push_str(&quote(k));
                out.push_str(": ");
                render(v, 2, &mut out);
            }
        }
        other => render(other, 0, &mut out),
    }
    out
}

/// JSON shaped like Centra records: known field names, any values.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    const KEYS: &[&str] = &[
        "__typename",
        "id",
        "number",
        "status",
        "isOnHold",
        "createdAt",
        "updatedAt",
        "market",
        "name",
        "pricelist",
        "shippingAddress",
        "billingAddress",
        "country",
        "code",
        "grandTotal",
        "valueInCents",
        "currency",
        "totals",
        "lineValues",
        "shipping",
        "discounts",
        "taxAdded",
        "taxIncluded",
        "currencyBaseRate",
        "customer",
        "email",
        "account",
        "purchaseOrderNumber",
        "lines",
        "productSize",
        "SKU",
        "EAN",
        "description",
        "product",
        "productVariant",
        "size",
        "productName",
        "quantity",
        "cancelledQuantity",
        "returnedQuantity",
        "unitPrice",
        "unitOriginalPrice",
        "lineValue",
        "discountPercent",
        "taxPercent",
        "productNumber",
        "attributes",
        "type",
        "elements",
        "key",
        "value",
        "selectedValue",
        "url",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "DirectToConsumerOrder",
            "WholesaleOrder",
            "SEK",
            "JPY",
            "XXX",
            "2022-11-09T13:15:11+01:00",
            "2022-11-09 13:15:11",
            "1e400",
            "-0",
            "",
            "PENDING",
            "é\u{0}\"\\",
        ])
        .prop_map(|s| serde_json::Value::String(s.to_owned())),
        ".{0,8}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..10).prop_map(|kvs| {
                serde_json::Value::Object(kvs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// The orders mappers of the golden cases and the default mapping, compiled once.
fn mappers() -> &'static [std::sync::Arc<dyn RecordMapper>] {
    static MAPPERS: std::sync::OnceLock<Vec<std::sync::Arc<dyn RecordMapper>>> =
        std::sync::OnceLock::new();
    MAPPERS.get_or_init(|| {
        let mut out = Vec::new();
        for dir in ["transforms", "types", "attributes", "paths", "rejects", "extra_columns"] {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(dir);
            let m = compile_dir(&dir, "mapping.yaml", &ctx()).unwrap();
            out.push(m.stream("orders").unwrap());
        }
        let m = compile_dir(&repo_root().join("mappings"), "centra/default.yaml", &ctx()).unwrap();
        out.push(m.stream("orders").unwrap());
        out
    })
}

fn map_all(mapper: &dyn RecordMapper, text: &str) {
    let Ok(record) = Record::from_json_str(text) else { return };
    let mut out = MappedRows::new(mapper.tables().len());
    let before: Vec<usize> = out.tables.iter().map(Vec::len).collect();
    if mapper.map_record(&record, &mut out).is_err() {
        let after: Vec<usize> = out.tables.iter().map(Vec::len).collect();
        assert_eq!(before, after, "a failed record left rows behind");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn structured_yaml_never_panics_the_compiler(tree in yaml_tree()) {
        let text = document(&tree);
        let _ = compile_text(&text, &[("a.yaml", "extends: mapping.yaml\n")]);
    }

    #[test]
    fn arbitrary_text_never_panics_the_compiler(text in "(?s).{0,200}") {
        let _ = compile_text(&text, &[]);
    }

    #[test]
    fn arbitrary_json_never_panics_a_plan(value in json_value()) {
        let text = value.to_string();
        for mapper in mappers() {
            map_all(&**mapper, &text);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_plan(text in "(?s).{0,120}") {
        let mapper = &mappers()[mappers().len() - 1];
        if let Ok(raw) = serde_json::value::RawValue::from_string(text) {
            let mut out = MappedRows::new(2);
            let _ = mapper.map_record(&Record(raw), &mut out);
        }
    }

    #[test]
    fn money_is_exact_for_any_amount(cents in any::<i64>(), code in prop::sample::select(vec!["SEK", "JPY", "KWD", "EUR", "ISK", "BHD"])) {
        let mapping = "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: grandTotal\n";
        let record = format!(r#"{{"id":"x","grandTotal":{{"valueInCents":{cents},"currency":{{"code":"{code}"}}}}}}"#);
        let out = outcome(mapping, &record);
        let shown = out["orders"][0]["total_gross"]["decimal"].as_str().unwrap().to_owned();
        let d: rust_decimal::Decimal = shown.parse().unwrap();
        let exp = match code { "JPY" | "ISK" => 0, "KWD" | "BHD" => 3, _ => 2 };
        prop_assert_eq!(d.scale(), exp);
        prop_assert_eq!(d.mantissa(), i128::from(cents));
    }

    #[test]
    fn every_date_form_of_an_instant_reads_back_the_same(secs in 0i64..4_000_000_000, offset_q in -48i32..56) {
        use chrono::{FixedOffset, TimeZone, Utc};
        let instant = Utc.timestamp_opt(secs, 0).unwrap();
        let offset = FixedOffset::east_opt(offset_q * 900).unwrap();
        let local = instant.with_timezone(&offset);
        let forms = [
            local.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
            local.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
            instant.with_timezone(&chrono_tz::Europe::Stockholm).format("%Y-%m-%d %H:%M:%S").to_string(),
        ];
        let mapping = "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      created_at: createdAt\n";
        let want = instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let stockholm = instant.with_timezone(&chrono_tz::Europe::Stockholm);
        // A local time repeated when clocks go back reads as its first instant.
        let ambiguous = chrono_tz::Europe::Stockholm
            .from_local_datetime(&stockholm.naive_local())
            .earliest()
            .is_some_and(|e| e != stockholm);
        for (i, form) in forms.iter().enumerate() {
            if i == 2 && ambiguous {
                continue;
            }
            let record = format!(r#"{{"id":"x","createdAt":"{form}"}}"#);
            let out = outcome(mapping, &record);
            prop_assert_eq!(out["orders"][0]["created_at"]["timestamp"].as_str(), Some(want.as_str()), "{}", form);
        }
    }
}

#[test]
fn escaped_and_unicode_strings_are_decoded() {
    check_text(
        "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: market.name\n",
        r#"{"id":"a\u00e9\"b","market":{"name":"Malm\u00f6 \\ \ud83d\ude00"}}"#,
        serde_json::json!({"orders": [{
            "tenant": "acme", "order_id": "aé\"b", "order_number": null, "store_type": null,
            "status": null, "on_hold": null, "currency": null, "market": "Malmö \\ 😀",
            "pricelist": null, "country": null, "customer_id": null, "customer_email": null,
            "account_id": null, "created_at": null, "updated_at": null, "total_gross": null,
            "total_items": null, "total_shipping": null, "total_discount": null, "total_tax": null,
            "base_currency_rate": null, "custom": null
        }]}),
    );
}

#[test]
fn int64_sent_as_a_string_still_reads_as_money() {
    check_text(
        "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    custom:\n      total: grandTotal\n",
        r#"{"id":"x","grandTotal":{"valueInCents":"9007199254740993","currency":{"code":"EUR"}}}"#,
        serde_json::json!({"orders": [{
            "tenant": "acme", "order_id": "x", "order_number": null, "store_type": null,
            "status": null, "on_hold": null, "currency": null, "market": null,
            "pricelist": null, "country": null, "customer_id": null, "customer_email": null,
            "account_id": null, "created_at": null, "updated_at": null, "total_gross": null,
            "total_items": null, "total_shipping": null, "total_discount": null, "total_tax": null,
            "base_currency_rate": null, "custom": {"json": {"total": "90071992547409.93"}}
        }]}),
    );
}
