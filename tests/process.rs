//! The real `callvisor` binary, as an operator runs it: the simulator in a process of
//! its own, the server SIGKILLed in the middle of a call and started again, a graceful
//! SIGTERM, and the `token` and `migrate` commands.

mod common;

use callvisor::http::auth::{JwtKeys, Role};
use common::{mint, scratch_dir, send, wait_final};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_callvisor");
const SECRET: &str = "process-test-secret-0123456789abcdef";
const SIM_SID: &str = "AC11111111111111111111111111111111";
const SIM_TOKEN: &str = "sim-token-for-process-tests";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `callvisor` command with a clean environment (nothing of the caller's leaks in).
fn callvisor(args: &[&str], env: &[(&str, String)], log: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear().env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    cmd.stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null());
    cmd
}

/// Waits until `url` answers 200 (bounded).
async fn wait_up(url: &str, child: &mut Child, log: &Path) {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "process exited early ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if let Ok(r) = http.get(url).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{url} never came up: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

struct Setup {
    dir: PathBuf,
    sim_port: u16,
    port: u16,
}

impl Setup {
    fn new() -> Self {
        Self {
            dir: scratch_dir("process"),
            sim_port: free_port(),
            port: free_port(),
        }
    }

    /// A standalone simulator ringing for `ring` seconds, a server dialing it, and an
    /// HTTP client.
    async fn running(ring: &str) -> (Self, Child, Child, reqwest::Client) {
        let setup = Self::new();
        let sim = setup.start_sim(ring).await;
        let server = setup.start_server().await;
        (setup, sim, server, reqwest::Client::new())
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn server_env(&self) -> Vec<(&'static str, String)> {
        vec![
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
            ("CALLVISOR_SHUTDOWN_TIMEOUT_SECONDS", "5".to_string()),
        ]
    }

    async fn start_sim(&self, ring: &str) -> Child {
        let env = vec![
            ("SIM_LISTEN", format!("127.0.0.1:{}", self.sim_port)),
            ("SIM_ACCOUNT_SID", SIM_SID.to_string()),
            ("SIM_AUTH_TOKEN", SIM_TOKEN.to_string()),
            ("SIM_ANSWER_RATE", "1".to_string()),
            ("SIM_BUSY_RATE", "0".to_string()),
            ("SIM_FAIL_RATE", "0".to_string()),
            ("SIM_RING_SECONDS", ring.to_string()),
            ("SIM_TALK_SECONDS", "1".to_string()),
        ];
        let log = self.log("sim.log");
        let mut child = callvisor(&["sim"], &env, &log).spawn().unwrap();
        wait_up(
            &format!("http://127.0.0.1:{}/health", self.sim_port),
            &mut child,
            &log,
        )
        .await;
        child
    }

    async fn start_server(&self) -> Child {
        let log = self.log("server.log");
        let mut child = callvisor(&["serve"], &self.server_env(), &log)
            .spawn()
            .unwrap();
        wait_up(&format!("{}/health", self.base()), &mut child, &log).await;
        child
    }

    /// The standalone simulator's dial log, for one number.
    async fn dials_to(&self, http: &reqwest::Client, to: &str) -> Vec<Value> {
        let dials: Vec<Value> = http
            .get(format!("http://127.0.0.1:{}/sim/dials", self.sim_port))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        dials.into_iter().filter(|d| d["to"] == to).collect()
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn tenant(&self, http: &reqwest::Client) -> (String, String, String) {
        let jwt = JwtKeys::new(SECRET.as_bytes());
        let root = mint(&jwt, Role::SuperAdmin, None, 3600);
        let base = self.base();
        let client = send(
            http,
            &base,
            "POST",
            "/api/v1/clients",
            Some(&root),
            Some(json!({"name": "Acme"})),
        )
        .await;
        let client_id = client.data()["id"].as_str().unwrap().to_string();
        let agent = send(
            http,
            &base,
            "POST",
            "/api/v1/agents",
            Some(&root),
            Some(
                json!({"name": "bot", "answerUrl": "http://bot.example/a", "clientId": client_id}),
            ),
        )
        .await;
        let manager = mint(&jwt, Role::Manager, Some(client_id.parse().unwrap()), 3600);
        (
            client_id,
            agent.data()["id"].as_str().unwrap().to_string(),
            manager,
        )
    }
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

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

    let pid = nix::unistd::Pid::from_raw(server.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let mut server = server;
    let mut exited = None;
    for _ in 0..150 {
        if let Some(status) = server.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = exited.expect("exited within 15 s of SIGTERM");
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
