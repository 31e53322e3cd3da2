//! Webhook ingestion benchmark: persisted call status changes per second, and latency
//! per webhook, on one node with SQLite, against a bare axum handler measured in the
//! same run with the same load generator.
//!
//! The real server runs in this process on a fresh SQLite file, with the embedded
//! simulator told to lose every status callback of its own, so the calls stay live and
//! only the load generator moves them. Each round places 4,000 calls through the API
//! and waits until all are dialed; then the load generator, on loopback, posts
//! correctly signed Twilio status callbacks moving each call ringing → in-progress →
//! completed, from many concurrent connections (each call's callbacks in order, as
//! Twilio sends them), first to the baseline — an axum handler that answers the same
//! requests at once, doing nothing — then to the server. The database is read after
//! each round to check that every change was persisted.
//!
//! Run: `cargo bench --bench webhook_throughput` (about a minute).

use axum::routing::post;
use callvisor::config::Cli;
use callvisor::http::auth::{Claims, JwtKeys, Role};
use callvisor::providers::twilio::signature;
use callvisor::server;
use clap::Parser;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CALLS: usize = 4_000;
const ROUNDS: usize = 3;
/// Concurrent connections of the load generator.
const CONNECTIONS: usize = 64;
const SECRET: &str = "benchmark-secret-of-32-bytes-ok!";
/// The embedded simulator's auth token, which signs Twilio callbacks.
const SIM_TOKEN: &str = "sim-auth-token";
const STATUSES: [&str; 3] = ["ringing", "in-progress", "completed"];

/// One signed status callback.
struct Webhook {
    path: String,
    signature: String,
    form: String,
}

/// What one run of the load generator saw.
struct Load {
    seconds: f64,
    requests: usize,
    /// Latency of every request, sorted.
    latencies: Vec<Duration>,
    /// Answers that were not 200 with the change applied.
    refused: usize,
}

impl Load {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        self.latencies[i.min(self.latencies.len() - 1)]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Posts every call's callbacks, in order per call, from [`CONNECTIONS`] workers.
async fn load(base: &str, calls: Arc<Vec<[Webhook; 3]>>) -> Load {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("HTTP client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (http, next, calls, base) =
                (http.clone(), next.clone(), calls.clone(), base.to_string());
            tokio::spawn(async move {
                let (mut latencies, mut refused) = (Vec::new(), 0);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(webhooks) = calls.get(i) else {
                        break;
                    };
                    for w in webhooks {
                        let sent = Instant::now();
                        let answer = http
                            .post(format!("{base}{}", w.path))
                            .header("content-type", "application/x-www-form-urlencoded")
                            .header("X-Twilio-Signature", &w.signature)
                            .body(w.form.clone())
                            .send()
                            .await
                            .expect("the server answers");
                        let ok = answer.status() == 200;
                        let body: Value = answer.json().await.unwrap_or(Value::Null);
                        latencies.push(sent.elapsed());
                        if !ok || body["data"]["applied"] != true {
                            refused += 1;
                        }
                    }
                }
                (latencies, refused)
            })
        })
        .collect();
    let (mut latencies, mut refused) = (Vec::new(), 0);
    for worker in workers {
        let (l, r) = worker.await.expect("load worker");
        latencies.extend(l);
        refused += r;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    Load {
        seconds,
        requests: latencies.len(),
        latencies,
        refused,
    }
}

