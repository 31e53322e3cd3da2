//! The harness of the paused-time suites: a whole tree over in-memory storage, a scripted
//! provider and a scripted bot warmer, with helpers to place calls, send webhooks and let
//! the actors run.
#![allow(dead_code)] // each suite uses the part it needs

use callvisor_actors::broker::{BrokerMsg, SlotStats};
use callvisor_actors::calls::{
    CallRef, CallSettings, CallSupervisorMsg, NewCall, PlaceError, WebhookOutcome,
};
use callvisor_actors::campaigns::CampaignSettings;
use callvisor_actors::domain::{
    AgentId, Call, CallId, CallRequest, CallStatus, ClientId, Observation, PhoneNumber, Priority,
};
use callvisor_actors::gateway::{BreakerPolicy, GatewayConfig, Rate, RateLimits, RetryPolicy};
use callvisor_actors::monitors::{MonitorSettings, MonitorsConfig};
use callvisor_actors::ports::{AlertChannel, NoProbe, ProcessProbe, TokioClock};
use callvisor_actors::root::{Tree, TreeConfig};
use callvisor_actors::rpc::ask;
use callvisor_actors::supervision::RestartPolicy;
use callvisor_actors::testing::{MemoryStore, ScriptedProvider, ScriptedWarmer};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::time::Duration;

pub mod campaigns;

pub const ASK: Duration = Duration::from_secs(30);

/// A running tree and the fakes behind it.
pub struct Harness {
    pub tree: Tree,
    pub store: Arc<MemoryStore>,
    pub provider: Arc<ScriptedProvider>,
    pub warmer: Arc<ScriptedWarmer>,
    /// The tree's clock: wall-clock time that follows paused tokio time.
    pub clock: Arc<TokioClock>,
    /// The client calls are placed for, unless a test says otherwise.
    pub client: ClientId,
}

/// What a test may change about the tree it starts.
pub struct Options {
    pub store: Arc<MemoryStore>,
    pub provider: Arc<ScriptedProvider>,
    pub clock: Arc<TokioClock>,
    pub warmer: Arc<ScriptedWarmer>,
    pub global_max_calls: u32,
    /// The monitors' settings (every timer off unless a test turns one on).
    pub monitor_settings: MonitorSettings,
    /// Alert channels besides the event log.
    pub channels: Vec<Arc<dyn AlertChannel>>,
    pub probe: Arc<dyn ProcessProbe>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            store: Arc::default(),
            provider: Arc::default(),
            clock: clock(),
            warmer: Arc::default(),
            global_max_calls: 50,
            monitor_settings: MonitorSettings::manual(),
            channels: Vec::new(),
            probe: Arc::new(NoProbe),
        }
    }
}

/// Paused time starting on Monday 2026-03-02 09:00 UTC.
pub fn clock() -> Arc<TokioClock> {
    clock_at(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap())
}

/// Paused time starting at `start`.
pub fn clock_at(start: DateTime<Utc>) -> Arc<TokioClock> {
    Arc::new(TokioClock::starting_at(start))
}

pub async fn start(
    store: Arc<MemoryStore>,
    provider: Arc<ScriptedProvider>,
    clock: Arc<TokioClock>,
) -> Harness {
    start_with(Options {
        store,
        provider,
        clock,
        ..Options::default()
    })
    .await
}

pub async fn start_with(options: Options) -> Harness {
    let config = TreeConfig {
        store: options.store.clone(),
        campaign_store: options.store.clone(),
        gateway: GatewayConfig {
            provider: options.provider.clone(),
            limits: RateLimits {
                create_call: Rate::per_second(100),
                other: Rate::per_second(100),
                sms: Rate::per_second(100),
                shared: false,
            },
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
        },
        clock: options.clock.clone(),
        warmer: options.warmer.clone(),
        calls: CallSettings {
            call_timeout: Duration::from_secs(600),
            status_callback_base: "http://cv.test/webhooks/twilio/status".into(),
            ..CallSettings::default()
        },
        campaigns: CampaignSettings::default(),
        global_max_calls: options.global_max_calls,
        call_restarts: RestartPolicy {
            max_restarts: 3,
            window: Duration::from_secs(60),
        },
        campaign_restarts: RestartPolicy::default(),
        child_restarts: RestartPolicy::default(),
        monitors: MonitorsConfig {
            store: options.store.clone(),
            channels: options.channels,
            probe: options.probe,
            settings: options.monitor_settings,
        },
    };
    let (tree, _) = Tree::start(config).await.expect("tree starts");
    Harness {
        tree,
        store: options.store,
        provider: options.provider,
        warmer: options.warmer,
        clock: options.clock,
        client: ClientId::new(),
    }
}

pub async fn fresh() -> Harness {
    start_with(Options::default()).await
}

/// A request for a call of `client` to one fixed number.
pub fn request(client: ClientId) -> CallRequest {
    CallRequest {
        client_id: client,
        agent_id: AgentId::new(),
        to: PhoneNumber::parse("+14155552671").unwrap(),
        from: PhoneNumber::parse("+14155550000").unwrap(),
        answer_url: "http://bot.test/answer".into(),
        priority: Priority::Normal,
        metadata: serde_json::json!({"ticket": 7}),
        warmup_url: None,
        retry_policy: None,
        schedule: None,
    }
}

pub fn new_call(client: ClientId, limit: u32) -> NewCall {
    NewCall {
        request: request(client),
        client_limit: limit,
    }
}

/// The call id a dial carries in its status-callback URL.
pub fn dialed_call(status_callback_url: &str) -> CallId {
    let (_, id) = status_callback_url
        .split_once("callId=")
        .expect("the callback URL names the call");
    id.parse().expect("a call id")
}

impl Harness {
    pub async fn place(&self, limit: u32) -> Result<Call, PlaceError> {
        let calls = self.tree.calls.get();
        ask(
            &calls,
            |tx| CallSupervisorMsg::Place(new_call(self.client, limit), tx),
            ASK,
        )
        .await
        .unwrap()
    }

    /// Hands calls to the tree to wait for their time and their slot.
    pub async fn enqueue(&self, requests: Vec<CallRequest>) -> Vec<Call> {
        ask(
            &self.tree.calls.get(),
            |tx| CallSupervisorMsg::Enqueue(requests, tx),
            ASK,
        )
        .await
        .unwrap()
        .unwrap()
    }

    pub async fn webhook(&self, id: CallId, status: CallStatus, seq: i64) -> WebhookOutcome {
        let observation = Observation {
            status,
            provider_status: Some(status.as_str().into()),
            sequence: Some(seq),
            duration_seconds: status.is_final().then_some(42),
            ..Default::default()
        };
        let calls = self.tree.calls.get();
        ask(
            &calls,
            |reply| CallSupervisorMsg::Webhook {
                call: CallRef::Id(id),
                observation,
                detail: serde_json::json!({"seq": seq}),
                reply,
            },
            ASK,
        )
        .await
        .unwrap()
        .unwrap()
    }

    pub async fn slots(&self) -> SlotStats {
        ask(&self.tree.broker.get(), BrokerMsg::Stats, ASK)
            .await
            .unwrap()
    }

    pub async fn live(&self) -> usize {
        ask(&self.tree.calls.get(), CallSupervisorMsg::LiveCount, ASK)
            .await
            .unwrap()
    }

    /// Lets the actors run until nothing is left to do at the current instant.
    /// (Lets paused time run 100 ms too: rate limiters space requests 10 ms apart.)
    pub async fn settle(&self) {
        for _ in 0..10 {
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
