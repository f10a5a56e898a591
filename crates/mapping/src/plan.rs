//! The compiled plan: expressions over paths into the parsed record, and
//! their evaluation. Everything here was checked by the compiler; evaluation
//! only meets the data's surprises, and turns each into a [`Failure`].

use std::sync::Arc;

use cartage_core::{AmountKind, AttributeShape, ColumnType, MoneyShape, Value};
use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::convert;
use crate::json::{self, Doc, Layout, N};

/// One step of a path, by name (what the compiler resolved against the
/// schema) and, once linked, by slot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Field(String),
    /// `... on Type`: the value applies only when `__typename` is one of these.
    TypeIs {
        name: String,
        concrete: Vec<String>,
    },
    /// An element of a list; negative counts from the end.
    Index(i64),
}

/// A linked step.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RStep {
    Slot(usize),
    TypeIs { typename: usize, names: Box<[Box<str>]> },
    Index(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    /// As written in the mapping (for messages).
    pub text: String,
    pub steps: Vec<Step>,
    /// Starts at the record even inside a child table (`$.id`).
    pub from_root: bool,
    pub linked: Vec<RStep>,
}

impl Path {
    pub fn resolve(&self, cx: &Ctx<'_, '_>) -> N {
        let start = if self.from_root { cx.doc.root } else { cx.here };
        walk(cx.doc, start, &self.linked)
    }
}

#[inline]
pub(crate) fn walk(doc: &Doc<'_>, start: N, steps: &[RStep]) -> N {
    let mut cur = start;
    for step in steps {
        cur = match (step, cur) {
            (RStep::Slot(i), N::Obj { .. }) => doc.slot(cur, *i),
            (RStep::TypeIs { typename, names }, N::Obj { .. }) => {
                // `names` are JSON string literals: type names need no escapes,
                // so the raw text compares as is.
                match doc.raw(doc.slot(cur, *typename)) {
                    Some(t) if names.iter().any(|n| **n == *t) => cur,
                    _ => N::Absent,
                }
            }
            (RStep::Index(i), N::Arr { .. }) => {
                let items = doc.items(cur);
                let idx = if *i < 0 { items.len() as i64 + *i } else { *i };
                usize::try_from(idx).ok().and_then(|i| items.get(i)).copied().unwrap_or(N::Absent)
            }
            _ => N::Absent,
        };
    }
    cur
}

/// How a path's value becomes a typed value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Conv {
    Text,
    Int,
    Decimal,
    Bool,
    Timestamp,
    /// The calendar date as written (local date of the instance).
    Date,
    /// A money object of the connector's shape: its fields and, once
    /// linked, their slots.
    Money(Box<MoneyConv>),
    /// A whole subtree as JSON; the layout names its fields.
    Json(Option<Arc<Layout>>),
}

/// A money value: the connector's shape and the slots of its fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MoneyConv {
    pub shape: MoneyShape,
    /// The amount's slot in the money object.
    pub amount: usize,
    /// The slots from the money object down to the currency code.
    pub currency: Vec<usize>,
}

/// A custom attribute read as `group.key`, in the connector's shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attr {
    pub shape: AttributeShape,
    pub group: String,
    pub key: String,
    pub slots: AttrSlots,
}

