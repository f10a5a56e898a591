//! The identifier rule for table and column names: the portable subset that
//! every sink can create and quote without surprises.
//!
//! A name is `[a-z][a-z0-9_]*`, at most [`MAX_NAME_BYTES`] bytes. Why each
//! part, without knowing any database here:
//! - at most 63 bytes: PostgreSQL silently truncates longer identifiers (two
//!   long names could become one), MySQL refuses names over 64 characters;
//! - lowercase only: MySQL and SQLite compare column names without case, so
//!   `Channel` and `channel` would be one column there and two elsewhere;
//! - letters, digits and `_` only: nothing a sink must escape when quoting;
//! - a letter first: names starting with `_` are Cartage's own
//!   ([`SYSTEM_COLUMNS`], the state and staging tables).

/// The longest table or column name, in bytes.
pub const MAX_NAME_BYTES: usize = 63;

/// The columns every sink adds to every table itself.
pub const SYSTEM_COLUMNS: &[&str] = &["_synced_at", "_deleted_at"];

/// Why `name` cannot be a table or column name, or `None` if it can.
pub fn name_problem(name: &str) -> Option<String> {
    if SYSTEM_COLUMNS.contains(&name) {
        return Some(format!("{name} is a system column every table has"));
    }
    if name.starts_with('_') {
        return Some(
            "a name starting with _ is reserved for cartage's own columns and tables".into(),
        );
    }
    if name.len() > MAX_NAME_BYTES {
        return Some(format!(
            "a name may be at most {MAX_NAME_BYTES} bytes (this one is {}): PostgreSQL would truncate it and MySQL refuse it",
            name.len()
        ));
    }
    let lower = name.to_lowercase();
    if lower != name && is_portable(&lower) {
        return Some(format!(
            "a name must be lowercase (MySQL and SQLite do not tell {name} from {lower}); write {lower}"
        ));
    }
    if !is_portable(name) {
        return Some(
            "a column name must be lowercase letters, digits and _, starting with a letter".into(),
        );
    }
    None
}

fn is_portable(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{REJECTS_TABLE, STANDARD_TABLES};

    fn check(name: &str, expected: Option<&str>) {
        assert_eq!(name_problem(name).as_deref(), expected, "{name:?}");
    }

    #[test]
    fn portable_names_pass_and_others_say_why() {
        check("gift_wrap_fee", None);
        check("x1", None);
        check(&"a".repeat(63), None);
        check(
            &"a".repeat(64),
            Some(
                "a name may be at most 63 bytes (this one is 64): PostgreSQL would truncate it and MySQL refuse it",
            ),
        );
        check("_synced_at", Some("_synced_at is a system column every table has"));
        check("_deleted_at", Some("_deleted_at is a system column every table has"));
        check(
            "_private",
            Some("a name starting with _ is reserved for cartage's own columns and tables"),
        );
        check(
            "Channel",
            Some(
                "a name must be lowercase (MySQL and SQLite do not tell Channel from channel); write channel",
            ),
        );
        let bad = "a column name must be lowercase letters, digits and _, starting with a letter";
        for name in ["total-x", "1st", "", "naïve", "a b", "a\"b", "a`b", "ä"] {
            check(name, Some(bad));
        }
    }

    #[test]
    fn every_standard_table_and_column_follows_the_rule() {
        for t in STANDARD_TABLES {
            assert_eq!(name_problem(t.name), None, "table {}", t.name);
            for (c, _) in t.columns {
                assert_eq!(name_problem(c), None, "column {c} of table {}", t.name);
            }
        }
        // Cartage's own table: its name is reserved, its columns are not.
        assert!(name_problem(REJECTS_TABLE.name).is_some());
        for (c, _) in REJECTS_TABLE.columns {
            assert_eq!(name_problem(c), None, "column {c} of table {}", REJECTS_TABLE.name);
        }
    }
}
