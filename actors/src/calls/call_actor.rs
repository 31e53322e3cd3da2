//! The CallActor: one per live call, from the dial to the final status.
//!
//! It owns the call's record while the call is live. Every change is persisted before it
//! is acknowledged; when the actor dies, its supervisor rebuilds it from that record.
//! A call placed with a slot already granted dials at once; any other call first waits
//! in the ConcurrencyBroker's fair line (and cannot time out while it waits). It dials once (the dial is marked in storage before the request leaves, so a restart
//! can tell a call that may exist at the provider from one that cannot), follows the
//! provider's webhooks forward-only, hangs up on cancel, and ends the call as `timeout`
//! when nothing is heard for the configured time and the provider does not vouch for it.

use super::call_supervisor::CallSupervisorMsg;
use super::context::CallContext;
use crate::broker::BrokerMsg;
use crate::domain::tenant::DEFAULT_MAX_CONCURRENT_CALLS;
use crate::domain::{Call, CallEvent, CallStatus, EventSource, FailureReason, Observation};
use crate::gateway::GatewayMsg;
use crate::ports::{
    CallListQuery, DialAccepted, DialRequest, HangUp, ProviderCallRecord, ProviderError,
};
use crate::rpc::{ask, AskError};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// What an observation did to the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObserveOutcome {
    /// Whether the call moved forward.
    pub applied: bool,
    /// The call's status afterwards.
    pub status: CallStatus,
}

/// Why a cancel did not happen.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CancelError {
    #[error("the call is already {0}")]
    AlreadyFinal(CallStatus),
    #[error("the provider did not hang up: {0}")]
    Provider(ProviderError),
    #[error("the call is not live")]
    NotLive,
}

/// Messages to a CallActor.
pub enum CallMsg {
    /// A status seen for this call (a webhook, usually).
    Observe {
        observation: Observation,
        source: EventSource,
        detail: Value,
        reply: Option<RpcReplyPort<ObserveOutcome>>,
    },
    /// Hang up / cancel the call.
    Cancel(RpcReplyPort<Result<Call, CancelError>>),
    /// Cancel the call if it has not been dialed yet; a dialed call goes on (its
    /// campaign paused: live calls finish, waiting ones give their slots back).
    Withdraw,
    /// The ConcurrencyBroker granted the call its slot.
    SlotGranted,
    /// The bot's warm-up finished: after how many attempts, how long in all, and whether
    /// the bot answered (else every attempt's error).
    WarmupDone {
        attempts: u32,
        elapsed: Duration,
        outcome: Result<(), Vec<String>>,
    },
    /// Try the dial again (the last attempt surely did not reach the callee).
    Redial,
    /// The create-call request answered.
    DialFinished(Result<DialAccepted, ProviderError>),
    /// Look the call up at the provider to settle a dial whose outcome is unknown.
    ReconcileDial,
    /// The provider's call list, looked up to settle a dial whose outcome is unknown.
    DialReconciled(Result<Vec<ProviderCallRecord>, ProviderError>),
    /// The provider's record of this call, and why it was fetched.
    Fetched(FetchPurpose, Result<ProviderCallRecord, ProviderError>),
    /// Time to see whether the call has been silent for too long.
    CheckTimeout,
}

/// Why the actor fetched the provider's record of the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchPurpose {
    /// After a restart, to learn what happened while no actor was listening.
    CatchUp,
    /// The call has been silent for the whole timeout.
    TimeoutCheck,
}

/// How the actor came to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartMode {
    /// A new call, persisted as queued: dial it.
    Fresh,
    /// Rebuilt from storage after a crash or a process restart.
    Recovered,
}

/// Arguments of a CallActor.
pub struct CallActorArgs {
    pub call: Call,
    pub ctx: Arc<CallContext>,
    pub mode: StartMode,
}

/// The CallActor.
pub struct CallActor;

/// A CallActor's state.
pub struct CallState {
    call: Call,
    /// This actor, to hand follow-up calls (retries) to its supervisor.
    myself: ActorRef<CallMsg>,
    ctx: Arc<CallContext>,
    mode: StartMode,
    /// A cancel that arrived while the dial was in flight, answered once it settles.
    pending_cancel: Option<RpcReplyPort<Result<Call, CancelError>>>,
    /// Set once the final status has been handled, so it is handled once.
    concluded: bool,
    /// A create-call request is with the gateway (possibly queued behind a rate limit
    /// or an open circuit); the call cannot time out while it waits for its answer.
    dial_in_flight: bool,
    /// The bot is being warmed up; the call cannot time out meanwhile (the warm-up
    /// policy bounds it).
    warming: bool,
    /// Why the last dial surely did not happen (rate limited, provider down), if it
    /// did not; the reason the call fails with if it never gets through.
    last_dial_error: Option<FailureReason>,
}

