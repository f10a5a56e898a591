//! Order selection over the compact index: filters, sort direction, pages
//! and keyset cursors, without generating orders that are not returned.

use crate::dates;
use crate::model::{OrderStatus, StoreType};
use crate::state::{Entry, World};
use apollo_compiler::response::{JsonMap, JsonValue};
use base64::Engine as _;

/// An inclusive range of unix seconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Range {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Range {
    pub fn contains(&self, t: i64) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|x| t <= x)
    }
    pub fn contains_opt(&self, t: Option<i64>) -> bool {
        match t {
            Some(t) => self.contains(t),
            None => self.from.is_none() && self.to.is_none(),
        }
    }
}

/// A parsed `OrderFilter`.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderFilter {
    pub ids: Option<Vec<i64>>,
    pub numbers: Option<Vec<i64>>,
    pub statuses: Option<Vec<OrderStatus>>,
    pub created: Range,
    pub updated: Range,
    pub order_date: Range,
    pub store_type: Option<StoreType>,
    pub store_ids: Option<Vec<i64>>,
    pub market_ids: Option<Vec<i64>>,
}

pub(crate) fn arg_str<'a>(m: &'a JsonMap, k: &str) -> Option<&'a str> {
    m.get(k).and_then(JsonValue::as_str)
}

pub(crate) fn arg_i64(m: &JsonMap, k: &str) -> Option<i64> {
    m.get(k).and_then(JsonValue::as_i64)
}

pub(crate) fn int_list(m: &JsonMap, k: &str) -> Option<Vec<i64>> {
    m.get(k).and_then(JsonValue::as_array).map(|a| a.iter().filter_map(JsonValue::as_i64).collect())
}

