//! The SyncActor: reconciles callvisor's calls with the provider's call records.
//!
//! Webhooks get lost; the provider's records do not. On a timer (and when asked) a run
//! reads every provider call that started since the last successful run (the adapter
//! pages through the provider's list) and, record by record: hands a live call the
//! final status it missed, so its actor ends and returns its slot; gives a finished
//! call the duration, price and recording it lacks; adopts a call whose dial was lost
//! before the provider's id came back; and creates the calls the provider made from an
//! agent's number that callvisor never knew of. Each run is recorded in `sync_status`,
//! `in_progress` first, then `success` or `failed` with its counts.
//!
//! A run works in a task; the actor only starts runs and answers. A trigger while a run
//! is under way waits for that run instead of starting a second one.

use super::context::MonitorContext;
use super::reconcile::{adoptable, change_for, missed_call, observation_of, Change};
use super::sync::{SyncCounts, SyncRun, SyncStatus, SyncTrigger, BULK_CALL_DETAILS};
use super::waiters::Waiters;
use crate::calls::{CallSupervisorMsg, WebhookOutcome};
use crate::domain::{Call, CallEvent, CallStatus, EventSource, Observation};
use crate::gateway::GatewayMsg;
use crate::ports::{CallListQuery, ProviderCallRecord, StoreError};
use crate::rpc::ask;
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Messages to the SyncActor.
pub enum SyncMsg {
    /// Time for a scheduled run.
    Tick,
    /// Run now (or join the run under way) and answer with the finished run.
    Trigger(RpcReplyPort<SyncRun>),
    /// A run finished.
    Finished(SyncRun),
}

/// How long routing one observation to its call may take.
const ROUTE_TIMEOUT: Duration = Duration::from_secs(15);

/// The SyncActor.
pub struct SyncActor;

/// Its state.
pub struct SyncState {
    ctx: Arc<MonitorContext>,
    /// Who waits for the run under way, if one is.
    running: Waiters<SyncRun>,
}

#[ractor::async_trait]
impl Actor for SyncActor {
    type Msg = SyncMsg;
    type State = SyncState;
    type Arguments = Arc<MonitorContext>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<MonitorContext>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let interrupted = ctx.store.fail_interrupted_syncs(ctx.clock.now()).await?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "sync runs interrupted by a stop marked failed"
            );
        }
        Ok(SyncState {
            ctx,
            running: Waiters::default(),
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(every) = state.ctx.settings.sync.interval {
            myself.send_interval(every, || SyncMsg::Tick);
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
            SyncMsg::Tick => state.start(&myself, None, SyncTrigger::Schedule),
            SyncMsg::Trigger(reply) => state.start(&myself, Some(reply), SyncTrigger::Manual),
            SyncMsg::Finished(run) => {
                publish(&run);
                state.running.finish(&run);
            }
        }
        Ok(())
    }
}

impl SyncState {
    fn start(
        &mut self,
        myself: &ActorRef<SyncMsg>,
        reply: Option<RpcReplyPort<SyncRun>>,
        trigger: SyncTrigger,
    ) {
        if !self.running.join(reply) {
            return;
        }
        let ctx = Arc::clone(&self.ctx);
        let me = myself.clone();
        tokio::spawn(async move {
            let run = run(&ctx, trigger).await;
            let _ = me.send_message(SyncMsg::Finished(run));
        });
    }
}

/// One whole run, recorded before and after.
async fn run(ctx: &MonitorContext, trigger: SyncTrigger) -> SyncRun {
    let started = ctx.clock.now();
    let mut run = SyncRun {
        id: Uuid::now_v7(),
        sync_type: BULK_CALL_DETAILS.to_string(),
        trigger,
        status: SyncStatus::InProgress,
        started_at: started,
        finished_at: None,
        window_start: started,
        window_end: started,
        counts: SyncCounts::default(),
        error: None,
    };
    let outcome = async {
        let text = |e: StoreError| e.to_string();
        let live = ctx.store.live_calls().await.map_err(text)?;
        run.window_start = window_start(ctx, &live, started).await.map_err(text)?;
        ctx.store.save_sync_run(&run).await.map_err(text)?;
        let records = list(ctx, &run).await?;
        run.counts.fetched = records.len() as u64;
        Reconciler {
            ctx,
            live,
            run_id: run.id,
        }
        .all(records, &mut run.counts)
        .await
    }
    .await;
    run.finished_at = Some(ctx.clock.now());
    match outcome {
        Ok(()) => run.status = SyncStatus::Success,
        Err(error) => {
            tracing::error!(%error, "sync run failed");
            run.status = SyncStatus::Failed;
            run.error = Some(error);
        }
    }
    if let Err(e) = ctx.store.save_sync_run(&run).await {
        tracing::error!(error = %e, "could not record the sync run");
    }
    run
}

