//! Plan-driven parsing of a record's JSON: a `DeserializeSeed` that keeps
//! only the fields the plan selected, as a tree of slots.
//!
//! Leaves stay as borrowed raw JSON text (`&RawValue`): no number is ever
//! turned into a float, and a leaf costs nothing until a column reads it.
//! Objects become a vector of slots aligned with the plan's [`Layout`].

use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The shape the plan reads at one object level: field names and, for
/// object-valued fields, their own layout. Lists take their element's layout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub keys: Vec<Box<str>>,
    pub kids: Vec<Option<Arc<Layout>>>,
}

impl Layout {
    pub fn slot(&self, key: &str) -> Option<usize> {
        self.keys.iter().position(|k| &**k == key)
    }
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
pub enum J<'a> {
    /// The key was not in the object (or the path does not apply).
    Absent,
    Null,
    /// Raw JSON text of a scalar (or of anything the plan reads as a whole).
    Leaf(&'a str),
    Obj(Vec<J<'a>>),
    Arr(Vec<J<'a>>),
}

pub static ABSENT: J<'static> = J::Absent;

impl J<'_> {
    pub fn is_nullish(&self) -> bool {
        matches!(self, J::Absent | J::Null)
    }
}

/// Parses `text` with `layout` as the root object's layout.
pub fn parse<'a>(text: &'a str, layout: &Layout) -> Result<J<'a>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = NodeSeed(layout).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

struct NodeSeed<'l>(&'l Layout);

impl<'de, 'l> DeserializeSeed<'de> for NodeSeed<'l> {
    type Value = J<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(NodeVisitor(self.0))
    }
}

struct NodeVisitor<'l>(&'l Layout);

impl<'de, 'l> Visitor<'de> for NodeVisitor<'l> {
    type Value = J<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object, a list of objects or null")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(J::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(J::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(item) = seq.next_element_seed(NodeSeed(self.0))? {
            items.push(item);
        }
        Ok(J::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let layout = self.0;
        let mut slots = vec![J::Absent; layout.keys.len()];
        while let Some(found) = map.next_key_seed(KeySeed(layout))? {
            match found {
                Some(i) => match &layout.kids[i] {
                    Some(kid) => slots[i] = map.next_value_seed(NodeSeed(kid))?,
                    None => {
                        let raw: &'de RawValue = map.next_value()?;
                        let text = raw.get();
                        slots[i] = if text == "null" { J::Null } else { J::Leaf(text) };
                    }
                },
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(J::Obj(slots))
    }
}

/// Deserializes a key straight into its slot index, without allocating.
struct KeySeed<'l>(&'l Layout);

impl<'de, 'l> DeserializeSeed<'de> for KeySeed<'l> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'l> Visitor<'de> for KeySeed<'l> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.slot(v))
    }
}

/// Decodes the text of a JSON string leaf (with its quotes); `None` if the
/// leaf is not a string.
pub fn leaf_str(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(std::borrow::Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(raw).ok().map(std::borrow::Cow::Owned)
}

/// Turns a parsed subtree back into JSON, naming fields by their layout.
pub fn to_json(j: &J<'_>, layout: Option<&Layout>) -> serde_json::Value {
    match j {
        J::Absent | J::Null => serde_json::Value::Null,
        J::Leaf(raw) => serde_json::from_str(raw).unwrap_or(serde_json::Value::Null),
        J::Arr(items) => {
            serde_json::Value::Array(items.iter().map(|i| to_json(i, layout)).collect())
        }
        J::Obj(slots) => {
            let mut map = serde_json::Map::new();
            if let Some(layout) = layout {
                for (i, slot) in slots.iter().enumerate() {
                    if matches!(slot, J::Absent) {
                        continue;
                    }
                    map.insert(
                        layout.keys[i].to_string(),
                        to_json(slot, layout.kids[i].as_deref()),
                    );
                }
            }
            serde_json::Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        let money = Arc::new(Layout {
            keys: vec!["valueInCents".into(), "currency".into()],
            kids: vec![
                None,
                Some(Arc::new(Layout { keys: vec!["code".into()], kids: vec![None] })),
            ],
        });
        Layout {
            keys: vec!["id".into(), "total".into(), "lines".into()],
            kids: vec![None, Some(money.clone()), Some(money)],
        }
    }

    #[test]
    fn keeps_selected_fields_as_raw_text_and_skips_the_rest() {
        let text = r#"{"id":"a\"b","skip":{"deep":[1,2]},"total":{"valueInCents":12345,"currency":{"code":"SEK"}},"lines":[{"valueInCents":1.10},null]}"#;
        let j = parse(text, &layout()).unwrap();
        let J::Obj(slots) = &j else { panic!("{j:?}") };
        assert_eq!(slots[0], J::Leaf(r#""a\"b""#));
        assert_eq!(leaf_str(r#""a\"b""#).unwrap(), "a\"b");
        let J::Obj(total) = &slots[1] else { panic!() };
        assert_eq!(total[0], J::Leaf("12345"));
        let J::Arr(lines) = &slots[2] else { panic!() };
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], J::Null);
        let J::Obj(l0) = &lines[0] else { panic!() };
        assert_eq!(l0[0], J::Leaf("1.10"), "number text is kept exactly");
        assert_eq!(l0[1], J::Absent);
    }

    #[test]
    fn broken_json_is_an_error_not_a_panic() {
        for bad in ["", "{", "[1,", r#"{"id":}"#, r#"{"total":5}"#, "{} x"] {
            assert!(parse(bad, &layout()).is_err(), "{bad}");
        }
    }

    #[test]
    fn to_json_names_fields_from_the_layout() {
        let j =
            parse(r#"{"total":{"valueInCents":5,"currency":{"code":"EUR"}}}"#, &layout()).unwrap();
        let J::Obj(slots) = &j else { panic!() };
        let l = layout();
        assert_eq!(
            to_json(&slots[1], l.kids[1].as_deref()),
            serde_json::json!({"valueInCents": 5, "currency": {"code": "EUR"}})
        );
    }
}
