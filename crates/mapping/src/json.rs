//! Plan-driven parsing of a record's JSON: a scanner that keeps only the
//! fields the plan selected, as a flat tape of nodes.
//!
//! Leaves stay as spans of the raw JSON text: no number is ever turned into
//! a float, and a leaf costs nothing until a column reads it. Objects are
//! runs of slots on the tape aligned with the plan's [`Layout`]; lists are
//! runs of elements. The tape is one vector reused from record to record, so
//! parsing allocates nothing once it has grown.
//!
//! The scanner is written for this one job instead of driving
//! `serde_json`'s deserializer: a generic deserializer hands every key and
//! leaf through visitor calls (a leaf as a `RawValue` costs a second pass),
//! which made parsing half of the mapping's time. The scanner still checks
//! the whole text against the JSON grammar, skipped parts included, and a
//! property test holds it to `serde_json`'s verdict on the same input.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// The shape the plan reads at one object level: field names and, for
/// object-valued fields, their own layout. Lists take their element's layout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub keys: Vec<Box<str>>,
    pub kids: Vec<Option<Arc<Layout>>>,
    /// Per key: it needs no escaping in JSON (true of every GraphQL name),
    /// so matching its bytes in place is matching the string.
    plain: Vec<bool>,
}

impl Layout {
    /// A layout of `keys`; `kids[i]` is the layout of `keys[i]`'s value
    /// when the plan reads into it (missing entries read as leaves).
    pub fn new(keys: Vec<Box<str>>, mut kids: Vec<Option<Arc<Layout>>>) -> Layout {
        kids.resize(keys.len(), None);
        let plain =
            keys.iter().map(|k| k.bytes().all(|c| c >= 0x20 && c != b'"' && c != b'\\')).collect();
        Layout { keys, kids, plain }
    }

    pub fn slot(&self, key: &str) -> Option<usize> {
        self.slot_from(key.as_bytes(), 0)
    }

    /// The slot of `key`, trying `guess` first. GraphQL answers list fields
    /// in the order of the selection, which is the layout's order, so the
    /// key after slot `i` is almost always slot `i + 1`: one comparison.
    fn slot_from(&self, key: &[u8], guess: usize) -> Option<usize> {
        if self.keys.get(guess).is_some_and(|k| same_key(k.as_bytes(), key)) {
            return Some(guess);
        }
        self.keys.iter().position(|k| same_key(k.as_bytes(), key))
    }
}

/// Key equality for short keys: length and first byte before the bytes, so
/// most mismatches cost no call to `memcmp`.
#[inline]
fn same_key(a: &[u8], b: &[u8]) -> bool {
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
    #[inline]
    pub fn raw(&self, n: N) -> Option<&'a str> {
        match n {
            N::Leaf { at, len } => self.text.get(at as usize..(at as usize + len as usize)),
            _ => None,
        }
    }

    /// Slot `i` of an object; `Absent` for anything else.
    #[inline]
    pub fn slot(&self, n: N, i: usize) -> N {
        match n {
            N::Obj { start, len } if i < len as usize => {
                self.tape.get(start as usize + i).copied().unwrap_or(N::Absent)
            }
            _ => N::Absent,
        }
    }

    /// The elements of a list (empty for anything else).
    #[inline]
    pub fn items(&self, n: N) -> &'a [N] {
        match n {
            N::Arr { start, len } => {
                self.tape.get(start as usize..start as usize + len as usize).unwrap_or(&[])
            }
            _ => &[],
        }
    }
}

/// Why a record's text is not a JSON document the plan can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the record's text.
    pub at: usize,
    pub what: std::borrow::Cow<'static, str>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.what, self.at)
    }
}

