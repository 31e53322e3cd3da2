//! The RetentionActor: deletes health checks, event-log entries, resolved alerts and the
//! event histories of ended calls once they are older than their configured age, so
//! these tables do not grow forever. Each clean-up deletes exactly the records strictly
//! older than now minus the age (for call histories: of calls that ended before it).

use super::context::MonitorContext;
use crate::ports::RetainedKind;
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Messages to the RetentionActor.
pub enum RetentionMsg {
    /// Time for a clean-up.
    Tick,
    /// Clean up now and answer how many records of each kind went.
    RunNow(RpcReplyPort<BTreeMap<&'static str, u64>>),
}

/// The RetentionActor.
pub struct RetentionActor;

#[ractor::async_trait]
impl Actor for RetentionActor {
    type Msg = RetentionMsg;
    type State = Arc<MonitorContext>;
    type Arguments = Arc<MonitorContext>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: Arc<MonitorContext>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(ctx)
    }

    async fn post_start(
        &self,
        myself: ActorRef<Self::Msg>,
        ctx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(every) = ctx.settings.retention.interval {
            myself.send_interval(every, || RetentionMsg::Tick);
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        ctx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let deleted = clean_up(ctx, ctx.clock.now()).await;
        if let RetentionMsg::RunNow(reply) = message {
            let _ = reply.send(deleted);
        }
        Ok(())
    }
}

/// The age after which records of `kind` go, if they ever do.
fn age_of(ctx: &MonitorContext, kind: RetainedKind) -> Option<Duration> {
    let r = &ctx.settings.retention;
    match kind {
        RetainedKind::HealthChecks => r.health_checks,
        RetainedKind::EventLog => r.event_log,
        RetainedKind::ResolvedAlerts => r.resolved_alerts,
        RetainedKind::CallEvents => r.call_events,
    }
}

/// Deletes what is too old, kind by kind; a kind that fails is logged and tried again
/// at the next clean-up.
async fn clean_up(ctx: &MonitorContext, now: DateTime<Utc>) -> BTreeMap<&'static str, u64> {
    let mut deleted = BTreeMap::new();
    for kind in RetainedKind::ALL {
        let cutoff = age_of(ctx, kind)
            .and_then(|age| chrono::Duration::from_std(age).ok())
            .and_then(|age| now.checked_sub_signed(age));
        let Some(cutoff) = cutoff else {
            continue;
        };
        match ctx.store.delete_older_than(kind, cutoff).await {
            Ok(n) => {
                metrics::counter!("callvisor_retention_deleted_total", "table" => kind.as_str())
                    .increment(n);
                if n > 0 {
                    tracing::info!(table = kind.as_str(), deleted = n, %cutoff, "retention");
                }
                deleted.insert(kind.as_str(), n);
            }
            Err(e) => tracing::error!(table = kind.as_str(), error = %e, "retention failed"),
        }
    }
    deleted
}
