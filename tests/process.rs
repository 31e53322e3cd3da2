//! The real `callvisor` binary, as an operator runs it: the simulator in a process of
//! its own, the server SIGKILLed in the middle of a call and started again, a graceful
//! SIGTERM, and the `token` and `migrate` commands.

mod common;

use callvisor::http::auth::{JwtKeys, Role};
use common::processes::*;
use common::{send, wait_final};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn a_call_survives_a_sigkill_of_the_server_while_it_rings() {
    let (setup, sim, mut server, http) = Setup::running("4").await;
    let base = setup.base();
    let (_, agent, manager) = setup.tenant(&http).await;

    let placed = send(
        &http,
        &base,
        "POST",
        "/api/v1/calls/outbound",
        Some(&manager),
        Some(json!({"phoneNumber": "+14155552671", "agentId": agent})),
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();

    // Wait for the ringing webhook, then kill the server without warning.
    let mut status = Value::Null;
    for _ in 0..100 {
        let r = send(
            &http,
            &base,
            "GET",
            &format!("/api/v1/calls/{call_id}"),
            Some(&manager),
            None,
        )
        .await;
        status = r.data()["status"].clone();
        if status == "ringing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "ringing");
    server.kill().unwrap();
    server.wait().unwrap();

    let server = setup.start_server().await;
    let call = wait_final(&http, &base, &manager, &call_id, Duration::from_secs(30)).await;
    assert_eq!(call["status"], "completed", "{call}");
    let events = call["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["kind"] == "recovered"),
        "the call's actor came back: {call}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "completed" && e["applied"] == true),
        "the call ended from what arrived after the restart: {call}"
    );
    let dials = setup.dials_to(&http, "+14155552671").await;
    let to_number = dials.len();
    assert_eq!(to_number, 1, "dialed exactly once: {dials:?}");
    let health = send(&http, &base, "GET", "/health", None, None).await;
    assert_eq!(
        health.data()["activeCalls"],
        0,
        "its slot and actor are gone once final"
    );

    kill(server);
    kill(sim);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[tokio::test]
async fn a_scheduled_call_survives_a_sigkill_and_is_dialed_once_at_its_time() {
    let (setup, sim, mut server, http) = Setup::running("0.2").await;
    let base = setup.base();
    let (_, agent, manager) = setup.tenant(&http).await;

    let due = chrono::Utc::now() + chrono::Duration::seconds(4);
    let placed = send(
        &http,
        &base,
        "POST",
        "/api/v1/calls/outbound",
        Some(&manager),
        Some(json!({"phoneNumber": "+14155552672", "agentId": agent,
                    "scheduledFor": due.to_rfc3339(), "timezone": "UTC"})),
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();

    // Killed without warning before the call is due; started again.
    server.kill().unwrap();
    server.wait().unwrap();
    let server = setup.start_server().await;
    let call = wait_final(&http, &base, &manager, &call_id, Duration::from_secs(30)).await;
    assert_eq!(call["status"], "completed", "{call}");

    let ours = setup.dials_to(&http, "+14155552672").await;
    assert_eq!(ours.len(), 1, "dialed exactly once: {ours:?}");
    let dialed_at: chrono::DateTime<chrono::Utc> =
        ours[0]["received_at"].as_str().unwrap().parse().unwrap();
    assert!(
        dialed_at >= due - chrono::Duration::milliseconds(5),
        "dialed at {dialed_at}, before its time {due}"
    );
    assert!(
        dialed_at < due + chrono::Duration::seconds(3),
        "dialed at {dialed_at}, long after its time {due}"
    );

    kill(server);
    kill(sim);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly_and_the_next_start_continues() {
    let setup = Setup::new();
    let sim = setup.start_sim("20").await;
    let server = setup.start_server().await;
    let http = reqwest::Client::new();
    let base = setup.base();
    let (_, agent, manager) = setup.tenant(&http).await;
    let placed = send(
        &http,
        &base,
        "POST",
        "/api/v1/calls/outbound",
        Some(&manager),
        Some(json!({"phoneNumber": "+14155552671", "agentId": agent})),
    )
    .await;
    let call_id = placed.data()["callId"].as_str().unwrap().to_string();

    let status = terminate(server).await;
    assert!(status.success(), "clean exit: {status}");

    let server = setup.start_server().await;
    let r = send(
        &http,
        &base,
        "GET",
        &format!("/api/v1/calls/{call_id}"),
        Some(&manager),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        !common::FINAL.contains(&r.data()["status"].as_str().unwrap()),
        "still live: {}",
        r.body
    );
    let health = send(&http, &base, "GET", "/health", None, None).await;
    assert_eq!(
        health.data()["activeCalls"],
        1,
        "the live call got its actor back"
    );
    kill(server);
    kill(sim);
    let _ = std::fs::remove_dir_all(&setup.dir);
}

#[tokio::test]
async fn the_token_and_migrate_commands_work_with_the_servers_own_secret_and_database() {
    let setup = Setup::new();
    let mut env = setup.server_env();
    env.retain(|(k, _)| *k != "CALLVISOR_JWT_SECRET");
    let migrate = callvisor(&["migrate"], &env, &setup.log("migrate.log"))
        .status()
        .unwrap();
    assert!(migrate.success());
    assert!(setup.dir.join("callvisor.db").exists());

    let token_command = |args: &[&str]| {
        Command::new(BIN)
            .arg("token")
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.clone())))
            .output()
            .unwrap()
    };
    // No secret configured: one is generated, kept, and used by both commands.
    let token = token_command(&["--role", "super_admin", "--ttl", "1h"]);
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let secret = std::fs::read_to_string(setup.dir.join("jwt-secret")).unwrap();
    let claims = JwtKeys::new(secret.trim().as_bytes())
        .verify(&token)
        .expect("signed with the kept secret");
    assert_eq!(claims.role, Role::SuperAdmin);

    let refused = token_command(&["--role", "manager"]);
    assert!(!refused.status.success(), "a manager token needs --client");
    let _ = std::fs::remove_dir_all(&setup.dir);
}
