//! The served schema is the SDL file: the standard introspection query over
//! HTTP, compared type by type, field by field, with the parsed file.

use crate::common::{config, data, start};
use apollo_compiler::Schema;
use apollo_compiler::schema::ExtendedType;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
  }
}
fragment FullType on __Type {
  kind name
  fields(includeDeprecated: true) { name args { ...InputValue } type { ...TypeRef } }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
}
"#;

fn type_ref(t: &Value) -> String {
    match t["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_ref(&t["ofType"])),
        Some("LIST") => format!("[{}]", type_ref(&t["ofType"])),
        _ => t["name"].as_str().unwrap_or("?").to_string(),
    }
}

fn input_value(v: &Value) -> String {
    let mut s = format!("{}: {}", v["name"].as_str().unwrap_or("?"), type_ref(&v["type"]));
    if let Some(d) = v["defaultValue"].as_str() {
        s.push_str(&format!(" = {d}"));
    }
    s
}

/// One line per fact of each type, from the introspection answer.
fn from_introspection(schema: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for t in schema["types"].as_array().expect("types") {
        let name = t["name"].as_str().expect("type name");
        if name.starts_with("__") {
            continue;
        }
        let mut facts = vec![format!("kind {}", t["kind"].as_str().unwrap_or("?"))];
        for f in t["fields"].as_array().into_iter().flatten() {
            let args: Vec<String> =
                f["args"].as_array().into_iter().flatten().map(input_value).collect();
            facts.push(format!(
                "field {}({}): {}",
                f["name"].as_str().unwrap_or("?"),
                args.join(", "),
                type_ref(&f["type"])
            ));
        }
        for f in t["inputFields"].as_array().into_iter().flatten() {
            facts.push(format!("input {}", input_value(f)));
        }
        for i in t["interfaces"].as_array().into_iter().flatten() {
            facts.push(format!("implements {}", type_ref(i)));
        }
        for e in t["enumValues"].as_array().into_iter().flatten() {
            facts.push(format!("value {}", e["name"].as_str().unwrap_or("?")));
        }
        let mut possible: Vec<String> =
            t["possibleTypes"].as_array().into_iter().flatten().map(type_ref).collect();
        possible.sort();
        for p in possible {
            facts.push(format!("possible {p}"));
        }
        out.insert(name.to_string(), facts);
    }
    out
}

/// The same facts, from the SDL file parsed by apollo-compiler.
fn from_sdl(schema: &Schema) -> BTreeMap<String, Vec<String>> {
    let implementers = schema.implementers_map();
    let mut out = BTreeMap::new();
    for (name, t) in &schema.types {
        if t.is_built_in()
            && !matches!(name.as_str(), "String" | "Int" | "Float" | "Boolean" | "ID")
        {
            continue;
        }
        if name.starts_with("__") {
            continue;
        }
        let arg = |a: &apollo_compiler::ast::InputValueDefinition| {
            let mut s = format!("{}: {}", a.name, a.ty);
            if let Some(d) = &a.default_value {
                s.push_str(&format!(" = {}", d.serialize().no_indent()));
            }
            s
        };
        let field = |f: &apollo_compiler::ast::FieldDefinition| {
            let args: Vec<String> = f.arguments.iter().map(|a| arg(a)).collect();
            format!("field {}({}): {}", f.name, args.join(", "), f.ty)
        };
        let mut facts = Vec::new();
        match t {
            ExtendedType::Scalar(_) => facts.push("kind SCALAR".to_string()),
            ExtendedType::Object(o) => {
                facts.push("kind OBJECT".into());
                facts.extend(o.fields.values().map(|f| field(f)));
                facts.extend(
                    o.implements_interfaces.iter().map(|i| format!("implements {}", i.name)),
                );
            }
            ExtendedType::Interface(i) => {
                facts.push("kind INTERFACE".into());
                facts.extend(i.fields.values().map(|f| field(f)));
                facts.extend(
                    i.implements_interfaces.iter().map(|x| format!("implements {}", x.name)),
                );
                let mut possible: Vec<String> = implementers
                    .get(name)
                    .map(|imp| imp.objects.iter().map(|o| o.to_string()).collect())
                    .unwrap_or_default();
                possible.sort();
                facts.extend(possible.into_iter().map(|p| format!("possible {p}")));
            }
            ExtendedType::Union(u) => {
                facts.push("kind UNION".into());
                let mut possible: Vec<String> =
                    u.members.iter().map(|m| m.name.to_string()).collect();
                possible.sort();
                facts.extend(possible.into_iter().map(|p| format!("possible {p}")));
            }
            ExtendedType::Enum(e) => {
                facts.push("kind ENUM".into());
                facts.extend(e.values.keys().map(|v| format!("value {v}")));
            }
            ExtendedType::InputObject(i) => {
                facts.push("kind INPUT_OBJECT".into());
                facts.extend(i.fields.values().map(|f| format!("input {}", arg(f))));
            }
        }
        out.insert(name.to_string(), facts);
    }
    out
}

