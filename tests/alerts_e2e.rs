//! Alerts end to end: a simulator outage turns the provider's health checks to ERROR,
//! and each channel — a generic webhook, Slack and PagerDuty Events v2, all local
//! receivers here — gets exactly one alert within the cooldown, in its own shape, then
//! one resolve once the provider is back. A receiver that never answers slows nothing.

mod common;

use callvisor::http::auth::Role;
use common::receiver::Receiver;
use common::{spawn_app, Db, TestServer};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Flags of a server whose simulator is down from 2 s to 8 s after start, checked every
/// second, with a breaker and retries quick enough for a test.
fn outage_flags() -> Vec<String> {
    [
        "--sim-outages",
        "2+6",
        "--health-interval",
        "1s",
        "--circuit-cool-down-seconds",
        "1",
        "--provider-retry-base-seconds",
        "0.05",
        "--alert-evaluation-interval",
        "10m",
        "--alert-cooldown",
        "5m",
        "--sync-enabled",
        "false",
    ]
    .map(String::from)
    .to_vec()
}

async fn start(extra: Vec<String>) -> TestServer {
    let mut flags = outage_flags();
    flags.extend(extra);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    spawn_app(Db::Sqlite, &flags).await
}

/// The provider-health notices a receiver gets, until one resolves the alert (bounded).
async fn until_resolved(
    receiver: &mut Receiver,
    is_resolve: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut got = Vec::new();
    while Instant::now() < deadline {
        let body = receiver.next_within(Duration::from_secs(40)).await.json();
        let done = is_resolve(&body);
        got.push(body);
        if done {
            return got;
        }
    }
    panic!("no resolve within the time limit: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_alerts_each_channel_once_in_its_shape_and_resolves_after_recovery() {
    let mut generic = Receiver::start().await;
    let mut slack = Receiver::start().await;
    let mut pagerduty = Receiver::start().await;
    let app = start(vec![
        "--alert-webhook-url".into(),
        format!("{}/alerts", generic.base),
        "--slack-webhook-url".into(),
        format!("{}/services/T0/B0/x", slack.base),
        "--pagerduty-routing-key".into(),
        "R0UT1NGKEY".into(),
        "--pagerduty-events-url".into(),
        format!("{}/v2/enqueue", pagerduty.base),
    ])
    .await;

    let g = until_resolved(&mut generic, |b| b["event"] == "alert.resolve").await;
    assert_eq!(g.len(), 2, "one trigger, one resolve: {g:?}");
    assert_eq!(
        (
            g[0]["event"].as_str(),
            g[0]["key"].as_str(),
            g[0]["level"].as_str()
        ),
        (
            Some("alert.trigger"),
            Some("provider_health"),
            Some("critical")
        )
    );
    assert_eq!(g[0]["source"], "callvisor");
    assert!(
        g[0]["title"].as_str().unwrap().contains("ERROR"),
        "{}",
        g[0]
    );
    assert_eq!(g[1]["alertId"], g[0]["alertId"]);

    let s = until_resolved(&mut slack, |b| b["attachments"][0]["color"] == "good").await;
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(
        s[0]["text"].as_str().unwrap().contains("CRITICAL"),
        "{}",
        s[0]
    );
    assert_eq!(s[0]["attachments"][0]["color"], "danger");
    assert!(
        s[1]["text"].as_str().unwrap().contains("RESOLVED"),
        "{}",
        s[1]
    );

    let p = until_resolved(&mut pagerduty, |b| b["event_action"] == "resolve").await;
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(
        (
            p[0]["routing_key"].as_str(),
            p[0]["event_action"].as_str(),
            p[0]["dedup_key"].as_str()
        ),
        (Some("R0UT1NGKEY"), Some("trigger"), Some("provider_health"))
    );
    assert_eq!(
        (
            p[0]["payload"]["severity"].as_str(),
            p[0]["payload"]["source"].as_str()
        ),
        (Some("critical"), Some("callvisor"))
    );
    assert!(p[0]["payload"]["summary"].is_string());
    assert_eq!(
        (p[1]["dedup_key"].as_str(), p[1]["routing_key"].as_str()),
        (Some("provider_health"), Some("R0UT1NGKEY"))
    );

    // The checks said so, and nothing more is sent while the provider stays healthy.
    let admin = app.token(Role::SuperAdmin, None);
    let errors = app
        .send(
            "GET",
            "/api/monitoring/health/history?status=ERROR&limit=500",
            Some(&admin),
            None,
        )
        .await;
    assert!(
        errors.data()["checks"].as_array().unwrap().len() >= 2,
        "{}",
        errors.body
    );
    let current = app
        .send("GET", "/api/monitoring/health/current", Some(&admin), None)
        .await;
    assert_eq!(current.data()["status"], "OK", "{}", current.body);
    let alerts = app
        .send("GET", "/api/v1/alerts?status=resolved", Some(&admin), None)
        .await;
    assert_eq!(
        alerts.data()["alerts"][0]["key"],
        "provider_health",
        "{}",
        alerts.body
    );
    for r in [&mut generic, &mut slack, &mut pagerduty] {
        r.assert_silent(Duration::from_secs(2)).await;
    }
    app.stop().await;
}

/// A receiver that takes connections and never answers.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_slows_neither_the_other_channels_nor_the_monitors() {
    let (hole, hole_task) = black_hole().await;
    let mut slack = Receiver::start().await;
    let app = start(vec![
        "--alert-webhook-url".into(),
        hole,
        "--slack-webhook-url".into(),
        format!("{}/services/T0/B0/x", slack.base),
        "--alert-delivery-timeout".into(),
        "30s".into(),
    ])
    .await;
    let started = Instant::now();
    let trigger = slack.next_within(Duration::from_secs(20)).await.json();
    assert_eq!(trigger["attachments"][0]["color"], "danger");
    let resolve = slack.next_within(Duration::from_secs(30)).await.json();
    assert_eq!(resolve["attachments"][0]["color"], "good");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "Slack waited for the stuck webhook"
    );

    // The health monitor kept its one-second pace all along, and the API answers at once.
    let admin = app.token(Role::SuperAdmin, None);
    let checks = app
        .send(
            "GET",
            "/api/monitoring/health/history?limit=500",
            Some(&admin),
            None,
        )
        .await;
    let n = checks.data()["checks"].as_array().unwrap().len() as u64;
    let seconds = started.elapsed().as_secs();
    assert!(n + 3 >= seconds, "{n} checks in {seconds} s");
    let asked = Instant::now();
    let health = app.send("GET", "/health", None, None).await;
    assert_eq!(health.status, 200);
    assert!(asked.elapsed() < Duration::from_secs(1));
    hole_task.abort();
    app.stop().await;
}
