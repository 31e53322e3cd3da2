//! Start-up and shutdown of the whole server: storage and migrations, the provider (the
//! embedded simulator by default), the actor tree, the HTTP front end.
//!
//! Shutdown stops accepting requests first, then stops the tree (calls are persisted as
//! they change, so nothing is lost; the next start gives every live call its actor back
//! and catches up with the provider), then closes storage — all within a bounded time.

use crate::config::{ProviderKind, ServeArgs};
use crate::http::auth::JwtKeys;
use crate::http::{router, AppState, CallDefaults, ProviderInfo, WebhookSettings};
use crate::process::ThisProcess;
use crate::providers::exotel::{self, ExotelConfig, ExotelProvider};
use crate::providers::plivo::{PlivoConfig, PlivoProvider};
use crate::providers::twilio::{TwilioConfig, TwilioProvider};
use crate::sim::faults::{parse_outages, FaultConfig};
use crate::sim::{self, Flavor, SimConfig, SimHandle};
use crate::store::SqlStore;
use crate::warmup::HttpWarmer;
use crate::{alerts, secret, telemetry};
use callvisor_actors::calls::CallSettings;
use callvisor_actors::campaigns::CampaignSettings;
use callvisor_actors::domain::PhoneNumber;
use callvisor_actors::gateway::{BreakerPolicy, GatewayConfig, Rate, RateLimits, RetryPolicy};
use callvisor_actors::monitors::MonitorsConfig;
use callvisor_actors::ports::{Clock, Provider, SystemClock, WarmupPolicy};
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

    let ProviderSetup {
        provider,
        info: provider_info,
        secrets,
        sim,
        caller: simulated_caller,
    } = provider_for(args).await?;
    let status_callback_base = secrets.status_callback_base(&public_url);
    let caller_id = match &args.caller_id {
        Some(raw) => Some(PhoneNumber::parse(raw).map_err(|e| format!("CALLVISOR_CALLER_ID {e}"))?),
        None => simulated_caller,
    };

    crate::metric_catalog::register_zero_series(provider.name());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (tree, _) = Tree::start(TreeConfig {
        store: Arc::new(store.clone()),
        campaign_store: Arc::new(store.clone()),
        gateway: gateway_config(args, provider),
        clock: Arc::clone(&clock),
        warmer: Arc::new(HttpWarmer::default()),
        calls: CallSettings {
            call_timeout: args.call_timeout(),
            ring_timeout: Duration::from_secs(args.ring_timeout_seconds),
            status_callback_base,
            redial_delay: Duration::from_secs_f64(args.redial_delay_seconds.max(0.01)),
            warmup: WarmupPolicy {
                timeout: Duration::from_secs_f64(args.bot_warmup_timeout.max(0.1)),
                attempts: args.bot_warmup_retries.max(1),
                backoff: Duration::from_secs_f64(args.bot_warmup_backoff_seconds.max(0.0)),
            },
            ..CallSettings::default()
        },
        campaigns: CampaignSettings::default(),
        global_max_calls: args.global_max_calls,
        call_restarts: RestartPolicy::default(),
        campaign_restarts: RestartPolicy::default(),
        child_restarts: RestartPolicy::default(),
        monitors: MonitorsConfig {
            store: Arc::new(store.clone()),
            channels: alerts::channels(&args.monitoring)?,
            probe: Arc::new(ThisProcess),
            settings: args.monitoring.settings(),
        },
    })
    .await?;

    let state = AppState {
        store: store.clone(),
        tree: tree.clone(),
        jwt: JwtKeys::new(&secret),
        webhooks: Arc::new(WebhookSettings {
            public_url: public_url.clone(),
            twilio_auth_token: secrets.twilio,
            plivo_auth_token: secrets.plivo,
            exotel_token: secrets.exotel,
        }),
        defaults: Arc::new(CallDefaults { caller_id }),
        provider: Arc::new(provider_info),
        clock,
        metrics: metrics.clone(),
        started: Instant::now(),
        check_timeout: args.monitoring.health_timeout,
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
    let started_at = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    crate::metric_catalog::sample_process(started_at);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            metrics.run_upkeep();
            crate::metric_catalog::sample_process(started_at);
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

/// The provider calls are placed with, and what goes with it.
struct ProviderSetup {
    provider: Arc<dyn Provider>,
    info: ProviderInfo,
    secrets: WebhookSecrets,
    /// The embedded simulator, when calls are simulated.
    sim: Option<SimHandle>,
    /// The caller id of simulated calls.
    caller: Option<PhoneNumber>,
}

/// Which provider's callbacks are expected, and the secret that authenticates them.
struct WebhookSecrets {
    wire: Flavor,
    twilio: Option<String>,
    plivo: Option<String>,
    exotel: Option<String>,
}

impl WebhookSecrets {
    fn for_wire(wire: Flavor, secret: String) -> Self {
        let only = |f: Flavor| (wire == f).then(|| secret.clone());
        Self {
            wire,
            twilio: only(Flavor::Twilio),
            plivo: only(Flavor::Plivo),
            exotel: only(Flavor::Exotel),
        }
    }

    /// Where the provider reports call status: its webhook endpoint, with Exotel's
    /// token in the query.
    fn status_callback_base(&self, public_url: &str) -> String {
        let endpoint = format!("{public_url}/webhooks/{}/status", self.wire.as_str());
        match (&self.wire, &self.exotel) {
            (Flavor::Exotel, Some(token)) => exotel::callback_base(&endpoint, token),
            _ => endpoint,
        }
    }
}

/// The Exotel webhook token: configured, or generated once and kept.
fn exotel_token(args: &ServeArgs) -> Result<String, StartError> {
    let token = secret::load_or_create_kept(
        &secret::EXOTEL_WEBHOOK_TOKEN,
        args.exotel_webhook_token.as_deref(),
        &args.data_dir,
    )?;
    Ok(String::from_utf8(token).map_err(|_| "EXOTEL_WEBHOOK_TOKEN must be UTF-8")?)
}

/// The values of settings a provider requires, or a message naming those missing.
fn required<'a>(
    provider: &str,
    settings: &[(&'static str, &'a Option<String>)],
) -> Result<Vec<&'a str>, StartError> {
    let missing: Vec<&str> = settings
        .iter()
        .filter(|(_, v)| v.as_deref().is_none_or(|v| v.trim().is_empty()))
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(format!("CALLVISOR_PROVIDER={provider} needs {}", missing.join(", ")).into());
    }
    Ok(settings.iter().filter_map(|(_, v)| v.as_deref()).collect())
}