/// Where a run starts reading: shortly before the last successful run ended, and early
/// enough for every call still live here; the first run ever looks back the lookback.
async fn window_start(
    ctx: &MonitorContext,
    live: &[Call],
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, StoreError> {
    let s = &ctx.settings.sync;
    let overlap = chrono::Duration::from_std(s.overlap).unwrap_or_default();
    let lookback = chrono::Duration::from_std(s.lookback).unwrap_or_default();
    let since_last = ctx
        .store
        .last_successful_sync()
        .await?
        .map(|last| last.window_end - overlap)
        .unwrap_or(now - lookback);
    let oldest_live = live
        .iter()
        .filter_map(|c| c.dial_started_at)
        .min()
        .map(|at| at - overlap);
    Ok(oldest_live.map_or(since_last, |at| at.min(since_last)))
}

/// The provider's records of the run's window.
async fn list(ctx: &MonitorContext, run: &SyncRun) -> Result<Vec<ProviderCallRecord>, String> {
    let query = CallListQuery {
        started_after: run.window_start,
        started_before: run.window_end,
        to: None,
    };
    let timeout = ctx.settings.sync.request_timeout;
    ask(
        &ctx.gateway.get(),
        |tx| GatewayMsg::ListCalls(query, tx),
        timeout,
    )
    .await
    .map_err(|e| format!("provider gateway: {e}"))?
    .map_err(|e| format!("listing the provider's calls: {e}"))
}

/// Reconciles the records of one run.
struct Reconciler<'a> {
    ctx: &'a MonitorContext,
    /// Calls live when the run began: the candidates for adoption.
    live: Vec<Call>,
    run_id: Uuid,
}

