//! Query complexity, computed from the document before execution.
//!
//! Centra's published formula (centra.dev, "query complexity calculation"),
//! as the simulator applies it:
//!
//! - a scalar or enum field costs 0, except expensive scalars, which cost
//!   [`EXPENSIVE_SCALAR`] (2): every `Stock` quantity except
//!   `freeToAllocateQuantity`, which is free (verified);
//! - an object field costs 1 plus the cost of its selection;
//! - a list field costs `n × (1 + cost of its selection)`, where `n` is the
//!   requested `limit` (a literal, a variable's value or the schema default,
//!   clamped to 0..=200); for a connection's `edges` it is the connection's
//!   `first` or `last` (default 20); for an unpaged list such as `lines` or
//!   `elements` it is 10 (Centra: "a default of 10 is assumed");
//! - `rateLimits` costs 10 flat, and so do `__schema` and `__type` (inferred);
//! - fragments count where they are spread; the operation's cost is the sum
//!   over its top-level fields, at least 1.
//!
//! Example: `warehouses(limit: 20) { id stock(limit: 200) {
//! freeToAllocateQuantity productSize { id } } }` costs
//! `20 × (1 + 200 × (1 + 0 + 1)) = 8,020`.

use apollo_compiler::ExecutableDocument;
use apollo_compiler::ast::Value;
use apollo_compiler::executable::{Operation, Selection, SelectionSet};
use apollo_compiler::response::{JsonMap, JsonValue};

/// The cost of an expensive scalar.
pub const EXPENSIVE_SCALAR: u64 = 2;
/// The estimate for lists without a size argument.
pub const UNPAGED_LIST_ESTIMATE: u64 = 10;
/// The flat cost of `rateLimits`, `__schema` and `__type`.
pub const FLAT_COST: u64 = 10;

/// The complexity of `op` in `doc` with these variables.
pub fn complexity(doc: &ExecutableDocument, op: &Operation, variables: &JsonMap) -> u64 {
    selection_cost(doc, &op.selection_set, variables, None, 0).max(1)
}

fn selection_cost(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    vars: &JsonMap,
    connection_size: Option<u64>,
    depth: usize,
) -> u64 {
    if depth > 64 {
        return 0;
    }
    let mut total: u64 = 0;
    for sel in &set.selections {
        let c = match sel {
            Selection::Field(f) => {
                let name = f.name.as_str();
                let has_arg = |a: &str| f.definition.arguments.iter().any(|d| d.name == a);
                if name == "__typename" {
                    0
                } else if name == "rateLimits" || name == "__schema" || name == "__type" {
                    FLAT_COST
                } else if f.selection_set.selections.is_empty() {
                    let parent = set.ty.as_str();
                    let expensive = parent == "Stock"
                        && name.ends_with("Quantity")
                        && name != "freeToAllocateQuantity";
                    if expensive { EXPENSIVE_SCALAR } else { 0 }
                } else {
                    // A connection passes its page size down to its `edges`.
                    let size = has_arg("first").then(|| {
                        arg_value(f, "first", vars)
                            .or_else(|| arg_value(f, "last", vars))
                            .unwrap_or(20)
                    });
                    let inner = 1 + selection_cost(doc, &f.selection_set, vars, size, depth + 1);
                    if f.definition.ty.is_list() {
                        let n = if has_arg("limit") {
                            arg_value(f, "limit", vars).unwrap_or(20)
                        } else if name == "edges" {
                            connection_size.unwrap_or(UNPAGED_LIST_ESTIMATE)
                        } else {
                            UNPAGED_LIST_ESTIMATE
                        };
                        n.saturating_mul(inner)
                    } else {
                        inner
                    }
                }
            }
            Selection::InlineFragment(i) => {
                selection_cost(doc, &i.selection_set, vars, connection_size, depth + 1)
            }
            Selection::FragmentSpread(s) => match doc.fragments.get(&s.fragment_name) {
                Some(frag) => {
                    selection_cost(doc, &frag.selection_set, vars, connection_size, depth + 1)
                }
                None => 0,
            },
        };
        total = total.saturating_add(c);
    }
    total
}

/// The value of an Int argument: literal, variable, or the schema default; clamped to 0..=200.
fn arg_value(f: &apollo_compiler::executable::Field, arg: &str, vars: &JsonMap) -> Option<u64> {
    let given = f.arguments.iter().find(|a| a.name == arg).map(|a| a.value.as_ref());
    let value = match given {
        Some(Value::Int(i)) => i.try_to_i32().ok().map(i64::from),
        Some(Value::Variable(v)) => vars.get(v.as_str()).and_then(JsonValue::as_i64),
        _ => None,
    };
    let value = value.or_else(|| {
        f.definition
            .arguments
            .iter()
            .find(|a| a.name == arg)
            .and_then(|a| a.default_value.as_ref())
            .and_then(|d| match d.as_ref() {
                Value::Int(i) => i.try_to_i32().ok().map(i64::from),
                _ => None,
            })
    });
    value.map(|v| v.clamp(0, 200) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::Schema;

    fn cost(q: &str, vars: serde_json::Value) -> u64 {
        let schema =
            Schema::parse_and_validate(crate::SCHEMA_SDL, "s.graphql").expect("schema validates");
        let doc = ExecutableDocument::parse_and_validate(&schema, q, "q.graphql")
            .expect("query validates");
        let op = doc.operations.get(None).expect("one operation");
        let vars = match JsonValue::from(vars) {
            JsonValue::Object(m) => m,
            _ => JsonMap::new(),
        };
        complexity(&doc, op, &vars)
    }

    #[test]
    fn nested_lists_multiply() {
        // orders: 50 × (1 + lines 10 × (1 + unitPrice 1)) = 50 × 21
        assert_eq!(
            cost(
                "{ orders(limit: 50) { id lines { id unitPrice { value } } } }",
                serde_json::json!({})
            ),
            1050
        );
        assert_eq!(
            cost("query($n: Int) { orders(limit: $n) { id } }", serde_json::json!({"n": 7})),
            7
        );
        // default limit 20
        assert_eq!(cost("{ orders { id store { id } } }", serde_json::json!({})), 40);
        assert_eq!(cost("{ rateLimits { type } }", serde_json::json!({})), 10);
        // a connection's edges cost its page size: 1 + 100 × (1 + node 1)
        assert_eq!(
            cost(
                "{ orderConnection(first: 100) { totalCount edges { node { id } } } }",
                serde_json::json!({})
            ),
            1 + 100 * (1 + 1)
        );
    }

    #[test]
    fn expensive_stock_quantities_cost_two_and_free_to_allocate_nothing() {
        let q = |fields: &str| {
            cost(
                &format!("{{ warehouses(limit: 20) {{ id stock(limit: 200) {{ {fields} }} }} }}"),
                serde_json::json!({}),
            )
        };
        assert_eq!(q("freeToAllocateQuantity productSize { id }"), 20 * (1 + 200 * 2));
        assert_eq!(q("freeToAllocateQuantity"), 20 * (1 + 200));
        assert_eq!(q("physicalQuantity"), 20 * (1 + 200 * 3));
        assert_eq!(
            q(
                "physicalQuantity allocatedQuantity demandQuantity availableNowQuantity incomingQuantity onDeliveryQuantity"
            ),
            20 * (1 + 200 * (1 + 6 * 2))
        );
        // The inventory benchmark's page: 20 × (1 + 200 × (1 + 1 + 1)).
        assert_eq!(
            q("freeToAllocateQuantity productSize { id SKU EAN } warehouse { id name }"),
            20 * (1 + 200 * 3)
        );
    }
}
