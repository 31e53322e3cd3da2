//! The call timeout across a crash, on the real binary: a call that rings and then hears
//! nothing keeps the rest of its timeout when the server is SIGKILLed and started again,
//! instead of getting a whole new one, and gives its slot back when it times out.

mod common;

use callvisor::http::auth::{JwtKeys, Role};
use chrono::{DateTime, Utc};
use common::{mint, scratch_dir, send, wait_final};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_callvisor");
const SECRET: &str = "call-timeout-test-secret-0123456789";
const SIM_SID: &str = "AC22222222222222222222222222222222";
const SIM_TOKEN: &str = "sim-token-for-the-timeout-test";
/// `CALL_TIMEOUT_MINUTES`: 15 s.
const TIMEOUT_MINUTES: &str = "0.25";
const TIMEOUT: Duration = Duration::from_secs(15);
/// How long the call has been silent when the server is killed.
const SILENT_BEFORE_KILL: Duration = Duration::from_secs(8);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `callvisor ARGS` with only `env` (nothing of the caller's leaks in), logging
/// to `log`, and waits until `health` answers.
async fn start(args: &[&str], env: &[(&str, String)], log: &Path, health: &str) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{args:?} exited early ({status}): {}", read(log));
        }
        if http
            .get(health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{health} never came up: {}", read(log));
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn at(event: &Value) -> DateTime<Utc> {
    event["at"].as_str().unwrap().parse().unwrap()
}

struct Setup {
    dir: PathBuf,
    sim_port: u16,
    port: u16,
}

impl Setup {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A simulator that lets the phone ring for ten minutes: after its ringing webhook
    /// the call hears nothing more.
    async fn start_sim(&self) -> Child {
        let env = [
            ("SIM_LISTEN", format!("127.0.0.1:{}", self.sim_port)),
            ("SIM_ACCOUNT_SID", SIM_SID.to_string()),
            ("SIM_AUTH_TOKEN", SIM_TOKEN.to_string()),
            ("SIM_RING_SECONDS", "600".to_string()),
        ];
        let health = format!("http://127.0.0.1:{}/health", self.sim_port);
        start(&["sim"], &env, &self.dir.join("sim.log"), &health).await
    }

    async fn start_server(&self) -> Child {
        let env = [
            ("CALLVISOR_LISTEN", format!("127.0.0.1:{}", self.port)),
            (
                "DATABASE_URL",
                format!("sqlite://{}/callvisor.db", self.dir.display()),
            ),
            ("CALLVISOR_DATA_DIR", self.dir.display().to_string()),
            ("CALLVISOR_JWT_SECRET", SECRET.to_string()),
            ("CALLVISOR_PROVIDER", "twilio".to_string()),
            (
                "TWILIO_API_BASE",
                format!("http://127.0.0.1:{}", self.sim_port),
            ),
            ("TWILIO_ACCOUNT_SID", SIM_SID.to_string()),
            ("TWILIO_AUTH_TOKEN", SIM_TOKEN.to_string()),
            ("CALLVISOR_CALLER_ID", "+14155550100".to_string()),
            ("CALL_TIMEOUT_MINUTES", TIMEOUT_MINUTES.to_string()),
        ];
        let health = format!("{}/health", self.base());
        start(&["serve"], &env, &self.dir.join("server.log"), &health).await
    }
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
    let setup = Setup {
        dir: scratch_dir("call-timeout"),
        sim_port: free_port(),
        port: free_port(),
    };
    let sim = setup.start_sim().await;
    let mut server = setup.start_server().await;
    let (http, base) = (reqwest::Client::new(), setup.base());

    let jwt = JwtKeys::new(SECRET.as_bytes());
    let root = mint(&jwt, Role::SuperAdmin, None, 3600);
    let client = send(
        &http,
        &base,
        "POST",
        "/api/v1/clients",
        Some(&root),
        Some(json!({"name": "Acme"})),
    )
    .await;
    let client_id = client.data()["id"].as_str().unwrap().to_string();
    let agent = json!({"name": "bot", "answerUrl": "http://bot.example/a", "clientId": client_id});
    let agent = send(
        &http,
        &base,
        "POST",
        "/api/v1/agents",
        Some(&root),
        Some(agent),
    )
    .await;
    let agent_id = agent.data()["id"].as_str().unwrap().to_string();
    let manager = mint(&jwt, Role::Manager, Some(client_id.parse().unwrap()), 3600);

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
    let server = setup.start_server().await;
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
