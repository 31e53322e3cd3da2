//! Memory benchmark: resident memory per live call, with 100,000 calls ringing at once,
//! against a bare ractor actor with empty state measured in the same run.
//!
//! A live call is a real CallActor handed to the real CallSupervisor (as a recovered or
//! adopted call is), its slot registered with the ConcurrencyBroker, in the state of a
//! call that has been dialed and is ringing: it waits for webhooks and for its timeout.
//! The tree runs over the in-memory store and the scripted provider, so nothing dials.
//!
//! Each measurement runs in a process of its own (this binary started again with
//! `--measure bare|call`), so memory freed by one never flatters the other; each is
//! repeated and the median kept.
//!
//! Run: `cargo bench --bench call_memory` (about a minute).

use callvisor_actors::broker::BrokerMsg;
use callvisor_actors::calls::{CallSettings, CallSupervisorMsg};
use callvisor_actors::campaigns::CampaignSettings;
use callvisor_actors::domain::{
    AgentId, Call, CallRequest, CallStatus, ClientId, PhoneNumber, Priority,
};
use callvisor_actors::gateway::{BreakerPolicy, GatewayConfig, Rate, RateLimits, RetryPolicy};
use callvisor_actors::monitors::{MonitorSettings, MonitorsConfig};
use callvisor_actors::ports::{NoProbe, SystemClock};
use callvisor_actors::root::{Tree, TreeConfig};
use callvisor_actors::rpc::ask;
use callvisor_actors::supervision::RestartPolicy;
use callvisor_actors::testing::{MemoryStore, ScriptedProvider, ScriptedWarmer};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const ACTORS: usize = 100_000;
const ROUNDS: usize = 3;
/// Calls handed to the supervisor before waiting for it to catch up, so the queue of
/// messages in between stays small.
const BATCH: usize = 1_000;
const ASK: Duration = Duration::from_secs(60);

/// The baseline: an actor with no state that does nothing.
struct Bare;

#[ractor::async_trait]
impl Actor for Bare {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _myself: ActorRef<()>, _args: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

/// Lets spawned tasks settle (timers armed, start-up messages handled).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// Bytes per bare actor.
async fn measure_bare() -> f64 {
    settle().await;
    let before = rss();
    let mut actors = Vec::with_capacity(ACTORS);
    for _ in 0..ACTORS {
        let (actor, _) = Actor::spawn(None, Bare, ()).await.expect("bare actor");
        actors.push(actor);
    }
    settle().await;
    let after = rss();
    let per_actor = (after - before) as f64 / ACTORS as f64;
    for actor in &actors {
        actor.stop(None);
    }
    per_actor
}

async fn tree() -> Tree {
    let store: Arc<MemoryStore> = Arc::default();
    let config = TreeConfig {
        store: store.clone(),
        campaign_store: store.clone(),
        gateway: GatewayConfig {
            provider: Arc::new(ScriptedProvider::default()),
            limits: RateLimits {
                create_call: Rate::per_second(100),
                other: Rate::per_second(100),
                sms: Rate::per_second(100),
                shared: false,
            },
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
        },
        clock: Arc::new(SystemClock),
        warmer: Arc::new(ScriptedWarmer::default()),
        calls: CallSettings::default(),
        campaigns: CampaignSettings::default(),
        global_max_calls: (ACTORS * 2) as u32,
        call_restarts: RestartPolicy::default(),
        campaign_restarts: RestartPolicy::default(),
        child_restarts: RestartPolicy::default(),
        monitors: MonitorsConfig {
            store,
            channels: Vec::new(),
            probe: Arc::new(NoProbe),
            settings: MonitorSettings::manual(),
        },
    };
    Tree::start(config).await.expect("tree starts").0
}

/// A call that was dialed and is ringing, with the details a real one carries.
fn ringing_call(client: ClientId, agent: AgentId, n: usize) -> Call {
    let request = CallRequest {
        client_id: client,
        agent_id: agent,
        to: PhoneNumber::parse(&format!("+1415555{:04}", n % 9000 + 1000)).expect("a number"),
        from: PhoneNumber::parse("+14155550100").expect("a number"),
        answer_url: "https://bots.example.com/agents/renewals/answer".into(),
        priority: Priority::Normal,
        metadata: serde_json::json!({}),
        warmup_url: None,
        retry_policy: None,
        schedule: None,
    };
    let now = chrono::Utc::now();
    let mut call = Call::queued(request, "twilio", now);
    call.slot_granted_at = Some(now);
    call.dial_started_at = Some(now);
    call.provider_call_id = Some(format!("CA{:032x}", n));
    call.status = CallStatus::Ringing;
    call
}

/// Bytes per live ringing call.
async fn measure_calls() -> f64 {
    let tree = tree().await;
    let calls = tree.calls.get();
    let (client, agent) = (ClientId::new(), AgentId::new());
    settle().await;
    let before = rss();
    for start in (0..ACTORS).step_by(BATCH) {
        let batch: Vec<Call> = (start..start + BATCH)
            .map(|n| ringing_call(client, agent, n))
            .collect();
        let slots = batch.iter().map(|c| (c.client_id, c.id)).collect();
        tree.broker
            .get()
            .cast(BrokerMsg::Restore(slots))
            .expect("broker");
        for call in batch {
            calls
                .cast(CallSupervisorMsg::Adopt(Box::new(call)))
                .expect("call supervisor");
        }
        let live = ask(&calls, CallSupervisorMsg::LiveCount, ASK)
            .await
            .expect("live count");
        assert_eq!(live, start + BATCH, "every call has its actor");
    }
    settle().await;
    let after = rss();
    let stats = ask(&tree.broker.get(), BrokerMsg::Stats, ASK)
        .await
        .expect("slot stats");
    assert_eq!(stats.global_in_use as usize, ACTORS, "every slot is held");
    (after - before) as f64 / ACTORS as f64
}

/// Runs one measurement in a fresh process of this binary.
fn measure_in_child(kind: &str) -> f64 {
    let exe = std::env::current_exe().expect("this benchmark's path");
    let out = Command::new(exe)
        .args(["--measure", kind])
        .output()
        .expect("measurement runs");
    assert!(
        out.status.success(),
        "{kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("bytes per actor")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let bytes = match args.get(i + 1).map(String::as_str) {
            Some("bare") => runtime.block_on(measure_bare()),
            Some("call") => runtime.block_on(measure_calls()),
            other => panic!("unknown measurement {other:?}"),
        };
        println!("{bytes}");
        // Exit without tearing 100,000 actors down one by one.
        std::process::exit(0);
    }

    println!("{ACTORS} actors at once, {ROUNDS} rounds, each measurement in its own process");
    println!("| round | bare actor (KiB) | live ringing call (KiB) | ratio |");
    println!("|---|---|---|---|");
    let (mut bare, mut call) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let b = measure_in_child("bare");
        let c = measure_in_child("call");
        println!(
            "| {round} | {:.2} | {:.2} | {:.3} |",
            b / 1024.0,
            c / 1024.0,
            c / b
        );
        bare.push(b);
        call.push(c);
    }
    let (b, c) = (median(bare), median(call));
    println!(
        "| median | {:.2} | {:.2} | **{:.3}** |",
        b / 1024.0,
        c / 1024.0,
        c / b
    );
    println!("target: a live call ≤ 1.25 × a bare actor");
}
