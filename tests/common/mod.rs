//! Shared helpers of the black-box tests: an in-process server on port 0 with its own
//! database and the embedded simulator, a real `callvisor` process for crash tests,
//! tokens, and a JSON client.

#![allow(dead_code)]

#[macro_use]
pub mod db;
pub mod processes;
pub mod receiver;
pub mod sim_harness;

use callvisor::config::Cli;
use callvisor::http::auth::{Claims, JwtKeys, Role};
use callvisor::server::{self, Running};
use callvisor_actors::domain::ClientId;
use clap::Parser;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

pub const SECRET: &str = "test-secret-of-thirty-two-bytes!";

/// The PostgreSQL server of the PostgreSQL suite, when configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("CALLVISOR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Writes to the terminal past the test harness's output capture, so a skipped suite
/// is seen in a normal `cargo test` run.
pub fn say(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Whether `tool` runs (`tool --version`). When it does not, a suite that CI requires
/// (`require` is set in the environment) fails; otherwise it says it was skipped.
pub fn tool_present(tool: &str, suite: &str, require: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os(require).is_none(),
            "{tool} is required ({require} is set) but not installed"
        );
        say(&format!("{suite} skipped: {tool} is not installed"));
    }
    found
}

/// Says clearly that a PostgreSQL test was skipped.
pub fn skip_postgres(test: &str) {
    say(&format!(
        "PostgreSQL suite skipped ({test}): CALLVISOR_TEST_POSTGRES_URL is not set"
    ));
}

