//! The `centra-sim serve` binary: prints its URL and token, serves the
//! flags' data, and stops cleanly on Ctrl-C (SIGINT).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn serve_prints_url_and_token_serves_and_stops_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_centra-sim"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--orders",
            "77",
            "--seed",
            "5",
            "--profile",
            "outdoor-wholesale",
        ])
        .args(["--token", "cli-token", "--tier", "unlimited", "--fault-schedule", "2=503"])
        .args(["--date-filter", "ignore-offset", "--product-sizes", "500"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut url, mut token) = (None, None);
    while url.is_none() || token.is_none() {
        let line = lines.next().expect("a line before exit").expect("utf-8");
        if let Some(u) = line.strip_prefix("GraphQL: ") {
            url = Some(u.trim().to_string());
        }
        if let Some(t) = line.strip_prefix("token:") {
            token = Some(t.trim().to_string());
        }
    }
    let (url, token) = (url.expect("url"), token.expect("token"));
    assert_eq!(token, "cli-token");
    let client = reqwest::Client::new();
    let ask = || {
        client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({"query": "{ counters { orders } }"}))
            .send()
    };
    let first: Value = ask().await.expect("answer").json().await.expect("json");
    assert_eq!(first["data"]["counters"]["orders"], 77);
    let second = ask().await.expect("answer");
    assert_eq!(second.status(), 503, "the fault schedule applies");
    // The same flags in-process give the same data.
    let sim = centra_sim::Simulator::new(centra_sim::SimConfig {
        orders: 77,
        seed: 5,
        profile: "outdoor-wholesale".into(),
        ..centra_sim::SimConfig::default()
    });
    let body: Value = client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"query": "{ orders(where: {number: [33]}) { id } }"}))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(body["data"]["orders"][0]["id"], sim.order(33).expect("order 33").id.as_str());
    let status =
        Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill runs");
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "clean exit: {exit:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "stopping"), "{rest:?}");
}
