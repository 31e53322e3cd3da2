//! Start-up and shutdown of the whole server: storage and migrations, the provider (the
//! embedded simulator by default), the actor tree, the HTTP front end.
//!
//! Shutdown stops accepting requests first, then stops the tree (calls are persisted as
//! they change, so nothing is lost; the next start gives every live call its actor back
//! and catches up with the provider), then closes storage — all within a bounded time.

use crate::config::{ProviderKind, ServeArgs};
use crate::http::auth::JwtKeys;
use crate::http::{router, AppState, CallDefaults, ProviderInfo, WebhookSettings};
use crate::providers::twilio::{TwilioConfig, TwilioProvider};
use crate::sim::faults::{parse_outages, FaultConfig};
use crate::sim::{self, SimConfig, SimHandle};
use crate::store::SqlStore;
use crate::{secret, telemetry};
use callvisor_actors::calls::CallSettings;
use callvisor_actors::domain::PhoneNumber;
use callvisor_actors::gateway::{BreakerPolicy, GatewayConfig, Rate, RateLimits, RetryPolicy};
use callvisor_actors::ports::{Clock, Provider, SystemClock};
use callvisor_actors::root::{Tree, TreeConfig};
use callvisor_actors::supervision::RestartPolicy;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Any start-up failure, with a message for the operator.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// The caller id of simulated calls when none is configured.
const SIMULATED_CALLER_ID: &str = "+14155550100";

/// A running server.
pub struct Running {
    /// Where the HTTP API listens.
    pub addr: SocketAddr,
    /// The base URL the provider calls back.
    pub public_url: String,
    pub tree: Tree,
    pub store: SqlStore,
    /// The embedded simulator, when calls are simulated.
    pub sim: Option<SimHandle>,
    http: JoinHandle<std::io::Result<()>>,
    stop_http: watch::Sender<bool>,
    shutdown_timeout: Duration,
}

/// Starts everything and returns once the API is listening.
pub async fn start(args: &ServeArgs) -> Result<Running, StartError> {
    let metrics = telemetry::prometheus();
    let store = SqlStore::connect(&args.database_url).await?;
    store.migrate().await?;
    let secret = secret::load_or_create(args.jwt_secret.as_deref(), &args.data_dir)?;

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();

    let (provider, provider_info, twilio_token, sim, simulated_caller) = provider_for(args).await?;
    let caller_id = match &args.caller_id {
        Some(raw) => Some(PhoneNumber::parse(raw).map_err(|e| format!("CALLVISOR_CALLER_ID {e}"))?),
        None => simulated_caller,
    };

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (tree, _) = Tree::start(TreeConfig {
        store: Arc::new(store.clone()),
        gateway: gateway_config(args, provider),
        clock: Arc::clone(&clock),
        calls: CallSettings {
            call_timeout: args.call_timeout(),
            ring_timeout: Duration::from_secs(args.ring_timeout_seconds),
            status_callback_base: format!("{public_url}/webhooks/twilio/status"),
            redial_delay: Duration::from_secs_f64(args.redial_delay_seconds.max(0.01)),
            ..CallSettings::default()
        },
        global_max_calls: args.global_max_calls,
        call_restarts: RestartPolicy::default(),
        child_restarts: RestartPolicy::default(),
    })
    .await?;

    let state = AppState {
        store: store.clone(),
        tree: tree.clone(),
        jwt: JwtKeys::new(&secret),
        webhooks: Arc::new(WebhookSettings {
            public_url: public_url.clone(),
            twilio_auth_token: twilio_token,
        }),
        defaults: Arc::new(CallDefaults { caller_id }),
        provider: Arc::new(provider_info),
        clock,
        metrics: metrics.clone(),
        started: Instant::now(),
    };
    let (stop_http, mut stopped) = watch::channel(false);
    let app = router(state);
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            metrics.run_upkeep();
        }
    });
    tracing::info!(%addr, %public_url, database = %store.backend().as_str(), "callvisor is listening");
    Ok(Running {
        addr,
        public_url,
        tree,
        store,
        sim,
        http,
        stop_http,
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout_seconds),
    })
}

type ProviderSetup = (
    Arc<dyn Provider>,
    ProviderInfo,
    String,
    Option<SimHandle>,
    Option<PhoneNumber>,
);

