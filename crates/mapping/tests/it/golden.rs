//! Golden cases: each folder of `tests/golden/` holds `mapping.yaml` (which
//! may extend files beside it), `input.json` (records) and `expected.json`
//! (rows per table, or the error). `UPDATE_GOLDEN=1 cargo test` rewrites
//! the expected files, which are then reviewed like code.

use std::path::Path;

use crate::support::*;

fn golden(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    let input = std::fs::read_to_string(dir.join("input.json")).unwrap();
    let expected_path = dir.join("expected.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let actual = outcome_in(&dir, &input);
        std::fs::write(&expected_path, serde_json::to_string_pretty(&actual).unwrap() + "\n")
            .unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
        panic!("{} is missing (run with UPDATE_GOLDEN=1, then review)", expected_path.display())
    });
    check(&dir, &input, &expected);
}

macro_rules! golden {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            golden(stringify!($name));
        }
    )*};
}

golden!(
    default_orders,
    paths,
    attributes,
    types,
    transforms,
    extra_columns,
    extends,
    rejects,
    timezone,
    custom_column,
    map_error,
);