/// The slots of a custom attribute's fields, once linked.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct AttrSlots {
    /// The list of groups (or of entries) in the object.
    pub list: usize,
    /// From a group (or entry) down to its group name.
    pub group_name: Vec<usize>,
    /// The group's list of entries; `None` when the list holds entries.
    pub entries: Option<usize>,
    pub key: usize,
    pub values: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Lower,
    Upper,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Unmapped {
    Error,
    Keep,
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FmtPart {
    Text(String),
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Test {
    Truthy,
    IsNull(bool),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Greater(Value),
    Less(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cond {
    pub expr: Expr,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Path { path: Path, conv: Conv },
    Attribute { of: Path, attr: Box<Attr> },
    Lit(Value),
    Coalesce(Vec<Expr>),
    Concat { parts: Vec<Expr>, separator: String },
    Format(Vec<FmtPart>),
    Arith { op: ArithOp, args: Vec<Expr>, int: bool },
    If { cond: Box<Cond>, then: Box<Expr>, otherwise: Box<Expr> },
    Trim(Box<Expr>),
    Case(Box<Expr>, Case),
    Map { inner: Box<Expr>, entries: Vec<(String, Value)>, unmapped: Unmapped },
    Cast(Box<Expr>, ColumnType),
    Round(Box<Expr>, u32),
    Default(Box<Expr>, Value),
}

/// Where an expression is evaluated: the record, and the element of a child
/// table's list (the record itself for a root table).
pub(crate) struct Ctx<'d, 'a> {
    pub doc: &'d Doc<'a>,
    pub here: N,
    pub zone: Tz,
}

/// A value that did not convert: what it was and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub value: String,
    pub expected: String,
    pub detail: Option<String>,
}

/// A boxed [`Failure`]: the error path stays out of every `Result` a
/// column's evaluation returns.
pub(crate) type Fail = Box<Failure>;

fn fail(value: impl Into<String>, expected: &str) -> Fail {
    let mut value = value.into();
    if value.len() > 120 {
        let mut cut = 117;
        while !value.is_char_boundary(cut) {
            cut -= 1;
        }
        value.truncate(cut);
        value.push_str("...");
    }
    Box::new(Failure { value, expected: expected.to_owned(), detail: None })
}

fn j_text(doc: &Doc<'_>, n: N) -> String {
    match doc.raw(n) {
        Some(raw) => raw.to_owned(),
        None => json::to_json(doc, n, None).to_string(),
    }
}

/// The text inside a leaf: a string's content or a number's/boolean's text.
fn leaf_text<'a>(raw: &'a str) -> std::borrow::Cow<'a, str> {
    json::leaf_str(raw).unwrap_or(std::borrow::Cow::Borrowed(raw))
}

impl Expr {
    pub fn eval(&self, cx: &Ctx<'_, '_>) -> Result<Value, Fail> {
        match self {
            Expr::Path { path, conv } => convert_j(cx.doc, path.resolve(cx), conv, cx.zone),
            Expr::Attribute { of, attr } => {
                Ok(attribute(cx.doc, of.resolve(cx), &attr.group, &attr.key, &attr.slots))
            }
            Expr::Lit(v) => Ok(v.clone()),
            Expr::Coalesce(items) => {
                for item in items {
                    let v = item.eval(cx)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Ok(Value::Null)
            }
            Expr::Concat { parts, separator } => {
                let mut out = String::new();
                let mut first = true;
                for part in parts {
                    let v = part.eval(cx)?;
                    if v.is_null() {
                        continue;
                    }
                    if !first {
                        out.push_str(separator);
                    }
                    first = false;
                    out.push_str(&display(&v));
                }
                Ok(if first { Value::Null } else { Value::Text(out) })
            }
            Expr::Format(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        FmtPart::Text(t) => out.push_str(t),
                        FmtPart::Expr(e) => {
                            let v = e.eval(cx)?;
                            if !v.is_null() {
                                out.push_str(&display(&v));
                            }
                        }
                    }
                }
                Ok(Value::Text(out))
            }
            Expr::Arith { op, args, int } => arith(*op, args, *int, cx),
            Expr::If { cond, then, otherwise } => {
                if cond.holds(cx)? {
                    then.eval(cx)
                } else {
                    otherwise.eval(cx)
                }
            }
            Expr::Trim(inner) => Ok(match inner.eval(cx)? {
                Value::Text(t) => {
                    let trimmed = t.trim();
                    if trimmed.len() == t.len() {
                        Value::Text(t)
                    } else {
                        Value::Text(trimmed.to_owned())
                    }
                }
                other => other,
            }),
            Expr::Case(inner, case) => Ok(match inner.eval(cx)? {
                Value::Text(mut t) if t.is_ascii() => {
                    match case {
                        Case::Lower => t.make_ascii_lowercase(),
                        Case::Upper => t.make_ascii_uppercase(),
                    }
                    Value::Text(t)
                }
                Value::Text(t) => Value::Text(match case {
                    Case::Lower => t.to_lowercase(),
                    Case::Upper => t.to_uppercase(),
                }),
                other => other,
            }),
            Expr::Map { inner, entries, unmapped } => {
                let v = inner.eval(cx)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let found = match &v {
                    Value::Text(t) => entries.iter().find(|(k, _)| k == t),
                    other => {
                        let key = display(other);
                        entries.iter().find(|(k, _)| *k == key)
                    }
                };
                let key = || display(&v);
                match found {
                    Some((_, out)) => Ok(out.clone()),
                    None => match unmapped {
                        Unmapped::Keep => Ok(v),
                        Unmapped::Null => Ok(Value::Null),
                        Unmapped::Error => {
                            let known: Vec<&str> =
                                entries.iter().map(|(k, _)| k.as_str()).collect();
                            let mut f = fail(format!("{:?}", key()), "a value listed in map");
                            f.detail = Some(format!("known values: {}", known.join(", ")));
                            Err(f)
                        }
                    },
                }
            }
            Expr::Cast(inner, to) => cast(inner.eval(cx)?, *to, cx.zone),
            Expr::Round(inner, dp) => Ok(match inner.eval(cx)? {
                Value::Decimal(d) => Value::Decimal(
                    d.round_dp_with_strategy(*dp, RoundingStrategy::MidpointAwayFromZero),
                ),
                other => other,
            }),
            Expr::Default(inner, value) => {
                let v = inner.eval(cx)?;
                Ok(if v.is_null() { value.clone() } else { v })
            }
        }
    }
}

