//! Broken mappings, each with its exact error text: typo'd keys, unknown
//! types, bad paths, fields missing from the schema, type clashes, bad YAML
//! syntax, circular extends, and more. Every message starts with
//! `file:line:column` and names the field and what was expected.

use crate::support::*;

macro_rules! broken {
    ($name:ident, $mapping:expr, $files:expr, $expected:expr) => {
        #[test]
        fn $name() {
            check_err(stringify!($name), $mapping, $files, $expected);
        }
    };
}

broken!(
    typo_in_a_table_key,
    "tables:\n  orders:\n    stream: orders\n    colums:\n      order_id: id\n",
    &[],
    "mapping.yaml:4:5: table orders: unknown key \"colums\"; did you mean \"columns\"?"
);

broken!(
    unknown_top_level_key,
    "tabels:\n  orders:\n    stream: orders\n",
    &[],
    "mapping.yaml:1:1: mapping: unknown key \"tabels\"; did you mean \"tables\"?"
);

broken!(
    unknown_table,
    "tables:\n  order:\n    stream: orders\n    columns:\n      order_id: id\n",
    &[],
    "mapping.yaml:2:3: unknown table \"order\" (expected one of orders, order_lines, inventory_levels, purchase_orders, indeliveries, indelivery_lines); did you mean \"orders\"?"
);

broken!(
    unknown_column,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      totl_gross: grandTotal\n",
    &[],
    "mapping.yaml:6:7: table orders: unknown column \"totl_gross\"; did you mean \"total_gross\"? (declare your own under extra_columns, or put it in custom)"
);

broken!(
    tenant_cannot_be_mapped,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      tenant: id\n",
    &[],
    "mapping.yaml:6:7: column tenant of table orders: tenant is filled from the connection and cannot be mapped"
);

broken!(
    unknown_stream,
    "tables:\n  orders:\n    stream: order\n    columns:\n      order_id: id\n",
    &[],
    "mapping.yaml:3:13: table orders: unknown stream \"order\" (expected one of orders, inventory, purchase_orders, indeliveries); did you mean \"orders\"?"
);

broken!(
    missing_stream,
    "tables:\n  orders:\n    columns:\n      order_id: id\n",
    &[],
    "mapping.yaml:2:3: table orders: missing key \"stream\" (expected the stream that feeds it)"
);

broken!(
    unknown_type,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: { path: grandTotal, type: decmal }\n",
    &[],
    "mapping.yaml:6:46: column total_gross of table orders: unknown type \"decmal\" (expected one of string, integer, boolean, decimal, money, timestamp, date, json); did you mean \"decimal\"?"
);

broken!(
    string_into_a_decimal_column,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: status\n",
    &[],
    "mapping.yaml:6:20: column total_gross of table orders: type clash: the column is decimal but the value is string; add `type: decimal` to convert it at run time"
);

broken!(
    boolean_into_a_timestamp_column,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      created_at: isOnHold\n",
    &[],
    "mapping.yaml:6:19: column created_at of table orders: type clash: the column is timestamp but the value is boolean"
);

broken!(
    impossible_conversion,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      created_at: { path: isOnHold, type: timestamp }\n",
    &[],
    "mapping.yaml:6:43: column created_at of table orders: type clash: cannot convert boolean to timestamp"
);

broken!(
    unknown_field_with_suggestion,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: grandTotl\n",
    &[],
    "mapping.yaml:6:20: column total_gross of table orders: path \"grandTotl\": type Order has no field \"grandTotl\"; did you mean \"grandTotal\"?"
);

broken!(
    field_of_one_order_type,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      customer_email: customer.email\n",
    &[],
    "mapping.yaml:6:23: column customer_email of table orders: path \"customer.email\": field \"customer\" is not on every Order; it is on DirectToConsumerOrder: write \"DirectToConsumerOrder.customer.email\""
);

broken!(
    path_through_a_list,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      order_number: lines.quantity\n",
    &[],
    "mapping.yaml:6:21: column order_number of table orders: path \"lines.quantity\": lines is a list; pick one element (lines[0]) or map its elements in a child table with `each: lines`"
);

broken!(
    index_on_a_field_that_is_not_a_list,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: market[0].name\n",
    &[],
    "mapping.yaml:6:15: column market of table orders: path \"market[0].name\": market is not a list; it takes no [index]"
);

broken!(
    bad_list_index,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      order_number: lines[x].quantity\n",
    &[],
    "mapping.yaml:6:21: column order_number of table orders: path \"lines[x].quantity\": bad list index in \"lines[x]\" (expected e.g. lines[0] or lines[-1])"
);

broken!(
    field_below_a_leaf,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: status.name\n",
    &[],
    "mapping.yaml:6:15: column status of table orders: path \"status.name\": status is of type OrderStatus, not an object; it has no field \"name\""
);

