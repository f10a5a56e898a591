//! Broken mappings, each with its exact error text.

use crate::support::*;

#[test]
fn a_typo_in_a_table_key_is_refused_with_a_suggestion() {
    check_err(
        "tables:\n  orders:\n    stream: orders\n    colums:\n      order_id: id\n",
        "mapping.yaml:2:3: table orders: missing key \"columns\"\nmapping.yaml:4:5: table orders: unknown key \"colums\"; did you mean \"columns\"?",
    );
}