impl std::error::Error for ParseError {}

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
    f: impl FnOnce(Result<Doc<'_>, ParseError>) -> R,
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
    f: impl FnOnce(Result<Doc<'_>, ParseError>) -> R,
) -> R {
    bufs.tape.clear();
    bufs.stack.clear();
    match parse_into(text, layout, bufs) {
        Ok(root) => f(Ok(Doc { text, tape: &bufs.tape, root })),
        Err(e) => f(Err(e)),
    }
}

fn parse_into(text: &str, layout: &Layout, bufs: &mut Buffers) -> Result<N, ParseError> {
    if u32::try_from(text.len()).is_err() {
        return Err(ParseError { at: 0, what: "record larger than 4 GiB".into() });
    }
    let mut scan = Scanner { b: text.as_bytes(), i: 0, depth: 0, bufs };
    scan.ws();
    let root = scan.node(layout, Field::Record)?;
    scan.ws();
    if scan.i != scan.b.len() {
        return Err(scan.err("trailing characters"));
    }
    Ok(root)
}

/// Checks that `text` is one JSON value, as the scanner reads any part of a
/// record it skips.
#[cfg(test)]
fn validate(text: &str) -> Result<(), ParseError> {
    let mut bufs = Buffers::default();
    let mut scan = Scanner { b: text.as_bytes(), i: 0, depth: 0, bufs: &mut bufs };
    scan.ws();
    scan.skip_value()?;
    scan.ws();
    if scan.i != scan.b.len() {
        return Err(scan.err("trailing characters"));
    }
    Ok(())
}

/// Where a value sits, for an error about its shape.
#[derive(Clone, Copy)]
enum Field<'a> {
    Record,
    Key(&'a str),
    ElementOf(&'a str),
}

impl<'a> Field<'a> {
    fn element(self) -> Field<'a> {
        match self {
            Field::Key(k) | Field::ElementOf(k) => Field::ElementOf(k),
            Field::Record => Field::Record,
        }
    }
}

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Record => f.write_str("the record"),
            Field::Key(k) => write!(f, "field {k:?}"),
            Field::ElementOf(k) => write!(f, "an element of field {k:?}"),
        }
    }
}

/// Nesting this deep is refused, so a hostile record cannot exhaust the
/// stack. Unlike `serde_json`, which limits only what it deserializes, the
/// limit holds in skipped parts too.
const MAX_DEPTH: u32 = 128;

struct Scanner<'t, 'b> {
    b: &'t [u8],
    i: usize,
    depth: u32,
    bufs: &'b mut Buffers,
}

