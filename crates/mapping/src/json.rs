//! Plan-driven parsing of a record's JSON: a `DeserializeSeed` that keeps
//! only the fields the plan selected, as a flat tape of nodes.
//!
//! Leaves stay as spans of the raw JSON text (`&RawValue` offsets): no number
//! is ever turned into a float, and a leaf costs nothing until a column reads
//! it. Objects are runs of slots on the tape aligned with the plan's
//! [`Layout`]; lists are runs of elements. The tape is one vector reused from
//! record to record, so parsing allocates nothing once it has grown.

use std::cell::RefCell;
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
        self.slot_from(key, 0)
    }

    /// The slot of `key`, trying `guess` first. GraphQL answers list fields
    /// in the order of the selection, which is the layout's order, so the
    /// key after slot `i` is almost always slot `i + 1`: one comparison.
    fn slot_from(&self, key: &str, guess: usize) -> Option<usize> {
        if self.keys.get(guess).is_some_and(|k| same_key(k, key)) {
            return Some(guess);
        }
        self.keys.iter().position(|k| same_key(k, key))
    }
}

/// Key equality for short keys: length and first byte before the bytes, so
/// most mismatches cost no call to `memcmp`.
#[inline]
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.first() == b.first() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A parsed value: a node of the tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum N {
    /// The key was not in the object (or the path does not apply).
    Absent,
    Null,
    /// Raw JSON text of a scalar (or of anything the plan reads whole):
    /// `text[at..at + len]`.
    Leaf {
        at: u32,
        len: u32,
    },
    /// Slots `tape[start..start + len]`, aligned with the layout's keys.
    Obj {
        start: u32,
        len: u32,
    },
    /// Elements `tape[start..start + len]`.
    Arr {
        start: u32,
        len: u32,
    },
}

impl N {
    pub fn is_nullish(self) -> bool {
        matches!(self, N::Absent | N::Null)
    }
}

/// A parsed record: its text and its tape; the root is the last node.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    pub text: &'a str,
    pub tape: &'a [N],
    pub root: N,
}

impl<'a> Doc<'a> {
    /// The raw JSON text of a leaf.
    pub fn raw(&self, n: N) -> Option<&'a str> {
        match n {
            N::Leaf { at, len } => self.text.get(at as usize..(at as usize + len as usize)),
            _ => None,
        }
    }

    /// Slot `i` of an object; `Absent` for anything else.
    pub fn slot(&self, n: N, i: usize) -> N {
        match n {
            N::Obj { start, len } if i < len as usize => {
                self.tape.get(start as usize + i).copied().unwrap_or(N::Absent)
            }
            _ => N::Absent,
        }
    }

    /// The elements of a list (empty for anything else).
    pub fn items(&self, n: N) -> &'a [N] {
        match n {
            N::Arr { start, len } => {
                self.tape.get(start as usize..start as usize + len as usize).unwrap_or(&[])
            }
            _ => &[],
        }
    }
}

/// The reusable buffers of one thread: the tape and a stack for lists.
#[derive(Default)]
pub struct Buffers {
    tape: Vec<N>,
    stack: Vec<N>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Parses `text` with `layout` as the root object's layout and hands the
/// document to `f`, reusing this thread's buffers.
pub fn with_parsed<R>(
    text: &str,
    layout: &Layout,
    f: impl FnOnce(Result<Doc<'_>, serde_json::Error>) -> R,
) -> R {
    BUFFERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => run(text, layout, &mut bufs, f),
        // Only reachable if `f` maps another record on this thread: use fresh buffers.
        Err(_) => run(text, layout, &mut Buffers::default(), f),
    })
}

