//! The CallSupervisor: places new calls, routes webhooks and cancels to the CallActor of
//! each live call, and restarts CallActors that fail.
//!
//! Calls whose time has not come (scheduled calls, retries in their backoff) have no
//! actor yet: the supervisor keeps them in a timetable and gives each its actor when it
//! comes due, so a month of scheduled calls costs a few bytes each, not an actor each.
//! When an occurrence of a repeating call comes due, its series' next occurrence is
//! made in the same transaction that records it, before its actor starts.
//!
//! A failed CallActor is rebuilt from its persisted record; one that keeps failing (more
//! than the restart policy allows) has its call marked `failed` with the reason
//! `supervisor_gave_up` and its slot returned. At start-up, every call left live in
//! storage gets its actor back, with the rest of its timeout.

use super::call_actor::{
    CallActor, CallActorArgs, CallMsg, CancelError, ObserveOutcome, StartMode,
};
use super::context::CallContext;
use crate::broker::{BrokerMsg, SlotDenied};
use crate::domain::{
    Call, CallEvent, CallId, CallRequest, CallStatus, EventSource, FailureReason, Observation,
};
use crate::rpc::{ask, AskError};
use crate::supervision::{RestartHistory, RestartPolicy};
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often an observation is routed again when its call's actor stopped first.
const MAX_REROUTES: u8 = 5;
/// How long a rerouted observation waits for the supervisor to see the actor stop.
const REROUTE_DELAY: Duration = Duration::from_millis(50);

/// An observation on its way to a call.
struct Route {
    target: CallRef,
    observation: Observation,
    source: EventSource,
    detail: Value,
    /// Times it was routed again already.
    hops: u8,
}

impl Route {
    fn new(target: CallRef, observation: Observation, source: EventSource, detail: Value) -> Self {
        Self {
            target,
            observation,
            source,
            detail,
            hops: 0,
        }
    }
}

/// A call to place now.
#[derive(Clone, Debug)]
pub struct NewCall {
    pub request: CallRequest,
    /// The client's concurrent-call limit at the time of the request.
    pub client_limit: u32,
}

/// Why a call was not placed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PlaceError {
    #[error("{0}")]
    NoSlot(SlotDenied),
    #[error("{0}")]
    Internal(String),
}

/// Which call a webhook is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallRef {
    /// Our id, from the status-callback URL.
    Id(CallId),
    /// The provider's id, when the callback carries no id of ours.
    Provider(String),
}

/// What became of a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// A live call's actor took it.
    Routed(ObserveOutcome),
    /// The call is over; the webhook was kept in its history and changed nothing.
    RecordedOnFinishedCall(CallStatus),
    /// No such call.
    UnknownCall,
}

/// Messages to the CallSupervisor.
pub enum CallSupervisorMsg {
    /// Place a call now, with a slot granted at once or refused.
    Place(NewCall, RpcReplyPort<Result<Call, PlaceError>>),
    /// Accept calls that wait for their time and then for a slot in the fair line
    /// (bulk and scheduled calls); all are persisted before the reply.
    Enqueue(
        Vec<CallRequest>,
        RpcReplyPort<Result<Vec<Call>, PlaceError>>,
    ),
    /// Take over a call already persisted (a retry made by a CallActor).
    Adopt(Box<Call>),
    /// Calls in the timetable may have come due.
    Wake,
    Webhook {
        call: CallRef,
        observation: Observation,
        detail: Value,
        reply: RpcReplyPort<Result<WebhookOutcome, String>>,
    },
    Cancel(CallId, RpcReplyPort<Result<Call, CancelError>>),
    /// Cancel those of these calls that have not been dialed yet.
    Withdraw(Vec<CallId>),
    /// What the provider's records say about a call, found by reconciliation: routed
    /// like a webhook (to the live call's actor, or kept on a finished call), recorded
    /// as coming from the provider.
    Reconcile {
        call: CallId,
        observation: Observation,
        detail: Value,
        reply: RpcReplyPort<Result<WebhookOutcome, String>>,
    },
    /// How many calls are live (have an actor).
    LiveCount(RpcReplyPort<usize>),
    /// An observation whose call's actor stopped before taking it, routed again
    /// (`hops` times so far) once the supervisor has seen the actor stop.
    Reroute {
        call: CallId,
        observation: Observation,
        source: EventSource,
        detail: Value,
        hops: u8,
        reply: RpcReplyPort<Result<WebhookOutcome, String>>,
    },
}