broken!(
    typename_must_end_the_path,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: __typename.name\n",
    &[],
    "mapping.yaml:6:15: column status of table orders: path \"__typename.name\": __typename must end the path"
);

broken!(
    each_is_not_a_list,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n  order_lines:\n    stream: orders\n    each: market\n    columns:\n      order_id: $.id\n      line_id: id\n",
    &[],
    "mapping.yaml:8:11: table order_lines: each: path \"market\" is not a list of objects (it is Market)"
);

broken!(
    each_path_unknown,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n  order_lines:\n    stream: orders\n    each: line\n    columns:\n      order_id: $.id\n      line_id: id\n",
    &[],
    "mapping.yaml:8:11: table order_lines: each: path \"line\": type Order has no field \"line\"; did you mean \"lines\"?"
);

broken!(
    primary_key_not_mapped,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n  order_lines:\n    stream: orders\n    each: lines\n    columns:\n      order_id: $.id\n",
    &[],
    "mapping.yaml:6:3: table order_lines: primary key column line_id is not mapped"
);

broken!(
    unknown_expression_key,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: { paht: market.name }\n",
    &[],
    "mapping.yaml:6:17: column market of table orders: unknown key \"paht\"; did you mean \"path\"?"
);

broken!(
    two_sources,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: { path: market.name, value: x }\n",
    &[],
    "mapping.yaml:6:36: column market of table orders: give only one of path, value, constant, attribute, coalesce, concat, format, add, sub, mul, div, if (found path and value)"
);

broken!(
    no_source,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: { type: string }\n",
    &[],
    "mapping.yaml:6:15: column market of table orders: expected one of path, value, constant, attribute, coalesce, concat, format, add, sub, mul, div, if to say where the value comes from"
);

broken!(
    of_without_attribute,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: { path: market.name, of: DirectToConsumerOrder }\n",
    &[],
    "mapping.yaml:6:36: column market of table orders: of only goes with attribute"
);

broken!(
    attribute_on_an_interface_without_attributes,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    custom:\n      channel: { attribute: ord_source.channel }\n",
    &[],
    "mapping.yaml:7:29: custom field channel of table orders: attribute: type Order has no attributes; DirectToConsumerOrder has them: add `of: DirectToConsumerOrder`"
);

broken!(
    attribute_without_element_key,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    custom:\n      channel: { attribute: ord_source, of: DirectToConsumerOrder }\n",
    &[],
    "mapping.yaml:7:29: custom field channel of table orders: attribute: expected group.key (e.g. cus_extra.id), found \"ord_source\""
);

broken!(
    attribute_of_a_wholesale_order,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    custom:\n      erp: { attribute: ord_erp.erp_ref, of: WholesaleOrder }\n",
    &[],
    "mapping.yaml:7:46: custom field erp of table orders: attribute: type WholesaleOrder has no attributes"
);

broken!(
    unknown_constant,
    "constants:\n  brand: Acme\ntables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: { constant: brnd }\n",
    &[],
    "mapping.yaml:8:27: column market of table orders: unknown constant \"brnd\" (define it under constants); did you mean \"brand\"?"
);

broken!(
    unknown_case,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { path: status, case: lowr }\n",
    &[],
    "mapping.yaml:6:37: column status of table orders: case: expected lower or upper, found \"lowr\"; did you mean \"lower\"?"
);

broken!(
    case_on_a_number,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    custom:\n      n: { path: number, case: lower }\n",
    &[],
    "mapping.yaml:7:32: custom field n of table orders: case needs a string, the value is integer"
);

broken!(
    round_on_a_string,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { path: status, round: 2 }\n",
    &[],
    "mapping.yaml:6:38: column status of table orders: round needs a decimal, the value is string"
);

broken!(
    round_out_of_range,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: { path: grandTotal, round: -1 }\n",
    &[],
    "mapping.yaml:6:47: column total_gross of table orders: round: expected a number of decimals from 0 to 28, found \"-1\""
);

broken!(
    map_mixes_value_types,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { path: status, map: { PENDING: 1, SHIPPED: done } }\n",
    &[],
    "mapping.yaml:6:59: column status of table orders: map mixes integer and string values; quote numbers meant as text"
);

broken!(
    unmapped_without_map,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { path: status, unmapped: keep }\n",
    &[],
    "mapping.yaml:6:41: column status of table orders: unmapped only goes with map"
);

broken!(
    unknown_unmapped_policy,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { path: status, map: { PENDING: open }, unmapped: kep }\n",
    &[],
    "mapping.yaml:6:65: column status of table orders: unmapped: expected error, keep or null, found \"kep\"; did you mean \"keep\"?"
);

broken!(
    unmapped_keep_with_other_type,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      on_hold: { path: status, map: { PENDING: true }, unmapped: keep }\n",
    &[],
    "mapping.yaml:6:66: column on_hold of table orders: unmapped: keep needs map values of the source's type (string), found boolean"
);