pub(crate) fn str_list(m: &JsonMap, k: &str) -> Option<Vec<String>> {
    m.get(k)
        .and_then(JsonValue::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
}

/// Parses a `DateRange` argument; an unparsable bound is an error message.
pub(crate) fn date_range(
    m: &JsonMap,
    k: &str,
    reading: dates::DateFilterReading,
) -> Result<Range, String> {
    let Some(obj) = m.get(k).and_then(JsonValue::as_object) else {
        return Ok(Range::default());
    };
    let bound = |b: &str| -> Result<Option<i64>, String> {
        match obj.get(b) {
            None | Some(JsonValue::Null) => Ok(None),
            Some(JsonValue::String(s)) => dates::parse_input_with(s.as_str(), reading)
                .map(|t| Some(t.timestamp()))
                .ok_or_else(|| format!("Invalid date \"{}\" in {k}.{b}", s.as_str())),
            Some(other) => Err(format!("Invalid date {other} in {k}.{b}")),
        }
    };
    Ok(Range { from: bound("from")?, to: bound("to")? })
}

/// Parses an `IntRange` argument.
pub(crate) fn int_range(m: &JsonMap, k: &str) -> Range {
    match m.get(k).and_then(JsonValue::as_object) {
        Some(o) => Range { from: arg_i64(o, "from"), to: arg_i64(o, "to") },
        None => Range::default(),
    }
}

impl OrderFilter {
    pub fn parse(w: &World, args: &JsonMap) -> Result<Self, String> {
        let Some(m) = args.get("where").and_then(JsonValue::as_object) else {
            return Ok(Self::default());
        };
        Ok(Self {
            ids: str_list(m, "id")
                .map(|ids| ids.iter().filter_map(|i| w.generator.number_of_id(i)).collect()),
            numbers: int_list(m, "number"),
            statuses: str_list(m, "status")
                .map(|v| v.iter().filter_map(|s| OrderStatus::parse(s)).collect()),
            created: date_range(m, "createdAt", w.date_filter)?,
            updated: date_range(m, "updatedAt", w.date_filter)?,
            order_date: date_range(m, "orderDate", w.date_filter)?,
            store_type: arg_str(m, "storeType").map(|s| {
                if s == "WHOLESALE" { StoreType::Wholesale } else { StoreType::DirectToConsumer }
            }),
            store_ids: int_list(m, "storeId"),
            market_ids: int_list(m, "marketId"),
        })
    }

    fn matches(&self, number: i64, e: &Entry) -> bool {
        if e.deleted {
            return false;
        }
        if let Some(ids) = &self.ids
            && !ids.contains(&number)
        {
            return false;
        }
        if let Some(ns) = &self.numbers
            && !ns.contains(&number)
        {
            return false;
        }
        if let Some(st) = &self.statuses
            && !st.contains(&e.status)
        {
            return false;
        }
        if let Some(t) = self.store_type {
            let wholesale = e.store == 2;
            if wholesale != (t == StoreType::Wholesale) {
                return false;
            }
        }
        if let Some(s) = &self.store_ids
            && !s.contains(&i64::from(e.store))
        {
            return false;
        }
        if let Some(s) = &self.market_ids
            && !s.contains(&i64::from(e.market))
        {
            return false;
        }
        self.created.contains(e.created)
            && self.order_date.contains(e.created)
            && self.updated.contains(e.updated)
    }

    /// Candidate numbers when the filter names them, sorted ascending.
    fn candidates(&self) -> Option<Vec<i64>> {
        let mut v = match (&self.ids, &self.numbers) {
            (Some(a), Some(b)) => a.iter().filter(|x| b.contains(x)).copied().collect(),
            (Some(a), None) => a.clone(),
            (None, Some(b)) => b.clone(),
            (None, None) => return None,
        };
        v.sort_unstable();
        v.dedup();
        Some(v)
    }

    /// Matching numbers strictly inside `(lo, hi)`, in the sort direction,
    /// passed to `f` until it returns false.
    pub fn scan(&self, w: &World, desc: bool, lo: i64, hi: i64, mut f: impl FnMut(i64) -> bool) {
        let ok = |n: i64| n > lo && n < hi && w.entry(n).is_some_and(|e| self.matches(n, e));
        if let Some(c) = self.candidates() {
            let it: Box<dyn Iterator<Item = &i64>> =
                if desc { Box::new(c.iter().rev()) } else { Box::new(c.iter()) };
            for &n in it {
                if ok(n) && !f(n) {
                    return;
                }
            }
            return;
        }
        let max = w.max_number();
        let start = (lo + 1).max(1);
        let end = (hi - 1).min(max);
        if start > end {
            return;
        }
        if desc {
            for n in (start..=end).rev() {
                if self.matches(n, &w.index[(n - 1) as usize]) && !f(n) {
                    return;
                }
            }
        } else {
            for n in start..=end {
                if self.matches(n, &w.index[(n - 1) as usize]) && !f(n) {
                    return;
                }
            }
        }
    }

    /// Whether the filter lets every order through.
    fn is_trivial(&self) -> bool {
        let open = |r: &Range| r.from.is_none() && r.to.is_none();
        self.ids.is_none()
            && self.numbers.is_none()
            && self.statuses.is_none()
            && open(&self.created)
            && open(&self.updated)
            && open(&self.order_date)
            && self.store_type.is_none()
            && self.store_ids.is_none()
            && self.market_ids.is_none()
    }

    pub fn count(&self, w: &World) -> usize {
        if self.is_trivial() {
            return w.index.len() - w.deleted;
        }
        let mut c = 0;
        self.scan(w, false, i64::MIN, i64::MAX, |_| {
            c += 1;
            true
        });
        c
    }

    /// One page of a plain list.
    pub fn page(&self, w: &World, desc: bool, limit: usize, page: usize) -> Vec<i64> {
        let skip = limit * (page - 1);
        if self.is_trivial() && w.deleted == 0 {
            // No filter and no holes: the page is a plain range of numbers.
            let max = w.max_number();
            let skip = skip as i64;
            let take = (limit as i64).min((max - skip).max(0));
            return if desc {
                (0..take).map(|i| max - skip - i).collect()
            } else {
                (0..take).map(|i| skip + 1 + i).collect()
            };
        }
        let mut seen = 0;
        let mut out = Vec::with_capacity(limit);
        self.scan(w, desc, i64::MIN, i64::MAX, |n| {
            seen += 1;
            if seen > skip {
                out.push(n);
            }
            out.len() < limit
        });
        out
    }
}

/// The order sorts of the schema. All of them follow creation order: `id`
/// is Centra's internal id (assigned on creation), and `orderDate` equals
/// `createdAt`, which never decreases with the number. So each sort is a
/// direction over order numbers, and its cursor names its field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderSort {
    pub field: &'static str,
    pub desc: bool,
}

