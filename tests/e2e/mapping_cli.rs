//! `cartage mapping validate|query|preview` for every stream the connector
//! reads, and the connector a mapping file is for: its `source:`, inherited
//! through `extends`, or `--source`.

use std::process::Output;

use crate::BIN;
use cartage_tests::repo_root;

async fn cartage(args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .current_dir(repo_root())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("running cartage")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const STREAMS: [(&str, &str); 4] = [
    ("mappings/centra/default.yaml", "orders"),
    ("mappings/centra/supply.yaml", "inventory"),
    ("mappings/centra/supply.yaml", "purchase_orders"),
    ("mappings/centra/supply.yaml", "indeliveries"),
];

#[tokio::test]
async fn validate_names_the_connector_of_each_file() {
    let out = cartage(&[
        "mapping",
        "validate",
        "mappings/centra/default.yaml",
        "mappings/centra/supply.yaml",
        "mappings/nordic-fashion.yaml",
    ])
    .await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("mappings/centra/default.yaml: ok (connector: centra; streams: orders; tables: orders, order_lines"), "{stdout}");
    assert!(
        lines[1]
            .contains("ok (connector: centra; streams: indeliveries, inventory, purchase_orders;"),
        "{stdout}"
    );
    // A customer file inherits `source:` from the file it extends.
    assert!(
        lines[2].starts_with("mappings/nordic-fashion.yaml: ok (connector: centra;"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_file_that_names_no_connector_needs_source() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bare.yaml");
    std::fs::write(
        &file,
        "tables:\n  orders:\n    stream: orders\n    columns:\n      order_id: id\n",
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();

    let out = cartage(&["mapping", "validate", &file]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("bare.yaml: which connector is this mapping for? add `source: <connector>` to it (or to a file it extends), or pass --source (one of centra)"),
        "{stderr}"
    );

    let out = cartage(&["mapping", "validate", "--source", "centra", &file]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("bare.yaml: ok (connector: centra; streams: orders; tables: orders)"),
        "{stdout}"
    );

    let out = cartage(&["mapping", "validate", "--source", "magento", &file]).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown connector \"magento\" (known: centra)"), "{stderr}");

    // A flag that contradicts the file is refused, not obeyed.
    let out =
        cartage(&["mapping", "validate", "--source", "magento", "mappings/centra/default.yaml"])
            .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the mapping is written for the \"centra\" connector, not \"magento\""),
        "{stderr}"
    );
}

#[tokio::test]
async fn query_prints_the_request_of_every_stream() {
    for (file, stream) in STREAMS {
        let out = cartage(&["mapping", "query", file, "--stream", stream]).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stream}: {stdout}{stderr}");
        assert!(stdout.starts_with(&format!("# stream {stream}: ")), "{stdout}");
        assert!(stdout.contains("query Cartage"), "{stdout}");
    }
    // The mapping's fields, not the connector's default selection.
    let out = cartage(&["mapping", "query", "mappings/nordic-fashion.yaml"]).await;
    let (stdout, _) = text(&out);
    assert!(stdout.contains("attributes {"), "{stdout}");
}

#[tokio::test]
async fn preview_reads_every_stream_from_the_simulator() {
    for (file, stream) in STREAMS {
        let out = cartage(&[
            "mapping",
            "preview",
            file,
            "--simulator",
            "--stream",
            stream,
            "--sample",
            "2",
        ])
        .await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stream}: {stdout}{stderr}");
        let previews: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&stdout)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{stream}: {e}: {stdout}"));
        assert_eq!(previews.len(), 2, "{stream}: {stdout}");
        for p in &previews {
            assert!(p["source"].is_object(), "{stream}: {p}");
            let rows = p["rows"].as_object().unwrap_or_else(|| panic!("{stream}: {p}"));
            assert!(!rows.contains_key("error"), "{stream}: {p}");
            assert!(
                rows.values().any(|t| t.as_array().is_some_and(|r| !r.is_empty())),
                "{stream}: {p}"
            );
        }
    }
}

#[tokio::test]
async fn demo_of_an_unknown_connector_is_refused() {
    let out = cartage(&["demo", "--source", "magento", "--db", "/nonexistent/x.db"]).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown connector \"magento\" (known: centra)"), "{stderr}");
}