impl Cond {
    fn holds(&self, cx: &Ctx<'_, '_>) -> Result<bool, Fail> {
        let v = self.expr.eval(cx)?;
        Ok(match &self.test {
            Test::Truthy => match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Text(t) => !t.is_empty(),
                Value::Int(i) => *i != 0,
                Value::Decimal(d) => !d.is_zero(),
                _ => true,
            },
            Test::IsNull(want) => v.is_null() == *want,
            Test::In(list) => !v.is_null() && list.iter().any(|l| same(&v, l)),
            Test::NotIn(list) => v.is_null() || !list.iter().any(|l| same(&v, l)),
            Test::Greater(l) => order(&v, l) == Some(std::cmp::Ordering::Greater),
            Test::Less(l) => order(&v, l) == Some(std::cmp::Ordering::Less),
        })
    }
}

fn numeric(v: &Value) -> Option<Decimal> {
    match v {
        Value::Int(i) => Some(Decimal::from(*i)),
        Value::Decimal(d) => Some(*d),
        _ => None,
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (numeric(a), numeric(b)) {
        (Some(x), Some(y)) => x == y,
        _ => !a.is_null() && !b.is_null() && display(a) == display(b),
    }
}

fn order(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => None,
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        _ => match (numeric(a), numeric(b)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => Some(display(a).cmp(&display(b))),
        },
    }
}

/// The text form of a value (for concatenation, formats and map keys).
pub(crate) fn display(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(t) => t.clone(),
        Value::Timestamp(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Json(serde_json::Value::String(s)) => s.clone(),
        Value::Json(j) => j.to_string(),
    }
}

/// A value as JSON for the `custom` object: decimals as strings, so they
/// stay exact; instants in RFC 3339 UTC.
pub(crate) fn to_json_value(v: &Value) -> serde_json::Value {
    into_json_value(v.clone())
}

/// Like [`to_json_value`], consuming the value (no copy of its text).
pub(crate) fn into_json_value(v: Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(b),
        Value::Int(i) => serde_json::Value::from(i),
        Value::Json(j) => j,
        Value::Text(t) => serde_json::Value::String(t),
        other => serde_json::Value::String(display(&other)),
    }
}

fn convert_j(doc: &Doc<'_>, n: N, conv: &Conv, zone: Tz) -> Result<Value, Fail> {
    if n.is_nullish() {
        return Ok(Value::Null);
    }
    if let Conv::Json(layout) = conv {
        return Ok(Value::Json(json::to_json(doc, n, layout.as_deref())));
    }
    if let Conv::Money(m) = conv {
        return money(doc, n, m);
    }
    let Some(raw) = doc.raw(n) else {
        return Err(fail(j_text(doc, n), conv_name(conv)));
    };
    let text = leaf_text(raw);
    let out = match conv {
        Conv::Text => {
            if raw.starts_with('{') || raw.starts_with('[') {
                None
            } else {
                Some(Value::Text(text.into_owned()))
            }
        }
        Conv::Int => convert::integer(&text).map(Value::Int),
        Conv::Decimal => convert::decimal(&text).map(Value::Decimal),
        Conv::Bool => convert::boolean(&text).map(Value::Bool),
        Conv::Timestamp => convert::timestamp(&text, zone).map(Value::Timestamp),
        Conv::Date => convert::date(&text).map(Value::Date),
        Conv::Money(_) | Conv::Json(_) => None,
    };
    out.ok_or_else(|| fail(raw, conv_name(conv)))
}

