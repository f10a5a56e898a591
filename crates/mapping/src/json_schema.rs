//! Record descriptions in JSON Schema, for sources without GraphQL: turned
//! into the same schema model the compiler checks paths against, so a
//! mapping of a REST source gets the same checks and the same
//! file:line:column errors.
//!
//! The subset read: a document whose `$defs` are the record types; in them
//! `type` (one, or one and `"null"`), `properties`, `items`, `$ref` to
//! `#/$defs/Name`, `enum` (text), and `format: date-time` (a timestamp) or
//! `format: date` (a date). An object without `properties` is free-form
//! JSON. Anything else (`oneOf`, `allOf`, tuples, remote references) is
//! refused naming the place, never guessed.

use std::collections::BTreeMap;
use std::fmt::Write;

use cartage_core::ColumnType;
use serde_json::Value;

/// The scalars the SDL this module writes uses beyond GraphQL's own.
pub(crate) const SCALARS: [(&str, ColumnType); 3] = [
    ("JsonDateTime", ColumnType::Timestamp),
    ("JsonDate", ColumnType::Date),
    ("JsonValue", ColumnType::Json),
];

/// SDL equivalent to the JSON Schema `text`; the error names the place
/// (a JSON pointer) and what is wrong there.
pub(crate) fn to_sdl(text: &str) -> Result<String, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let defs = doc
        .get("$defs")
        .and_then(Value::as_object)
        .ok_or("expected an object of record types under \"$defs\"")?;
    let mut out = Converter { types: BTreeMap::new() };
    for (name, def) in defs {
        check_name(name, &format!("/$defs/{name}"))?;
        out.object(name, def, &format!("/$defs/{name}"))?;
    }
    let mut sdl = String::new();
    for (s, _) in SCALARS {
        let _ = writeln!(sdl, "scalar {s}");
    }
    for (name, fields) in &out.types {
        let _ = writeln!(sdl, "type {name} {{");
        for (field, ty) in fields {
            let _ = writeln!(sdl, "  {field}: {ty}");
        }
        if fields.is_empty() {
            // GraphQL has no empty types; a record type without fields
            // still needs a body.
            sdl.push_str("  _empty: Boolean\n");
        }
        sdl.push_str("}\n");
    }
    // The schema's root: GraphQL needs one, no path starts there.
    let root = out.types.keys().next().cloned().unwrap_or_else(|| "Boolean".into());
    let _ = writeln!(sdl, "type Query {{ _records: [{root}] }}");
    Ok(sdl)
}

struct Converter {
    /// Type name -> (field, GraphQL type).
    types: BTreeMap<String, Vec<(String, String)>>,
}

impl Converter {
    fn object(&mut self, name: &str, def: &Value, at: &str) -> Result<(), String> {
        let Some(props) = def.get("properties") else {
            return Err(format!("{at}: a record type needs \"properties\""));
        };
        let props = props.as_object().ok_or(format!("{at}/properties: expected an object"))?;
        if self.types.insert(name.to_owned(), Vec::new()).is_some() {
            return Err(format!("{at}: the type name {name} is used twice"));
        }
        let mut fields = Vec::new();
        for (field, schema) in props {
            let here = format!("{at}/properties/{field}");
            check_name(field, &here)?;
            let ty = self.field_type(name, field, schema, &here)?;
            fields.push((field.clone(), ty));
        }
        self.types.insert(name.to_owned(), fields);
        Ok(())
    }