impl OrderSort {
    pub fn parse(args: &JsonMap) -> Self {
        let first = args
            .get("sort")
            .and_then(|v| match v {
                JsonValue::Array(a) => a.first().and_then(JsonValue::as_str).map(str::to_string),
                JsonValue::String(s) => Some(s.as_str().to_string()),
                _ => None,
            })
            .unwrap_or_else(|| "number_ASC".into());
        let (field, dir) = first.split_once('_').unwrap_or(("number", "ASC"));
        let field = match field {
            "id" => "id",
            "orderDate" => "orderDate",
            _ => "number",
        };
        Self { field, desc: dir == "DESC" }
    }

    pub fn cursor(&self, w: &World, number: i64) -> String {
        let text = match self.field {
            "orderDate" => {
                let t = w.entry(number).map(|e| e.created).unwrap_or_default();
                format!("orderDate:{t}:{number}")
            }
            f => format!("{f}:{number}"),
        };
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// The order number a cursor points at.
    pub fn decode(&self, cursor: &str) -> Result<i64, String> {
        let bad = || format!("Invalid cursor \"{cursor}\"");
        let raw = base64::engine::general_purpose::STANDARD.decode(cursor).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let (field, rest) = text.split_once(':').ok_or_else(bad)?;
        if field != self.field {
            return Err(format!(
                "Cursor \"{cursor}\" was made for sort {field}, not {}",
                self.field
            ));
        }
        rest.rsplit(':').next().and_then(|n| n.parse().ok()).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(orders: u64) -> World {
        World::new(&crate::SimConfig {
            seed: 9,
            orders,
            products: 10,
            warehouses: 2,
            purchase_orders: 3,
            ..crate::SimConfig::default()
        })
    }

    #[test]
    fn cursors_round_trip_and_name_their_sort() {
        let w = world(50);
        let number = OrderSort { field: "number", desc: false };
        let c = number.cursor(&w, 166);
        assert_eq!(c, "bnVtYmVyOjE2Ng==", "Centra's documented example cursor");
        assert_eq!(number.decode(&c), Ok(166));
        let date = OrderSort { field: "orderDate", desc: true };
        let c = date.cursor(&w, 7);
        assert_eq!(date.decode(&c), Ok(7));
        assert!(number.decode(&c).is_err(), "a cursor of another sort is refused");
        assert!(number.decode("not base64!").is_err());
    }

    #[test]
    fn ranges_are_inclusive_and_open_ends_match_everything() {
        let r = Range { from: Some(10), to: Some(20) };
        assert!(r.contains(10) && r.contains(20) && !r.contains(9) && !r.contains(21));
        assert!(Range::default().contains(i64::MIN));
        assert!(Range::default().contains_opt(None));
        assert!(!r.contains_opt(None));
    }

    #[test]
    fn pages_with_and_without_the_fast_path_agree() {
        let mut w = world(100);
        let all = OrderFilter::default();
        assert_eq!(all.page(&w, false, 20, 2), (21..=40).collect::<Vec<_>>());
        assert_eq!(all.page(&w, true, 20, 5), (1..=20).rev().collect::<Vec<_>>());
        assert!(all.page(&w, false, 20, 6).is_empty());
        // A deletion turns the fast path off; the scan skips the hole.
        w.index[24].deleted = true;
        w.deleted = 1;
        let mut want: Vec<i64> = (21..=41).collect();
        want.retain(|&n| n != 25);
        assert_eq!(all.page(&w, false, 20, 2), want);
        assert_eq!(all.count(&w), 99);
        let some = OrderFilter { numbers: Some(vec![3, 25, 1, 3]), ..OrderFilter::default() };
        assert_eq!(some.page(&w, false, 20, 1), vec![1, 3]);
        assert_eq!(some.count(&w), 2);
    }
}