#[tokio::test]
async fn introspected_schema_equals_the_sdl_file() {
    let running = start(config(10)).await;
    let d = data(&running, INTROSPECTION, json!({})).await;
    let served = from_introspection(&d["__schema"]);
    let file = Schema::parse_and_validate(
        include_str!("../../../centra/schema.graphql"),
        "schema.graphql",
    )
    .expect("the schema file validates");
    let expected = from_sdl(&file);
    assert_eq!(d["__schema"]["queryType"]["name"], "Query");
    assert_eq!(d["__schema"]["mutationType"]["name"], "Mutation");
    assert!(d["__schema"]["subscriptionType"].is_null());
    let served_names: Vec<&String> = served.keys().collect();
    let file_names: Vec<&String> = expected.keys().collect();
    assert_eq!(served_names, file_names, "type names differ");
    for (name, facts) in &expected {
        assert_eq!(&served[name], facts, "type {name} differs");
    }
    // Spot checks that the comparison sees real content.
    assert!(expected["Query"].contains(
        &"field orders(where: OrderFilter, sort: [OrderSort!] = [number_ASC], limit: Int = 20, page: Int = 1): [Order!]!".to_string()
    ));
    assert!(served["DirectToConsumerOrder"].contains(&"implements Order".to_string()));
    // The shapes from the fidelity review, as served.
    for (ty, fact) in [
        ("ProductOrderLine", "field productName(): String"),
        ("ProductOrderLine", "field productVariantName(): String"),
        ("ProductSize", "field productVariant(): ProductVariant"),
        ("OrderTotals", "field lineValues(): MonetaryValue!"),
        ("Warehouse", "field status(): Status!"),
        ("Status", "value INACTIVE"),
        ("StockFilter", "input negate: [String!]"),
        ("StockFilter", "input onDeliveryQuantity: IntRange"),
        ("Event", "field market(): Market"),
        ("EventFilter", "input marketId: [Int!]"),
        ("EventTarget", "possible StockChange"),
        ("StockChangeType", "value DELIVERY"),
        (
            "Mutation",
            "field unsetEventListeners(input: [EventListenerUnsetInput!]!): EventListenerUnsetPayload!",
        ),
        (
            "Query",
            "field stockChangeConnection(first: Int, after: String, last: Int, before: String, where: StockChangeFilter, sort: [StockChangeSort!] = [id_ASC]): StockChangeConnection!",
        ),
        (
            "Warehouse",
            "field stockChanges(where: StockChangeFilter, sort: [StockChangeSort!] = [id_DESC], limit: Int = 20, page: Int = 1): [StockChange!]!",
        ),
    ] {
        assert!(served[ty].contains(&fact.to_string()), "{ty}: {fact} in {:?}", served[ty]);
    }
    assert!(
        served["EventListener"].iter().any(|f| f.starts_with("field createdAt(")),
        "{:?}",
        served["EventListener"]
    );
    running.shutdown().await;
}

#[tokio::test]
async fn invalid_queries_get_standard_errors_with_locations() {
    let running = start(config(10)).await;
    let q = "{\n  orders(limit: 1) {\n    number\n    nope\n  }\n}";
    let v = crate::common::gql(&running, q, json!({})).await;
    assert!(v.get("data").is_none(), "{v}");
    let e = &v["errors"][0];
    assert!(e["message"].as_str().expect("message").contains("nope"), "{v}");
    assert_eq!(e["locations"][0]["line"], 4, "{v}");
    assert_eq!(e["locations"][0]["column"], 5, "{v}");
    // A variable of the wrong type.
    let v = crate::common::gql(
        &running,
        "query($l: String) { orders(limit: $l) { number } }",
        json!({"l": "x"}),
    )
    .await;
    assert!(v["errors"][0]["locations"][0]["line"].is_number(), "{v}");
    // A syntax error.
    let v = crate::common::gql(&running, "{ orders(limit: 1) { number }", json!({})).await;
    assert_eq!(v["errors"][0]["locations"][0]["line"], 1, "{v}");
    running.shutdown().await;
}

