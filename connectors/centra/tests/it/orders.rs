//! The orders stream: backfill, incremental, churn, resume.

use std::time::Duration;

use cartage_core::ErrorKind;
use centra_sim::control::{OrderSelection, UpdateOrders};
use tokio_util::sync::CancellationToken;

use crate::support::*;

#[tokio::test]
async fn backfill_returns_every_order_exactly_once_with_money_and_lines() {
    let running = start_unlimited(1_050).await;
    let source = source(&running, serde_json::json!({}));
    let run = read(&source, None).await;
    let records = run.records();
    assert_unique(&records);
    let truth = truth(&running);
    let got = seen(&records);
    assert_eq!(got, truth, "{}", diff(&got, &truth));
    assert_eq!(run.batches.len(), 6, "1,050 orders in pages of 200");
    assert_eq!(run.summary().records, 1_050);
    assert_eq!(run.summary().requests, 7, "one probe and six pages");
    assert_eq!(run.summary().retries, 0);

    // Money exact and lines complete, against the simulator's truth.
    for record in &records {
        let order = running.sim().order(record["number"].as_i64().unwrap()).unwrap();
        assert_eq!(
            record["grandTotal"]["valueInCents"].as_i64(),
            Some(order.totals.grand_total_incl_tax)
        );
        assert_eq!(
            record["grandTotal"]["currency"]["code"].as_str(),
            Some(order.currency.code.as_str())
        );
        let line_ids: Vec<i64> =
            record["lines"].as_array().unwrap().iter().map(|l| l["id"].as_i64().unwrap()).collect();
        let want: Vec<i64> = order.lines.iter().map(|l| l.id).collect();
        assert_eq!(line_ids, want, "lines of order {}", order.number);
    }

    // Every batch but the last resumes inside the window; the last closes it.
    let last = run.last_state();
    let to = last["cursor"].as_str().unwrap().to_owned();
    assert_eq!(last["window"], serde_json::Value::Null);
    assert_eq!(last["after"], serde_json::Value::Null);
    for (_, state) in &run.batches[..5] {
        assert_eq!(state["v"], 1);
        assert_eq!(state["window"]["to"].as_str(), Some(to.as_str()));
        assert_eq!(state["window"]["from"], serde_json::Value::Null);
        assert!(state["after"].is_string());
    }
    // The window ends one second before the server's clock at the probe.
    let now = running.sim().now();
    let to = chrono::DateTime::parse_from_rfc3339(&to).unwrap().with_timezone(&chrono::Utc);
    assert!(to < now && now - to < chrono::TimeDelta::seconds(60), "to {to}, sim now {now}");
    running.shutdown().await;
}

#[tokio::test]
async fn incremental_after_changes_returns_exactly_the_changed_and_new_orders() {
    let running = start_unlimited(400).await;
    let source = source(&running, serde_json::json!({}));
    let backfill = read(&source, None).await;
    assert_eq!(backfill.records().len(), 400);

    let control = running.sim().control();
    // Later than the lookback, so only the changes fall in the next window.
    control.advance_clock(1_000);
    let changed = control
        .update_orders(&UpdateOrders {
            select: OrderSelection { count: None, numbers: Some(vec![3, 77, 150, 151, 399]) },
            status: None,
        })
        .unwrap();
    let cancelled =
        control.cancel_orders(&OrderSelection { count: None, numbers: Some(vec![200]) }).unwrap();
    let created = control.create_orders(4);
    control.advance_clock(2);

    let run = read(&source, Some(backfill.last_state())).await;
    let records = run.records();
    assert_unique(&records);
    let want: Seen = changed
        .iter()
        .chain(&cancelled)
        .chain(&created)
        .map(|o| (o.id.clone(), (o.number, o.updated_at)))
        .collect();
    let got = seen(&records);
    assert_eq!(got, want, "{}", diff(&got, &want));
    assert_eq!(run.summary().records, 10);
    // The new window started `lookback` before the old cursor.
    let old = backfill.last_state()["cursor"].as_str().unwrap().to_owned();
    let old = chrono::DateTime::parse_from_rfc3339(&old).unwrap();
    let new = run.last_state()["cursor"].as_str().unwrap().to_owned();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&new).unwrap()
            > old + chrono::TimeDelta::seconds(1_000)
    );
    running.shutdown().await;
}

