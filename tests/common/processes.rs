//! A real `callvisor` binary and a standalone simulator, each in a process of its own,
//! on free loopback ports: what the crash and shutdown tests start, kill and restart.

use super::{mint, scratch_dir, send};
use callvisor::http::auth::{JwtKeys, Role};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_callvisor");
pub const SECRET: &str = "process-test-secret-0123456789abcdef";
pub const SIM_SID: &str = "AC11111111111111111111111111111111";
pub const SIM_TOKEN: &str = "sim-token-for-process-tests";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `callvisor` command with a clean environment (nothing of the caller's leaks in).
pub fn callvisor(args: &[&str], env: &[(&str, String)], log: &Path) -> Command {
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
pub async fn wait_up(url: &str, child: &mut Child, log: &Path) {
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

pub struct Setup {
    pub dir: PathBuf,
    pub sim_port: u16,
    pub port: u16,
}

impl Setup {
    pub fn new() -> Self {
        Self {
            dir: scratch_dir("process"),
            sim_port: free_port(),
            port: free_port(),
        }
    }

    /// A standalone simulator ringing for `ring` seconds, a server dialing it, and an
    /// HTTP client.
    pub async fn running(ring: &str) -> (Self, Child, Child, reqwest::Client) {
        let setup = Self::new();
        let sim = setup.start_sim(ring).await;
        let server = setup.start_server().await;
        (setup, sim, server, reqwest::Client::new())
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn server_env(&self) -> Vec<(&'static str, String)> {
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

    pub async fn start_sim(&self, ring: &str) -> Child {
        self.start_sim_with(&[("SIM_RING_SECONDS", ring.to_string())])
            .await
    }

    /// A standalone simulator answering every call, its settings overridden by `extra`.
    pub async fn start_sim_with(&self, extra: &[(&'static str, String)]) -> Child {
        let mut env = vec![
            ("SIM_LISTEN", format!("127.0.0.1:{}", self.sim_port)),
            ("SIM_ACCOUNT_SID", SIM_SID.to_string()),
            ("SIM_AUTH_TOKEN", SIM_TOKEN.to_string()),
            ("SIM_ANSWER_RATE", "1".to_string()),
            ("SIM_BUSY_RATE", "0".to_string()),
            ("SIM_FAIL_RATE", "0".to_string()),
            ("SIM_TALK_SECONDS", "1".to_string()),
        ];
        override_env(&mut env, extra);
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

    pub async fn start_server(&self) -> Child {
        self.start_server_with(&[]).await
    }

    /// The server, its settings overridden by `extra`; returns once it answers.
    pub async fn start_server_with(&self, extra: &[(&'static str, String)]) -> Child {
        let log = self.log("server.log");
        let mut env = self.server_env();
        override_env(&mut env, extra);
        let mut child = callvisor(&["serve"], &env, &log).spawn().unwrap();
        wait_up(&format!("{}/health", self.base()), &mut child, &log).await;
        child
    }

    /// The standalone simulator's whole dial log.
    pub async fn dials(&self, http: &reqwest::Client) -> Vec<Value> {
        http.get(format!("http://127.0.0.1:{}/sim/dials", self.sim_port))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The standalone simulator's dial log, for one number.
    pub async fn dials_to(&self, http: &reqwest::Client, to: &str) -> Vec<Value> {
        let dials = self.dials(http).await;
        dials.into_iter().filter(|d| d["to"] == to).collect()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn tenant(&self, http: &reqwest::Client) -> (String, String, String) {
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

/// Sets each of `extra` in `env`, replacing a setting of the same name.
fn override_env(env: &mut Vec<(&'static str, String)>, extra: &[(&'static str, String)]) {
    for (name, value) in extra {
        env.retain(|(k, _)| k != name);
        env.push((name, value.clone()));
    }
}

/// Sends SIGTERM and waits (at most 15 s) for the process to exit; its exit status.
pub async fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    for _ in 0..150 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill(child);
    panic!("the process did not exit within 15 s of SIGTERM");
}

pub fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}
