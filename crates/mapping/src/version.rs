//! A stream mapping's version: a fingerprint of what it reads and the
//! columns it writes, kept beside the stream's state (see
//! `cartage_core::versioned`) so that a changed mapping re-reads the stream.
//!
//! The fingerprint covers the selection text and, per table in row order,
//! its name, each column's name, type and nullability, and the keys; not the
//! expressions. So adding, retyping or removing a column, or reading another
//! field, changes it; a change that only transforms fields already read
//! differently (a `map:`, a `case:`, a constant) does not, and applies to the
//! rows written from then on.
//!
//! It is FNV-1a (64 bits) over a canonical text, written out here rather than
//! taken from `std::hash`, whose output may change between Rust releases: the
//! same mapping must give the same version on every machine and build.

use cartage_core::SharedSchema;

/// The prefix names the fingerprint's scheme, so a later scheme can tell
/// its own versions from these.
const SCHEME: &str = "m1";

/// The version of a stream mapping with `selection` filling `tables`.
pub fn mapping_version(selection: &str, tables: &[SharedSchema]) -> String {
    let mut text = String::new();
    text.push_str("selection\n");
    text.push_str(selection);
    for t in tables {
        text.push_str("\ntable ");
        text.push_str(&t.name);
        for c in &t.columns {
            text.push_str(&format!("\ncolumn {} {} {}", c.name, c.ty.name(), c.nullable));
        }
        text.push_str(&format!("\nkey {}", t.primary_key.join(",")));
        if let Some(parent) = &t.parent_key {
            text.push_str(&format!("\nparent {}", parent.join(",")));
        }
    }
    format!("{SCHEME}-{:016x}", fnv1a(text.as_bytes()))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cartage_core::{Column, ColumnType, TableSchema};

    use super::*;

    fn orders(extra: &[(&str, ColumnType)]) -> Vec<SharedSchema> {
        let mut columns = vec![
            Column::new("tenant", ColumnType::Text, false),
            Column::new("order_id", ColumnType::Text, false),
        ];
        columns.extend(extra.iter().map(|(n, t)| Column::new(*n, *t, true)));
        vec![Arc::new(TableSchema {
            name: "orders".into(),
            columns,
            primary_key: vec!["tenant".into(), "order_id".into()],
            parent_key: None,
        })]
    }

    #[test]
    fn the_version_is_fixed_for_a_mapping_and_moves_with_its_columns_and_selection() {
        let base = mapping_version("id\n", &orders(&[]));
        // Pinned: the same mapping has the same version on every machine and
        // build; changing the scheme re-reads every stream of every user.
        assert_eq!(base, "m1-ff8d2a3df6eec574");
        assert_eq!(mapping_version("id\n", &orders(&[])), base);
        let added = mapping_version("id\n", &orders(&[("channel", ColumnType::Text)]));
        let retyped = mapping_version("id\n", &orders(&[("channel", ColumnType::Int)]));
        let reads_more = mapping_version("id\nnumber\n", &orders(&[]));
        for other in [&added, &retyped, &reads_more] {
            assert_ne!(other, &base);
        }
        assert_ne!(added, retyped);
    }

    #[test]
    fn fnv1a_matches_its_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