fn conv_name(conv: &Conv) -> &'static str {
    match conv {
        Conv::Text => "string",
        Conv::Int => "integer",
        Conv::Decimal => "decimal",
        Conv::Bool => "boolean",
        Conv::Timestamp => "timestamp",
        Conv::Date => "date",
        Conv::Money(_) => "money",
        Conv::Json(_) => "json",
    }
}

fn money(doc: &Doc<'_>, n: N, m: &MoneyConv) -> Result<Value, Fail> {
    if !matches!(n, N::Obj { .. }) {
        return Err(fail(j_text(doc, n), "money"));
    }
    let amount_n = doc.slot(n, m.amount);
    let code_n = m.currency.iter().fold(n, |at, &slot| doc.slot(at, slot));
    let shown = || {
        format!(
            "{{{}: {}, {}: {}}}",
            m.shape.amount,
            j_text(doc, amount_n),
            m.shape.currency.join("."),
            j_text(doc, code_n)
        )
    };
    let with_detail = |detail: String| {
        let mut f = fail(shown(), "money");
        f.detail = Some(detail);
        f
    };
    if amount_n.is_nullish() {
        return Ok(Value::Null);
    }
    let (Some(a), Some(k)) = (doc.raw(amount_n), doc.raw(code_n)) else {
        return Err(with_detail(format!(
            "{} and {} are both needed",
            m.shape.amount,
            m.shape.currency.join(".")
        )));
    };
    let code = leaf_text(k);
    let Some(exponent) = convert::currency_exponent(&code) else {
        return Err(with_detail(format!("unknown ISO 4217 currency {code:?}")));
    };
    let amount = leaf_text(a);
    match m.shape.amount_kind {
        AmountKind::MinorUnits => {
            let Some(minor) = convert::integer(&amount) else {
                return Err(with_detail(format!("{} is not an integer", m.shape.amount)));
            };
            Ok(Value::Decimal(convert::money(minor, exponent)))
        }
        AmountKind::Decimal => match convert::money_decimal(&amount, exponent) {
            Some(d) => Ok(Value::Decimal(d)),
            None => Err(with_detail(format!("{} is not a decimal number", m.shape.amount))),
        },
    }
}

fn is_str(doc: &Doc<'_>, n: N, want: &str) -> bool {
    doc.raw(n).and_then(json::leaf_str).is_some_and(|s| s == want)
}

fn attribute(doc: &Doc<'_>, obj: N, group: &str, key: &str, s: &AttrSlots) -> Value {
    let value = |entry: N| {
        s.values
            .iter()
            .find_map(|&slot| doc.raw(doc.slot(entry, slot)))
            .map_or(Value::Null, |raw| Value::Text(leaf_text(raw).into_owned()))
    };
    for &item in doc.items(doc.slot(obj, s.list)) {
        let name = s.group_name.iter().fold(item, |at, &slot| doc.slot(at, slot));
        if !is_str(doc, name, group) {
            continue;
        }
        match s.entries {
            Some(entries) => {
                if let Some(&entry) = doc
                    .items(doc.slot(item, entries))
                    .iter()
                    .find(|&&e| is_str(doc, doc.slot(e, s.key), key))
                {
                    return value(entry);
                }
            }
            None if is_str(doc, doc.slot(item, s.key), key) => return value(item),
            None => {}
        }
    }
    Value::Null
}

fn arith(op: ArithOp, args: &[Expr], int: bool, cx: &Ctx<'_, '_>) -> Result<Value, Fail> {
    let mut acc: Option<Decimal> = None;
    for arg in args {
        let v = arg.eval(cx)?;
        let Some(d) = numeric(&v) else {
            if v.is_null() {
                return Ok(Value::Null);
            }
            return Err(fail(display(&v), "a number"));
        };
        acc = Some(match acc {
            None => d,
            Some(a) => {
                let r = match op {
                    ArithOp::Add => a.checked_add(d),
                    ArithOp::Sub => a.checked_sub(d),
                    ArithOp::Mul => a.checked_mul(d),
                    ArithOp::Div => a.checked_div(d),
                };
                r.ok_or_else(|| {
                    let mut f = fail(format!("{a} and {d}"), "a result in range");
                    f.detail = Some(if d.is_zero() && op == ArithOp::Div {
                        "division by zero".into()
                    } else {
                        "overflow".into()
                    });
                    f
                })?
            }
        });
    }
    Ok(match acc {
        None => Value::Null,
        Some(d) if int => match i64::try_from(d) {
            Ok(i) => Value::Int(i),
            Err(_) => return Err(fail(d.to_string(), "integer")),
        },
        Some(d) => Value::Decimal(d.normalize_if_needed()),
    })
}

