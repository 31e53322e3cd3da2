//! Black-box tests of `POST /api/v1/sms` and `GET /api/v1/calls/{id}/recording` against
//! an in-process server with the embedded simulator.

mod common;

use callvisor::http::auth::Role;
use common::{postgres_url, skip_postgres, spawn_app, Db, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

async fn sms(app: &TestServer, token: &str, body: Value) -> common::Reply {
    app.send("POST", "/api/v1/sms", Some(token), Some(body))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_reaches_the_providers_log_and_bad_requests_are_refused() {
    let app = spawn_app(Db::Sqlite, &[]).await;
    let (client, _) = app.tenant(10).await;
    let manager = app.token(Role::Manager, Some(client));

    let sent = sms(
        &app,
        &manager,
        json!({"to": "+14155552671", "body": "Your appointment is at 3pm"}),
    )
    .await;
    assert_eq!(sent.status, 202, "{}", sent.body);
    let message_id = sent.data()["messageId"].as_str().unwrap().to_string();
    assert!(message_id.starts_with("SM"), "{message_id}");
    assert_eq!(sent.data()["status"], "queued");
    let log = app.messages();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].sid, message_id);
    assert_eq!(log[0].to, "+14155552671");
    assert_eq!(log[0].from, "+14155550100", "the server's caller id");
    assert_eq!(log[0].body, "Your appointment is at 3pm");

    let with_from = sms(
        &app,
        &manager,
        json!({"to": "+14155552671", "body": "hi", "from": "+14155550199"}),
    )
    .await;
    assert_eq!(with_from.status, 202, "{}", with_from.body);
    assert_eq!(app.messages()[1].from, "+14155550199");

    let refusals = [
        (
            json!({"to": "555-1234", "body": "hi"}),
            "INVALID_PHONE_NUMBER",
        ),
        (
            json!({"to": "+14155552671", "body": "hi", "from": "nope"}),
            "INVALID_PHONE_NUMBER",
        ),
        (
            json!({"to": "+14155552671", "body": ""}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"to": "+14155552671", "body": "x".repeat(1601)}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"to": "+14155552671", "body": "hi", "priority": "high"}),
            "VALIDATION_ERROR",
        ),
        (json!({"to": "+14155552671"}), "VALIDATION_ERROR"),
    ];
    for (body, code) in refusals {
        let r = sms(&app, &manager, body.clone()).await;
        assert_eq!((r.status, r.code()), (400, code), "{body} -> {}", r.body);
    }
    let longest = sms(
        &app,
        &manager,
        json!({"to": "+14155552671", "body": "é".repeat(1600)}),
    )
    .await;
    assert_eq!(longest.status, 202, "1600 characters is allowed");

    let viewer = app.token(Role::Viewer, Some(client));
    let denied = sms(&app, &viewer, json!({"to": "+14155552671", "body": "hi"})).await;
    assert_eq!((denied.status, denied.code()), (403, "FORBIDDEN"));
    let anonymous = app
        .send(
            "POST",
            "/api/v1/sms",
            None,
            Some(json!({"to": "+14155552671", "body": "hi"})),
        )
        .await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(app.messages().len(), 3, "refused messages never go out");

    let doc = app.send("GET", "/openapi.json", None, None).await;
    assert!(doc.body["paths"]["/api/v1/sms"]["post"].is_object());
    assert!(doc.body["paths"]["/api/v1/calls/{id}/recording"]["get"].is_object());
    app.stop().await;
}

async fn recordings_are_scoped_to_the_client(app: &TestServer) {
    let (client_a, _) = app.tenant(10).await;
    let (client_b, agent_b) = app.tenant(10).await;
    let manager_b = app.token(Role::Manager, Some(client_b));
    let placed = app
        .send(
            "POST",
            "/api/v1/calls/outbound",
            Some(&manager_b),
            Some(json!({"phoneNumber": "+14155552671", "agentId": agent_b})),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();
    let done = app
        .wait_final(&manager_b, &call_id, Duration::from_secs(20))
        .await;
    assert_eq!(done["status"], "completed", "{done}");
    let path = format!("/api/v1/calls/{call_id}/recording");

    let viewer_b = app.token(Role::Viewer, Some(client_b));
    let found = app.send("GET", &path, Some(&viewer_b), None).await;
    assert_eq!(found.status, 200, "{}", found.body);
    let url = found.data()["recordingUrl"]
        .as_str()
        .expect("answered calls are recorded");
    let provider_call_id = done["providerCallId"].as_str().unwrap();
    assert!(
        url.ends_with(&format!(
            "/Recordings/RE{}.mp3",
            provider_call_id.trim_start_matches("CA")
        )),
        "{url}"
    );
    let audio = reqwest::get(url).await.unwrap();
    assert_eq!(audio.status(), 200, "the URL points at the simulator");

    let manager_a = app.token(Role::Manager, Some(client_a));
    let hidden = app.send("GET", &path, Some(&manager_a), None).await;
    assert_eq!((hidden.status, hidden.code()), (404, "NOT_FOUND"));
    let root = app.token(Role::SuperAdmin, None);
    assert_eq!(app.send("GET", &path, Some(&root), None).await.status, 200);
    let unknown = app
        .send(
            "GET",
            "/api/v1/calls/0192f0c4-1b2c-7d3e-8f40-123456789abc/recording",
            Some(&viewer_b),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_calls_recording_is_returned_only_to_its_client() {
    let app = spawn_app(Db::Sqlite, &[]).await;
    recordings_are_scoped_to_the_client(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_calls_recording_is_returned_only_to_its_client_on_postgres() {
    let Some(base) = postgres_url() else {
        return skip_postgres(
            "a_completed_calls_recording_is_returned_only_to_its_client_on_postgres",
        );
    };
    let url = common::fresh_postgres_database(&base).await;
    let app = spawn_app(Db::Postgres(url), &[]).await;
    recordings_are_scoped_to_the_client(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_has_no_recording() {
    let app = spawn_app(
        Db::Sqlite,
        &["--sim-answer-rate", "0", "--sim-busy-rate", "1"],
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
    let done = app
        .wait_final(&manager, &call_id, Duration::from_secs(20))
        .await;
    assert_eq!(done["status"], "busy", "{done}");
    let r = app
        .send(
            "GET",
            &format!("/api/v1/calls/{call_id}/recording"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["recordingUrl"], Value::Null);
    app.stop().await;
}
