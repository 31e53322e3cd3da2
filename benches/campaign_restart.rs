//! Real-process benchmark of two campaign figures, each against a baseline measured in
//! the same run, with the release binary and a standalone simulator on loopback:
//!
//! 1. **Restart to first dial**: a running campaign's server is SIGKILLed and started
//!    again; the time from the new process's spawn to the next create-call reaching the
//!    simulator. Baseline: the same binary's spawn to its first `/health` answer on an
//!    empty database (the cost of a process start with nothing to recover).
//! 2. **CSV import memory**: the server's peak resident memory (`VmHWM`) after a
//!    100,000-row (and a 300,000-row) CSV upload, against the same after a 1,000-row
//!    upload, each in a fresh process. A streamed import keeps them close; reading the
//!    file whole would grow with it.
//!
//! Run: `cargo bench --bench campaign_restart` (about a minute).

use callvisor::http::auth::{Claims, JwtKeys, Role};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_callvisor");
const SECRET: &str = "bench-secret-of-thirty-two-bytes";
const SID: &str = "AC22222222222222222222222222222222";
const TOKEN: &str = "bench-sim-token";
const RESTARTS: usize = 5;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory, a simulator port and a server port.
struct Bench {
    dir: PathBuf,
    sim_port: u16,
    port: u16,
    http: reqwest::Client,
}

impl Bench {
    fn new(tag: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("callvisor-bench-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            dir,
            sim_port: free_port(),
            port: free_port(),
            http: reqwest::Client::new(),
        }
    }

    fn spawn(&self, args: &[&str], env: &[(&str, String)], log: &str) -> Child {
        let out = std::fs::File::create(self.dir.join(log)).unwrap();
        Command::new(BIN)
            .args(args)
            .env_clear()
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    }

    async fn start_sim(&self) -> Child {
        let env = [
            ("SIM_LISTEN", format!("127.0.0.1:{}", self.sim_port)),
            ("SIM_ACCOUNT_SID", SID.to_string()),
            ("SIM_AUTH_TOKEN", TOKEN.to_string()),
            ("SIM_RING_SECONDS", "0.2-0.5".to_string()),
            ("SIM_TALK_SECONDS", "0.5-1".to_string()),
        ];
        let sim = self.spawn(&["sim"], &env, "sim.log");
        self.wait_up(&format!("http://127.0.0.1:{}/health", self.sim_port))
            .await;
        sim
    }