/// The adapter for `wire` with these credentials, at `api_base`.
fn adapter(
    args: &ServeArgs,
    wire: Flavor,
    (account, key, token): (&str, &str, &str),
    api_base: &str,
) -> Result<Arc<dyn Provider>, StartError> {
    let request_timeout =
        Duration::from_secs_f64(args.gateway.provider_request_timeout_seconds.max(0.1));
    Ok(match wire {
        Flavor::Twilio => Arc::new(TwilioProvider::new(TwilioConfig {
            account_sid: account.to_string(),
            auth_token: token.to_string(),
            api_base: api_base.to_string(),
            request_timeout,
        })?),
        Flavor::Plivo => Arc::new(PlivoProvider::new(PlivoConfig {
            auth_id: account.to_string(),
            auth_token: token.to_string(),
            api_base: api_base.to_string(),
            request_timeout,
        })?),
        Flavor::Exotel => Arc::new(ExotelProvider::new(ExotelConfig {
            sid: account.to_string(),
            api_key: key.to_string(),
            api_token: token.to_string(),
            caller_id: args.exotel_caller_id.clone(),
            api_base: api_base.to_string(),
            request_timeout,
        })?),
    })
}

/// The provider adapter for the configuration; starts the simulator when asked for.
async fn provider_for(args: &ServeArgs) -> Result<ProviderSetup, StartError> {
    let (wire, credentials, api_base, sim) = match args.provider {
        ProviderKind::Sim => {
            let config = sim_config(args)?;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let handle = sim::serve(config.clone(), listener).await?;
            let api_base = handle.base_url();
            tracing::warn!(
                "======== SIMULATED CALLS: no real phone will ring. The built-in provider \
                 simulator ({} flavor) answers at {api_base}. Set CALLVISOR_PROVIDER=twilio, \
                 plivo or exotel to dial for real. ========",
                config.flavor.as_str()
            );
            let credentials = (config.account_sid, config.api_key, config.auth_token);
            (config.flavor, credentials, api_base, Some(handle))
        }
        ProviderKind::Twilio => {
            let v = required(
                "twilio",
                &[
                    ("TWILIO_ACCOUNT_SID", &args.twilio_account_sid),
                    ("TWILIO_AUTH_TOKEN", &args.twilio_auth_token),
                ],
            )?;
            let credentials = (v[0].to_string(), v[0].to_string(), v[1].to_string());
            (
                Flavor::Twilio,
                credentials,
                args.twilio_api_base.clone(),
                None,
            )
        }
        ProviderKind::Plivo => {
            let v = required(
                "plivo",
                &[
                    ("PLIVO_AUTH_ID", &args.plivo_auth_id),
                    ("PLIVO_AUTH_TOKEN", &args.plivo_auth_token),
                ],
            )?;
            let credentials = (v[0].to_string(), v[0].to_string(), v[1].to_string());
            (
                Flavor::Plivo,
                credentials,
                args.plivo_api_base.clone(),
                None,
            )
        }
        ProviderKind::Exotel => {
            let v = required(
                "exotel",
                &[
                    ("EXOTEL_SID", &args.exotel_sid),
                    ("EXOTEL_API_KEY", &args.exotel_api_key),
                    ("EXOTEL_API_TOKEN", &args.exotel_api_token),
                ],
            )?;
            let credentials = (v[0].to_string(), v[1].to_string(), v[2].to_string());
            (
                Flavor::Exotel,
                credentials,
                args.exotel_api_base.clone(),
                None,
            )
        }
    };
    let (account, key, token) = credentials;
    let provider = adapter(args, wire, (&account, &key, &token), &api_base)?;
    let secret = match wire {
        Flavor::Exotel => exotel_token(args)?,
        Flavor::Twilio | Flavor::Plivo => token,
    };
    let simulated = sim.is_some();
    Ok(ProviderSetup {
        info: ProviderInfo {
            name: if simulated { "sim" } else { wire.as_str() }.into(),
            api_base,
            simulated,
            configured: true,
        },
        provider,
        secrets: WebhookSecrets::for_wire(wire, secret),
        sim,
        caller: simulated
            .then(|| PhoneNumber::parse(SIMULATED_CALLER_ID).ok())
            .flatten(),
    })
}