/// The provider adapter for the configuration; starts the simulator when asked for.
async fn provider_for(args: &ServeArgs) -> Result<ProviderSetup, StartError> {
    let request_timeout =
        Duration::from_secs_f64(args.gateway.provider_request_timeout_seconds.max(0.1));
    match args.provider {
        ProviderKind::Sim => {
            let config = sim_config(args)?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let handle = sim::serve(config.clone(), listener).await?;
            let api_base = handle.base_url();
            tracing::warn!(
                "======== SIMULATED CALLS: no real phone will ring. The built-in provider \
                 simulator answers at {api_base}. Set CALLVISOR_PROVIDER=twilio to dial for real. ========"
            );
            let twilio = TwilioProvider::new(TwilioConfig {
                account_sid: config.account_sid.clone(),
                auth_token: config.auth_token.clone(),
                api_base: api_base.clone(),
                request_timeout,
            })?;
            let info = ProviderInfo {
                name: "sim".into(),
                api_base,
                simulated: true,
                configured: true,
            };
            let caller = PhoneNumber::parse(SIMULATED_CALLER_ID).ok();
            Ok((
                Arc::new(twilio),
                info,
                config.auth_token,
                Some(handle),
                caller,
            ))
        }
        ProviderKind::Twilio => {
            let (Some(sid), Some(token)) = (&args.twilio_account_sid, &args.twilio_auth_token)
            else {
                return Err(
                    "CALLVISOR_PROVIDER=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
                        .into(),
                );
            };
            let twilio = TwilioProvider::new(TwilioConfig {
                account_sid: sid.clone(),
                auth_token: token.clone(),
                api_base: args.twilio_api_base.clone(),
                request_timeout,
            })?;
            let info = ProviderInfo {
                name: "twilio".into(),
                api_base: args.twilio_api_base.clone(),
                simulated: false,
                configured: true,
            };
            Ok((Arc::new(twilio), info, token.clone(), None, None))
        }
    }
}

/// Rate limits, retries and breaker of the configured provider.
fn gateway_config(args: &ServeArgs, provider: Arc<dyn Provider>) -> GatewayConfig {
    let g = &args.gateway;
    let limits = match args.provider {
        ProviderKind::Sim | ProviderKind::Twilio => RateLimits {
            create_call: Rate::per_second(g.twilio_calls_per_second.max(1)),
            other: Rate::per_second(g.twilio_api_requests_per_second.max(1)),
            shared: false,
        },
    };
    GatewayConfig {
        provider,
        limits,
        retry: RetryPolicy {
            max_retries: g.provider_max_retries,
            base_delay: Duration::from_secs_f64(g.provider_retry_base_seconds.max(0.0)),
        },
        breaker: BreakerPolicy {
            failure_threshold: g.circuit_failure_threshold.max(1),
            cool_down: Duration::from_secs(g.circuit_cool_down_seconds),
        },
    }
}

/// The simulator's behaviour from the command line and environment.
pub fn sim_config(args: &ServeArgs) -> Result<SimConfig, StartError> {
    let s = &args.sim;
    let faults = FaultConfig {
        rate_limit_per_second: s.sim_rate_limit_per_second,
        outages: parse_outages(&s.sim_outages).map_err(|e| format!("SIM_OUTAGES: {e}"))?,
        latency: (s.sim_latency_seconds.0, s.sim_latency_seconds.1),
    };
    Ok(SimConfig {
        account_sid: s.sim_account_sid.clone(),
        auth_token: s.sim_auth_token.clone(),
        answer_rate: s.sim_answer_rate,
        busy_rate: s.sim_busy_rate,
        fail_rate: s.sim_fail_rate,
        ring: (s.sim_ring_seconds.0, s.sim_ring_seconds.1),
        talk: (s.sim_talk_seconds.0, s.sim_talk_seconds.1),
        faults,
        ..SimConfig::default()
    })
}

impl Running {
    /// Stops accepting requests, stops the tree, closes storage, within the configured
    /// shutdown time.
    pub async fn stop(self) {
        let deadline = self.shutdown_timeout;
        let _ = self.stop_http.send(true);
        if tokio::time::timeout(deadline, self.http).await.is_err() {
            tracing::warn!("HTTP connections still open at shutdown; closing them");
        }
        self.tree.shutdown(deadline).await;
        if let Some(sim) = self.sim {
            sim.shutdown().await;
        }
        self.store.close().await;
        tracing::info!("callvisor stopped");
    }
}