impl Scanner<'_, '_> {
    /// An error at the current byte, saying what was found there.
    fn err(&self, what: &'static str) -> ParseError {
        // (At the end of the text the message says so already.)
        let found = match self.b.get(self.i..) {
            None | Some([]) => String::new(),
            Some(rest) => {
                let text = String::from_utf8_lossy(&rest[..rest.len().min(12)]);
                format!(", found {:?}", text.chars().take(8).collect::<String>())
            }
        };
        ParseError { at: self.i, what: format!("{what}{found}").into() }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), ParseError> {
        self.ws();
        if self.peek() == Some(byte) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// A tape index or text offset as stored in a node.
    fn index(&self, n: usize) -> Result<u32, ParseError> {
        u32::try_from(n).map_err(|_| self.err("record too large"))
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH { Err(self.err("nesting too deep")) } else { Ok(()) }
    }

    /// A value the plan reads into: an object with `layout`, a list of such
    /// values, or null. `field` names it in an error.
    fn node(&mut self, layout: &Layout, field: Field<'_>) -> Result<N, ParseError> {
        match self.peek() {
            Some(b'{') => self.object(layout),
            Some(b'[') => self.list(layout, field),
            Some(b'n') => {
                self.literal(b"null")?;
                Ok(N::Null)
            }
            Some(_) => {
                // Check the value first, so a broken one is reported as such.
                let at = self.i;
                self.skip_value()?;
                let text = String::from_utf8_lossy(&self.b[at..self.i]);
                let mut shown: String = text.chars().take(40).collect();
                if shown.len() < text.len() {
                    shown.push_str("...");
                }
                Err(ParseError {
                    at,
                    what: format!(
                        "{field} is {shown}, where an object, a list of objects or null was expected"
                    )
                    .into(),
                })
            }
            None => Err(self.err("unexpected end of the record")),
        }
    }

    fn object(&mut self, layout: &Layout) -> Result<N, ParseError> {
        let start = self.bufs.tape.len();
        let count = layout.keys.len();
        self.bufs.tape.resize(start + count, N::Absent);
        let mut guess = 0;
        self.members(b'}', |s| {
            let slot = s.field_name(|s| s.key(layout, guess))?;
            if let Some(i) = slot {
                guess = i + 1;
                let node = match layout.kids.get(i) {
                    Some(Some(kid)) => s.node(kid, Field::Key(&layout.keys[i]))?,
                    _ => s.leaf()?,
                };
                s.bufs.tape[start + i] = node;
            } else {
                s.skip_value()?;
            }
            Ok(())
        })?;
        Ok(N::Obj { start: self.index(start)?, len: self.index(count)? })
    }

    fn list(&mut self, layout: &Layout, field: Field<'_>) -> Result<N, ParseError> {
        let mark = self.bufs.stack.len();
        self.members(b']', |s| {
            let item = s.node(layout, field.element())?;
            s.bufs.stack.push(item);
            Ok(())
        })?;
        let start = self.bufs.tape.len();
        let Buffers { tape, stack } = &mut *self.bufs;
        let count = stack.len() - mark;
        tape.extend(stack.drain(mark..));
        Ok(N::Arr { start: self.index(start)?, len: self.index(count)? })
    }

    /// Walks an object (`close` is `}`) or a list (`]`) from its opening
    /// bracket to past its closing one, calling `member` at each member
    /// (whitespace skipped) to read it, and checking the commas between.
    fn members(
        &mut self,
        close: u8,
        mut member: impl FnMut(&mut Self) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        self.enter()?;
        self.i += 1; // `{` or `[`
        self.ws();
        if self.peek() == Some(close) {
            self.i += 1;
        } else {
            loop {
                self.ws();
                member(self)?;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(c) if c == close => {
                        self.i += 1;
                        break;
                    }
                    _ if close == b'}' => return Err(self.err("expected `,` or `}` in an object")),
                    _ => return Err(self.err("expected `,` or `]` in a list")),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// An object member's name, read by `name`, and the `:` after it; leaves
    /// the scanner at the value.
    fn field_name<T>(
        &mut self,
        name: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a field name"));
        }
        let read = name(self)?;
        self.expect(b':', "expected `:` after a field name")?;
        self.ws();
        Ok(read)
    }

    /// A field name, as its slot in `layout` (`None`: the plan skips it).
    fn key(&mut self, layout: &Layout, guess: usize) -> Result<Option<usize>, ParseError> {
        let open = self.i;
        // The expected name followed by its closing quote: for a name that
        // needs no escaping (every GraphQL name), the bytes matching is the
        // whole string read, without scanning it.
        if let (Some(k), Some(true)) = (layout.keys.get(guess), layout.plain.get(guess)) {
            let k = k.as_bytes();
            let end = open + 1 + k.len();
            if self.b.get(end) == Some(&b'"')
                && self.b.get(open + 1..end).is_some_and(|got| same_key(got, k))
            {
                self.i = end + 1;
                return Ok(Some(guess));
            }
        }
        let escaped = self.string()?;
        let inner = &self.b[open + 1..self.i - 1];
        if !escaped {
            return Ok(layout.slot_from(inner, guess));
        }
        // Field names with escapes are rare: decode them the slow way.
        let raw =
            std::str::from_utf8(&self.b[open..self.i]).map_err(|_| self.err("invalid UTF-8"))?;
        let name: String = serde_json::from_str(raw)
            .map_err(|_| ParseError { at: open, what: "invalid string".into() })?;
        Ok(layout.slot_from(name.as_bytes(), guess))
    }

    /// A value read whole as raw text; `null` is `Null`.
    fn leaf(&mut self) -> Result<N, ParseError> {
        let at = self.i;
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(N::Null);
        }
        self.skip_value()?;
        Ok(N::Leaf { at: self.index(at)?, len: self.index(self.i - at)? })
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), ParseError> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("invalid literal"))
        }
    }

    /// Skips one value of any kind, checking its grammar.
    fn skip_value(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{') => self.members(b'}', |s| {
                s.field_name(Self::string)?;
                s.skip_value()
            }),
            Some(b'[') => self.members(b']', Self::skip_value),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of the record")),
        }
    }

    /// A number by the JSON grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Result<(), ParseError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("invalid number"));
            }
            self.digits();
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    /// A string starting at its opening quote; leaves `i` after the closing
    /// quote. Returns whether it held an escape.
    fn string(&mut self) -> Result<bool, ParseError> {
        self.i += 1; // `"`
        let mut escaped = false;
        loop {
            self.i = plain_run(self.b, self.i);
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            let hex = self.b.get(self.i + 1..self.i + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(self.err("invalid escape"));
                            }
                            self.i += 5;
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in a string")),
                None => return Err(self.err("unterminated string")),
            }
        }
    }
}

