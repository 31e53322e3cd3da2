//! The AlertManager: the one place alerts are raised, de-duplicated, recorded and sent.
//!
//! Anyone holding the tree handle raises or resolves an alert with a cast
//! ([`AlertMsg::Raise`], [`AlertMsg::Resolve`]) and goes on at once: recording is a
//! store write here, delivery a hand-off to each channel's courier. On a timer it also
//! gathers a [`Snapshot`] of the system (from a task, so a slow store or actor never
//! stops it from taking raises) and applies what the [`Rules`] conclude.

use super::alert::{Alert, Level, Notice};
use super::context::MonitorContext;
use super::dedup::{AlertBook, Outcome};
use super::delivery::Courier;
use super::log_channel::LogChannel;
use super::rules::{QueueSnapshot, Rules, Snapshot, Verdict};
use crate::broker::BrokerMsg;
use crate::gateway::GatewayMsg;
use crate::rpc::ask;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Duration;

/// Messages to the AlertManager.
pub enum AlertMsg {
    /// The condition holds (again).
    Raise(Alert),
    /// The condition of this key no longer holds.
    Resolve(String),
    /// Time to look at the system.
    Evaluate,
    /// What the look saw.
    Evaluated(Snapshot),
}

/// How long a look waits for each actor it asks.
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// The AlertManager.
pub struct AlertManager;

/// Its state.
pub struct AlertManagerState {
    ctx: Arc<MonitorContext>,
    book: AlertBook,
    rules: Rules,
    couriers: Vec<Courier>,
    /// A look is under way; another is not started until it reports.
    evaluating: bool,
}

#[ractor::async_trait]
impl Actor for AlertManager {
    type Msg = AlertMsg;
    type State = AlertManagerState;
    type Arguments = Arc<MonitorContext>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<MonitorContext>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let settings = &ctx.settings.alerts;
        let mut book = AlertBook::new(settings.dedup);
        match ctx.store.active_alerts().await {
            Ok(active) => book.restore(active),
            Err(e) => tracing::error!(error = %e, "could not read active alerts; starting afresh"),
        }
        let log: Arc<dyn crate::ports::AlertChannel> = Arc::new(LogChannel(Arc::clone(&ctx.store)));
        let couriers = std::iter::once(log)
            .chain(ctx.channels.iter().cloned())
            .map(|channel| Courier::spawn(channel, settings.delivery))
            .collect();
        let state = AlertManagerState {
            rules: Rules::new(settings.thresholds.clone()),
            book,
            couriers,
            evaluating: false,
            ctx: Arc::clone(&ctx),
        };
        state.publish_active();
        Ok(state)
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(every) = state.ctx.settings.alerts.evaluation_interval {
            myself.send_interval(every, || AlertMsg::Evaluate);
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
            AlertMsg::Raise(alert) => {
                let outcome = state.book.raise(alert, state.ctx.clock.now());
                state.settle(outcome).await;
            }
            AlertMsg::Resolve(key) => {
                if let Some(outcome) = state.book.resolve(&key, state.ctx.clock.now()) {
                    state.settle(outcome).await;
                }
            }
            AlertMsg::Evaluate if !state.evaluating => {
                state.evaluating = true;
                let ctx = Arc::clone(&state.ctx);
                let window = state.rules.thresholds.error_rate_window;
                tokio::spawn(async move {
                    let snapshot = gather(&ctx, window).await;
                    let _ = myself.send_message(AlertMsg::Evaluated(snapshot));
                });
            }
            AlertMsg::Evaluate => {}
            AlertMsg::Evaluated(snapshot) => {
                state.evaluating = false;
                for verdict in state.rules.evaluate(&snapshot) {
                    let now = state.ctx.clock.now();
                    let outcome = match verdict {
                        Verdict::Raise(alert) => Some(state.book.raise(alert, now)),
                        Verdict::Resolve(key) => state.book.resolve(key, now),
                    };
                    if let Some(outcome) = outcome {
                        state.settle(outcome).await;
                    }
                }
            }
        }
        Ok(())
    }
}

impl AlertManagerState {
    /// Records the alert and sends its notice, if it has one.
    async fn settle(&mut self, outcome: Outcome) {
        if let Err(e) = self.ctx.store.save_alert(&outcome.record).await {
            tracing::error!(key = %outcome.record.key, error = %e, "could not record alert");
        }
        if let Some(notice) = outcome.notice {
            self.send(notice);
        }
        self.publish_active();
    }

    fn send(&self, notice: Notice) {
        let rule = super::alert::rule_label(&notice.key);
        match notice.action {
            super::alert::Action::Trigger => {
                tracing::warn!(key = %notice.key, level = %notice.level, title = %notice.title, "alert");
                metrics::counter!("callvisor_alerts_fired_total", "rule" => rule, "level" => notice.level.as_str())
                    .increment(1);
            }
            super::alert::Action::Resolve => {
                tracing::info!(key = %notice.key, title = %notice.title, "alert resolved");
                metrics::counter!("callvisor_alerts_resolved_total", "rule" => rule).increment(1);
            }
        }
        for courier in &self.couriers {
            courier.send(notice.clone());
        }
    }

    fn publish_active(&self) {
        let counts = self.book.active_by_level();
        for level in Level::ALL {
            let n = counts.get(&level).copied().unwrap_or(0);
            metrics::gauge!("callvisor_alerts_active", "level" => level.as_str()).set(n as f64);
        }
    }
}

/// Reads every figure the rules look at; a figure that cannot be read stays `None`.
async fn gather(ctx: &MonitorContext, window: Duration) -> Snapshot {
    let since = ctx.clock.now() - chrono::Duration::from_std(window).unwrap_or_default();
    let outcomes = match ctx.store.call_outcomes_since(since).await {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::warn!(error = %e, "alert rules could not read call outcomes");
            None
        }
    };
    let circuit = ask(&ctx.gateway.get(), GatewayMsg::Stats, ASK_TIMEOUT)
        .await
        .ok()
        .map(|s| (s.circuit_state, s.circuit_opened));
    let queue = ask(&ctx.broker.get(), BrokerMsg::Stats, ASK_TIMEOUT)
        .await
        .ok()
        .map(|s| QueueSnapshot {
            waiting: s.waiting,
            longest_wait: Duration::from_secs_f64(s.longest_wait_seconds.max(0.0)),
        });
    Snapshot {
        outcomes,
        circuit,
        queue,
        webhook_lag: Some(ctx.signals.max_webhook_lag()),
        memory_bytes: ctx.probe.resident_memory_bytes(),
        restarts: Some(ctx.signals.recent_restarts()),
    }
}
