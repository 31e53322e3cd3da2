//! One call end to end in each flavor of the embedded simulator: the real adapter dials
//! the simulator, the simulator calls back the server's own webhook endpoint, and the
//! call reaches its final status from those webhooks alone.

mod common;

use callvisor::http::auth::Role;
use common::{postgres_url, skip_postgres, spawn_app, Db, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

/// Places one call and waits for its final status.
async fn place_and_finish(app: &TestServer) -> Value {
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let placed = app
        .send(
            "POST",
            "/api/v1/calls/outbound",
            Some(&manager),
            Some(json!({"phoneNumber": "+14155552671", "agentId": agent})),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();
    app.wait_final(&manager, &call_id, Duration::from_secs(20))
        .await
}

fn assert_completed(call: &Value, webhooks: &[&str]) {
    assert_eq!(call["status"], "completed", "{call}");
    assert_eq!(call["failureReason"], Value::Null, "{call}");
    assert!(
        call["durationSeconds"].as_i64().is_some_and(|d| d >= 1),
        "{call}"
    );
    assert!(call["endedAt"].is_string());
    assert_eq!(TestServer::webhook_kinds(call), webhooks, "{call}");
}

#[tokio::test]
async fn twilio_flavor_end_to_end() {
    let app = spawn_app(Db::Sqlite, &["--sim-flavor", "twilio"]).await;
    let call = place_and_finish(&app).await;
    assert_completed(&call, &["initiated", "ringing", "in-progress", "completed"]);
    assert!(call["providerCallId"].as_str().unwrap().starts_with("CA"));
    app.stop().await;
}

async fn plivo_end_to_end(app: &TestServer) {
    let call = place_and_finish(app).await;
    assert_completed(&call, &["ringing", "completed"]);
    // The call was created as a request and is now known by its live call id, which
    // the callbacks revealed.
    let dials = app.dials();
    let request_uuid = dials[0].sid.as_str();
    let call_uuid = call["providerCallId"].as_str().unwrap();
    assert_ne!(call_uuid, request_uuid, "{call}");
    assert_eq!(call_uuid.len(), 36, "{call}");
    let dial_event = call["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "provider")
        .unwrap();
    assert_eq!(dial_event["detail"]["providerCallId"], request_uuid);
    assert!(call["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] != "other_provider_call"));
}

#[tokio::test]
async fn plivo_flavor_end_to_end() {
    let app = spawn_app(Db::Sqlite, &["--sim-flavor", "plivo"]).await;
    plivo_end_to_end(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn plivo_flavor_end_to_end_on_postgres() {
    let Some(base) = postgres_url() else {
        return skip_postgres("plivo_flavor_end_to_end_on_postgres");
    };
    let url = common::fresh_postgres_database(&base).await;
    let app = spawn_app(Db::Postgres(url), &["--sim-flavor", "plivo"]).await;
    plivo_end_to_end(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn exotel_flavor_end_to_end() {
    let app = spawn_app(Db::Sqlite, &["--sim-flavor", "exotel"]).await;
    let call = place_and_finish(&app).await;
    assert_completed(&call, &["in-progress", "completed"]);
    let sid = call["providerCallId"].as_str().unwrap();
    assert!(
        sid.len() == 32 && sid.bytes().all(|b| b.is_ascii_hexdigit()),
        "{call}"
    );
    // The callback URL carried the deployment's token, generated and kept in the data
    // directory.
    let token = std::fs::read_to_string(app.dir.join("exotel-webhook-token")).unwrap();
    let hook = app.dials()[0].status_callback.clone().unwrap();
    assert!(hook.contains(&format!("token={}", token.trim())), "{hook}");
    assert!(hook.contains("/webhooks/exotel/status?"), "{hook}");
    app.stop().await;
}

#[tokio::test]
async fn a_busy_exotel_call_and_its_cancel_are_reported_honestly() {
    let app = spawn_app(
        Db::Sqlite,
        &[
            "--sim-flavor",
            "exotel",
            "--sim-answer-rate",
            "0",
            "--sim-busy-rate",
            "1",
        ],
    )
    .await;
    let call = place_and_finish(&app).await;
    assert_eq!(call["status"], "busy", "{call}");
    assert_eq!(call["failureReason"], "busy");
    app.stop().await;

    // Exotel cannot hang up: a cancel of a ringing call fails and says why.
    let app = spawn_app(
        Db::Sqlite,
        &["--sim-flavor", "exotel", "--sim-ring-seconds", "30"],
    )
    .await;
    let (client, agent) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));
    let placed = app
        .send(
            "POST",
            "/api/v1/calls/outbound",
            Some(&manager),
            Some(json!({"phoneNumber": "+14155552671", "agentId": agent})),
        )
        .await;
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();
    app.wait_until(&manager, &call_id, |c| c["providerCallId"].is_string())
        .await;
    let cancel = app
        .send(
            "POST",
            &format!("/api/v1/calls/{call_id}/cancel"),
            Some(&manager),
            None,
        )
        .await;
    assert!(cancel.status >= 400, "{}", cancel.body);
    assert!(
        cancel.body.to_string().contains("cannot hang up"),
        "{}",
        cancel.body
    );
    let call = app.call(&manager, &call_id).await;
    assert_ne!(call["status"], "canceled");
    app.stop().await;
}