    /// The GraphQL type of a property (inline objects become types named
    /// after their parent and field: `Order_shipping`).
    fn field_type(
        &mut self,
        parent: &str,
        field: &str,
        schema: &Value,
        at: &str,
    ) -> Result<String, String> {
        let obj = schema.as_object().ok_or(format!("{at}: expected a schema object"))?;
        for unsupported in ["oneOf", "anyOf", "allOf", "not", "prefixItems", "if"] {
            if obj.contains_key(unsupported) {
                return Err(format!(
                    "{at}: \"{unsupported}\" is not supported (describe one type per field)"
                ));
            }
        }
        if let Some(r) = obj.get("$ref") {
            let r = r.as_str().ok_or(format!("{at}/$ref: expected a string"))?;
            return r.strip_prefix("#/$defs/").map(str::to_owned).ok_or(format!(
                "{at}/$ref: only references to #/$defs/<Name> are supported, found {r:?}"
            ));
        }
        if obj.contains_key("enum") && !obj.contains_key("type") {
            return Ok("String".into());
        }
        let ty = match obj.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => {
                let named: Vec<&str> =
                    ts.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
                match named[..] {
                    [one] if ts.len() <= 2 => one,
                    _ => {
                        return Err(format!(
                            "{at}/type: expected one type, or one type and \"null\""
                        ));
                    }
                }
            }
            _ => return Err(format!("{at}: expected \"type\" or \"$ref\"")),
        };
        Ok(match ty {
            "string" => match obj.get("format").and_then(Value::as_str) {
                Some("date-time") => "JsonDateTime".into(),
                Some("date") => "JsonDate".into(),
                _ => "String".into(),
            },
            "integer" => "Int".into(),
            "number" => "Float".into(),
            "boolean" => "Boolean".into(),
            "object" if obj.contains_key("properties") => {
                let name = format!("{parent}_{field}");
                self.object(&name, schema, at)?;
                name
            }
            "object" => "JsonValue".into(),
            "array" => {
                let items = obj.get("items").ok_or(format!("{at}: an array needs \"items\""))?;
                let inner = self.field_type(parent, field, items, &format!("{at}/items"))?;
                format!("[{inner}]")
            }
            other => return Err(format!("{at}/type: unknown type {other:?}")),
        })
    }
}

/// A name a mapping path can spell (GraphQL's name rule).
fn check_name(name: &str, at: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok && !name.starts_with("__") {
        Ok(())
    } else {
        Err(format!("{at}: {name:?} is not a name a mapping path can use (letters, digits and _)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_nullable_types_refs_inline_objects_and_lists() {
        let sdl = to_sdl(
            r##"{"$defs": {
              "Order": {"type": "object", "properties": {
                "id": {"type": "integer"},
                "placed": {"type": ["string", "null"], "format": "date-time"},
                "status": {"enum": ["open", "closed"]},
                "total": {"$ref": "#/$defs/Money"},
                "shipping": {"type": "object", "properties": {"country": {"type": "string"}}},
                "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
                "extra": {"type": "object"}
              }},
              "Line": {"type": "object", "properties": {"qty": {"type": "number"}, "gift": {"type": "boolean"}}},
              "Money": {"type": "object", "properties": {"amount": {"type": "string"}, "currency": {"type": "string"}}}
            }}"##,
        )
        .unwrap();
        assert!(sdl.contains("type Order {\n  extra: JsonValue\n  id: Int\n  lines: [Line]\n  placed: JsonDateTime\n  shipping: Order_shipping\n  status: String\n  total: Money\n}"), "{sdl}");
        assert!(sdl.contains("type Order_shipping {\n  country: String\n}"), "{sdl}");
        assert!(sdl.contains("type Line {\n  gift: Boolean\n  qty: Float\n}"), "{sdl}");
    }

    #[test]
    fn what_is_not_supported_is_refused_at_its_place() {
        let check = |text: &str, expected: &str| assert_eq!(to_sdl(text).unwrap_err(), expected);
        check("[1]", "expected an object of record types under \"$defs\"");
        check("{", "not JSON: EOF while parsing an object at line 1 column 1");
        check(
            r#"{"$defs": {"A": {"properties": {"x": {"oneOf": []}}}}}"#,
            "/$defs/A/properties/x: \"oneOf\" is not supported (describe one type per field)",
        );
        check(
            r#"{"$defs": {"A": {"properties": {"x-y": {"type": "string"}}}}}"#,
            "/$defs/A/properties/x-y: \"x-y\" is not a name a mapping path can use (letters, digits and _)",
        );
        check(
            r#"{"$defs": {"A": {"properties": {"x": {"$ref": "other.json#/B"}}}}}"#,
            "/$defs/A/properties/x/$ref: only references to #/$defs/<Name> are supported, found \"other.json#/B\"",
        );
        check(
            r#"{"$defs": {"A": {"properties": {"x": {"type": ["string", "integer"]}}}}}"#,
            "/$defs/A/properties/x/type: expected one type, or one type and \"null\"",
        );
        check(
            r#"{"$defs": {"A": {"type": "object"}}}"#,
            "/$defs/A: a record type needs \"properties\"",
        );
    }
}