/// Rate limits, retries and breaker of the configured provider.
fn gateway_config(args: &ServeArgs, provider: Arc<dyn Provider>) -> GatewayConfig {
    let g = &args.gateway;
    let wire = match args.provider {
        ProviderKind::Sim => args.sim.sim_flavor,
        ProviderKind::Twilio => Flavor::Twilio,
        ProviderKind::Plivo => Flavor::Plivo,
        ProviderKind::Exotel => Flavor::Exotel,
    };
    let limits = match wire {
        Flavor::Twilio => RateLimits {
            create_call: Rate::per_second(g.twilio_calls_per_second.max(1)),
            other: Rate::per_second(g.twilio_api_requests_per_second.max(1)),
            sms: Rate::per_second(g.twilio_sms_per_second.max(1)),
            shared: false,
        },
        Flavor::Plivo => RateLimits {
            create_call: Rate::per_second(g.plivo_calls_per_second.max(1)),
            other: Rate::per_second(g.plivo_api_requests_per_second.max(1)),
            sms: Rate::per_second(g.plivo_sms_per_second.max(1)),
            shared: false,
        },
        Flavor::Exotel => {
            let all_voice_apis = Rate::per_minute(g.exotel_calls_per_minute.max(1));
            RateLimits {
                create_call: all_voice_apis,
                other: all_voice_apis,
                sms: Rate::per_minute(g.exotel_sms_per_minute.max(1)),
                shared: true,
            }
        }
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
        callback_loss: s.sim_callback_loss.clamp(0.0, 1.0),
        callback_duplication: s.sim_callback_duplication.clamp(0.0, 1.0),
        callback_reordering: s.sim_callback_reordering.clamp(0.0, 1.0),
    };
    Ok(SimConfig {
        flavor: s.sim_flavor,
        account_sid: s.sim_account_sid.clone(),
        auth_token: s.sim_auth_token.clone(),
        api_key: s.sim_api_key.clone(),
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