/// A query that selects every field of every object type reachable from
/// `Query` once: each type's fields are expanded where a breadth-first walk
/// first reaches it (where data is most likely to exist), elsewhere only
/// `__typename`. Required arguments come from `required`.
fn every_field_query(schema: &Schema, required: &BTreeMap<(&str, &str), String>) -> String {
    use std::collections::{HashMap, VecDeque};
    let children = |ty: &str| -> Vec<(String, String)> {
        // (edge label, child type): a field, or `... on Member` of an abstract type.
        match schema.types.get(ty) {
            Some(ExtendedType::Object(o)) => o
                .fields
                .iter()
                .map(|(n, f)| (n.to_string(), f.ty.inner_named_type().to_string()))
                .collect(),
            Some(ExtendedType::Interface(_)) => schema
                .implementers_map()
                .get(ty)
                .map(|i| i.objects.iter().map(|o| (format!("on {o}"), o.to_string())).collect())
                .unwrap_or_default(),
            Some(ExtendedType::Union(u)) => {
                u.members.iter().map(|m| (format!("on {}", m.name), m.name.to_string())).collect()
            }
            _ => Vec::new(),
        }
    };
    // The breadth-first tree: the (parent type, edge) through which each type is expanded.
    let mut tree: HashMap<String, (String, String)> = HashMap::new();
    let mut queue = VecDeque::from(["Query".to_string()]);
    let mut seen = std::collections::HashSet::from(["Query".to_string()]);
    while let Some(t) = queue.pop_front() {
        for (edge, child) in children(&t) {
            if seen.insert(child.clone()) {
                tree.insert(child.clone(), (t.clone(), edge));
                queue.push_back(child);
            }
        }
    }
    fn emit(
        schema: &Schema,
        ty: &str,
        tree: &HashMap<String, (String, String)>,
        required: &BTreeMap<(&str, &str), String>,
        children: &dyn Fn(&str) -> Vec<(String, String)>,
    ) -> String {
        let mut out = vec!["__typename".to_string()];
        for (edge, child) in children(ty) {
            let composite = matches!(
                schema.types.get(child.as_str()),
                Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
            );
            let expand = tree.get(&child).is_some_and(|(p, e)| p == ty && *e == edge);
            let inner = if expand {
                emit(schema, &child, tree, required, children)
            } else {
                "__typename".to_string()
            };
            if let Some(member) = edge.strip_prefix("on ") {
                out.push(format!("... on {member} {{ {inner} }}"));
                continue;
            }
            let args =
                required.get(&(ty, edge.as_str())).map(|a| format!("({a})")).unwrap_or_default();
            if composite {
                out.push(format!("{edge}{args} {{ {inner} }}"));
            } else {
                out.push(format!("{edge}{args}"));
            }
        }
        out.join(" ")
    }
    format!("{{ {} }}", emit(schema, "Query", &tree, required, &children))
}

#[tokio::test]
async fn every_field_of_every_reachable_type_resolves() {
    use centra_sim::{SimConfig, Simulator};
    let sim = Simulator::new(SimConfig {
        orders: 60,
        profile: "outdoor-wholesale".into(),
        tier: centra_sim::ratelimit::Tier::Unlimited,
        ..SimConfig::default()
    });
    let c = sim.control();
    let listen = "mutation { setEventListeners(input: [{objectType: StockChange}, {objectType: Order}]) { eventListeners { objectType } } }";
    assert!(sim.execute(listen, json!({})).get("errors").is_none());
    c.change_stock(&centra_sim::control::ChangeStock {
        warehouse_id: Some(1),
        size_id: Some(1),
        delta: Some(3),
        count: None,
    })
    .expect("stock change");
    c.create_orders(2);
    let file = Schema::parse_and_validate(
        include_str!("../../../centra/schema.graphql"),
        "schema.graphql",
    )
    .expect("the schema file validates");
    let id = sim.order(1).expect("order 1").id;
    let required = BTreeMap::from([(("Query", "order"), format!("id: \"{id}\""))]);
    let q = every_field_query(&file, &required);
    let v = sim.execute(&q, json!({}));
    assert!(v.get("errors").is_none(), "{}\n{q}", v["errors"]);
    assert!(q.contains("deliveredQuantity") && q.contains("... on StockChange"), "{q}");
    // The walk reached the newest types with data.
    let d = &v["data"];
    let line = &d["warehouses"][0]["stockChanges"][0]["lines"][0];
    assert_eq!(line["deliveredQuantity"], 3, "{}", d["warehouses"][0]["stockChanges"]);
    assert_eq!(line["productSize"]["__typename"], "ProductSize");
    assert!(!d["events"].as_array().expect("events").is_empty(), "{}", d["events"]);
    assert!(d["eventListeners"][0]["createdAt"].is_string(), "{}", d["eventListeners"]);
}