trait NormalizeIfNeeded {
    fn normalize_if_needed(self) -> Self;
}

impl NormalizeIfNeeded for Decimal {
    /// Division can produce 28 digits of scale; keep it as computed but
    /// drop trailing zeros so `10 / 4` is `2.5`, not `2.5000…`.
    fn normalize_if_needed(self) -> Self {
        if self.scale() > 12 { self.normalize() } else { self }
    }
}

/// Converts a value to a column type at run time (the compiler allowed the pair).
pub(crate) fn cast(v: Value, to: ColumnType, zone: Tz) -> Result<Value, Fail> {
    if v.is_null() || v.column_type() == Some(to) {
        return Ok(v);
    }
    let shown = display(&v);
    let out = match (to, &v) {
        (ColumnType::Text, _) => Some(Value::Text(shown.clone())),
        (ColumnType::Json, _) => Some(Value::Json(to_json_value(&v))),
        (ColumnType::Int, Value::Decimal(d)) => {
            if d.fract().is_zero() {
                i64::try_from(*d).ok().map(Value::Int)
            } else {
                None
            }
        }
        (ColumnType::Int, Value::Bool(b)) => Some(Value::Int(i64::from(*b))),
        (ColumnType::Int, _) => convert::integer(&shown).map(Value::Int),
        (ColumnType::Decimal, Value::Int(i)) => Some(Value::Decimal(Decimal::from(*i))),
        (ColumnType::Decimal, _) => convert::decimal(&shown).map(Value::Decimal),
        (ColumnType::Bool, Value::Int(i)) => match i {
            0 => Some(Value::Bool(false)),
            1 => Some(Value::Bool(true)),
            _ => None,
        },
        (ColumnType::Bool, _) => convert::boolean(&shown).map(Value::Bool),
        (ColumnType::Timestamp, Value::Date(d)) => local_midnight(*d, zone).map(Value::Timestamp),
        (ColumnType::Timestamp, _) => convert::timestamp(&shown, zone).map(Value::Timestamp),
        (ColumnType::Date, Value::Timestamp(t)) => {
            Some(Value::Date(t.with_timezone(&zone).date_naive()))
        }
        (ColumnType::Date, _) => convert::date(&shown).map(Value::Date),
    };
    out.ok_or_else(|| fail(format!("{shown:?}"), to.name()))
}

fn local_midnight(d: NaiveDate, zone: Tz) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&d.and_hms_opt(0, 0, 0)?).earliest().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: Value) -> Expr {
        Expr::Lit(v)
    }

    fn cx_eval(e: &Expr) -> Result<Value, Fail> {
        let doc = Doc { text: "{}", tape: &[], root: N::Obj { start: 0, len: 0 } };
        let cx = Ctx { doc: &doc, here: doc.root, zone: chrono_tz::Europe::Stockholm };
        e.eval(&cx)
    }

    #[test]
    fn arithmetic_is_exact_and_checked() {
        let d = |s: &str| lit(Value::Decimal(s.parse().unwrap()));
        let sum = Expr::Arith { op: ArithOp::Add, args: vec![d("0.1"), d("0.2")], int: false };
        assert_eq!(cx_eval(&sum), Ok(Value::Decimal("0.3".parse().unwrap())));
        let div = Expr::Arith { op: ArithOp::Div, args: vec![d("10"), d("0")], int: false };
        let err = cx_eval(&div).unwrap_err();
        assert_eq!(err.detail.as_deref(), Some("division by zero"));
        let with_null =
            Expr::Arith { op: ArithOp::Mul, args: vec![d("2"), lit(Value::Null)], int: false };
        assert_eq!(cx_eval(&with_null), Ok(Value::Null));
    }

    #[test]
    fn casts_refuse_what_does_not_fit() {
        let z = chrono_tz::UTC;
        assert_eq!(cast(Value::Text("12".into()), ColumnType::Int, z), Ok(Value::Int(12)));
        assert!(cast(Value::Text("twelve".into()), ColumnType::Int, z).is_err());
        assert!(cast(Value::Decimal("1.5".parse().unwrap()), ColumnType::Int, z).is_err());
        assert_eq!(cast(Value::Int(1), ColumnType::Bool, z), Ok(Value::Bool(true)));
        assert_eq!(
            cast(Value::Decimal("1.50".parse().unwrap()), ColumnType::Json, z),
            Ok(Value::Json(serde_json::json!("1.50")))
        );
    }
}