#[ractor::async_trait]
impl Actor for CallActor {
    type Msg = CallMsg;
    type State = CallState;
    type Arguments = CallActorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: CallActorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let state = CallState {
            call: args.call,
            myself,
            ctx: args.ctx,
            mode: args.mode,
            pending_cancel: None,
            concluded: false,
            dial_in_flight: false,
            warming: false,
            last_dial_error: None,
        };
        if args.mode == StartMode::Recovered {
            let event = state.event(EventSource::Actor, "recovered", false, json!({}));
            state.ctx.store.append_events(&[event]).await?;
        }
        Ok(state)
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if state.call.slot_granted_at.is_none() {
            return state.wait_for_slot(&myself).await;
        }
        state.arm_timeout(&myself);
        state.go_on(&myself).await
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CallMsg::Observe {
                observation,
                source,
                detail,
                reply,
            } => {
                let outcome = state.observe(&observation, source, detail).await?;
                if let Some(reply) = reply {
                    let _ = reply.send(outcome);
                }
            }
            CallMsg::Cancel(reply) => state.cancel(reply).await?,
            CallMsg::Withdraw => state.withdraw().await?,
            CallMsg::SlotGranted => state.slot_granted(&myself).await?,
            CallMsg::WarmupDone {
                attempts,
                elapsed,
                outcome,
            } => state.warmed_up(&myself, attempts, elapsed, outcome).await?,
            CallMsg::Redial => {
                if state.call.is_live() && state.call.provider_call_id.is_none() {
                    state.dial(&myself).await?;
                }
            }
            CallMsg::DialFinished(result) => state.dial_finished(&myself, result).await?,
            CallMsg::ReconcileDial => state.reconcile_dial(&myself),
            CallMsg::DialReconciled(result) => state.dial_reconciled(&myself, result).await?,
            CallMsg::Fetched(purpose, result) => state.fetched(&myself, purpose, result).await?,
            CallMsg::CheckTimeout => state.check_timeout(&myself).await?,
        }
        if !state.call.is_live() {
            state.conclude(&myself);
        }
        Ok(())
    }
}

impl CallState {
    fn event(&self, source: EventSource, kind: &str, applied: bool, detail: Value) -> CallEvent {
        CallEvent::new(
            self.call.id,
            source,
            kind,
            applied,
            detail,
            self.ctx.clock.now(),
        )
    }

