//! The monitoring, alerts, stats and analytics API against a running server: what each
//! role may do, bad input answered in the envelope and changing nothing, Exotel's
//! heartbeat, and analytics and stats over calls the simulator really made.

mod common;

use callvisor::http::auth::Role;
use common::{spawn_app, Db, TestServer};
use serde_json::json;
use std::time::Duration;

const EXOTEL_TOKEN: &str = "heartbeat-token-0123456789";

async fn exotel_app() -> TestServer {
    spawn_app(
        Db::Sqlite,
        &[
            "--sim-flavor",
            "exotel",
            "--exotel-webhook-token",
            EXOTEL_TOKEN,
            "--health-enabled",
            "false",
        ],
    )
    .await
}

async fn heartbeat(app: &TestServer, token: &str, body: serde_json::Value) -> common::Reply {
    app.send(
        "POST",
        &format!("/webhooks/exotel/heartbeat?token={token}"),
        None,
        Some(body),
    )
    .await
}

async fn check_count(app: &TestServer, admin: &str) -> usize {
    let r = app
        .send("GET", "/api/monitoring/health/history", Some(admin), None)
        .await;
    r.data()["checks"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_exotel_heartbeat_is_a_health_check_and_a_forged_or_malformed_one_changes_nothing() {
    let app = exotel_app().await;
    let admin = app.token(Role::SuperAdmin, None);
    let critical = json!({
        "timestamp": "2026-03-02T09:00:00Z",
        "status_type": "CRITICAL",
        "incoming_affected": ["PN1", "PN2"],
        "outgoing_affected": ["PN1"],
        "data": {"PN1": {"phone_number": "+918030000000"}},
    });
    let forged = heartbeat(&app, "not-the-token", critical.clone()).await;
    assert_eq!((forged.status, forged.code()), (403, "FORBIDDEN"));
    let malformed = heartbeat(&app, EXOTEL_TOKEN, json!({"status_type": "MAYBE"})).await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (400, "VALIDATION_ERROR")
    );
    assert_eq!(malformed.body["error"]["details"]["field"], "status_type");
    assert_eq!(check_count(&app, &admin).await, 0, "nothing was recorded");

    let taken = heartbeat(&app, EXOTEL_TOKEN, critical.clone()).await;
    assert_eq!(
        (taken.status, taken.data()["status"].as_str()),
        (200, Some("ERROR")),
        "{}",
        taken.body
    );
    let mut current = serde_json::Value::Null;
    for _ in 0..50 {
        current = app
            .send("GET", "/api/monitoring/health/current", Some(&admin), None)
            .await
            .body;
        if current["data"]["check"].is_object() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let check = &current["data"]["check"];
    assert_eq!(
        (check["source"].as_str(), check["status"].as_str()),
        (Some("heartbeat"), Some("ERROR")),
        "{current}"
    );
    assert_eq!(
        (
            check["incomingAffected"].as_bool(),
            check["outgoingAffected"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(check["raw"], critical, "the payload is kept as sent");
    assert_eq!(check["checkedAt"], "2026-03-02T09:00:00Z");
    app.stop().await;
}

#[tokio::test]
async fn monitoring_needs_its_roles_and_refuses_bad_queries_in_the_envelope() {
    let app = spawn_app(
        Db::Sqlite,
        &["--health-enabled", "false", "--sync-enabled", "false"],
    )
    .await;
    let (client, _) = app.tenant(5).await;
    let viewer = app.token(Role::Viewer, Some(client));
    let manager = app.token(Role::Manager, Some(client));
    let admin = app.token(Role::Admin, Some(client));

    let r = app
        .send("GET", "/api/monitoring/health/current", Some(&viewer), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"));
    let r = app
        .send("POST", "/api/monitoring/health/check", Some(&manager), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"));
    let r = app
        .send("POST", "/api/monitoring/sync/trigger", Some(&manager), None)
        .await;
    assert_eq!((r.status, r.code()), (403, "FORBIDDEN"));
    let r = app.send("GET", "/api/v1/alerts", None, None).await;
    assert_eq!((r.status, r.code()), (401, "UNAUTHORIZED"));

    for (path, field) in [
        ("/api/monitoring/health/history?limit=0", Some("limit")),
        ("/api/monitoring/health/history?status=FINE", Some("status")),
        (
            "/api/monitoring/health/stats?startDate=yesterday",
            Some("startDate"),
        ),
        (
            "/api/monitoring/health/stats?startDate=2026-03-02&endDate=2026-03-01",
            Some("endDate"),
        ),
        ("/api/monitoring/health/history?colour=red", Some("colour")),
        ("/api/monitoring/sync/status?type=heartbeat", Some("type")),
        ("/api/monitoring/sync/history?limit=100000", Some("limit")),
        ("/api/v1/alerts?level=fatal", Some("level")),
        ("/api/v1/alerts?status=open", Some("status")),
        ("/api/v1/stats?timezone=Mars/Olympus", Some("timezone")),
    ] {
        let r = app.send("GET", path, Some(&manager), None).await;
        assert_eq!(
            (r.status, r.code()),
            (400, "VALIDATION_ERROR"),
            "{path}: {}",
            r.body
        );
        if let Some(field) = field {
            assert_eq!(r.body["error"]["details"]["field"], field, "{path}");
        }
    }

    let checked = app
        .send("POST", "/api/monitoring/health/check", Some(&admin), None)
        .await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert_eq!(
        (
            checked.data()["status"].as_str(),
            checked.data()["source"].as_str()
        ),
        (Some("OK"), Some("manual"))
    );
    let stats = app
        .send("GET", "/api/monitoring/health/stats", Some(&manager), None)
        .await;
    assert_eq!(stats.data()["stats"]["total"], 1, "{}", stats.body);
    assert_eq!(stats.data()["stats"]["byStatus"]["OK"], 1);

    let run = app
        .send("POST", "/api/monitoring/sync/trigger", Some(&admin), None)
        .await;
    assert_eq!(
        (run.status, run.data()["status"].as_str()),
        (200, Some("success")),
        "{}",
        run.body
    );
    let sync_stats = app
        .send("GET", "/api/monitoring/sync/stats", Some(&manager), None)
        .await;
    assert_eq!(
        sync_stats.data()["stats"]["byStatus"]["success"],
        1,
        "{}",
        sync_stats.body
    );
    app.stop().await;
}

#[tokio::test]
async fn analytics_and_stats_count_real_calls_and_never_show_another_clients() {
    let app = spawn_app(
        Db::Sqlite,
        &["--health-enabled", "false", "--sync-enabled", "false"],
    )
    .await;
    let (client, agent) = app.tenant(5).await;
    let (other, _) = app.tenant(5).await;
    let manager = app.token(Role::Manager, Some(client));
    let viewer = app.token(Role::Viewer, Some(client));
    let stranger = app.token(Role::Admin, Some(other));
    for n in ["+14155552671", "+14155552672"] {
        let placed = app
            .send(
                "POST",
                "/api/v1/calls/outbound",
                Some(&manager),
                Some(json!({"phoneNumber": n, "agentId": agent})),
            )
            .await;
        assert_eq!(placed.status, 201, "{}", placed.body);
        let id = placed.data()["callId"].as_str().unwrap().to_string();
        app.wait_final(&manager, &id, Duration::from_secs(20)).await;
    }

    let report = app
        .send(
            "GET",
            &format!("/api/v1/analytics/clients/{client}"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    let totals = &report.data()["report"]["totals"];
    assert_eq!(
        (
            totals["total"].as_u64(),
            totals["byStatus"]["completed"].as_u64()
        ),
        (Some(2), Some(2)),
        "{}",
        report.body
    );
    assert_eq!(totals["successRate"], 1.0);
    assert!(totals["averageDurationSeconds"].as_f64().unwrap() >= 1.0);
    assert_eq!(
        report.data()["report"]["timezone"],
        "UTC",
        "the client's time zone"
    );
    assert_eq!(
        report.data()["report"]["daily"].as_array().unwrap().len(),
        7
    );
    let by_agent = app
        .send(
            "GET",
            &format!("/api/v1/analytics/agents/{agent}?timezone=Asia/Kolkata"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(
        by_agent.data()["report"]["totals"]["total"],
        2,
        "{}",
        by_agent.body
    );
    let recent = app
        .send(
            "GET",
            &format!("/api/v1/analytics/agents/{agent}/recent?limit=1"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(recent.data()["calls"].as_array().unwrap().len(), 1);

    for path in [
        format!("/api/v1/analytics/clients/{client}"),
        format!("/api/v1/analytics/agents/{agent}/recent"),
    ] {
        let r = app.send("GET", &path, Some(&stranger), None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let r = app
        .send(
            "GET",
            &format!("/api/v1/analytics/teams/{client}"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .send(
            "GET",
            &format!("/api/v1/analytics/clients/{client}?startDate=2026-13-01"),
            Some(&viewer),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.body["error"]["details"]["field"].as_str()),
        (400, Some("startDate"))
    );

    let stats = app.send("GET", "/api/v1/stats", Some(&viewer), None).await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    assert_eq!(stats.data()["calls"]["outbound"]["total"], 2);
    assert_eq!(stats.data()["database"]["backend"], "sqlite");
    let theirs = app
        .send("GET", "/api/v1/stats", Some(&stranger), None)
        .await;
    assert_eq!(
        theirs.data()["calls"]["outbound"]["total"],
        0,
        "another client's calls are not counted"
    );
    app.stop().await;
}
