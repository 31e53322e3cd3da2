//! The ProviderHealthMonitor: checks the provider on a timer (and when asked), takes the
//! provider's own heartbeats, stores every result in `health_checks`, and keeps the
//! `provider_health` alert raised while the provider is not OK.
//!
//! A probe runs in a task, so a provider that takes its time never stops the monitor
//! from taking heartbeats or answering; a probe asked for while one is out shares it.

use super::alert::{Alert, Level};
use super::alert_manager::AlertMsg;
use super::context::MonitorContext;
use super::health::{judge, CheckSource, HealthCheck, HealthStatus, ProbeResult, PROBE_CALL_ID};
use super::waiters::Waiters;
use crate::gateway::{CircuitState, GatewayMsg};
use crate::ports::ProviderError;
use crate::rpc::{ask, AskError};
use crate::supervision::Replaceable;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Messages to the ProviderHealthMonitor.
pub enum HealthMsg {
    /// Time for the scheduled probe.
    Tick,
    /// Probe now and answer with the result.
    CheckNow(RpcReplyPort<HealthCheck>),
    /// A check made elsewhere (the provider's heartbeat): store it and act on it.
    Record(HealthCheck),
    /// A probe finished.
    Probed(HealthCheck),
}

/// Arguments of the ProviderHealthMonitor.
pub struct HealthMonitorArgs {
    pub ctx: Arc<MonitorContext>,
    pub alerts: Replaceable<AlertMsg>,
}

/// The ProviderHealthMonitor.
pub struct ProviderHealthMonitor;

/// Its state.
pub struct HealthMonitorState {
    ctx: Arc<MonitorContext>,
    alerts: Replaceable<AlertMsg>,
    /// Who waits for the probe that is out, if one is.
    waiting: Waiters<HealthCheck>,
}

#[ractor::async_trait]
impl Actor for ProviderHealthMonitor {
    type Msg = HealthMsg;
    type State = HealthMonitorState;
    type Arguments = HealthMonitorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: HealthMonitorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(HealthMonitorState {
            ctx: args.ctx,
            alerts: args.alerts,
            waiting: Waiters::default(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(every) = state.ctx.settings.health.interval {
            myself.send_interval(every, || HealthMsg::Tick);
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            HealthMsg::Tick => state.probe(&myself, None, CheckSource::Probe),
            HealthMsg::CheckNow(reply) => state.probe(&myself, Some(reply), CheckSource::Manual),
            HealthMsg::Record(check) => state.take(&check).await,
            HealthMsg::Probed(check) => {
                state.take(&check).await;
                state.waiting.finish(&check);
            }
        }
        Ok(())
    }
}

impl HealthMonitorState {
    /// Sends a probe, unless one is out (then `reply` waits for that one).
    fn probe(
        &mut self,
        myself: &ActorRef<HealthMsg>,
        reply: Option<RpcReplyPort<HealthCheck>>,
        source: CheckSource,
    ) {
        if !self.waiting.join(reply) {
            return;
        }
        let ctx = Arc::clone(&self.ctx);
        let me = myself.clone();
        tokio::spawn(async move {
            let check = run_probe(&ctx, source).await;
            let _ = me.send_message(HealthMsg::Probed(check));
        });
    }

    /// Stores a check, exports it, and raises or resolves the alert.
    async fn take(&self, check: &HealthCheck) {
        if let Err(e) = self.ctx.store.insert_health_check(check).await {
            tracing::error!(error = %e, "could not store a health check");
        }
        metrics::gauge!("callvisor_provider_health_status").set(check.status.gauge());
        metrics::counter!(
            "callvisor_provider_health_checks_total",
            "source" => check.source.as_str(), "status" => check.status.as_str()
        )
        .increment(1);
        if let Some(ms) = check.latency_ms {
            metrics::histogram!("callvisor_provider_health_latency_seconds")
                .record(ms as f64 / 1000.0);
        }
        let alerts = self.alerts.get();
        let sent = match check.status {
            HealthStatus::Ok => alerts.cast(AlertMsg::Resolve("provider_health".into())),
            status => {
                let level = if status == HealthStatus::Error {
                    Level::Critical
                } else {
                    Level::Warning
                };
                let title = format!("Provider health is {status}");
                let detail = json!({
                    "source": check.source.as_str(),
                    "error": check.error,
                    "incomingAffected": check.incoming_affected,
                    "outgoingAffected": check.outgoing_affected,
                    "checkedAt": check.checked_at,
                });
                alerts.cast(AlertMsg::Raise(Alert::new(
                    "provider_health",
                    level,
                    title,
                    detail,
                )))
            }
        };
        if let Err(e) = sent {
            tracing::warn!(error = %e, "the AlertManager is not running; health alert not raised");
        }
    }
}

/// One probe through the gateway, judged.
async fn run_probe(ctx: &MonitorContext, source: CheckSource) -> HealthCheck {
    let settings = &ctx.settings.health;
    let gateway = ctx.gateway.get();
    let circuit = ask(&gateway, GatewayMsg::Stats, Duration::from_secs(5))
        .await
        .ok()
        .map(|s| s.circuit_state);
    let result = if circuit == Some(CircuitState::Open) {
        ProbeResult::CircuitOpen
    } else {
        let started = Instant::now();
        let answer = ask(
            &gateway,
            |tx| GatewayMsg::FetchCall(PROBE_CALL_ID.to_string(), tx),
            settings.timeout,
        )
        .await;
        let elapsed = started.elapsed();
        match answer {
            Ok(answer) => ProbeResult::of(elapsed, answer.map(drop)),
            Err(AskError::TimedOut(_)) => ProbeResult::TimedOut(elapsed),
            Err(AskError::Gone) => ProbeResult::Failed(
                elapsed,
                ProviderError::Connect("the provider gateway is not running".into()),
            ),
        }
    };
    judge(&result, circuit, settings.slow, source, ctx.clock.now())
}
