//! Reconciliation end to end: the server dials 500 calls through the embedded
//! simulator, which loses a fifth of its status callbacks; one sync then brings every
//! call's final status, duration and price in line with the simulator's own records,
//! records what it did in `sync_status`, and a second sync changes nothing.

mod common;

use callvisor::http::auth::Role;
use callvisor::providers::twilio::{TwilioConfig, TwilioProvider};
use callvisor::store::CallFilter;
use callvisor_actors::domain::Call;
use callvisor_actors::ports::{CallListQuery, Provider, ProviderCallRecord};
use common::{spawn_app, Db, TestServer};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

const CALLS: usize = 500;

/// The simulator's records of every call it was asked to make, once all are over.
async fn sim_records(app: &TestServer) -> Vec<ProviderCallRecord> {
    let sim = app.running.as_ref().unwrap().sim.as_ref().unwrap();
    let twilio = TwilioProvider::new(TwilioConfig {
        account_sid: sim.config().account_sid.clone(),
        auth_token: sim.config().auth_token.clone(),
        api_base: sim.base_url(),
        request_timeout: Duration::from_secs(10),
    })
    .unwrap();
    let query = CallListQuery {
        started_after: chrono::Utc::now() - chrono::Duration::hours(1),
        started_before: chrono::Utc::now() + chrono::Duration::hours(1),
        to: None,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let records = twilio.list_calls(&query).await.unwrap();
        if records.len() == CALLS && records.iter().all(|r| r.observation.status.is_final()) {
            return records;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulator never finished its calls"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every call of the server, by provider id.
async fn local_calls(app: &TestServer) -> HashMap<String, Call> {
    let store = &app.running.as_ref().unwrap().store;
    let mut calls = HashMap::new();
    let mut filter = CallFilter {
        limit: 200,
        ..CallFilter::default()
    };
    loop {
        let page = store.list_calls(&filter).await.unwrap();
        let Some(last) = page.last().map(|c| c.id) else {
            break;
        };
        for call in page {
            if let Some(pid) = call.provider_call_id.clone() {
                calls.insert(pid, call);
            }
        }
        filter.after = Some(last);
    }
    calls
}

async fn trigger(app: &TestServer, token: &str) -> serde_json::Value {
    let r = app
        .send("POST", "/api/monitoring/sync/trigger", Some(token), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.data().clone()
}

/// Flags of a server whose simulator loses a fifth of its callbacks, with limits and
/// quotas wide enough for 500 calls at once and no timer-driven syncs or checks.
const LOSSY: &[&str] = &[
    "--sim-callback-loss",
    "0.2",
    "--sim-answer-rate",
    "0.7",
    "--sim-busy-rate",
    "0.1",
    "--sim-fail-rate",
    "0.1",
    "--global-max-calls",
    "1000",
    "--twilio-calls-per-second",
    "200",
    "--twilio-api-requests-per-second",
    "200",
    "--sync-enabled",
    "false",
    "--health-enabled",
    "false",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_settles_every_call_a_lost_webhook_left_open_and_a_second_changes_nothing() {
    settles_and_changes_nothing_twice(spawn_app(Db::Sqlite, LOSSY).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_settles_every_call_on_postgres_too() {
    let Some(base) = common::postgres_url() else {
        common::skip_postgres("sync_e2e");
        return;
    };
    let url = common::fresh_postgres_database(&base).await;
    settles_and_changes_nothing_twice(spawn_app(Db::Postgres(url), LOSSY).await).await;
}

async fn settles_and_changes_nothing_twice(app: TestServer) {
    let (client, agent) = app.tenant(1000).await;
    let manager = app.token(Role::Manager, Some(client));
    let calls: Vec<_> = (0..CALLS)
        .map(|i| json!({"phoneNumber": format!("+1415555{:04}", 1000 + i), "agentId": agent}))
        .collect();
    let placed = app
        .send(
            "POST",
            "/api/v1/calls/outbound/bulk",
            Some(&manager),
            Some(json!({"calls": calls})),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body["error"]);
    assert_eq!(placed.data()["successful"], CALLS);

    let records = sim_records(&app).await;
    // Give the callbacks that were not lost time to land.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = local_calls(&app).await;
    let open = before.values().filter(|c| c.is_live()).count();
    assert!(
        open > 0,
        "with a fifth of the callbacks lost, some calls never heard their end"
    );

    let admin = app.token(Role::SuperAdmin, None);
    let first = trigger(&app, &admin).await;
    assert_eq!(first["status"], "success", "{first}");
    let counts = &first["counts"];
    assert_eq!(counts["fetched"], CALLS, "{first}");
    // Callbacks still on their way when the calls were counted may end a few calls
    // before the sync reaches them.
    let ended = counts["ended"].as_u64().unwrap();
    assert!(
        ended > 0 && ended <= open as u64,
        "{open} open before: {first}"
    );
    assert!(counts["updated"].as_u64().unwrap() >= ended, "{first}");
    assert_eq!(
        (counts["created"].as_u64(), counts["unmatched"].as_u64()),
        (Some(0), Some(0)),
        "{first}"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = local_calls(&app).await;
    assert_eq!(after.len(), CALLS);
    assert_eq!(
        after.values().filter(|c| c.is_live()).count(),
        0,
        "no call is left open"
    );
    for record in &records {
        let call = &after[&record.provider_call_id];
        let seen = &record.observation;
        assert_eq!(call.status, seen.status, "{}", record.provider_call_id);
        // Twilio leaves a call resource's duration empty for calls nobody answered, while
        // their status callbacks say 0 seconds: the same talk time.
        let talk = |d: Option<i64>| d.unwrap_or(0);
        assert_eq!(
            talk(call.duration_seconds),
            talk(seen.duration_seconds),
            "{}",
            record.provider_call_id
        );
        assert_eq!(call.price, seen.price, "{}", record.provider_call_id);
    }
    let status = app
        .send("GET", "/api/monitoring/sync/status", Some(&admin), None)
        .await;
    assert_eq!(
        status.data()["lastSuccess"]["id"],
        first["id"],
        "{}",
        status.body
    );

    let second = trigger(&app, &admin).await;
    let counts = &second["counts"];
    assert_eq!(second["status"], "success", "{second}");
    assert_eq!(
        (
            counts["updated"].as_u64(),
            counts["created"].as_u64(),
            counts["ended"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{second}"
    );
    assert_eq!(counts["unchanged"], CALLS, "{second}");
    let again = local_calls(&app).await;
    for (pid, call) in &after {
        assert_eq!(
            again[pid].updated_at, call.updated_at,
            "{pid} was written again"
        );
    }
    let history = app
        .send("GET", "/api/monitoring/sync/history", Some(&admin), None)
        .await;
    assert_eq!(history.data()["runs"].as_array().unwrap().len(), 2);
    app.stop().await;
}