/// A fresh scratch directory.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("callvisor-{tag}-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh, empty PostgreSQL database on the configured server; returns its URL.
pub async fn fresh_postgres_database(base: &str) -> String {
    use sqlx::Connection;
    let name = format!("cv_e2e_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect(base)
        .await
        .expect("PostgreSQL reachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(base).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// Drops a database made by [`fresh_postgres_database`] (best effort).
pub async fn drop_postgres_database(base: &str, url: &str) {
    use sqlx::Connection;
    let name = url::Url::parse(url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    if let Ok(mut admin) = sqlx::PgConnection::connect(base).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
    }
}

/// Which database an in-process server uses.
pub enum Db {
    Sqlite,
    Postgres(String),
}

/// An in-process server with the embedded simulator.
pub struct TestServer {
    pub running: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
    pub jwt: JwtKeys,
    pub dir: PathBuf,
    /// The PostgreSQL database made for this server, dropped when it stops.
    pub postgres_database: Option<String>,
}

/// Starts a server; `extra` are more command-line flags (simulator behaviour, limits).
pub async fn spawn_app(db: Db, extra: &[&str]) -> TestServer {
    let dir = scratch_dir("app");
    let (database_url, postgres_database) = match db {
        Db::Sqlite => (format!("sqlite://{}/callvisor.db", dir.display()), None),
        Db::Postgres(url) => (url.clone(), Some(url)),
    };
    let defaults: [(&str, &str); 10] = [
        ("--listen", "127.0.0.1:0"),
        ("--database-url", &database_url),
        ("--data-dir", dir.to_str().unwrap()),
        ("--jwt-secret", SECRET),
        ("--provider", "sim"),
        ("--sim-answer-rate", "1"),
        ("--sim-busy-rate", "0"),
        ("--sim-fail-rate", "0"),
        ("--sim-ring-seconds", "0.1-0.2"),
        ("--sim-talk-seconds", "0.2-0.3"),
    ];
    let mut argv: Vec<String> = vec!["callvisor".into()];
    argv.extend(extra.iter().map(|s| s.to_string()));
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            argv.extend([flag.to_string(), value.to_string()]);
        }
    }
    let cli = Cli::try_parse_from(argv).expect("valid test flags");
    let running = server::start(&cli.serve).await.expect("server starts");
    TestServer {
        base: format!("http://{}", running.addr),
        running: Some(running),
        http: reqwest::Client::new(),
        jwt: JwtKeys::new(SECRET.as_bytes()),
        dir,
        postgres_database,
    }
}

pub fn mint(jwt: &JwtKeys, role: Role, client: Option<ClientId>, ttl_seconds: i64) -> String {
    jwt.mint(&Claims {
        sub: "test".into(),
        role,
        client_id: client,
        exp: chrono::Utc::now().timestamp() + ttl_seconds,
    })
    .unwrap()
}

/// A JSON response: status and body.
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

impl TestServer {
    pub fn token(&self, role: Role, client: Option<ClientId>) -> String {
        mint(&self.jwt, role, client, 3600)
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        send(&self.http, &self.base, method, path, token, body).await
    }

    /// Creates a client (as super_admin) and an agent; returns their ids.
    pub async fn tenant(&self, max_concurrent: u32) -> (ClientId, String) {
        let root = self.token(Role::SuperAdmin, None);
        let client = self
            .send(
                "POST",
                "/api/v1/clients",
                Some(&root),
                Some(json!({"name": "Acme", "maxConcurrentCalls": max_concurrent})),
            )
            .await;
        assert_eq!(client.status, 201, "{}", client.body);
        let client_id: ClientId = client.data()["id"].as_str().unwrap().parse().unwrap();
        let agent = self
            .send(
                "POST",
                "/api/v1/agents",
                Some(&root),
                Some(json!({"name": "Renewals bot", "answerUrl": "http://bot.example/answer", "clientId": client_id})),
            )
            .await;
        assert_eq!(agent.status, 201, "{}", agent.body);
        (client_id, agent.data()["id"].as_str().unwrap().to_string())
    }

    /// Polls a call until it is final (bounded); returns its last view.
    pub async fn wait_final(&self, token: &str, call_id: &str, within: Duration) -> Value {
        wait_final(&self.http, &self.base, token, call_id, within).await
    }

    /// Polls a call until it has `status` (bounded).
    pub async fn wait_status(&self, token: &str, call_id: &str, status: &str) -> Value {
        for _ in 0..200 {
            let r = self
                .send(
                    "GET",
                    &format!("/api/v1/calls/{call_id}"),
                    Some(token),
                    None,
                )
                .await;
            if r.data()["status"] == status {
                return r.data().clone();
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("call {call_id} never reached {status}");
    }

    /// The embedded simulator's dial log.
    pub fn dials(&self) -> Vec<callvisor::sim::DialRecord> {
        self.running
            .as_ref()
            .and_then(|r| r.sim.as_ref())
            .map(|s| s.dials())
            .unwrap_or_default()
    }

    /// The embedded simulator's message log.
    pub fn messages(&self) -> Vec<callvisor::sim::MessageRecord> {
        self.running
            .as_ref()
            .and_then(|r| r.sim.as_ref())
            .map(|s| s.messages())
            .unwrap_or_default()
    }

    /// The call as the API shows it.
    pub async fn call(&self, token: &str, call_id: &str) -> Value {
        self.send(
            "GET",
            &format!("/api/v1/calls/{call_id}"),
            Some(token),
            None,
        )
        .await
        .data()
        .clone()
    }

    /// Polls a call until `done` holds for it (bounded); returns its view.
    pub async fn wait_until(
        &self,
        token: &str,
        call_id: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        for _ in 0..200 {
            let call = self.call(token, call_id).await;
            if done(&call) {
                return call;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("call {call_id} never reached the expected state");
    }

    /// Webhook kinds in the call's history, in order.
    pub fn webhook_kinds(call: &Value) -> Vec<String> {
        call["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["source"] == "webhook")
            .filter_map(|e| e["kind"].as_str().map(str::to_owned))
            .collect()
    }

    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        if let (Some(url), Some(base)) = (&self.postgres_database, postgres_url()) {
            drop_postgres_database(&base, url).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn send(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = http.request(method.parse().unwrap(), format!("{base}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request reaches the server");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply { status, body }
}

pub const FINAL: [&str; 6] = [
    "completed",
    "busy",
    "no-answer",
    "failed",
    "canceled",
    "timeout",
];

pub async fn wait_final(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    call_id: &str,
    within: Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let r = send(
            http,
            base,
            "GET",
            &format!("/api/v1/calls/{call_id}"),
            Some(token),
            None,
        )
        .await;
        if r.status == 200 && FINAL.contains(&r.data()["status"].as_str().unwrap_or("")) {
            return r.data().clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "call {call_id} not final in time: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