/// Arguments of the CallSupervisor.
pub struct CallSupervisorArgs {
    pub ctx: Arc<CallContext>,
    pub restart_policy: RestartPolicy,
}

/// The CallSupervisor.
pub struct CallSupervisor;

/// The CallSupervisor's state.
pub struct CallSupervisorState {
    ctx: Arc<CallContext>,
    policy: RestartPolicy,
    by_actor: HashMap<ActorId, CallId>,
    by_call: HashMap<CallId, ActorRef<CallMsg>>,
    restarts: HashMap<CallId, RestartHistory>,
    /// Calls waiting for their time, by the time.
    timetable: BTreeSet<(DateTime<Utc>, CallId)>,
    /// The time each call of the timetable waits for.
    due_at: HashMap<CallId, DateTime<Utc>>,
    /// When the next [`CallSupervisorMsg::Wake`] is due, if one is set.
    wake_at: Option<DateTime<Utc>>,
}

/// Longest sleep between two looks at the timetable: wall-clock time and the runtime's
/// timers drift apart over long waits, so a far-off call is checked again hourly.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

const BROKER_TIMEOUT: Duration = Duration::from_secs(5);

#[ractor::async_trait]
impl Actor for CallSupervisor {
    type Msg = CallSupervisorMsg;
    type State = CallSupervisorState;
    type Arguments = CallSupervisorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: CallSupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(CallSupervisorState {
            ctx: args.ctx,
            policy: args.restart_policy,
            by_actor: HashMap::new(),
            by_call: HashMap::new(),
            restarts: HashMap::new(),
            timetable: BTreeSet::new(),
            due_at: HashMap::new(),
            wake_at: None,
        })
    }

    /// Gives every call left live in storage its actor back.
    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let live = state.ctx.store.live_calls().await?;
        let slots = live
            .iter()
            .filter(|c| c.slot_granted_at.is_some())
            .map(|c| (c.client_id, c.id))
            .collect();
        state.ctx.broker.get().cast(BrokerMsg::Restore(slots))?;
        let count = live.len();
        for call in live {
            state.activate(&myself, call, StartMode::Recovered).await?;
        }
        if count > 0 {
            tracing::info!(
                calls = count,
                waiting_for_their_time = state.due_at.len(),
                "recovered live calls"
            );
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
            CallSupervisorMsg::Place(new_call, reply) => {
                let result = state.place(&myself, new_call).await;
                let _ = reply.send(result);
            }
            CallSupervisorMsg::Enqueue(requests, reply) => {
                let result = state.enqueue(&myself, requests).await;
                let _ = reply.send(result);
            }
            CallSupervisorMsg::Adopt(call) => {
                state.activate(&myself, *call, StartMode::Fresh).await?;
            }
            CallSupervisorMsg::Wake => state.wake(&myself).await?,
            CallSupervisorMsg::Webhook {
                call,
                observation,
                detail,
                reply,
            } => {
                let route = Route::new(call, observation, EventSource::Webhook, detail);
                state.route(&myself, route, reply).await
            }
            CallSupervisorMsg::Reconcile {
                call,
                observation,
                detail,
                reply,
            } => {
                let route = Route::new(
                    CallRef::Id(call),
                    observation,
                    EventSource::Provider,
                    detail,
                );
                state.route(&myself, route, reply).await
            }
            CallSupervisorMsg::Reroute {
                call,
                observation,
                source,
                detail,
                hops,
                reply,
            } => {
                let route = Route {
                    target: CallRef::Id(call),
                    observation,
                    source,
                    detail,
                    hops,
                };
                state.route(&myself, route, reply).await
            }
            CallSupervisorMsg::Cancel(id, reply) => match state.by_call.get(&id) {
                Some(actor) => {
                    let _ = actor.cast(CallMsg::Cancel(reply));
                }
                None if state.due_at.contains_key(&id) => {
                    let _ = reply.send(state.cancel_before_due(id).await?);
                }
                None => {
                    let status = state.ctx.store.load_call(id).await?.map(|c| c.status);
                    let _ = reply.send(Err(match status {
                        Some(s) => CancelError::AlreadyFinal(s),
                        None => CancelError::NotLive,
                    }));
                }
            },
            CallSupervisorMsg::Withdraw(ids) => {
                for id in ids {
                    if let Some(actor) = state.by_call.get(&id) {
                        let _ = actor.cast(CallMsg::Withdraw);
                    }
                }
            }
            CallSupervisorMsg::LiveCount(reply) => {
                let _ = reply.send(state.by_call.len());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                state.forget(cell.get_id());
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                if let Some(id) = state.forget(cell.get_id()) {
                    tracing::error!(call = %id, %error, "call actor failed");
                    state.restart(&myself, id, &error.to_string()).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl CallSupervisorState {
    async fn place(
        &mut self,
        myself: &ActorRef<CallSupervisorMsg>,
        new: NewCall,
    ) -> Result<Call, PlaceError> {
        let now = self.ctx.clock.now();
        let call = Call::queued(new.request, &self.ctx.provider_name, now);
        let broker = self.ctx.broker.get();
        let granted = ask(
            &broker,
            |reply| BrokerMsg::Acquire {
                client: call.client_id,
                call: call.id,
                client_limit: new.client_limit,
                reply,
            },
            BROKER_TIMEOUT,
        )
        .await
        .map_err(|e: AskError| PlaceError::Internal(format!("concurrency broker: {e}")))?;
        granted.map_err(PlaceError::NoSlot)?;

        let mut call = call;
        call.slot_granted_at = Some(now);
        let created = CallEvent::new(call.id, EventSource::Api, "created", true, json!({}), now);
        let placed = async {
            self.ctx
                .store
                .save_call(&call, &[created])
                .await
                .map_err(|e| PlaceError::Internal(e.to_string()))?;
            self.spawn(myself, call.clone(), StartMode::Fresh)
                .await
                .map_err(|e| PlaceError::Internal(e.to_string()))
        }
        .await;
        if placed.is_err() {
            let _ = broker.cast(BrokerMsg::Release {
                client: call.client_id,
                call: call.id,
            });
        }
        placed.map(|_| call)
    }

    /// Persists calls that wait (for their time, then for a slot) and activates them.
    async fn enqueue(
        &mut self,
        myself: &ActorRef<CallSupervisorMsg>,
        requests: Vec<CallRequest>,
    ) -> Result<Vec<Call>, PlaceError> {
        let now = self.ctx.clock.now();
        let calls: Vec<Call> = requests
            .into_iter()
            .map(|r| Call::queued(r, &self.ctx.provider_name, now))
            .collect();
        let events: Vec<CallEvent> = calls
            .iter()
            .map(|c| {
                let detail = json!({"notBefore": c.not_before, "lane": c.lane().key()});
                CallEvent::new(c.id, EventSource::Api, "created", true, detail, now)
            })
            .collect();
        self.ctx
            .store
            .insert_calls(&calls, &events)
            .await
            .map_err(|e| PlaceError::Internal(e.to_string()))?;
        for call in &calls {
            self.activate(myself, call.clone(), StartMode::Fresh)
                .await
                .map_err(|e| PlaceError::Internal(e.to_string()))?;
        }
        Ok(calls)
    }

    /// Puts a live call where it belongs: in the timetable until its time comes, else
    /// with an actor of its own. A repeating call coming due first gets its series' next
    /// occurrence made (persisted with it, once), which goes into the timetable.
    async fn activate(
        &mut self,
        myself: &ActorRef<CallSupervisorMsg>,
        mut call: Call,
        mode: StartMode,
    ) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        if call.is_pending(now) {
            let at = call.not_before.unwrap_or(now);
            self.timetable.insert((at, call.id));
            self.due_at.insert(call.id, at);
            metrics::gauge!("callvisor_calls_waiting_for_their_time").set(self.due_at.len() as f64);
            self.arm_wake(myself);
            return Ok(());
        }
        if let Some(next) = call.next_occurrence(now) {
            call.next_occurrence_id = Some(next.id);
            call.updated_at = now;
            let detail = json!({"nextOccurrenceId": next.id, "occurrence": next.occurrence, "notBefore": next.not_before});
            let due = CallEvent::new(
                call.id,
                EventSource::Actor,
                "occurrence_due",
                true,
                detail,
                now,
            );
            let created = CallEvent::new(
                next.id,
                EventSource::Actor,
                "created",
                true,
                json!({"seriesId": next.series_id, "occurrence": next.occurrence, "notBefore": next.not_before}),
                now,
            );
            let store = &self.ctx.store;
            if store
                .save_with_follow_up(&call, &[due], &next, &[created])
                .await?
            {
                metrics::counter!("callvisor_scheduled_occurrences_total").increment(1);
                Box::pin(self.activate(myself, next, StartMode::Fresh)).await?;
            }
        }
        self.spawn(myself, call, mode).await
    }

    /// Sets a wake-up for the timetable's first call, unless one is set early enough.
    fn arm_wake(&mut self, myself: &ActorRef<CallSupervisorMsg>) {
        let Some((first, _)) = self.timetable.first().copied() else {
            return;
        };
        if self.wake_at.is_some_and(|at| at <= first) {
            return;
        }
        let now = self.ctx.clock.now();
        let wait = (first - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_SLEEP);
        self.wake_at = Some(now + chrono::Duration::from_std(wait).unwrap_or_default());
        myself.send_after(wait, || CallSupervisorMsg::Wake);
    }

    /// Gives every call whose time has come its actor, then sets the next wake-up.
    async fn wake(
        &mut self,
        myself: &ActorRef<CallSupervisorMsg>,
    ) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        if self.wake_at.is_none_or(|at| at <= now) {
            self.wake_at = None; // this is that wake-up (an earlier, stale one keeps it)
        }
        while let Some((at, id)) = self.timetable.first().copied() {
            if at > now {
                break;
            }
            self.timetable.pop_first();
            self.due_at.remove(&id);
            match self.ctx.store.load_call(id).await? {
                Some(call) if call.is_live() => {
                    self.activate(myself, call, StartMode::Fresh).await?
                }
                _ => {}
            }
        }
        metrics::gauge!("callvisor_calls_waiting_for_their_time").set(self.due_at.len() as f64);
        self.arm_wake(myself);
        Ok(())
    }

    /// Cancels a call that is still waiting for its time: it never dials.
    async fn cancel_before_due(
        &mut self,
        id: CallId,
    ) -> Result<Result<Call, CancelError>, ActorProcessingErr> {
        let Some(at) = self.due_at.remove(&id) else {
            return Ok(Err(CancelError::NotLive));
        };
        self.timetable.remove(&(at, id));
        metrics::gauge!("callvisor_calls_waiting_for_their_time").set(self.due_at.len() as f64);
        let Some(mut call) = self.ctx.store.load_call(id).await? else {
            return Ok(Err(CancelError::NotLive));
        };
        let now = self.ctx.clock.now();
        call.finish(CallStatus::Canceled, Some(FailureReason::Canceled), now);
        let event = CallEvent::new(
            id,
            EventSource::Api,
            "canceled",
            true,
            json!({"beforeDue": at}),
            now,
        );
        self.ctx.store.save_call(&call, &[event]).await?;
        metrics::counter!("callvisor_calls_finished_total", "status" => "canceled").increment(1);
        Ok(Ok(call))
    }

    async fn spawn(
        &mut self,
        myself: &ActorRef<CallSupervisorMsg>,
        call: Call,
        mode: StartMode,
    ) -> Result<(), ActorProcessingErr> {
        let id = call.id;
        let args = CallActorArgs {
            call,
            ctx: Arc::clone(&self.ctx),
            mode,
        };
        let (actor, _) = Actor::spawn_linked(None, CallActor, args, myself.get_cell()).await?;
        self.by_actor.insert(actor.get_id(), id);
        self.by_call.insert(id, actor);
        metrics::gauge!("callvisor_active_calls").set(self.by_call.len() as f64);
        Ok(())
    }

    fn forget(&mut self, actor: ActorId) -> Option<CallId> {
        let id = self.by_actor.remove(&actor)?;
        self.by_call.remove(&id);
        metrics::gauge!("callvisor_active_calls").set(self.by_call.len() as f64);
        Some(id)
    }

    /// Rebuilds a failed CallActor from storage, or gives up on the call.
    async fn restart(
        &mut self,
        myself: &ActorRef<CallSupervisorMsg>,
        id: CallId,
        error: &str,
    ) -> Result<(), ActorProcessingErr> {
        metrics::counter!("callvisor_actor_restarts_total", "actor" => "call").increment(1);
        self.ctx.signals.restarted();
        let Some(mut call) = self.ctx.store.load_call(id).await? else {
            return Ok(());
        };
        if !call.is_live() {
            let _ = self.ctx.broker.get().cast(BrokerMsg::Release {
                client: call.client_id,
                call: id,
            });
            return Ok(());
        }
        let allowed = self
            .restarts
            .entry(id)
            .or_default()
            .allow_restart(self.policy, Instant::now());
        if allowed {
            return self.spawn(myself, call, StartMode::Recovered).await;
        }
        tracing::error!(call = %id, "call actor keeps failing; marking the call failed");
        self.restarts.remove(&id);
        let now = self.ctx.clock.now();
        call.finish(
            CallStatus::Failed,
            Some(FailureReason::SupervisorGaveUp),
            now,
        );
        let event = CallEvent::new(
            id,
            EventSource::Actor,
            "supervisor_gave_up",
            true,
            json!({"lastError": error}),
            now,
        );
        self.ctx.store.save_call(&call, &[event]).await?;
        let _ = self.ctx.broker.get().cast(BrokerMsg::Release {
            client: call.client_id,
            call: id,
        });
        metrics::counter!("callvisor_calls_finished_total", "status" => "failed").increment(1);
        self.ctx.report_end(&call);
        Ok(())
    }

    /// Hands an observation to the live call's actor, or keeps it on a finished call.
    ///
    /// An actor can stop between the lookup and the delivery (its call just ended, or it
    /// failed and is being restarted): the observation is then routed again, a moment
    /// later, to the restarted actor or onto the finished call — never dropped.
    async fn route(
        &mut self,
        myself: &ActorRef<CallSupervisorMsg>,
        route: Route,
        reply: RpcReplyPort<Result<WebhookOutcome, String>>,
    ) {
        let Route {
            target,
            observation,
            source,
            detail,
            hops,
        } = route;
        let found = match &target {
            CallRef::Id(id) => match self.by_call.get(id) {
                Some(_) => Ok(Some(*id)),
                None => self.ctx.store.load_call(*id).await.map(|c| c.map(|c| c.id)),
            },
            CallRef::Provider(pid) => self
                .ctx
                .store
                .find_by_provider_id(&self.ctx.provider_name, pid)
                .await
                .map(|c| c.map(|c| c.id)),
        };
        let id = match found {
            Ok(Some(id)) => id,
            Ok(None) => {
                let _ = reply.send(Ok(WebhookOutcome::UnknownCall));
                return;
            }
            Err(e) => {
                let _ = reply.send(Err(e.to_string()));
                return;
            }
        };
        if let Some(actor) = self.by_call.get(&id) {
            let actor = actor.clone();
            let supervisor = myself.clone();
            // The actor answers; the supervisor does not wait for it.
            tokio::spawn(async move {
                let (again, again_detail) = (observation.clone(), detail.clone());
                let answer = ask(
                    &actor,
                    |tx| CallMsg::Observe {
                        observation,
                        source,
                        detail,
                        reply: Some(tx),
                    },
                    Duration::from_secs(10),
                )
                .await;
                match answer {
                    Ok(outcome) => {
                        let _ = reply.send(Ok(WebhookOutcome::Routed(outcome)));
                    }
                    Err(AskError::Gone) if hops < MAX_REROUTES => {
                        tokio::time::sleep(REROUTE_DELAY).await;
                        let _ = supervisor.cast(CallSupervisorMsg::Reroute {
                            call: id,
                            observation: again,
                            source,
                            detail: again_detail,
                            hops: hops + 1,
                            reply,
                        });
                    }
                    Err(e) => {
                        let _ = reply.send(Err(format!("call actor: {e}")));
                    }
                }
            });
            return;
        }
        let answer = self
            .record_on_finished_call(id, &observation, source, detail)
            .await;
        let _ = reply.send(answer);
    }

    /// An observation of a call that is over: kept in the history, changing nothing but
    /// the details the call lacked.
    async fn record_on_finished_call(
        &self,
        id: CallId,
        observation: &Observation,
        source: EventSource,
        detail: Value,
    ) -> Result<WebhookOutcome, String> {
        let Some(mut call) = self
            .ctx
            .store
            .load_call(id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(WebhookOutcome::UnknownCall);
        };
        let kind = observation
            .provider_status
            .clone()
            .unwrap_or_else(|| observation.status.as_str().to_string());
        let mut event = CallEvent::new(id, source, kind, false, detail, self.ctx.clock.now());
        event.sequence = observation.sequence;
        // A late duplicate may still carry what the first one lacked (price, recording).
        let saved = if call.absorb_details(observation) {
            self.ctx.store.save_call(&call, &[event]).await
        } else {
            self.ctx.store.append_events(&[event]).await
        };
        saved.map_err(|e| e.to_string())?;
        Ok(WebhookOutcome::RecordedOnFinishedCall(call.status))
    }
}