broken!(
    default_of_the_wrong_type,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      order_number: { path: number, default: abc }\n",
    &[],
    "mapping.yaml:6:46: column order_number of table orders: default: \"abc\" is not an integer"
);

broken!(
    coalesce_mixes_types,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: { coalesce: [market.name, number] }\n",
    &[],
    "mapping.yaml:6:27: column market of table orders: coalesce mixes string and integer; convert one with `type:`"
);

broken!(
    arithmetic_on_text,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: { add: [grandTotal, status] }\n",
    &[],
    "mapping.yaml:6:40: column total_gross of table orders: add: expected a number, found string; add `type: decimal` to convert it"
);

broken!(
    arithmetic_needs_two_values,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: { add: [grandTotal] }\n",
    &[],
    "mapping.yaml:6:27: column total_gross of table orders: add: expected at least 2 values, found 1"
);

broken!(
    format_with_unclosed_brace,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: { format: \"{market.name\" }\n",
    &[],
    "mapping.yaml:6:25: column market of table orders: format: unclosed or empty {…} in \"{market.name\" (write {{ for a literal brace)"
);

broken!(
    format_with_an_object,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: { format: \"{market}\" }\n",
    &[],
    "mapping.yaml:6:25: column market of table orders: format: {market} is an object; name one of its fields"
);

broken!(
    extra_column_without_type,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    extra_columns:\n      po: WholesaleOrder.purchaseOrderNumber\n",
    &[],
    "mapping.yaml:7:11: extra column po of table orders: an extra column needs a type (one of string, integer, boolean, decimal, money, timestamp, date, json)"
);

broken!(
    extra_column_with_a_standard_name,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    extra_columns:\n      market: { path: market.name, type: string }\n",
    &[],
    "mapping.yaml:7:7: extra column market of table orders: \"market\" is a standard column; map it under columns"
);

broken!(
    extra_column_with_a_bad_name,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    extra_columns:\n      Total-X: { path: number, type: integer }\n",
    &[],
    "mapping.yaml:7:7: extra column Total-X of table orders: a column name must be lowercase letters, digits and _, starting with a letter"
);

broken!(
    extra_column_name_postgres_would_truncate,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    extra_columns:\n      aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: { path: number, type: integer }\n",
    &[],
    "mapping.yaml:7:7: extra column aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa of table orders: a name may be at most 63 bytes (this one is 64): PostgreSQL would truncate it and MySQL refuse it"
);

broken!(
    extra_column_named_like_a_system_column,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    extra_columns:\n      _synced_at: { path: updatedAt, type: timestamp }\n",
    &[],
    "mapping.yaml:7:7: extra column _synced_at of table orders: _synced_at is a system column every table has"
);

broken!(
    extra_column_differing_only_by_case,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    extra_columns:\n      Channel: { path: number, type: integer }\n",
    &[],
    "mapping.yaml:7:7: extra column Channel of table orders: a name must be lowercase (MySQL and SQLite do not tell Channel from channel); write channel"
);

broken!(
    extra_column_with_a_quote_in_its_name,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    extra_columns:\n      'po\"x': { path: number, type: integer }\n",
    &[],
    "mapping.yaml:7:7: extra column po\"x of table orders: a column name must be lowercase letters, digits and _, starting with a letter"
);

broken!(
    custom_on_a_table_without_custom,
    "tables:\n  inventory_levels:\n    stream: inventory\n    columns:\n      warehouse_id: warehouse.id\n      size_id: productSize.id\n    custom:\n      x: productSize.SKU\n",
    &[],
    "mapping.yaml:8:8: table inventory_levels: custom: table inventory_levels has no custom column; declare extra_columns instead"
);

broken!(
    bad_yaml_syntax,
    "tables:\n  orders:\n    stream: [orders\n",
    &[],
    "mapping.yaml:4:1: invalid yaml: while parsing a flow sequence, expected ',' or ']'"
);

broken!(
    tab_indentation,
    "tables:\n\torders: {}\n",
    &[],
    "mapping.yaml:2:2: invalid yaml: tabs disallowed within this context (block indentation)"
);

broken!(
    duplicate_key,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: market.name\n      market: pricelist.name\n",
    &[],
    "mapping.yaml:7:7: duplicate key \"market\" (first given at line 6)"
);

broken!(
    circular_extends,
    "extends: a.yaml\n",
    &[("a.yaml", "extends: mapping.yaml\n")],
    "a.yaml:1:10: circular extends: mapping.yaml -> a.yaml -> mapping.yaml"
);

broken!(
    extends_a_missing_file,
    "extends: nope.yaml\n",
    &[],
    "mapping.yaml:1:10: cannot read mapping file \"nope.yaml\""
);

broken!(
    unknown_timezone,
    "timezone: Europe/Stokholm\ntables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n",
    &[],
    "mapping.yaml:1:11: timezone: unknown time zone \"Europe/Stokholm\" (expected an IANA name such as \"Europe/Stockholm\"); did you mean \"Europe/Stockholm\"?"
);

broken!(
    unknown_error_policy,
    "on_error: ignore\ntables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n",
    &[],
    "mapping.yaml:1:11: on_error: unknown policy \"ignore\" (expected fail or reject)"
);

broken!(
    tables_is_a_list,
    "tables:\n  - orders\n",
    &[],
    "mapping.yaml:2:3: tables: expected a mapping, found a list"
);

broken!(
    top_level_is_a_list,
    "- tables\n",
    &[],
    "mapping.yaml:1:1: a mapping file must be a YAML mapping"
);

broken!(
    money_from_a_non_money_path,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      total_gross: { path: number, type: money }\n",
    &[],
    "mapping.yaml:6:42: column total_gross of table orders: type money needs a path to a money object (an object with valueInCents and currency.code), the value is integer"
);

broken!(
    if_without_then,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { if: isOnHold }\n",
    &[],
    "mapping.yaml:6:15: column status of table orders: if needs then (and may have else)"
);

broken!(
    if_with_two_tests,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { if: { path: status, equals: A, in: [B] }, then: status }\n",
    &[],
    "mapping.yaml:6:48: column status of table orders: if: give only one of equals, not_equals, in, not_in, is_null, greater_than, less_than"
);

broken!(
    is_null_needs_a_boolean,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { if: { path: status, is_null: maybe }, then: status }\n",
    &[],
    "mapping.yaml:6:46: column status of table orders: is_null: expected true or false"
);

broken!(
    empty_root_path,
    "tables:\n  order_lines:\n    stream: orders\n    each: lines\n    columns:\n      order_id: \"$.\"\n      line_id: id\n",
    &[],
    "mapping.yaml:6:17: column order_id of table order_lines: path \"$.\": expected a field name"
);

broken!(
    custom_twice,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      custom: shippingAddress\n    custom:\n      x: number\n",
    &[],
    "mapping.yaml:6:7: column custom of table orders: give custom either as a column or as a custom: section, not both"
);

broken!(
    trim_needs_true_or_false,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { path: status, trim: yes }\n",
    &[],
    "mapping.yaml:6:37: column status of table orders: trim: expected true or false"
);

broken!(
    value_is_a_list,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      status: { value: [a, b] }\n",
    &[],
    "mapping.yaml:6:24: column status of table orders: value: expected a single value, found a list"
);

broken!(
    missing_tables,
    "timezone: UTC\n",
    &[],
    "mapping.yaml:1:1: mapping: missing key \"tables\" (expected the tables this mapping fills)"
);

broken!(
    every_error_is_reported_at_once,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: markt.name\n      status: { path: status, case: lowr }\n      total_gross: { path: grandTotal, type: decmal }\n",
    &[],
    "mapping.yaml:6:15: column market of table orders: path \"markt.name\": type Order has no field \"markt\"; did you mean \"market\"?\nmapping.yaml:7:37: column status of table orders: case: expected lower or upper, found \"lowr\"; did you mean \"lower\"?\nmapping.yaml:8:46: column total_gross of table orders: unknown type \"decmal\" (expected one of string, integer, boolean, decimal, money, timestamp, date, json); did you mean \"decimal\"?"
);

broken!(
    errors_in_a_base_file_point_into_it,
    "extends: broken_base.yaml\n",
    &[(
        "broken_base.yaml",
        "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n      market: market.nam\n"
    )],
    "broken_base.yaml:6:15: column market of table orders: path \"market.nam\": type Market has no field \"nam\"; did you mean \"name\"?"
);

broken!(
    unknown_argument,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    custom:\n      n: \"lines(includeCancelled: true)[0].id\"\n",
    &[],
    "mapping.yaml:7:10: custom field n of table orders: path \"lines(includeCancelled: true)[0].id\": field lines has no argument \"includeCancelled\"; did you mean \"includeFullyCancelled\"?"
);

broken!(
    argument_of_the_wrong_type,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    custom:\n      n: \"lines(includeFullyCancelled: 1)[0].id\"\n",
    &[],
    "mapping.yaml:7:10: custom field n of table orders: path \"lines(includeFullyCancelled: 1)[0].id\": argument includeFullyCancelled of lines: \"1\" is not a Boolean"
);

broken!(
    field_read_with_two_argument_sets,
    "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n    custom:\n      a: \"lines(includeFullyCancelled: true)[0].id\"\n      b: lines[0].id\n",
    &[],
    "mapping.yaml:8:10: custom field b of table orders: lines is read both as lines(includeFullyCancelled: true) and as lines; use one"
);