impl Reconciler<'_> {
    async fn all(
        mut self,
        records: Vec<ProviderCallRecord>,
        counts: &mut SyncCounts,
    ) -> Result<(), String> {
        for record in records {
            self.one(&record, counts).await.map_err(|e| {
                format!("reconciling provider call {}: {e}", record.provider_call_id)
            })?;
        }
        Ok(())
    }

    async fn one(
        &mut self,
        record: &ProviderCallRecord,
        counts: &mut SyncCounts,
    ) -> Result<(), String> {
        let mut observation = observation_of(record);
        let Some(local) = self.local(record).await? else {
            return self.unknown(record, observation, counts).await;
        };
        self.add_recording(&local, record, &mut observation).await;
        let now = self.ctx.clock.now();
        match change_for(&local, &observation, now) {
            Change::None => counts.unchanged += 1,
            Change::Conflict { details } => {
                counts.conflicting += 1;
                self.log_conflict(&local, record).await;
                if details {
                    self.route(&local, observation, counts).await?;
                }
            }
            Change::Apply => self.route(&local, observation, counts).await?,
        }
        Ok(())
    }

    /// The local call a record is about, by the provider's id (or the id it replaced).
    async fn local(&self, record: &ProviderCallRecord) -> Result<Option<Call>, String> {
        let provider = &self.ctx.provider_name;
        let ids = std::iter::once(&record.provider_call_id).chain(&record.observation.supersedes);
        for id in ids {
            let found = self.ctx.store.find_by_provider_id(provider, id).await;
            if let Some(call) = found.map_err(|e| e.to_string())? {
                return Ok(Some(call));
            }
        }
        Ok(None)
    }

    /// A record no local call names: a lost dial to adopt, a call to create, or neither.
    async fn unknown(
        &mut self,
        record: &ProviderCallRecord,
        observation: Observation,
        counts: &mut SyncCounts,
    ) -> Result<(), String> {
        if let Some(lost) = adoptable(record, &self.live).cloned() {
            self.live.retain(|c| c.id != lost.id);
            counts.adopted += 1;
            return self.route(&lost, observation, counts).await;
        }
        let owner = self
            .ctx
            .store
            .agent_by_caller_id(&record.from)
            .await
            .map_err(|e| e.to_string())?;
        let now = self.ctx.clock.now();
        let made = owner.and_then(|o| missed_call(record, &o, &self.ctx.provider_name, now));
        let Some(call) = made else {
            counts.unmatched += 1;
            self.log(
                "sync.unmatched_call",
                record,
                "a provider call no local call or agent claims",
            )
            .await;
            return Ok(());
        };
        let detail = json!({"syncRun": self.run_id, "providerCallId": record.provider_call_id});
        let event = CallEvent::new(
            call.id,
            EventSource::Provider,
            "created_by_sync",
            true,
            detail,
            now,
        );
        self.ctx
            .store
            .insert_calls(&[call], &[event])
            .await
            .map_err(|e| e.to_string())?;
        metrics::counter!("callvisor_calls_finished_total", "status" => observation.status.as_str())
            .increment(1);
        counts.created += 1;
        Ok(())
    }

    /// Hands the observation to the call's owner: its actor if live, else the record.
    async fn route(
        &self,
        call: &Call,
        observation: Observation,
        counts: &mut SyncCounts,
    ) -> Result<(), String> {
        let was_live = call.is_live();
        let detail = json!({"syncRun": self.run_id, "fetched": observation.provider_status});
        let supervisor = self.ctx.calls.get();
        let outcome = ask(
            &supervisor,
            |reply| CallSupervisorMsg::Reconcile {
                call: call.id,
                observation,
                detail,
                reply,
            },
            ROUTE_TIMEOUT,
        )
        .await
        .map_err(|e| format!("call supervisor: {e}"))??;
        counts.updated += 1;
        if let WebhookOutcome::Routed(o) = outcome {
            if was_live && o.status.is_final() {
                counts.ended += 1;
            }
        }
        Ok(())
    }

    /// Looks up the recording of an answered call whose record carries none.
    async fn add_recording(
        &self,
        local: &Call,
        record: &ProviderCallRecord,
        observation: &mut Observation,
    ) {
        let answered = observation.status == CallStatus::Completed
            && observation.duration_seconds.unwrap_or(0) > 0;
        if !self.ctx.settings.sync.fetch_recordings
            || !answered
            || observation.recording_url.is_some()
            || local.recording_url.is_some()
        {
            return;
        }
        let id = record.provider_call_id.clone();
        let timeout = self.ctx.settings.sync.request_timeout;
        match ask(
            &self.ctx.gateway.get(),
            |tx| GatewayMsg::RecordingUrl(id, tx),
            timeout,
        )
        .await
        {
            Ok(Ok(url)) => observation.recording_url = url,
            Ok(Err(e)) => tracing::warn!(error = %e, "could not look up a recording"),
            Err(e) => tracing::warn!(error = %e, "could not look up a recording"),
        }
    }

    async fn log_conflict(&self, local: &Call, record: &ProviderCallRecord) {
        let message = format!(
            "call {} ended {} here and {} at the provider; it stays {}",
            local.id, local.status, record.observation.status, local.status
        );
        self.log("sync.status_conflict", record, &message).await;
    }

    /// Writes an entry of the event log (best effort: a failed write is only logged).
    async fn log(&self, kind: &str, record: &ProviderCallRecord, message: &str) {
        let entry = super::alert::LogEntry {
            id: Uuid::now_v7(),
            at: self.ctx.clock.now(),
            level: super::alert::Level::Info,
            kind: kind.to_string(),
            subject: record.provider_call_id.clone(),
            message: message.to_string(),
            detail: json!({
                "syncRun": self.run_id,
                "providerStatus": record.observation.provider_status,
                "startedAt": record.started_at,
            }),
        };
        if let Err(e) = self.ctx.store.append_log(&entry).await {
            tracing::warn!(error = %e, "could not write to the event log");
        }
    }
}

/// Exports a finished run.
fn publish(run: &SyncRun) {
    metrics::counter!("callvisor_sync_runs_total", "status" => run.status.as_str()).increment(1);
    for (result, n) in run.counts.named() {
        metrics::counter!("callvisor_sync_records_total", "result" => result).increment(n);
    }
    if let Some(finished) = run.finished_at {
        let took = (finished - run.started_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("callvisor_sync_duration_seconds").record(took);
        if run.status == SyncStatus::Success {
            metrics::gauge!("callvisor_sync_last_success_timestamp_seconds")
                .set(finished.timestamp_millis() as f64 / 1000.0);
        }
    }
}