    /// Persists the call with `events`. A call that has just failed in a way its retry
    /// policy retries is saved together with its next attempt, in one transaction, so a
    /// crash can neither lose the retry nor make it twice; the supervisor then takes the
    /// new attempt over.
    async fn save(&mut self, events: &[CallEvent]) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        let Some(next) = self.call.next_attempt(now) else {
            self.ctx.store.save_call(&self.call, events).await?;
            return Ok(());
        };
        self.call.next_attempt_id = Some(next.id);
        let reason = self.call.failure_reason.map(FailureReason::as_str);
        let detail = json!({"nextAttemptId": next.id, "attempt": next.attempt, "notBefore": next.not_before});
        let mut events = events.to_vec();
        events.push(self.event(EventSource::Actor, "retry_scheduled", true, detail));
        let created = CallEvent::new(
            next.id,
            EventSource::Actor,
            "created",
            true,
            json!({"retryOf": self.call.id, "attempt": next.attempt, "previousFailure": reason}),
            now,
        );
        let store = &self.ctx.store;
        if store
            .save_with_follow_up(&self.call, &events, &next, &[created])
            .await?
        {
            metrics::counter!("callvisor_call_retries_total", "reason" => reason.unwrap_or("none"))
                .increment(1);
            if let Some(supervisor) = self.myself.try_get_supervisor() {
                ActorRef::<CallSupervisorMsg>::from(supervisor)
                    .cast(CallSupervisorMsg::Adopt(Box::new(next)))?;
            }
        }
        Ok(())
    }

    /// Queues the call in the broker's fair line; [`CallMsg::SlotGranted`] comes back when
    /// a slot is free. The client's limit is read now, so a changed limit applies.
    async fn wait_for_slot(&self, myself: &ActorRef<CallMsg>) -> Result<(), ActorProcessingErr> {
        let client = self.call.client_id;
        let limit = self.ctx.store.client_limit(client).await?;
        let (reply, granted) = ractor::concurrency::oneshot();
        self.ctx.broker.get().cast(BrokerMsg::Wait {
            client,
            lane: self.call.lane().key(),
            call: self.call.id,
            client_limit: limit.unwrap_or(DEFAULT_MAX_CONCURRENT_CALLS),
            reply: reply.into(),
        })?;
        let me = myself.clone();
        tokio::spawn(async move {
            // A stopped actor drops the grant; its end released the slot (or its place).
            if granted.await.is_ok() {
                let _ = me.send_message(CallMsg::SlotGranted);
            }
        });
        Ok(())
    }

    /// Records the slot, starts the call timeout, and goes on to warm-up and dial.
    async fn slot_granted(&mut self, myself: &ActorRef<CallMsg>) -> Result<(), ActorProcessingErr> {
        if !self.call.is_live() || self.call.slot_granted_at.is_some() {
            return Ok(());
        }
        let now = self.ctx.clock.now();
        let queued_since = self.call.not_before.unwrap_or(self.call.created_at);
        let waited = (now - queued_since.max(self.call.created_at)).num_milliseconds();
        self.call.slot_granted_at = Some(now);
        self.call.last_heard_at = now;
        self.call.updated_at = now;
        let detail = json!({"waitedMillis": waited.max(0), "lane": self.call.lane().key()});
        let event = self.event(EventSource::Actor, "slot_granted", true, detail);
        self.save(&[event]).await?;
        self.arm_timeout(myself);
        self.go_on(myself).await
    }

    /// Takes the next step a call holding a slot needs: warm the bot up, dial, settle a
    /// dial of unknown outcome, or catch up with the provider after a restart.
    async fn go_on(&mut self, myself: &ActorRef<CallMsg>) -> Result<(), ActorProcessingErr> {
        match (self.call.dial_started_at, &self.call.provider_call_id) {
            (None, _) if self.call.needs_warmup() => self.warm_up(myself),
            (None, _) => self.dial(myself).await?,
            (Some(_), None) => self.reconcile_dial(myself),
            (Some(_), Some(_)) if self.mode == StartMode::Recovered => {
                self.fetch(myself, FetchPurpose::CatchUp)
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies an observation, keeps it in the history either way, persists.
    async fn observe(
        &mut self,
        observation: &Observation,
        source: EventSource,
        detail: Value,
    ) -> Result<ObserveOutcome, ActorProcessingErr> {
        let now = self.ctx.clock.now();
        // A report about another provider call carrying our id (a dial that was thought
        // lost and made again) is kept in the history but never moves this call.
        let foreign = self.call.is_other_provider_call(observation);
        let applied = !foreign && self.call.apply(observation, now);
        if !applied && !foreign {
            self.call.absorb_details(observation);
            if source == EventSource::Webhook {
                // The provider is still talking about the call: it is not silent.
                self.call.last_heard_at = now;
            }
        }
        let kind = if foreign {
            "other_provider_call".to_string()
        } else {
            observation
                .provider_status
                .clone()
                .unwrap_or_else(|| observation.status.as_str().to_string())
        };
        let mut event = self.event(source, &kind, applied, detail);
        event.sequence = observation.sequence;
        self.save(&[event]).await?;
        metrics::counter!(
            "callvisor_call_observations_total",
            "source" => source.as_str(), "applied" => if applied { "true" } else { "false" }
        )
        .increment(1);
        Ok(ObserveOutcome {
            applied,
            status: self.call.status,
        })
    }

    /// Calls the bot's warm-up URL (from a task, with the policy's timeout, attempts and
    /// backoff) and reports back with [`CallMsg::WarmupDone`].
    fn warm_up(&mut self, myself: &ActorRef<CallMsg>) {
        let Some(url) = self.call.warmup_url.clone() else {
            return;
        };
        self.warming = true;
        let policy = self.ctx.settings.warmup;
        let warmer = Arc::clone(&self.ctx.warmer);
        let me = myself.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut errors = Vec::new();
            let attempts = policy.attempts.max(1);
            for attempt in 1..=attempts {
                let result =
                    tokio::time::timeout(policy.timeout, warmer.warm_up(&url, policy.timeout))
                        .await
                        .unwrap_or_else(|_| Err(format!("no answer within {:?}", policy.timeout)));
                match result {
                    Ok(()) => {
                        let _ = me.send_message(CallMsg::WarmupDone {
                            attempts: attempt,
                            elapsed: started.elapsed(),
                            outcome: Ok(()),
                        });
                        return;
                    }
                    Err(error) => errors.push(error),
                }
                if attempt < attempts {
                    tokio::time::sleep(policy.backoff * 2u32.saturating_pow(attempt - 1)).await;
                }
            }
            let _ = me.send_message(CallMsg::WarmupDone {
                attempts,
                elapsed: started.elapsed(),
                outcome: Err(errors),
            });
        });
    }

    /// Records the warm-up, then dials, or fails the call if the bot never answered.
    async fn warmed_up(
        &mut self,
        myself: &ActorRef<CallMsg>,
        attempts: u32,
        elapsed: Duration,
        outcome: Result<(), Vec<String>>,
    ) -> Result<(), ActorProcessingErr> {
        self.warming = false;
        if !self.call.is_live() {
            return Ok(());
        }
        self.call.warmup_attempts += attempts;
        let millis = i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX);
        self.call.warmup_millis = Some(self.call.warmup_millis.unwrap_or(0).saturating_add(millis));
        match outcome {
            Ok(()) => {
                let now = self.ctx.clock.now();
                self.call.bot_ready_at = Some(now);
                self.call.updated_at = now;
                let detail = json!({"attempts": attempts, "millis": millis});
                let event = self.event(EventSource::Actor, "bot_ready", true, detail);
                self.save(&[event]).await?;
                metrics::counter!("callvisor_bot_warmups_total", "outcome" => "ready").increment(1);
                self.dial(myself).await
            }
            Err(errors) => {
                metrics::counter!("callvisor_bot_warmups_total", "outcome" => "unavailable")
                    .increment(1);
                let detail = json!({"attempts": attempts, "millis": millis, "errors": errors});
                self.finish(
                    CallStatus::Failed,
                    Some(FailureReason::BotUnavailable),
                    "bot_unavailable",
                    detail,
                )
                .await
            }
        }
    }

    /// Marks the dial in storage, then sends the create-call request.
    async fn dial(&mut self, myself: &ActorRef<CallMsg>) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        self.call.dial_started_at = Some(now);
        self.call.updated_at = now;
        let event = self.event(EventSource::Actor, "dial_requested", true, json!({}));
        self.save(&[event]).await?;
        let request = DialRequest {
            to: self.call.to.clone(),
            from: self.call.from.clone(),
            answer_url: self.call.answer_url.clone(),
            status_callback_url: self.ctx.settings.status_callback_url(self.call.id),
            ring_timeout: self.ctx.settings.ring_timeout,
            gate: self.call.campaign_id.map(|c| self.ctx.gates.gate(c)),
        };
        self.dial_in_flight = true;
        self.ask_gateway(
            myself,
            move |tx| GatewayMsg::CreateCall(request, tx),
            CallMsg::DialFinished,
        );
        Ok(())
    }

    async fn dial_finished(
        &mut self,
        myself: &ActorRef<CallMsg>,
        result: Result<DialAccepted, ProviderError>,
    ) -> Result<(), ActorProcessingErr> {
        self.dial_in_flight = false;
        match result {
            Ok(accepted) => {
                let detail = json!({"providerCallId": accepted.provider_call_id});
                let observation = Observation {
                    status: accepted.status,
                    provider_call_id: Some(accepted.provider_call_id),
                    ..Default::default()
                };
                self.observe(&observation, EventSource::Provider, detail)
                    .await?;
                if let Some(reply) = self.pending_cancel.take() {
                    self.cancel(reply).await?;
                }
            }
            Err(ProviderError::Withheld) => {
                // The campaign closed its gate: this dial never left.
                self.call.dial_started_at = None;
                self.finish(
                    CallStatus::Canceled,
                    Some(FailureReason::Canceled),
                    "dial_withheld",
                    json!({"reason": "campaign not dialing"}),
                )
                .await?;
                if let Some(reply) = self.pending_cancel.take() {
                    let _ = reply.send(Ok(self.call.clone()));
                }
            }
            Err(ProviderError::Ambiguous) => {
                let event = self.event(
                    EventSource::Provider,
                    "dial_outcome_unknown",
                    false,
                    json!({"error": ProviderError::Ambiguous.to_string()}),
                );
                self.ctx.store.append_events(&[event]).await?;
                self.reconcile_dial(myself);
            }
            Err(error) if error.surely_not_done() && self.pending_cancel.is_none() => {
                // The provider did not take the call (rate limited or down even after
                // the gateway's retries): try again later; the call timeout bounds this.
                self.last_dial_error = dial_failure_reason(&error);
                let event = self.event(
                    EventSource::Provider,
                    "dial_deferred",
                    false,
                    json!({"error": error.to_string(), "retryIn": self.ctx.settings.redial_delay.as_secs()}),
                );
                self.ctx.store.append_events(&[event]).await?;
                myself.send_after(self.ctx.settings.redial_delay, || CallMsg::Redial);
            }
            Err(error) => {
                let reason = dial_failure_reason(&error);
                self.finish(
                    CallStatus::Failed,
                    reason,
                    "dial_failed",
                    json!({"error": error.to_string()}),
                )
                .await?;
                if let Some(reply) = self.pending_cancel.take() {
                    let _ = reply.send(Err(CancelError::AlreadyFinal(self.call.status)));
                }
            }
        }
        Ok(())
    }

    /// Looks the call up in the provider's records instead of dialing again blindly.
    fn reconcile_dial(&self, myself: &ActorRef<CallMsg>) {
        let started = self.call.dial_started_at.unwrap_or(self.call.created_at);
        let query = CallListQuery {
            started_after: started - chrono::Duration::minutes(2),
            started_before: self.ctx.clock.now() + chrono::Duration::minutes(1),
            to: Some(self.call.to.as_str().to_string()),
        };
        self.ask_gateway(
            myself,
            move |tx| GatewayMsg::ListCalls(query, tx),
            CallMsg::DialReconciled,
        );
    }

    async fn dial_reconciled(
        &mut self,
        myself: &ActorRef<CallMsg>,
        result: Result<Vec<ProviderCallRecord>, ProviderError>,
    ) -> Result<(), ActorProcessingErr> {
        if self.call.provider_call_id.is_some() {
            return Ok(()); // a webhook adopted the call meanwhile
        }
        let records = match result {
            Ok(records) => records,
            Err(error) => {
                tracing::warn!(call = %self.call.id, %error, "could not list provider calls; will retry");
                myself.send_after(self.ctx.settings.reconcile_retry, || CallMsg::ReconcileDial);
                return Ok(());
            }
        };
        for record in records {
            let claimed = self
                .ctx
                .store
                .find_by_provider_id(&self.call.provider, &record.provider_call_id)
                .await?;
            if claimed.is_none() && record.to == self.call.to.as_str() {
                let mut observation = record.observation.clone();
                observation.provider_call_id = Some(record.provider_call_id.clone());
                let detail = json!({"adopted": record.provider_call_id});
                self.observe(&observation, EventSource::Provider, detail)
                    .await?;
                return Ok(());
            }
        }
        let event = self.event(
            EventSource::Provider,
            "dial_not_found",
            false,
            json!({"action": "dialing again"}),
        );
        self.ctx.store.append_events(&[event]).await?;
        self.dial(myself).await
    }

    fn fetch(&self, myself: &ActorRef<CallMsg>, purpose: FetchPurpose) {
        let Some(id) = self.call.provider_call_id.clone() else {
            return;
        };
        self.ask_gateway(
            myself,
            move |tx| GatewayMsg::FetchCall(id, tx),
            move |r| CallMsg::Fetched(purpose, r),
        );
    }

    async fn fetched(
        &mut self,
        myself: &ActorRef<CallMsg>,
        purpose: FetchPurpose,
        result: Result<ProviderCallRecord, ProviderError>,
    ) -> Result<(), ActorProcessingErr> {
        match (purpose, result) {
            (_, Ok(record)) if record.observation.status.is_final() => {
                let detail = json!({"fetched": record.observation.provider_status});
                self.observe(&record.observation, EventSource::Provider, detail)
                    .await?;
            }
            (FetchPurpose::CatchUp, Ok(record)) => {
                let detail = json!({"fetched": record.observation.provider_status});
                self.observe(&record.observation, EventSource::Provider, detail)
                    .await?;
            }
            (FetchPurpose::CatchUp, Err(error)) => {
                tracing::warn!(call = %self.call.id, %error, "could not fetch call after restart");
            }
            (FetchPurpose::TimeoutCheck, Ok(record))
                if record.observation.status == CallStatus::InProgress =>
            {
                // Still talking: the provider vouches for the call, so the silence is normal.
                let detail = json!({"fetched": "in-progress", "action": "timeout extended"});
                self.observe(&record.observation, EventSource::Provider, detail)
                    .await?;
                self.call.last_heard_at = self.ctx.clock.now();
                self.save(&[]).await?;
                self.arm_timeout(myself);
            }
            (FetchPurpose::TimeoutCheck, other) => {
                let detail = match other {
                    Ok(r) => json!({"fetched": r.observation.provider_status}),
                    Err(e) => json!({"fetchError": e.to_string()}),
                };
                self.hang_up_quietly();
                self.finish(CallStatus::Timeout, None, "timeout", detail)
                    .await?;
            }
        }
        Ok(())
    }

    async fn check_timeout(
        &mut self,
        myself: &ActorRef<CallMsg>,
    ) -> Result<(), ActorProcessingErr> {
        if !self.remaining_timeout().is_zero() {
            self.arm_timeout(myself);
        } else if self.call.provider_call_id.is_some() {
            self.fetch(myself, FetchPurpose::TimeoutCheck);
        } else {
            self.finish(CallStatus::Timeout, None, "timeout", json!({}))
                .await?;
        }
        Ok(())
    }

    /// Cancels or hangs up. The hang-up is awaited here: cancels are rare and the caller
    /// must learn truthfully whether the provider ended the call.
    async fn cancel(
        &mut self,
        reply: RpcReplyPort<Result<Call, CancelError>>,
    ) -> Result<(), ActorProcessingErr> {
        if !self.call.is_live() {
            let _ = reply.send(Err(CancelError::AlreadyFinal(self.call.status)));
            return Ok(());
        }
        let Some(id) = self.call.provider_call_id.clone() else {
            if self.call.dial_started_at.is_some() {
                // The dial is in flight; hang up as soon as it is known.
                self.pending_cancel = Some(reply);
            } else {
                self.finish(
                    CallStatus::Canceled,
                    Some(FailureReason::Canceled),
                    "canceled",
                    json!({}),
                )
                .await?;
                let _ = reply.send(Ok(self.call.clone()));
            }
            return Ok(());
        };
        let how = hang_up_kind(self.call.status);
        let timeout = CANCEL_TIMEOUT;
        let gateway = self.ctx.gateway.get();
        let result = ask(&gateway, |tx| GatewayMsg::HangUp(id, how, tx), timeout)
            .await
            .map_err(gateway_error)
            .and_then(|r| r);
        match result {
            Ok(()) => {
                self.finish(
                    CallStatus::Canceled,
                    Some(FailureReason::Canceled),
                    "canceled",
                    json!({"hangUp": format!("{how:?}").to_lowercase()}),
                )
                .await?;
                let _ = reply.send(Ok(self.call.clone()));
            }
            Err(error) => {
                let event = self.event(
                    EventSource::Provider,
                    "cancel_failed",
                    false,
                    json!({"error": error.to_string()}),
                );
                self.ctx.store.append_events(&[event]).await?;
                let _ = reply.send(Err(CancelError::Provider(error)));
            }
        }
        Ok(())
    }

    /// Cancels a call that has not been dialed (it is waiting for a slot or its bot).
    async fn withdraw(&mut self) -> Result<(), ActorProcessingErr> {
        if !self.call.is_live() || self.call.dial_started_at.is_some() {
            return Ok(());
        }
        self.finish(
            CallStatus::Canceled,
            Some(FailureReason::Canceled),
            "withdrawn",
            json!({"reason": "campaign stopped dialing"}),
        )
        .await
    }

    /// Ends the call with a status of our own making and persists it.
    async fn finish(
        &mut self,
        status: CallStatus,
        reason: Option<FailureReason>,
        kind: &str,
        detail: Value,
    ) -> Result<(), ActorProcessingErr> {
        self.call.finish(status, reason, self.ctx.clock.now());
        let event = self.event(EventSource::Actor, kind, true, detail);
        self.save(&[event]).await
    }

    /// Best-effort hang-up of a call we are giving up on.
    fn hang_up_quietly(&self) {
        if let Some(id) = self.call.provider_call_id.clone() {
            let gateway = self.ctx.gateway.get();
            let how = hang_up_kind(self.call.status);
            let timeout = self.ctx.settings.provider_reply_timeout;
            tokio::spawn(async move {
                let result = ask(&gateway, |tx| GatewayMsg::HangUp(id, how, tx), timeout).await;
                if let Ok(Err(error)) | Err(error) = result.map_err(gateway_error) {
                    tracing::warn!(%error, "hang-up of a timed-out call failed");
                }
            });
        }
    }

    /// The call is over: give back its slot and stop.
    fn conclude(&mut self, myself: &ActorRef<CallMsg>) {
        if std::mem::replace(&mut self.concluded, true) {
            return;
        }
        let _ = self.ctx.broker.get().cast(BrokerMsg::Release {
            client: self.call.client_id,
            call: self.call.id,
        });
        metrics::counter!("callvisor_calls_finished_total", "status" => self.call.status.as_str())
            .increment(1);
        self.ctx.report_end(&self.call);
        if let Some(reply) = self.pending_cancel.take() {
            let _ = reply.send(Err(CancelError::AlreadyFinal(self.call.status)));
        }
        myself.stop(Some(format!("call {}", self.call.status)));
    }

    fn remaining_timeout(&self) -> Duration {
        let deadline = self.call.last_heard_at
            + chrono::Duration::from_std(self.ctx.settings.call_timeout).unwrap_or_default();
        (deadline - self.ctx.clock.now())
            .to_std()
            .unwrap_or(Duration::ZERO)
    }

    fn arm_timeout(&self, myself: &ActorRef<CallMsg>) {
        let wait = self.remaining_timeout();
        // While a dial waits in the gateway, look again a minute later.
        let wait = if wait.is_zero() && (self.dial_in_flight || self.warming) {
            Duration::from_secs(60)
        } else {
            wait
        };
        myself.send_after(wait, || CallMsg::CheckTimeout);
    }

    /// Sends a request to the gateway from a task and delivers the answer as a message,
    /// so the actor keeps handling webhooks and cancels while the provider thinks.
    fn ask_gateway<T, B, W>(&self, myself: &ActorRef<CallMsg>, build: B, wrap: W)
    where
        T: Send + 'static,
        B: FnOnce(RpcReplyPort<Result<T, ProviderError>>) -> GatewayMsg + Send + 'static,
        W: FnOnce(Result<T, ProviderError>) -> CallMsg + Send + 'static,
    {
        let gateway = self.ctx.gateway.get();
        let timeout = self.ctx.settings.provider_reply_timeout;
        let me = myself.clone();
        tokio::spawn(async move {
            let result = ask(&gateway, build, timeout)
                .await
                .map_err(gateway_error)
                .and_then(|r| r);
            // A stopped actor drops the message: the call was settled another way.
            let _ = me.send_message(wrap(result));
        });
    }
}

/// How long a cancel waits for the provider to hang up before telling the caller it
/// could not (the hang-up still goes out when the provider can take it).
const CANCEL_TIMEOUT: Duration = Duration::from_secs(30);

/// A gateway that does not answer leaves the request's outcome unknown.
fn gateway_error(e: AskError) -> ProviderError {
    match e {
        AskError::TimedOut(_) => ProviderError::Ambiguous,
        AskError::Gone => ProviderError::Connect("provider gateway is not running".into()),
    }
}

/// An unanswered call is canceled; an answered one is hung up.
fn hang_up_kind(status: CallStatus) -> HangUp {
    if status == CallStatus::InProgress {
        HangUp::Complete
    } else {
        HangUp::Cancel
    }
}

/// The failure reason of a create-call request that failed for sure.
fn dial_failure_reason(error: &ProviderError) -> Option<FailureReason> {
    Some(match error {
        e if e.is_invalid_number() => FailureReason::InvalidNumber,
        ProviderError::RateLimited { .. } => FailureReason::RateLimited,
        ProviderError::Unavailable { .. } => FailureReason::ApiUnavailable,
        _ => FailureReason::NetworkError,
    })
}
