//! The ProviderHealthMonitor, the SyncActor and the RetentionActor on paused time, in a
//! whole tree over in-memory storage and a scripted provider.

mod common;

use callvisor_actors::domain::{
    Call, CallEvent, CallStatus, EventSource, Observation, PhoneNumber,
};
use callvisor_actors::monitors::{
    Action, CheckSource, HealthCheck, HealthMsg, HealthStatus, Level, LogEntry, MonitorSettings,
    RetentionMsg, SyncMsg, SyncRun, SyncStatus,
};
use callvisor_actors::ports::{AgentOwner, CallStore, Clock, ProviderCallRecord};
use callvisor_actors::rpc::ask;
use callvisor_actors::testing::RecordingChannel;
use common::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn with_settings(settings: MonitorSettings, channel: Arc<RecordingChannel>) -> Harness {
    start_with(Options {
        monitor_settings: settings,
        channels: vec![channel],
        ..Options::default()
    })
    .await
}

fn health_triggers(channel: &RecordingChannel) -> Vec<(Action, Level)> {
    channel
        .delivered()
        .iter()
        .filter(|n| n.key == "provider_health")
        .map(|n| (n.action, n.level))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_answers_is_ok_and_alerts_nobody() {
    let channel = Arc::new(RecordingChannel::new("test"));
    let h = with_settings(MonitorSettings::manual(), channel.clone()).await;
    let check = ask(&h.tree.monitors.health.get(), HealthMsg::CheckNow, ASK)
        .await
        .unwrap();
    assert_eq!(
        (check.status, check.source),
        (HealthStatus::Ok, CheckSource::Manual)
    );
    assert_eq!(check.outgoing_affected, Some(false));
    h.settle().await;
    assert_eq!(h.store.health_checks(), [check]);
    assert!(channel.delivered().is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_outage_turns_checks_to_error_alerts_once_and_resolves_after_recovery() {
    let channel = Arc::new(RecordingChannel::new("test"));
    let mut settings = MonitorSettings::manual();
    settings.health.interval = Some(Duration::from_secs(60));
    let h = with_settings(settings, channel.clone()).await;
    h.provider
        .outage_until(tokio::time::Instant::now() + Duration::from_secs(250));
    // Checks at 1, 2, 3 and 4 minutes fall in the outage; the one at 5 minutes does not
    // (the breaker, opened by the failing probes, lets its probe through by then).
    tokio::time::sleep(Duration::from_secs(245)).await;
    h.settle().await;
    let statuses: Vec<HealthStatus> = h.store.health_checks().iter().map(|c| c.status).collect();
    assert!(statuses.len() >= 3, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == HealthStatus::Error),
        "{statuses:?}"
    );
    assert_eq!(
        health_triggers(&channel),
        [(Action::Trigger, Level::Critical)]
    );

    tokio::time::sleep(Duration::from_secs(180)).await;
    h.settle().await;
    let last = h.store.health_checks().pop().unwrap();
    assert_eq!(last.status, HealthStatus::Ok, "{last:?}");
    assert_eq!(
        health_triggers(&channel),
        [
            (Action::Trigger, Level::Critical),
            (Action::Resolve, Level::Critical)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_is_stored_and_a_warning_raises_a_warning() {
    let channel = Arc::new(RecordingChannel::new("test"));
    let h = with_settings(MonitorSettings::manual(), channel.clone()).await;
    let heartbeat = HealthCheck {
        id: uuid::Uuid::now_v7(),
        checked_at: h.clock.now(),
        source: CheckSource::Heartbeat,
        status: HealthStatus::Warning,
        incoming_affected: Some(true),
        outgoing_affected: Some(false),
        latency_ms: None,
        error: None,
        raw: json!({"status_type": "WARNING", "incoming_affected": ["PN1"]}),
    };
    h.tree
        .monitors
        .health
        .get()
        .cast(HealthMsg::Record(heartbeat.clone()))
        .unwrap();
    h.settle().await;
    assert_eq!(h.store.health_checks(), [heartbeat]);
    assert_eq!(
        health_triggers(&channel),
        [(Action::Trigger, Level::Warning)]
    );
}

fn record(id: &str, to: &str, from: &str, status: CallStatus) -> ProviderCallRecord {
    ProviderCallRecord {
        provider_call_id: id.to_string(),
        to: to.to_string(),
        from: from.to_string(),
        observation: Observation {
            status,
            provider_status: Some(status.as_str().into()),
            duration_seconds: Some(61),
            price: Some("-0.0260".into()),
            recording_url: Some(format!("https://rec.test/{id}.mp3")),
            ..Default::default()
        },
        started_at: None,
        ended_at: None,
    }
}

async fn sync(h: &Harness) -> SyncRun {
    ask(&h.tree.monitors.sync.get(), SyncMsg::Trigger, ASK)
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_last_webhook_was_lost_is_ended_by_the_sync_and_a_second_sync_changes_nothing()
{
    let h = fresh().await;
    let call = h.place(10).await.unwrap();
    h.settle().await;
    let pid = h.store.call(call.id).unwrap().provider_call_id.unwrap();
    h.provider.put_record(record(
        &pid,
        "+14155552671",
        "+14155550000",
        CallStatus::Completed,
    ));
    assert_eq!(h.live().await, 1, "the final webhook never came");

    let first = sync(&h).await;
    h.settle().await;
    assert_eq!(first.status, SyncStatus::Success, "{first:?}");
    let c = first.counts;
    assert_eq!((c.fetched, c.updated, c.ended, c.unchanged), (1, 1, 1, 0));
    let stored = h.store.call(call.id).unwrap();
    assert_eq!(stored.status, CallStatus::Completed);
    assert_eq!(stored.duration_seconds, Some(61));
    assert_eq!(stored.price.as_deref(), Some("-0.0260"));
    assert_eq!(
        stored.recording_url,
        Some(format!("https://rec.test/{pid}.mp3"))
    );
    assert_eq!((h.live().await, h.slots().await.global_in_use), (0, 0));
    let history = h.store.events(call.id);
    assert!(history.iter().any(|e| e.kind == "completed" && e.applied));

    let second = sync(&h).await;
    let c = second.counts;
    assert_eq!((c.fetched, c.updated, c.unchanged), (1, 0, 1), "{second:?}");
    assert_eq!(
        h.store.events(call.id).len(),
        history.len(),
        "nothing written"
    );
    assert_eq!(h.store.sync_runs().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn calls_the_provider_made_from_an_agents_number_are_created_and_others_logged() {
    let h = fresh().await;
    let owner = AgentOwner {
        client_id: h.client,
        agent_id: callvisor_actors::domain::AgentId::new(),
        answer_url: "http://bot.test/answer".into(),
    };
    h.store
        .put_agent_number(PhoneNumber::parse("+14155550123").unwrap(), owner.clone());
    h.provider.put_record(record(
        "CAmissed",
        "+14155550199",
        "+14155550123",
        CallStatus::Busy,
    ));
    h.provider.put_record(record(
        "CAstranger",
        "+14155550198",
        "+14155550777",
        CallStatus::Completed,
    ));

    let run = sync(&h).await;
    assert_eq!(
        (run.counts.created, run.counts.unmatched),
        (1, 1),
        "{run:?}"
    );
    let made = h
        .store
        .calls()
        .into_iter()
        .find(|c| c.provider_call_id.as_deref() == Some("CAmissed"))
        .unwrap();
    assert_eq!(
        (made.status, made.client_id, made.agent_id),
        (CallStatus::Busy, owner.client_id, owner.agent_id)
    );
    assert_eq!(made.price.as_deref(), Some("-0.0260"));
    let log: Vec<LogEntry> = h.store.log();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].kind.as_str(), log[0].subject.as_str()),
        ("sync.unmatched_call", "CAstranger")
    );
    assert_eq!(sync(&h).await.counts.created, 0, "made once");
}

#[tokio::test(start_paused = true)]
async fn syncs_run_on_their_timer_from_where_the_last_one_ended() {
    let mut monitor_settings = MonitorSettings::manual();
    monitor_settings.sync.interval = Some(Duration::from_secs(900));
    let h = start_with(Options {
        monitor_settings,
        ..Options::default()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1801)).await;
    h.settle().await;
    let runs = h.store.sync_runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let overlap = chrono::Duration::seconds(120);
    assert_eq!(runs[1].window_start, runs[0].window_end - overlap);
    assert_eq!(
        runs[0].window_start,
        runs[0].window_end - chrono::Duration::hours(24)
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_a_stop_interrupted_is_marked_failed_at_start() {
    use callvisor_actors::ports::SyncStore;
    let store = Arc::new(callvisor_actors::testing::MemoryStore::default());
    let now = clock().now();
    let interrupted = SyncRun {
        id: uuid::Uuid::now_v7(),
        sync_type: "bulk_call_details".into(),
        trigger: callvisor_actors::monitors::SyncTrigger::Schedule,
        status: SyncStatus::InProgress,
        started_at: now,
        finished_at: None,
        window_start: now,
        window_end: now,
        counts: Default::default(),
        error: None,
    };
    store.save_sync_run(&interrupted).await.unwrap();
    let h = start_with(Options {
        store,
        ..Options::default()
    })
    .await;
    let runs = h.store.sync_runs();
    assert_eq!(runs[0].status, SyncStatus::Failed);
    assert!(runs[0].error.is_some());
}

#[tokio::test(start_paused = true)]
async fn retention_deletes_what_is_older_than_its_age_and_keeps_the_rest() {
    let h = fresh().await;
    let now = h.clock.now();
    let day = chrono::Duration::days(1);
    let check = |at| HealthCheck {
        id: uuid::Uuid::now_v7(),
        checked_at: at,
        source: CheckSource::Probe,
        status: HealthStatus::Ok,
        incoming_affected: None,
        outgoing_affected: Some(false),
        latency_ms: Some(5),
        error: None,
        raw: json!({}),
    };
    let old = now - day * 7 - chrono::Duration::milliseconds(1);
    let edge = now - day * 7;
    for at in [old, edge, now] {
        h.store.put_health_check(check(at));
    }
    h.store.put_log(LogEntry {
        id: uuid::Uuid::now_v7(),
        at: now - day * 31,
        level: Level::Info,
        kind: "alert.trigger".into(),
        subject: "memory".into(),
        message: "old".into(),
        detail: json!({}),
    });
    // A call that ended 91 days ago and one that ended 89 days ago, one event each.
    let mut ended = Vec::new();
    for days_ago in [91, 89] {
        let at = now - day * days_ago;
        let mut call = Call::queued(request(h.client), "sim", at - chrono::Duration::minutes(2));
        call.finish(CallStatus::Completed, None, at);
        let event = CallEvent::new(
            call.id,
            EventSource::Provider,
            "completed",
            true,
            json!({}),
            at,
        );
        h.store.save_call(&call, &[event]).await.unwrap();
        ended.push(call.id);
    }
    let deleted = ask(&h.tree.monitors.retention.get(), RetentionMsg::RunNow, ASK)
        .await
        .unwrap();
    assert_eq!(deleted.get("health_checks"), Some(&1));
    assert_eq!(deleted.get("event_log"), Some(&1));
    assert_eq!(deleted.get("call_events"), Some(&1));
    assert!(
        h.store.events(ended[0]).is_empty(),
        "the older history went"
    );
    assert_eq!(h.store.events(ended[1]).len(), 1, "the newer one stayed");
    let kept: Vec<_> = h
        .store
        .health_checks()
        .iter()
        .map(|c| c.checked_at)
        .collect();
    assert_eq!(kept, [edge, now]);
}
