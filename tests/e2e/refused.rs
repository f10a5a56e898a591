//! A record whose row PostgreSQL cannot store (a NUL character in text)
//! follows the mapping's `on_error`, through the real mapping, pipeline and
//! sink: rejected with the reason while the other records and the stream
//! state are written, or failing the run with an error naming table, column,
//! key and record. Before, the batch's transaction failed on every run.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cartage_core::{
    Error, Pipeline, ReadRequest, ReadSummary, Record, Row, Source, SourceBatch, StreamDef,
    StreamState, SyncMode, Value, WriteMode,
};
use cartage_mapping::{CompileContext, compile};
use cartage_sinks::testing::TestDatabase;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const MAPPING: &str = "
tables:
  orders:
    stream: orders
    columns:
      order_id: id
      order_number: number
      customer_email: otherComment
";

/// Sends its batches of stream `orders`, one after another.
struct Batches(Mutex<Vec<SourceBatch>>);

#[async_trait]
impl Source for Batches {
    fn streams(&self) -> Vec<StreamDef> {
        vec![StreamDef {
            name: "orders".into(),
            primary_key: vec!["id".into()],
            cursor_field: None,
            sync_mode: SyncMode::Incremental,
            write_mode: WriteMode::Upsert,
            deleted_by: Vec::new(),
            snapshots: false,
        }]
    }

    async fn read(
        &self,
        _: ReadRequest,
        out: mpsc::Sender<SourceBatch>,
    ) -> Result<ReadSummary, Error> {
        let batches = std::mem::take(&mut *self.0.lock().expect("lock"));
        for batch in batches {
            if out.send(batch).await.is_err() {
                break;
            }
        }
        Ok(ReadSummary::default())
    }
}

fn record(id: &str, number: i64, comment: &str) -> Record {
    let json = serde_json::json!({ "id": id, "number": number, "otherComment": comment });
    Record::from_json_str(&json.to_string()).expect("json")
}

/// Syncs two batches into a fresh PostgreSQL database; the first holds an
/// order whose comment has a NUL character.
async fn sync(
    on_error: &str,
) -> (TestDatabase, cartage_mapping::CompiledMapping, Result<(), Error>) {
    let text = format!("on_error: {on_error}\n{MAPPING}");
    let loader =
        move |name: &str| (name == "mapping.yaml").then(|| (name.to_owned(), text.clone()));
    let compiled = compile(
        "mapping.yaml",
        &loader,
        &CompileContext::new("acme", connector_centra::description()),
    )
    .unwrap_or_else(|d| panic!("{d}"));
    let db = TestDatabase::postgres().await;
    let source = Batches(Mutex::new(vec![
        SourceBatch::new(
            vec![
                record("o-1", 1, "ring twice"),
                record("o-2", 2, "gate\0code"),
                record("o-3", 3, ""),
            ],
            StreamState(serde_json::json!({ "cursor": 1 })),
        ),
        SourceBatch::new(
            vec![record("o-4", 4, "")],
            StreamState(serde_json::json!({ "cursor": 2 })),
        ),
    ]));
    let pipeline = Pipeline::new(
        "acme",
        "orders",
        Arc::new(source),
        compiled.stream("orders").expect("the orders stream"),
        db.config().build().await.expect("connecting the sink"),
        CancellationToken::new(),
    );
    let result = pipeline.run().await.map(|_| ());
    (db, compiled, result)
}

fn text(row: &Row, i: usize) -> &str {
    match &row.0[i] {
        Value::Text(s) => s,
        other => panic!("column {i} is {other:?}, not text"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nul_text_under_reject_goes_to_rejects_and_the_stream_moves_on() {
    let (db, compiled, result) = sync("reject").await;
    result.expect("the run succeeds");
    let schema = |name: &str| {
        compiled.tables().iter().find(|t| t.name == name).cloned().expect("a mapped table")
    };
    let sink = db.sink().await;
    let orders: Vec<String> = sink
        .read_table(&schema("orders"), "acme")
        .await
        .expect("orders")
        .iter()
        .map(|r| text(&r.row, 1).to_owned())
        .collect();
    assert_eq!(orders, ["o-1", "o-3", "o-4"]);
    let rejects = sink.read_table(&schema("_rejects"), "acme").await.expect("_rejects");
    assert_eq!(rejects.len(), 1);
    let reject = &rejects[0].row;
    assert_eq!(text(reject, 2), "o-2");
    assert_eq!(
        text(reject, 3),
        r#"table orders, column customer_email, key ("acme", "o-2"): text holds a NUL character (\0), which PostgreSQL cannot store"#
    );
    assert_eq!(
        reject.0[4],
        Value::Json(
            serde_json::json!({"id": "o-2", "number": 2, "otherComment": "gate\u{FFFD}code"})
        )
    );
    let mut sink = sink;
    let state = cartage_core::Sink::read_state(&mut sink, "acme", "orders").await.expect("state");
    // The source's state, beside the mapping version that wrote it.
    let state = state.expect("the stream's state was committed");
    assert_eq!(state.0["source"], serde_json::json!({ "cursor": 2 }), "{state:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nul_text_under_fail_stops_with_a_clear_error() {
    let (db, _, result) = sync("fail").await;
    let e = result.expect_err("the run fails");
    assert_eq!(e.kind(), cartage_core::ErrorKind::Data);
    assert_eq!(
        e.to_string(),
        r#"data error: tenant acme, stream orders: stream orders: record "o-2": table orders, column customer_email, key ("acme", "o-2"): text holds a NUL character (\0), which PostgreSQL cannot store"#
    );
    let mut sink = db.sink().await;
    let state = cartage_core::Sink::read_state(&mut sink, "acme", "orders").await.expect("state");
    assert_eq!(state, None, "the batch holding the record is not committed");
}
