//! The Events API over GraphQL: listeners, oldest-first delivery, confirmation, unset, one queue per integration.

use centra_sim::auth::TokenSpec;
use centra_sim::control::{OrderSelection, UpdateOrders};
use centra_sim::ratelimit::Tier;
use centra_sim::{RunningSim, SimConfig, Simulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start() -> RunningSim {
    let sim =
        Simulator::new(SimConfig { orders: 40, tier: Tier::Unlimited, ..SimConfig::default() });
    let running = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    running.sim().tokens().add(TokenSpec::all_permissions("bi-token", "bi"));
    running.sim().tokens().add(TokenSpec::all_permissions("bi-token-2", "bi"));
    running
}

async fn gql(running: &RunningSim, token: &str, query: &str) -> Value {
    let response = reqwest::Client::new()
        .post(&running.graphql_url)
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body
}

const EVENTS: &str = "{ events(limit: 200) { id objectType changeType objectReference object { __typename ... on DirectToConsumerOrder { number } ... on WholesaleOrder { number } } } }";

/// (id, changeType, objectReference) of the pending events.
async fn pending(running: &RunningSim, token: &str) -> Vec<(i64, String, i64)> {
    let body = gql(running, token, EVENTS).await;
    body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["objectType"], "Order");
            (
                e["id"].as_i64().unwrap(),
                e["changeType"].as_str().unwrap().to_string(),
                e["objectReference"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn update(running: &RunningSim, numbers: &[i64]) {
    let select = OrderSelection { numbers: Some(numbers.to_vec()), ..OrderSelection::default() };
    running
        .sim()
        .control()
        .update_orders(&UpdateOrders { select, status: Some("PROCESSING".into()) })
        .unwrap();
}

#[tokio::test]
async fn events_come_oldest_first_and_stay_until_confirmed() {
    let running = start().await;
    let token = running.token.clone();
    // Changes before any listener are not delivered.
    update(&running, &[1]);
    let body = gql(
        &running,
        &token,
        "mutation { setEventListeners(input: [{objectType: Order}]) { eventListeners { objectType changeTypes } userErrors { message } } }",
    )
    .await;
    let listeners = &body["data"]["setEventListeners"]["eventListeners"];
    assert_eq!(
        *listeners,
        json!([{ "objectType": "Order", "changeTypes": ["CREATED", "UPDATED", "COMPLETED", "DELETED", "DEPENDENT_DATA_CHANGED"] }])
    );
    assert!(pending(&running, &token).await.is_empty());

    update(&running, &[7, 3, 12]);
    let events = pending(&running, &token).await;
    assert_eq!(events.iter().map(|e| e.2).collect::<Vec<_>>(), [7, 3, 12]);
    assert!(events.iter().all(|e| e.1 == "UPDATED"));
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "{events:?}");
    // The object is the order's current state.
    let body = gql(&running, &token, EVENTS).await;
    assert_eq!(body["data"]["events"][0]["object"]["number"], 7);

    // Reading does not consume; limit takes the oldest.
    let body = gql(&running, &token, "{ events(limit: 2) { id } }").await;
    let first_two: Vec<i64> = body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(first_two, [events[0].0, events[1].0]);

    // Confirm the oldest: the others stay queued, in order.
    let confirm = format!(
        "mutation {{ confirmEvents(input: {{eventsIds: [{}]}}) {{ userErrors {{ message }} userWarnings {{ message }} }} }}",
        events[0].0
    );
    let body = gql(&running, &token, &confirm).await;
    assert_eq!(body["data"]["confirmEvents"]["userErrors"], json!([]));
    assert_eq!(pending(&running, &token).await, events[1..]);

    // A new change queues behind the unconfirmed ones.
    update(&running, &[2]);
    let now = pending(&running, &token).await;
    assert_eq!(now.iter().map(|e| e.2).collect::<Vec<_>>(), [3, 12, 2]);

    // Confirming an unknown id is a user error; the known ids are confirmed anyway.
    let confirm = format!(
        "mutation {{ confirmEvents(input: {{eventsIds: [{}, 999999]}}) {{ userErrors {{ message }} }} }}",
        now[0].0
    );
    let body = gql(&running, &token, &confirm).await;
    assert_eq!(
        body["data"]["confirmEvents"]["userErrors"],
        json!([{ "message": "Event with id 999999 not found in the queue of this integration." }])
    );
    assert_eq!(pending(&running, &token).await, now[1..]);
    running.shutdown().await;
}

#[tokio::test]
async fn deleted_orders_give_a_null_object_and_unset_purges_the_queue() {
    let running = start().await;
    let token = running.token.clone();
    gql(&running, &token, "mutation { setEventListeners(input: [{objectType: Order, changeTypes: [DELETED]}]) { userErrors { message } } }").await;
    update(&running, &[4]);
    running
        .sim()
        .control()
        .delete_orders(&OrderSelection { numbers: Some(vec![5]), ..OrderSelection::default() })
        .unwrap();
    let body = gql(&running, &token, EVENTS).await;
    let events = body["data"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["changeType"], "DELETED");
    assert_eq!(events[0]["objectReference"], 5);
    assert_eq!(events[0]["object"], Value::Null);

    // Listeners are additive: UPDATED joins DELETED.
    let body = gql(&running, &token, "mutation { setEventListeners(input: [{objectType: Order, changeTypes: [UPDATED]}]) { eventListeners { changeTypes } } }").await;
    assert_eq!(
        body["data"]["setEventListeners"]["eventListeners"][0]["changeTypes"],
        json!(["UPDATED", "DELETED"])
    );
    update(&running, &[6]);
    assert_eq!(pending(&running, &token).await.len(), 2);

    let body = gql(&running, &token, "mutation { unsetEventListeners(input: [{objectType: Order}]) { eventListeners { objectType } userErrors { message } } }").await;
    assert_eq!(body["data"]["unsetEventListeners"]["eventListeners"], json!([]));
    assert!(pending(&running, &token).await.is_empty());
    update(&running, &[8]);
    assert!(pending(&running, &token).await.is_empty());
    let body = gql(&running, &token, "{ eventListeners { objectType } }").await;
    assert_eq!(body["data"]["eventListeners"], json!([]));
    running.shutdown().await;
}

#[tokio::test]
async fn each_integration_has_its_own_queue_shared_by_its_tokens() {
    let running = start().await;
    let token = running.token.clone();
    let listen =
        "mutation { setEventListeners(input: [{objectType: Order}]) { userErrors { message } } }";
    gql(&running, &token, listen).await;
    gql(&running, "bi-token", listen).await;
    update(&running, &[10, 11]);
    let mine = pending(&running, &token).await;
    let theirs = pending(&running, "bi-token").await;
    assert_eq!(mine, theirs);
    assert_eq!(mine.len(), 2);

    // The second "bi" token sees the same queue; confirming there empties it for both.
    let ids: Vec<String> = theirs.iter().map(|e| e.0.to_string()).collect();
    let confirm = format!(
        "mutation {{ confirmEvents(input: {{eventsIds: [{}]}}) {{ userErrors {{ message }} }} }}",
        ids.join(",")
    );
    gql(&running, "bi-token-2", &confirm).await;
    assert!(pending(&running, "bi-token").await.is_empty());
    // The other integration's queue is untouched.
    assert_eq!(pending(&running, &token).await, mine);
    running.shutdown().await;
}