/// The end of the run of ordinary string bytes from `i`: the first `"`,
/// `\\` or control character, eight bytes at a time (the same trick as
/// `serde_json`'s string scanner).
#[inline]
fn plain_run(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn zero_bytes(v: u64) -> u64 {
        v.wrapping_sub(ONES) & !v & HIGH
    }
    while let Some(chunk) = b.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let hits = zero_bytes(v ^ (ONES * u64::from(b'"')))
            | zero_bytes(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGH);
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Decodes the text of a JSON string leaf (with its quotes); `None` if the
/// leaf is not a string.
#[inline]
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
        let money = Arc::new(Layout::new(
            vec!["valueInCents".into(), "currency".into()],
            vec![None, Some(Arc::new(Layout::new(vec!["code".into()], vec![None])))],
        ));
        Layout::new(
            vec!["id".into(), "total".into(), "lines".into()],
            vec![None, Some(money.clone()), Some(money)],
        )
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
            "[a-z\"\\\\\u{0}-\u{1f}é😀 ]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z\"]{0,6}", inner, 0..6)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Valid JSON, and JSON with one character changed, inserted or
        /// removed: the scanner accepts exactly what `serde_json` accepts.
        #[test]
        fn the_scanner_agrees_with_serde_json(
            value in json_value(),
            pretty in proptest::bool::ANY,
            edit in proptest::option::of((0usize..400, 0u8..3, proptest::sample::select(
                vec!['{', '}', '[', ']', ',', ':', '"', '\\', 'n', 't', 'f', 'u', '0', '1', '-', '.', 'e', '+', ' ', '\n', '\u{1}', 'x'],
            ))),
        ) {
            let mut text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            if let Some((at, op, c)) = edit {
                let at = text.char_indices().map(|(i, _)| i).nth(at % (text.chars().count() + 1)).unwrap_or(text.len());
                match op {
                    0 => text.insert(at, c),
                    1 if at < text.len() => { text.remove(at); }
                    _ if at < text.len() => { text.remove(at); text.insert(at, c); }
                    _ => text.push(c),
                }
            }
            let ours = validate(&text);
            let theirs = serde_json::from_str::<serde::de::IgnoredAny>(&text);
            proptest::prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}: ours {:?}, serde_json {:?}", text, ours, theirs.err());
        }
    }

    #[test]
    fn the_grammar_is_checked_where_the_plan_does_not_look() {
        for bad in [
            r#"{"skip":01}"#,
            r#"{"skip":1.}"#,
            r#"{"skip":-}"#,
            r#"{"skip":1e}"#,
            r#"{"skip":"\x"}"#,
            r#"{"skip":"\u12g4"}"#,
            "{\"skip\":\"a\u{1}b\"}",
            r#"{"skip":[1,]}"#,
            r#"{"skip":{"a":1,}}"#,
            r#"{"skip":tru}"#,
            r#"{"skip":nul}"#,
            r#"{"skip" 1}"#,
            r#"{skip:1}"#,
        ] {
            assert!(validate(bad).is_err(), "{bad}");
            with_parsed(bad, &layout(), |doc| assert!(doc.is_err(), "{bad}"));
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(validate(&deep).is_err(), "nesting is bounded");
        let ok = r#" { "skip" : [ -0.5e+3 , true , false , null , { } , [ ] , "\u00e9\n" ] , "id" : 1 } "#;
        assert_eq!(validate(ok), Ok(()));
    }

    #[test]
    fn a_key_with_escapes_still_finds_its_slot() {
        with_parsed(r#"{"\u0069d":"x"}"#, &layout(), |doc| {
            let doc = doc.unwrap();
            assert_eq!(doc.raw(doc.slot(doc.root, 0)), Some(r#""x""#));
        });
    }

    #[test]
    fn a_name_that_needs_escaping_is_not_matched_in_place() {
        // The layout's key is `a\`; in JSON that is `"a\\"`. Matched in place
        // as bytes, `"a\"` would read as the key `a` plus an escaped quote.
        let l = Layout::new(vec!["a\\".into(), "b".into()], vec![None, None]);
        with_parsed(r#"{"a\\":1,"b":2}"#, &l, |doc| {
            let doc = doc.unwrap();
            assert_eq!(doc.raw(doc.slot(doc.root, 0)), Some("1"));
            assert_eq!(doc.raw(doc.slot(doc.root, 1)), Some("2"));
        });
    }

    #[test]
    fn a_syntax_error_says_what_it_found() {
        with_parsed(r#"{"id":1,"total":{"valueInCents":12 34}}"#, &layout(), |doc| {
            assert_eq!(
                doc.unwrap_err().to_string(),
                r#"expected `,` or `}` in an object, found "34}}" (at byte 35)"#
            );
        });
        with_parsed(r#"{"id":"#, &layout(), |doc| {
            assert_eq!(doc.unwrap_err().to_string(), "unexpected end of the record (at byte 6)");
        });
    }

    #[test]
    fn a_shape_error_names_the_field_and_the_value() {
        with_parsed(r#"{"id":1,"total":[{"valueInCents":1}, 7]}"#, &layout(), |doc| {
            assert_eq!(
                doc.unwrap_err().to_string(),
                r#"an element of field "total" is 7, where an object, a list of objects or null was expected (at byte 37)"#
            );
        });
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
        let inner = Arc::new(Layout::new(vec!["v".into()], vec![None]));
        let l = Layout::new(vec!["a".into()], vec![Some(inner)]);
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
