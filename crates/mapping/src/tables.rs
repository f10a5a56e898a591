//! The standard tables of the data model (`shared/spec/data-model.md`), as
//! built-in definitions that every mapping fills.
//!
//! The column set, order and types here are the contract with the sinks and
//! with analysis written once for every customer: a mapping chooses how
//! columns are filled, never what they are called or typed.

use cartage_core::ColumnType;
use cartage_core::ColumnType::{Bool, Decimal, Int, Json, Text, Timestamp};

/// One standard table: its columns in row order (`tenant` first), its primary
/// key and, for a child table, the parent key.
#[derive(Debug, Clone, Copy)]
pub struct StandardTable {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ColumnType)],
    pub primary_key: &'static [&'static str],
    pub parent_key: Option<&'static [&'static str]>,
}

impl StandardTable {
    pub fn column(&self, name: &str) -> Option<ColumnType> {
        self.columns.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    pub fn has_custom(&self) -> bool {
        self.column("custom").is_some()
    }
}

/// Every standard table, in the data model's order.
pub const STANDARD_TABLES: &[StandardTable] = &[
    StandardTable {
        name: "orders",
        columns: &[
            ("tenant", Text),
            ("order_id", Text),
            ("order_number", Int),
            ("store_type", Text),
            ("status", Text),
            ("on_hold", Bool),
            ("currency", Text),
            ("market", Text),
            ("pricelist", Text),
            ("country", Text),
            ("customer_id", Int),
            ("customer_email", Text),
            ("account_id", Int),
            ("created_at", Timestamp),
            ("updated_at", Timestamp),
            ("total_gross", Decimal),
            ("total_items", Decimal),
            ("total_shipping", Decimal),
            ("total_discount", Decimal),
            ("total_tax", Decimal),
            ("base_currency_rate", Decimal),
            ("custom", Json),
        ],
        primary_key: &["tenant", "order_id"],
        parent_key: None,
    },
    StandardTable {
        name: "order_lines",
        columns: &[
            ("tenant", Text),
            ("order_id", Text),
            ("line_id", Int),
            ("sku", Text),
            ("ean", Text),
            ("product_id", Int),
            ("variant_id", Int),
            ("size_id", Int),
            ("size_label", Text),
            ("product_name", Text),
            ("quantity", Int),
            ("cancelled_quantity", Int),
            ("returned_quantity", Int),
            ("unit_price", Decimal),
            ("unit_original_price", Decimal),
            ("line_total", Decimal),
            ("discount_percent", Decimal),
            ("tax_percent", Decimal),
            ("custom", Json),
        ],
        primary_key: &["tenant", "order_id", "line_id"],
        parent_key: Some(&["tenant", "order_id"]),
    },
    StandardTable {
        name: "inventory_levels",
        columns: &[
            ("tenant", Text),
            ("warehouse_id", Int),
            ("size_id", Int),
            ("warehouse_name", Text),
            ("sku", Text),
            ("ean", Text),
            ("physical", Int),
            ("allocated", Int),
            ("free_to_allocate", Int),
            ("demand", Int),
            ("available_now", Int),
            ("incoming", Int),
            ("on_delivery", Int),
            ("observed_at", Timestamp),
        ],
        primary_key: &["tenant", "warehouse_id", "size_id"],
        parent_key: None,
    },
    StandardTable {
        name: "purchase_orders",
        columns: &[
            ("tenant", Text),
            ("purchase_order_id", Int),
            ("status", Text),
            ("supplier_id", Int),
            ("supplier_name", Text),
            ("preferred_warehouse_id", Int),
            ("currency", Text),
            ("created_at", Timestamp),
            ("updated_at", Timestamp),
            ("eta", Timestamp),
            ("confirmed_etd", Timestamp),
            ("products_total", Decimal),
        ],
        primary_key: &["tenant", "purchase_order_id"],
        parent_key: None,
    },
    StandardTable {
        name: "indeliveries",
        columns: &[
            ("tenant", Text),
            ("delivery_id", Int),
            ("delivery_number", Text),
            ("purchase_order_id", Int),
            ("status", Text),
            ("supplier_id", Int),
            ("supplier_name", Text),
            ("warehouse_id", Int),
            ("currency", Text),
            ("created_at", Timestamp),
            ("eta", Timestamp),
            ("ex_factory_date", Timestamp),
            ("shipping_cost", Decimal),
            ("other_costs", Decimal),
        ],
        primary_key: &["tenant", "delivery_id"],
        parent_key: None,
    },
    StandardTable {
        name: "indelivery_lines",
        columns: &[
            ("tenant", Text),
            ("delivery_id", Int),
            ("size_id", Int),
            ("sku", Text),
            ("ean", Text),
            ("quantity", Int),
            ("linked_quantity", Int),
            ("unlinked_quantity", Int),
            ("unit_cost", Decimal),
            ("landed_cost", Decimal),
        ],
        primary_key: &["tenant", "delivery_id", "size_id"],
        parent_key: Some(&["tenant", "delivery_id"]),
    },
];

/// The table a record goes to when it cannot be mapped and the mapping's
/// policy is `on_error: reject`.
pub const REJECTS_TABLE: StandardTable = StandardTable {
    name: "_rejects",
    columns: &[
        ("tenant", Text),
        ("stream", Text),
        ("record_id", Text),
        ("reason", Text),
        ("record", Json),
    ],
    primary_key: &["tenant", "stream", "record_id"],
    parent_key: None,
};

/// Looks a standard table up by name.
pub fn standard_table(name: &str) -> Option<&'static StandardTable> {
    STANDARD_TABLES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_leads_every_primary_key_and_every_row() {
        for table in STANDARD_TABLES.iter().chain([&REJECTS_TABLE]) {
            assert_eq!(table.primary_key[0], "tenant", "{}", table.name);
            assert_eq!(table.columns[0].0, "tenant", "{}", table.name);
            for key in table.primary_key {
                assert!(table.column(key).is_some(), "{}.{key}", table.name);
            }
        }
    }

    #[test]
    fn order_ids_are_text_and_money_is_decimal() {
        let orders = standard_table("orders").unwrap();
        assert_eq!(orders.column("order_id"), Some(Text));
        assert_eq!(orders.column("order_number"), Some(Int));
        assert_eq!(orders.column("total_gross"), Some(Decimal));
        assert_eq!(orders.column("custom"), Some(Json));
        let lines = standard_table("order_lines").unwrap();
        assert_eq!(lines.parent_key, Some(&["tenant", "order_id"][..]));
    }
}