    /// Spawns the server; returns it and when it was spawned.
    fn spawn_server(&self) -> (Child, Instant) {
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
            ("TWILIO_ACCOUNT_SID", SID.to_string()),
            ("TWILIO_AUTH_TOKEN", TOKEN.to_string()),
            ("TWILIO_CALLS_PER_SECOND", "100".to_string()),
            ("CALLVISOR_CALLER_ID", "+14155550100".to_string()),
        ];
        let started = Instant::now();
        (self.spawn(&["serve"], &env, "server.log"), started)
    }

    async fn wait_up(&self, url: &str) {
        for _ in 0..2000 {
            if let Ok(r) = self.http.get(url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("{url} never came up; see {}", self.dir.display());
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn send(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self
            .http
            .request(method, format!("{}{path}", self.base()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {body}");
        body["data"].clone()
    }

    async fn sim_dials(&self) -> usize {
        let dials: Vec<Value> = self
            .http
            .get(format!("http://127.0.0.1:{}/sim/dials", self.sim_port))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        dials.len()
    }

    /// A client allowed 40 calls at once, its agent, and a manager's token.
    async fn tenant(&self) -> (String, String) {
        let keys = JwtKeys::new(SECRET.as_bytes());
        let mint = |role, client| {
            keys.mint(&Claims {
                sub: "bench".into(),
                role,
                client_id: client,
                exp: chrono::Utc::now().timestamp() + 3600,
            })
            .unwrap()
        };
        let root = mint(Role::SuperAdmin, None);
        let client = self
            .send(
                "POST",
                "/api/v1/clients",
                &root,
                json!({"name": "Bench", "maxConcurrentCalls": 40}),
            )
            .await;
        let client_id = client["id"].as_str().unwrap().to_string();
        let agent = self
            .send(
                "POST",
                "/api/v1/agents",
                &root,
                json!({"name": "bot", "answerUrl": "http://bot.example/a", "clientId": client_id}),
            )
            .await;
        let manager = mint(Role::Manager, Some(client_id.parse().unwrap()));
        (agent["id"].as_str().unwrap().to_string(), manager)
    }

    async fn campaign(&self, agent: &str, token: &str, contacts: Vec<Value>) -> String {
        let campaign = self
            .send(
                "POST",
                "/api/v1/campaigns",
                token,
                json!({
                    "name": "bench", "agentId": agent, "callerId": "+14155550100",
                    "contacts": contacts,
                    "retryPolicy": {"maxAttempts": 1, "backoffSeconds": 1, "retryOn": ["busy"]},
                    "pacing": {"maxConcurrent": 40},
                }),
            )
            .await;
        campaign["id"].as_str().unwrap().to_string()
    }
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn summary(label: &str, samples: &[Duration]) -> f64 {
    let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    let mean = ms.iter().sum::<f64>() / ms.len() as f64;
    let max = ms.iter().cloned().fold(0.0, f64::max);
    let all: Vec<String> = ms.iter().map(|m| format!("{m:.0}")).collect();
    println!(
        "{label}: mean {mean:.0} ms, max {max:.0} ms (runs: {} ms)",
        all.join(", ")
    );
    mean
}

async fn restart_to_first_dial() {
    // Baseline: spawn to the first /health answer, nothing to recover.
    let mut baseline = Vec::new();
    for run in 0..RESTARTS {
        let bench = Bench::new(&format!("cold{run}"));
        let sim = bench.start_sim().await;
        let (server, started) = bench.spawn_server();
        bench.wait_up(&format!("{}/health", bench.base())).await;
        baseline.push(started.elapsed());
        kill(server);
        kill(sim);
        let _ = std::fs::remove_dir_all(&bench.dir);
    }

    let bench = Bench::new("restart");
    let sim = bench.start_sim().await;
    let (mut server, _) = bench.spawn_server();
    bench.wait_up(&format!("{}/health", bench.base())).await;
    let (agent, token) = bench.tenant().await;
    let contacts = (0..8_000)
        .map(|i| json!({"phoneNumber": format!("+1415777{:04}", i)}))
        .collect();
    let id = bench.campaign(&agent, &token, contacts).await;
    bench
        .send(
            "POST",
            &format!("/api/v1/campaigns/{id}/start"),
            &token,
            json!(null),
        )
        .await;
    let mut to_health = Vec::new();
    let mut to_dial = Vec::new();
    for _ in 0..RESTARTS {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        kill(server);
        let before = bench.sim_dials().await;
        let (next, started) = bench.spawn_server();
        server = next;
        bench.wait_up(&format!("{}/health", bench.base())).await;
        to_health.push(started.elapsed());
        loop {
            if bench.sim_dials().await > before {
                to_dial.push(started.elapsed());
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no dial after restart"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    kill(server);
    kill(sim);
    let _ = std::fs::remove_dir_all(&bench.dir);
    let cold = summary("baseline: spawn to /health, empty database", &baseline);
    let health = summary(
        "restart with a running campaign: spawn to /health",
        &to_health,
    );
    let dial = summary(
        "restart with a running campaign: spawn to first dial",
        &to_dial,
    );
    println!(
        "ratios to the baseline: /health {:.2}x, first dial {:.2}x",
        health / cold,
        dial / cold
    );
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn write_csv(path: &Path, rows: usize) -> u64 {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "phoneNumber,name,timezone,plan,region").unwrap();
    for i in 0..rows {
        writeln!(
            out,
            "+1415{}{:04},Contact number {i},America/New_York,gold,north-east",
            555 + i / 10_000,
            i % 10_000
        )
        .unwrap();
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

/// Uploads a CSV of `rows` rows to a fresh server; returns (peak RSS KiB before,
/// after, seconds, bytes).
async fn import(rows: usize) -> (u64, u64, f64, u64) {
    let bench = Bench::new(&format!("csv{rows}"));
    let sim = bench.start_sim().await;
    let (server, _) = bench.spawn_server();
    bench.wait_up(&format!("{}/health", bench.base())).await;
    let (agent, token) = bench.tenant().await;
    let id = bench
        .campaign(&agent, &token, vec![json!({"phoneNumber": "+14155550101"})])
        .await;
    let file = bench.dir.join("contacts.csv");
    let bytes = write_csv(&file, rows);
    let before = peak_rss_kib(server.id());
    let body = tokio::fs::read(&file).await.unwrap();
    let started = Instant::now();
    let r = bench
        .http
        .post(format!("{}/api/v1/campaigns/{id}/contacts", bench.base()))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let reply: Value = r.json().await.unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.is_success(), "{reply}");
    assert_eq!(reply["data"]["imported"], rows, "{reply}");
    let after = peak_rss_kib(server.id());
    kill(server);
    kill(sim);
    let _ = std::fs::remove_dir_all(&bench.dir);
    (before, after, seconds, bytes)
}

async fn csv_import_memory() {
    let (b0, b1, bs, bbytes) = import(1_000).await;
    println!(
        "baseline: 1,000 rows ({} KiB file): peak RSS {b0} KiB before, {b1} KiB after ({:+} KiB), {bs:.2} s",
        bbytes / 1024,
        b1 as i64 - b0 as i64
    );
    for rows in [100_000, 300_000] {
        let (l0, l1, ls, lbytes) = import(rows).await;
        println!(
            "{rows} rows ({} KiB file): peak RSS {l0} KiB before, {l1} KiB after ({:+} KiB), {ls:.2} s, {:.0} rows/s; \
             peak RSS / baseline's {:.2}x for a file {:.0}x larger",
            lbytes / 1024,
            l1 as i64 - l0 as i64,
            rows as f64 / ls,
            l1 as f64 / b1 as f64,
            lbytes as f64 / bbytes as f64
        );
    }
}

#[tokio::main]
async fn main() {
    restart_to_first_dial().await;
    csv_import_memory().await;
}