fn run<R>(
    text: &str,
    layout: &Layout,
    bufs: &mut Buffers,
    f: impl FnOnce(Result<Doc<'_>, serde_json::Error>) -> R,
) -> R {
    bufs.tape.clear();
    bufs.stack.clear();
    let parsed = parse_into(text, layout, bufs);
    match parsed {
        Ok(root) => f(Ok(Doc { text, tape: &bufs.tape, root })),
        Err(e) => f(Err(e)),
    }
}

fn parse_into(text: &str, layout: &Layout, bufs: &mut Buffers) -> Result<N, serde_json::Error> {
    if text.len() > u32::MAX as usize {
        return Err(serde::de::Error::custom("record larger than 4 GiB"));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let root = NodeSeed { layout, bufs, base: text.as_ptr() as usize, len: text.len() }
        .deserialize(&mut de)?;
    de.end()?;
    Ok(root)
}

struct NodeSeed<'l, 'b> {
    layout: &'l Layout,
    bufs: &'b mut Buffers,
    base: usize,
    len: usize,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_, '_> {
    type Value = N;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<N, D::Error> {
        deserializer.deserialize_any(self)
    }
}

fn u32_of<E: serde::de::Error>(n: usize) -> Result<u32, E> {
    u32::try_from(n).map_err(|_| E::custom("record too large"))
}

impl<'de> Visitor<'de> for NodeSeed<'_, '_> {
    type Value = N;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object, a list of objects or null")
    }

    fn visit_unit<E>(self) -> Result<N, E> {
        Ok(N::Null)
    }

    fn visit_none<E>(self) -> Result<N, E> {
        Ok(N::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<N, A::Error> {
        let mark = self.bufs.stack.len();
        loop {
            let seed = NodeSeed {
                layout: self.layout,
                bufs: &mut *self.bufs,
                base: self.base,
                len: self.len,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => self.bufs.stack.push(item),
                None => break,
            }
        }
        let start = self.bufs.tape.len();
        let count = self.bufs.stack.len() - mark;
        let Buffers { tape, stack } = &mut *self.bufs;
        tape.extend(stack.drain(mark..));
        Ok(N::Arr { start: u32_of(start)?, len: u32_of(count)? })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<N, A::Error> {
        let layout = self.layout;
        let start = self.bufs.tape.len();
        let count = layout.keys.len();
        self.bufs.tape.resize(start + count, N::Absent);
        let mut guess = 0;
        while let Some(found) = map.next_key_seed(KeySeed { layout, guess })? {
            match found {
                Some(i) => {
                    guess = i + 1;
                    let node = match &layout.kids[i] {
                        Some(kid) => map.next_value_seed(NodeSeed {
                            layout: kid,
                            bufs: &mut *self.bufs,
                            base: self.base,
                            len: self.len,
                        })?,
                        None => {
                            let raw: &'de RawValue = map.next_value()?;
                            let text = raw.get();
                            if text == "null" {
                                N::Null
                            } else {
                                let at = (text.as_ptr() as usize).wrapping_sub(self.base);
                                if at > self.len || text.len() > self.len - at {
                                    return Err(serde::de::Error::custom(
                                        "value outside the record",
                                    ));
                                }
                                N::Leaf { at: u32_of(at)?, len: u32_of(text.len())? }
                            }
                        }
                    };
                    self.bufs.tape[start + i] = node;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(N::Obj { start: u32_of(start)?, len: u32_of(count)? })
    }
}

/// Deserializes a key straight into its slot index, without allocating.
struct KeySeed<'l> {
    layout: &'l Layout,
    /// The slot the key most likely has.
    guess: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.layout.slot_from(v, self.guess))
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
pub fn to_json(doc: &Doc<'_>, n: N, layout: Option<&Layout>) -> serde_json::Value {
    match n {
        N::Absent | N::Null => serde_json::Value::Null,
        N::Leaf { .. } => doc
            .raw(n)
            .and_then(|raw| serde_json::from_str(raw).ok())
            .unwrap_or(serde_json::Value::Null),
        N::Arr { .. } => serde_json::Value::Array(
            doc.items(n).iter().map(|i| to_json(doc, *i, layout)).collect(),
        ),
        N::Obj { len, .. } => {
            let mut map = serde_json::Map::new();
            if let Some(layout) = layout {
                for i in 0..len as usize {
                    let slot = doc.slot(n, i);
                    if slot == N::Absent {
                        continue;
                    }
                    if let (Some(key), Some(kid)) = (layout.keys.get(i), layout.kids.get(i)) {
                        map.insert(key.to_string(), to_json(doc, slot, kid.as_deref()));
                    }
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
        let text = r#"{"id":"a\"b","skip":{"deep":[1,2]},"total":{"valueInCents":12345,"currency":{"code":"SEK"}},"lines":[{"valueInCents":1.10,"currency":{"code":"X"}},null,{"currency":null}]}"#;
        with_parsed(text, &layout(), |doc| {
            let doc = doc.unwrap();
            let id = doc.slot(doc.root, 0);
            assert_eq!(doc.raw(id), Some(r#""a\"b""#));
            assert_eq!(leaf_str(r#""a\"b""#).unwrap(), "a\"b");
            let total = doc.slot(doc.root, 1);
            assert_eq!(doc.raw(doc.slot(total, 0)), Some("12345"));
            let code = doc.slot(doc.slot(total, 1), 0);
            assert_eq!(doc.raw(code), Some(r#""SEK""#));
            let lines = doc.items(doc.slot(doc.root, 2));
            assert_eq!(lines.len(), 3);
            assert_eq!(lines[1], N::Null);
            assert_eq!(doc.raw(doc.slot(lines[0], 0)), Some("1.10"), "number text is kept exactly");
            assert_eq!(doc.raw(doc.slot(doc.slot(lines[0], 1), 0)), Some(r#""X""#));
            assert_eq!(doc.slot(lines[2], 0), N::Absent);
            assert_eq!(doc.slot(lines[2], 1), N::Null);
        });
    }

    #[test]
    fn nested_lists_keep_their_elements_together() {
        let inner = Arc::new(Layout { keys: vec!["v".into()], kids: vec![None] });
        let l = Layout { keys: vec!["a".into()], kids: vec![Some(inner)] };
        with_parsed(r#"{"a":[[{"v":1},{"v":2}],[],[{"v":3}]]}"#, &l, |doc| {
            let doc = doc.unwrap();
            let outer = doc.items(doc.slot(doc.root, 0));
            assert_eq!(outer.len(), 3);
            let first = doc.items(outer[0]);
            assert_eq!(first.len(), 2);
            assert_eq!(doc.raw(doc.slot(first[1], 0)), Some("2"));
            assert_eq!(doc.items(outer[1]).len(), 0);
            assert_eq!(doc.raw(doc.slot(doc.items(outer[2])[0], 0)), Some("3"));
        });
    }

    #[test]
    fn broken_json_is_an_error_not_a_panic() {
        for bad in ["", "{", "[1,", r#"{"id":}"#, r#"{"total":5}"#, "{} x"] {
            with_parsed(bad, &layout(), |doc| assert!(doc.is_err(), "{bad}"));
        }
    }

    #[test]
    fn to_json_names_fields_from_the_layout() {
        let l = layout();
        with_parsed(r#"{"total":{"valueInCents":5,"currency":{"code":"EUR"}}}"#, &l, |doc| {
            let doc = doc.unwrap();
            assert_eq!(
                to_json(&doc, doc.slot(doc.root, 1), l.kids[1].as_deref()),
                serde_json::json!({"valueInCents": 5, "currency": {"code": "EUR"}})
            );
        });
    }
}
