//! The metrics, the Prometheus configuration, its rules and the Grafana dashboards,
//! checked by Prometheus itself: `promtool check` on the config, the rules and a real
//! scrape of `/metrics` while calls are in flight, then a real Prometheus scraping a
//! running callvisor with the repository's own `prometheus.yml`, where every dashboard
//! query and every rule expression must return data.
//!
//! Needs `promtool` and `prometheus` on the PATH (Debian's `prometheus` package, which
//! `.ci/run` installs); without them the tests say so and pass, unless
//! `CALLVISOR_REQUIRE_PROMETHEUS` is set, as in CI.

mod common;

use callvisor::http::auth::Role;
use common::{spawn_app, Db, TestServer};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether `tool` is on the PATH; panics when it is not and CI requires it.
fn have(tool: &str) -> bool {
    common::tool_present(tool, "Prometheus suite", "CALLVISOR_REQUIRE_PROMETHEUS")
}

fn promtool(args: &[&str], stdin: Option<&str>) {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_configuration_and_the_rules_pass_promtool() {
    if !have("promtool") {
        return;
    }
    promtool(&["check", "config", "prometheus.yml"], None);
    promtool(&["check", "rules", "prometheus/alerts.yml"], None);
}

/// Every PromQL expression of the dashboards.
fn dashboard_queries() -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(repo().join("grafana/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        let dashboard: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let title = format!("{name}: {}", panel["title"].as_str().unwrap());
                queries.push((title, target["expr"].as_str().unwrap().to_string()));
            }
        }
    }
    assert!(queries.len() >= 30, "{} queries", queries.len());
    queries
}

/// Every rule's expression, alerting ones with their comparisons to constants made
/// `bool`, so that they return their inputs (as 0 or 1) instead of firing or not.
fn rule_queries() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("prometheus/alerts.yml")).unwrap();
    let mut queries = Vec::new();
    let mut name = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(n) = line
            .strip_prefix("- record: ")
            .or(line.strip_prefix("- alert: "))
        {
            name = n.to_string();
        } else if let Some(expr) = line.strip_prefix("expr: ") {
            let mut e = expr.to_string();
            for op in [" >= ", " <= ", " == ", " != ", " > ", " < "] {
                e = e.replace(op, &format!(" {} bool ", op.trim()));
            }
            queries.push((name.clone(), e));
        }
    }
    assert!(queries.len() >= 14, "{queries:?}");
    queries
}

/// A Prometheus process, stopped and its data removed when dropped.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    base: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus with the repository's configuration, pointed at `target`, scraping
/// and evaluating every second.
fn start_prometheus(target: &str) -> Prometheus {
    let dir = common::scratch_dir("prometheus");
    let config = std::fs::read_to_string(repo().join("prometheus.yml"))
        .unwrap()
        .replace("127.0.0.1:8080", target)
        .replace("15s", "1s")
        .replace(
            "prometheus/alerts.yml",
            &repo().join("prometheus/alerts.yml").display().to_string(),
        );
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    Prometheus {
        child,
        dir,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn query(http: &reqwest::Client, prometheus: &Prometheus, expr: &str) -> Value {
    http.get(format!("{}/api/v1/query", prometheus.base))
        .query(&[("query", expr)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Waits (bounded) until `expr` returns data.
async fn until_data(http: &reqwest::Client, prometheus: &Prometheus, expr: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let ready = http
            .get(format!("{}/-/ready", prometheus.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            let answer = query(http, prometheus, expr).await;
            if answer["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
            {
                return;
            }
        }
        let log =
            std::fs::read_to_string(prometheus.dir.join("prometheus.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "no data for {expr} in time; Prometheus said:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A server with calls in flight: eight long calls queued for a client of five slots
/// through a two-per-second quota, a campaign dialing, and one reconciliation run.
async fn busy_server() -> TestServer {
    let app = spawn_app(
        Db::Sqlite,
        &[
            "--sim-talk-seconds",
            "40-60",
            "--twilio-calls-per-second",
            "2",
            "--health-interval",
            "1s",
        ],
    )
    .await;
    let (client, agent) = app.tenant(5).await;
    let manager = app.token(Role::Manager, Some(client));
    let calls: Vec<_> = (0..8)
        .map(|i| json!({"phoneNumber": format!("+1415555{:04}", 2000 + i), "agentId": agent}))
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
    let admin = app.token(Role::SuperAdmin, None);
    // And a campaign in flight.
    let contacts: Vec<_> = (0..20)
        .map(|i| json!({"phoneNumber": format!("+1415555{:04}", 3000 + i)}))
        .collect();
    let campaign = app
        .send(
            "POST",
            "/api/v1/campaigns",
            Some(&manager),
            Some(
                json!({"name": "renewals", "agentId": agent, "contacts": contacts,
                "pacing": {"maxConcurrent": 2, "callsPerMinute": 30}}),
            ),
        )
        .await;
    assert_eq!(campaign.status, 201, "{}", campaign.body);
    let id = campaign.data()["id"].as_str().unwrap();
    let started = app
        .send(
            "POST",
            &format!("/api/v1/campaigns/{id}/start"),
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let run = app
        .send("POST", "/api/monitoring/sync/trigger", Some(&admin), None)
        .await;
    assert_eq!(run.status, 200, "{}", run.body);
    // Let the dials go out and their first callbacks come back.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let active = app.send("GET", "/health", None, None).await;
    assert!(
        active.data()["activeCalls"].as_u64() >= Some(9),
        "{}",
        active.body
    );
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_gets_data_for_every_dashboard_query_and_rule() {
    if !have("promtool") || !have("prometheus") {
        return;
    }
    let app = busy_server().await;
    let http = reqwest::Client::new();
    let scrape = http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    promtool(&["check", "metrics"], Some(&scrape));
    assert!(
        !scrape.contains("+1415555"),
        "no phone number is ever a label"
    );

    let target = app.base.trim_start_matches("http://").to_string();
    let prometheus = start_prometheus(&target);
    // A few scrapes and rule evaluations, so that rates have two samples.
    until_data(
        &http,
        &prometheus,
        r#"count_over_time(up{job="callvisor"}[1m]) >= 4"#,
        Duration::from_secs(40),
    )
    .await;
    until_data(
        &http,
        &prometheus,
        "callvisor:call_error_ratio:rate5m",
        Duration::from_secs(20),
    )
    .await;

    let mut empty = Vec::new();
    for (what, expr) in dashboard_queries().into_iter().chain(rule_queries()) {
        let answer = query(&http, &prometheus, &expr).await;
        assert_eq!(answer["status"], "success", "{what}: {expr}: {answer}");
        let has_data = answer["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        if !has_data {
            empty.push(format!("{what}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
    drop(prometheus);
    app.stop().await;
}

#[test]
fn every_metric_a_query_names_is_one_callvisor_exports() {
    let exported: Vec<&str> = callvisor::metric_catalog::METRICS
        .iter()
        .map(|(n, _, _)| *n)
        .collect();
    let names = |expr: &str| -> Vec<String> {
        expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.starts_with("callvisor_") || w.starts_with("process_"))
            .map(|w| {
                w.trim_end_matches("_bucket")
                    .trim_end_matches("_count")
                    .trim_end_matches("_sum")
                    .to_string()
            })
            .collect()
    };
    for (what, expr) in dashboard_queries().into_iter().chain(rule_queries()) {
        for name in names(&expr) {
            let known = exported.contains(&name.as_str());
            assert!(known, "{what}: {name} is not exported");
        }
    }
}