#[tokio::test]
async fn a_walk_during_churn_then_one_incremental_run_covers_the_truth() {
    let running = start_unlimited(2_000).await;
    let source = source(&running, serde_json::json!({"page_size": 50}));
    let control = running.sim().control();

    // Change and create orders continuously while the backfill walks.
    let stop = CancellationToken::new();
    let churn = {
        let control = control.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut changes = 0u64;
            while !stop.is_cancelled() {
                let select = OrderSelection { count: Some(3), numbers: None };
                changes +=
                    control.update_orders(&UpdateOrders { select, status: None }).unwrap().len()
                        as u64;
                changes += control.create_orders(1).len() as u64;
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            changes
        })
    };
    // Let the churn run across a second boundary of the simulated clock
    // before the probe, so some changes precede the window's end too.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let first = read(&source, None).await;
    stop.cancel();
    let changes = churn.await.unwrap();
    assert!(changes > 50, "the churn made only {changes} changes");

    let mut db = Seen::new();
    upsert(&mut db, &first.records());
    let truth_now = truth(&running);
    let behind = truth_now.iter().filter(|(k, v)| db.get(*k) != Some(v)).count();
    assert!(behind > 0, "the churn should leave the first walk behind the truth");

    // A later run (the simulated clock moves on) catches up: nothing lost.
    control.advance_clock(2);
    let second = read(&source, Some(first.last_state())).await;
    upsert(&mut db, &second.records());
    let truth = truth(&running);
    assert_eq!(db, truth, "{}", diff(&db, &truth));
    running.shutdown().await;
}

#[tokio::test]
async fn a_read_resumes_a_window_in_progress_after_its_last_committed_page() {
    let running = start_unlimited(900).await;
    let source = source(&running, serde_json::json!({"page_size": 100, "lookback_secs": 0}));
    // The pipeline committed three pages, then stopped.
    let partial = read_with(&source, None, CancellationToken::new(), 3).await;
    assert!(partial.result.is_ok(), "a closed channel ends the read quietly: {:?}", partial.result);
    assert_eq!(partial.batches.len(), 3);
    let state = partial.last_state();
    assert!(state["window"].is_object() && state["after"].is_string(), "{state}");

    running.sim().control().advance_clock(5);
    let resumed = read(&source, Some(state.clone())).await;
    let first_three = partial.records();
    let rest = resumed.records();
    assert_eq!(rest.len(), 600, "the resumed read redoes nothing already committed");
    let mut all = first_three.clone();
    all.extend(rest);
    assert_unique(&all);
    let truth = truth(&running);
    let got = seen(&all);
    assert_eq!(got, truth, "{}", diff(&got, &truth));
    // The window resumed with its own bounds, then a fresh window followed.
    let states: Vec<_> = resumed.batches.iter().map(|(_, s)| s.clone()).collect();
    assert_eq!(states[0]["window"], state["window"]);
    assert_eq!(states[5]["cursor"], state["window"]["to"], "end of the resumed window");
    assert_eq!(states.len(), 7, "six pages of the old window, one (empty) fresh window");
    assert!(states[6]["cursor"].as_str() > states[5]["cursor"].as_str());
    running.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_read_stops_with_a_cancelled_error() {
    let running = start_unlimited(300).await;
    let source = source(&running, serde_json::json!({}));
    let cancel = CancellationToken::new();
    cancel.cancel();
    let run = read_with(&source, None, cancel, usize::MAX).await;
    assert_eq!(run.result.unwrap_err().kind(), ErrorKind::Cancelled);
    assert!(run.batches.is_empty());
    running.shutdown().await;
}

#[tokio::test]
async fn an_unreadable_state_is_a_configuration_error() {
    let running = start_unlimited(10).await;
    let source = source(&running, serde_json::json!({}));
    let run = read(&source, Some(serde_json::json!({"v": 9}))).await;
    let error = run.result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(
        error.to_string().contains("stored state of centra stream orders is not usable"),
        "{error}"
    );
    running.shutdown().await;
}