/// The baseline: an axum handler that answers as the server does, doing nothing.
async fn bare_handler() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let app = axum::Router::new().route(
        "/webhooks/twilio/status",
        post(|| async {
            axum::Json(json!({"success": true, "data": {"applied": true, "status": "ringing"}}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn api(http: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> Value {
    let answer = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the API answers");
    assert!(answer.status().is_success(), "{path}: {}", answer.status());
    answer.json().await.expect("JSON")
}

/// A client and an agent to place calls for; returns a manager token and the agent.
async fn tenant(base: &str) -> (String, String) {
    let (http, jwt) = (reqwest::Client::new(), JwtKeys::new(SECRET.as_bytes()));
    let token = |role, client| {
        jwt.mint(&Claims {
            sub: "bench".into(),
            role,
            client_id: client,
            exp: chrono::Utc::now().timestamp() + 3600,
        })
        .expect("token")
    };
    let root = token(Role::SuperAdmin, None);
    let body = json!({"name": "Bench", "maxConcurrentCalls": CALLS});
    let client = api(&http, base, &root, "/api/v1/clients", body).await;
    let client_id = client["data"]["id"]
        .as_str()
        .expect("client id")
        .to_string();
    let body =
        json!({"name": "bot", "answerUrl": "http://bot.example/answer", "clientId": client_id});
    let agent = api(&http, base, &root, "/api/v1/agents", body).await;
    let agent_id = agent["data"]["id"].as_str().expect("agent id").to_string();
    let manager = token(Role::Manager, Some(client_id.parse().expect("uuid")));
    (manager, agent_id)
}

/// Places [`CALLS`] calls and waits until every one is dialed; returns the calls' ids
/// with the provider's.
async fn live_calls(
    base: &str,
    (manager, agent): &(String, String),
    db: &sqlx::SqlitePool,
) -> Vec<(String, String)> {
    let http = reqwest::Client::new();
    for chunk in (0..CALLS).collect::<Vec<_>>().chunks(1000) {
        let calls: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"phoneNumber": format!("+1415555{:04}", i % 9000 + 1000), "agentId": agent}))
            .collect();
        let body = json!({"calls": calls});
        let placed = api(&http, base, manager, "/api/v1/calls/outbound/bulk", body).await;
        assert_eq!(placed["data"]["successful"], chunk.len(), "{placed}");
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let dialed: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, provider_call_id FROM calls \
             WHERE provider_call_id IS NOT NULL AND status IN ('queued', 'initiated')",
        )
        .fetch_all(db)
        .await
        .expect("reading calls");
        if dialed.len() == CALLS {
            return dialed;
        }
        assert!(
            Instant::now() < deadline,
            "only {} calls dialed",
            dialed.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The three signed callbacks of one call, as Twilio would post them to `public_url`.
fn webhooks(public_url: &str, call_id: &str, sid: &str) -> [Webhook; 3] {
    STATUSES.map(|status| {
        let sequence = STATUSES.iter().position(|s| *s == status).unwrap_or(0);
        let mut params = vec![
            (
                "AccountSid",
                callvisor::sim::DEFAULT_ACCOUNT_SID.to_string(),
            ),
            ("CallSid", sid.to_string()),
            ("CallStatus", status.to_string()),
            ("From", "+14155550100".to_string()),
            ("To", "+14155551000".to_string()),
            ("Direction", "outbound-api".to_string()),
            ("ApiVersion", "2010-04-01".to_string()),
            ("SequenceNumber", sequence.to_string()),
        ];
        if status == "completed" {
            params.push(("CallDuration", "42".to_string()));
        }
        let params: Vec<(String, String)> = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let path = format!("/webhooks/twilio/status?callId={call_id}");
        Webhook {
            signature: signature::sign(SIM_TOKEN, &format!("{public_url}{path}"), &params),
            form: serde_urlencoded::to_string(&params).expect("form"),
            path,
        }
    })
}

async fn count(db: &sqlx::SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.expect(sql)
}

/// Changes persisted from webhooks so far.
async fn persisted(db: &sqlx::SqlitePool) -> i64 {
    let sql = "SELECT COUNT(*) FROM call_events WHERE source = 'webhook' AND applied = 1";
    count(db, sql).await
}

/// One round: fresh live calls, the baseline, then the server, with the same requests.
async fn round(
    base: &str,
    public_url: &str,
    tenant: &(String, String),
    db: &sqlx::SqlitePool,
) -> (Load, Load, i64) {
    let dialed = live_calls(base, tenant, db).await;
    let before = persisted(db).await;
    let calls: Arc<Vec<[Webhook; 3]>> = Arc::new(
        dialed
            .iter()
            .map(|(id, sid)| webhooks(public_url, id, sid))
            .collect(),
    );
    let baseline = load(&bare_handler().await, calls.clone()).await;
    let measured = load(base, calls).await;
    let changes = persisted(db).await - before;
    assert_eq!(changes as usize, CALLS * 3, "every status change persisted");
    assert_eq!(measured.refused, 0, "every webhook applied");
    (baseline, measured, changes)
}

fn row(name: &str, l: &Load) -> String {
    format!(
        "| {name} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
        l.requests,
        l.seconds,
        l.per_second(),
        ms(l.percentile(0.50)),
        ms(l.percentile(0.99)),
        ms(l.latencies[l.latencies.len() - 1]),
    )
}

async fn run() {
    let dir =
        std::env::temp_dir().join(format!("callvisor-bench-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let url = format!("sqlite://{}/callvisor.db", dir.display());
    let calls = CALLS.to_string();
    let cli = Cli::try_parse_from([
        "callvisor",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--data-dir",
        dir.to_str().expect("path"),
        "--jwt-secret",
        SECRET,
        "--provider",
        "sim",
        "--sim-answer-rate",
        "1",
        "--sim-ring-seconds",
        "3600",
        "--sim-callback-loss",
        "1",
        "--global-max-calls",
        &calls,
        "--twilio-calls-per-second",
        "100000",
        "--twilio-api-requests-per-second",
        "100000",
        "--call-timeout-minutes",
        "60",
        "--health-enabled",
        "false",
        "--sync-enabled",
        "false",
    ])
    .expect("benchmark flags");
    let running = server::start(&cli.serve).await.expect("server starts");
    let base = format!("http://{}", running.addr);
    let db = sqlx::SqlitePool::connect(&url).await.expect("database");
    let tenant = tenant(&base).await;

    println!(
        "{CALLS} live calls × 3 signed Twilio status callbacks per round, \
         {CONNECTIONS} connections, SQLite, {ROUNDS} rounds"
    );
    println!("| round | run | webhooks | seconds | per second | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut rates = Vec::new();
    for n in 1..=ROUNDS {
        let (baseline, measured, changes) = round(&base, &running.public_url, &tenant, &db).await;
        let persisted_per_second = changes as f64 / measured.seconds;
        println!("| {n} {}", row("bare axum handler (baseline)", &baseline));
        println!(
            "| {n} {}",
            row("callvisor, every change persisted", &measured)
        );
        println!(
            "round {n}: {persisted_per_second:.0} persisted changes/s ({:.3} of the baseline's \
             rate); p50 {:.2}×, p99 {:.2}× the baseline's",
            measured.per_second() / baseline.per_second(),
            ms(measured.percentile(0.50)) / ms(baseline.percentile(0.50)),
            ms(measured.percentile(0.99)) / ms(baseline.percentile(0.99)),
        );
        rates.push((persisted_per_second, ms(measured.percentile(0.99))));
    }
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (rate, p99) = rates[rates.len() / 2];
    println!("median round: {rate:.0} persisted changes/s, p99 {p99:.2} ms");
    let completed = count(&db, "SELECT COUNT(*) FROM calls WHERE status = 'completed'").await;
    assert_eq!(completed as usize, CALLS * ROUNDS, "every call completed");
    println!(
        "all {} status changes persisted, {completed} calls completed",
        CALLS * 3 * ROUNDS
    );
    println!("targets: ≥ 10000 persisted changes/s, p99 < 20 ms");

    db.close().await;
    running.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(run());
}
