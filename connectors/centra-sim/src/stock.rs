//! Stock selection: the parsed `StockFilter`, the sorts that are size-id
//! order (so a page is a slice of a warehouse's index), and the id cursors
//! of `stockChangeConnection`.

use crate::model::{Size, StockLevel};
use crate::query::{self, int_list, str_list};
use apollo_compiler::response::JsonMap;

fn in_list(list: &Option<Vec<i64>>, v: i64) -> bool {
    list.as_ref().is_none_or(|l| l.contains(&v))
}

/// A parsed `StockFilter`: id lists, quantity ranges and the names of the
/// conditions to negate (`negate: ["physicalQuantity"]` keeps the rows
/// outside that range; the meaning of `negate` is inferred).
pub(crate) struct StockFilter {
    pub product_ids: Option<Vec<i64>>,
    pub variant_ids: Option<Vec<i64>>,
    pub size_ids: Option<Vec<i64>>,
    pub warehouse_ids: Option<Vec<i64>>,
    pub ranges: Vec<(&'static str, query::Range)>,
    pub negate: Vec<String>,
}

/// The quantity fields of `StockFilter`.
const STOCK_RANGES: [&str; 9] = [
    "physicalQuantity",
    "freeToAllocateQuantity",
    "allocatedQuantity",
    "demandQuantity",
    "unshippedQuantity",
    "incomingQuantity",
    "linkedIncomingQuantity",
    "unlinkedIncomingQuantity",
    "onDeliveryQuantity",
];

fn stock_quantity(l: &StockLevel, field: &str) -> i64 {
    match field {
        "physicalQuantity" => l.physical,
        "freeToAllocateQuantity" => l.free_to_allocate(),
        "allocatedQuantity" => l.allocated,
        "demandQuantity" => l.demand,
        "unshippedQuantity" => l.unshipped,
        "incomingQuantity" => l.incoming(),
        "linkedIncomingQuantity" => l.linked_incoming,
        "unlinkedIncomingQuantity" => l.unlinked_incoming,
        _ => l.on_delivery,
    }
}

impl StockFilter {
    pub fn parse(f: &JsonMap) -> Self {
        Self {
            product_ids: int_list(f, "productId"),
            variant_ids: int_list(f, "productVariantId"),
            size_ids: int_list(f, "productSizeId"),
            warehouse_ids: int_list(f, "warehouseId"),
            ranges: STOCK_RANGES
                .iter()
                .filter(|k| f.contains_key(**k))
                .map(|k| (*k, query::int_range(f, k)))
                .collect(),
            negate: str_list(f, "negate").unwrap_or_default(),
        }
    }

    /// Whether every row of the chosen warehouses matches.
    pub fn is_trivial(&self) -> bool {
        self.product_ids.is_none()
            && self.variant_ids.is_none()
            && self.size_ids.is_none()
            && self.ranges.is_empty()
            && self.negate.is_empty()
    }

    pub fn matches(&self, l: &StockLevel, s: &Size) -> bool {
        let cond = |name: &str, ok: bool| ok != self.negate.iter().any(|n| n == name);
        cond("productId", in_list(&self.product_ids, s.product_id))
            && cond("productVariantId", in_list(&self.variant_ids, s.variant_id))
            && cond("productSizeId", in_list(&self.size_ids, s.id))
            && cond("warehouseId", in_list(&self.warehouse_ids, l.warehouse_id))
            && self.ranges.iter().all(|(k, r)| cond(k, r.contains(stock_quantity(l, k))))
    }
}

/// Whether sorting rows of one warehouse by `keys` is size-id order:
/// product and variant ids ascend with size ids, and a size position only
/// does within a variant.
pub(crate) fn size_id_order(keys: &[String]) -> bool {
    let mut variant_seen = false;
    for k in keys {
        match k.as_str() {
            "productVariantId_ASC" => variant_seen = true,
            "productSizeSort_ASC" if !variant_seen => return false,
            _ => {}
        }
    }
    true
}

pub(crate) fn encode_id_cursor(id: i64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("id:{id}"))
}

pub(crate) fn decode_id_cursor(cursor: &str) -> Result<i64, String> {
    use base64::Engine as _;
    let bad = || format!("Invalid cursor \"{cursor}\"");
    let raw = base64::engine::general_purpose::STANDARD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix("id:").and_then(|n| n.parse().ok()).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::response::JsonValue;

    fn filter(v: serde_json::Value) -> StockFilter {
        match JsonValue::from(v) {
            JsonValue::Object(m) => StockFilter::parse(&m),
            _ => StockFilter::parse(&JsonMap::new()),
        }
    }

    fn level(physical: i64, allocated: i64) -> StockLevel {
        StockLevel {
            warehouse_id: 1,
            size_id: 3,
            physical,
            allocated,
            demand: 0,
            unshipped: allocated,
            linked_incoming: 0,
            unlinked_incoming: 0,
            on_delivery: 0,
        }
    }

    #[test]
    fn ranges_ids_and_negate() {
        let size = crate::data::catalog(1, 1).remove(0).variants.remove(0).sizes.remove(2);
        assert_eq!(size.id, 3);
        assert!(filter(serde_json::json!({})).is_trivial());
        let f = filter(serde_json::json!({"freeToAllocateQuantity": {"from": 1}}));
        assert!(!f.is_trivial());
        assert!(f.matches(&level(5, 4), &size));
        assert!(!f.matches(&level(5, 5), &size));
        let f = filter(serde_json::json!({
            "freeToAllocateQuantity": {"from": 1},
            "negate": ["freeToAllocateQuantity"]
        }));
        assert!(f.matches(&level(5, 5), &size));
        assert!(filter(serde_json::json!({"productSizeId": [3, 9]})).matches(&level(1, 0), &size));
        assert!(!filter(serde_json::json!({"productSizeId": [9]})).matches(&level(1, 0), &size));
        assert!(!filter(serde_json::json!({"warehouseId": [2]})).matches(&level(1, 0), &size));
    }

    #[test]
    fn size_id_order_needs_the_variant_before_the_size_position() {
        let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(size_id_order(&keys(&[
            "productId_ASC",
            "productVariantId_ASC",
            "productSizeSort_ASC"
        ])));
        assert!(size_id_order(&keys(&["warehouseId_ASC"])));
        assert!(!size_id_order(&keys(&["productSizeSort_ASC"])));
        assert!(!size_id_order(&keys(&["productId_ASC", "productSizeSort_ASC"])));
    }

    #[test]
    fn id_cursors_round_trip() {
        assert_eq!(encode_id_cursor(42), "aWQ6NDI=");
        assert_eq!(decode_id_cursor("aWQ6NDI="), Ok(42));
        assert_eq!(decode_id_cursor("nope"), Err("Invalid cursor \"nope\"".to_string()));
    }
}
