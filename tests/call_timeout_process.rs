//! The call timeout across a crash, on the real binary: a call that rings and then hears
//! nothing keeps the rest of its timeout when the server is SIGKILLed and started again,
//! instead of getting a whole new one, and gives its slot back when it times out.

mod common;

use callvisor::http::auth::{JwtKeys, Role};
use chrono::{DateTime, Utc};
use common::processes::{kill, Setup, SECRET};
use common::{mint, send, wait_final};
use serde_json::{json, Value};
use std::time::Duration;

/// `CALL_TIMEOUT_MINUTES`: 15 s.
const TIMEOUT_MINUTES: &str = "0.25";
const TIMEOUT: Duration = Duration::from_secs(15);
/// How long the call has been silent when the server is killed.
const SILENT_BEFORE_KILL: Duration = Duration::from_secs(8);

fn at(event: &Value) -> DateTime<Utc> {
    event["at"].as_str().unwrap().parse().unwrap()
}

fn server_env() -> [(&'static str, String); 1] {
    [("CALL_TIMEOUT_MINUTES", TIMEOUT_MINUTES.to_string())]
}

/// The call as the API shows it.
async fn call(http: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    let path = format!("/api/v1/calls/{id}");
    send(http, base, "GET", &path, Some(token), None)
        .await
        .data()
        .clone()
}

#[tokio::test]
async fn a_silent_call_keeps_the_rest_of_its_timeout_across_a_sigkill_and_frees_its_slot() {
    let setup = Setup::new();
    // The phone rings for ten minutes: after its ringing webhook the call hears nothing.
    let sim = setup.start_sim("600").await;
    let mut server = setup.start_server_with(&server_env()).await;
    let (http, base) = (reqwest::Client::new(), setup.base());
    let (_, agent_id, manager) = setup.tenant(&http).await;
    let root = mint(
        &JwtKeys::new(SECRET.as_bytes()),
        Role::SuperAdmin,
        None,
        3600,
    );

    let body = json!({"phoneNumber": "+14155552673", "agentId": agent_id});
    let placed = send(
        &http,
        &base,
        "POST",
        "/api/v1/calls/outbound",
        Some(&manager),
        Some(body),
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();

    let mut ringing = Value::Null;
    for _ in 0..100 {
        ringing = call(&http, &base, &manager, &call_id).await;
        if ringing["status"] == "ringing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ringing["status"], "ringing", "{ringing}");

    // Silent for a while, then killed without warning and started again at once.
    tokio::time::sleep(SILENT_BEFORE_KILL).await;
    server.kill().unwrap();
    server.wait().unwrap();
    let server = setup.start_server_with(&server_env()).await;
    let restarted_at = Utc::now();

    let ended = wait_final(&http, &base, &manager, &call_id, TIMEOUT * 2).await;
    assert_eq!(ended["status"], "timeout", "{ended}");
    assert_eq!(ended["failureReason"], "timeout", "{ended}");
    let events = ended["events"].as_array().unwrap();
    let timed_out = events
        .iter()
        .find(|e| e["kind"] == "timeout")
        .map(at)
        .unwrap_or_else(|| panic!("a timeout event: {ended}"));
    // The last webhook before the timeout (the hang-up's own callback may follow it).
    let last_heard = events
        .iter()
        .filter(|e| e["source"] == "webhook")
        .map(at)
        .filter(|t| *t <= timed_out)
        .max()
        .unwrap_or_else(|| panic!("the ringing webhook was heard: {ended}"));
    assert!(
        events.iter().any(|e| e["kind"] == "recovered"),
        "the call's actor came back after the restart: {ended}"
    );

    let silent = (timed_out - last_heard).to_std().unwrap_or_default();
    assert!(
        silent >= TIMEOUT,
        "timed out after {silent:?} of silence, before its {TIMEOUT:?}"
    );
    // A fresh timeout from the restart would end the call at least 15 s after it, and
    // 23 s after the call was last heard; the rest of the timeout ends it about 7 s
    // after the restart.
    let after_restart = (timed_out - restarted_at).to_std().unwrap_or_default();
    assert!(
        after_restart < TIMEOUT,
        "timed out {after_restart:?} after the restart: a fresh timeout, not the rest of the first"
    );
    assert!(
        silent < TIMEOUT + SILENT_BEFORE_KILL,
        "timed out after {silent:?} of silence: the restart reset the timeout"
    );

    let active = send(
        &http,
        &base,
        "GET",
        "/api/v1/calls/active",
        Some(&root),
        None,
    )
    .await;
    assert_eq!(active.status, 200, "{}", active.body);
    assert_eq!(active.data()["activeCalls"], 0, "{}", active.body);
    assert_eq!(
        active.data()["globalInUse"],
        0,
        "its slot is free again: {}",
        active.body
    );

    kill(server);
    kill(sim);
    let _ = std::fs::remove_dir_all(&setup.dir);
}
