//! The AlertManager on paused time, inside a whole tree over in-memory storage: the
//! error-rate rule's thresholds, de-duplication with a cooldown and a resolve, delivery
//! retried with backoff, channels that hang without holding anyone up, and raising an
//! alert from outside (as a failed campaign does).

mod common;

use callvisor_actors::domain::{Call, CallStatus, ClientId};
use callvisor_actors::monitors::{Action, Alert, AlertStatus, Level, MonitorSettings};
use callvisor_actors::ports::{AlertChannel, Clock};
use callvisor_actors::testing::RecordingChannel;
use common::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// A tree whose rules look every 30 s, with one recording channel.
async fn watched(channels: Vec<Arc<dyn AlertChannel>>) -> Harness {
    let mut monitor_settings = MonitorSettings::manual();
    monitor_settings.alerts.evaluation_interval = Some(Duration::from_secs(30));
    start_with(Options {
        channels,
        monitor_settings,
        ..Options::default()
    })
    .await
}

/// Stores `ended` calls that just ended, `failed` of them as failed, the rest completed.
fn ended_calls(h: &Harness, ended: usize, failed: usize) {
    let now = h.clock.now();
    for i in 0..ended {
        let mut call = Call::queued(request(h.client), "scripted", now);
        let status = if i < failed {
            CallStatus::Failed
        } else {
            CallStatus::Completed
        };
        call.finish(status, None, now);
        h.store.put(call);
    }
}

/// The levels of the trigger notices a channel got for `key`.
fn triggers(channel: &RecordingChannel, key: &str) -> Vec<Level> {
    channel
        .delivered()
        .iter()
        .filter(|n| n.key == key && n.action == Action::Trigger)
        .map(|n| n.level)
        .collect()
}

async fn error_rate_alerts(ended: usize, failed: usize) -> Vec<Level> {
    let channel = Arc::new(RecordingChannel::new("test"));
    let h = watched(vec![channel.clone()]).await;
    ended_calls(&h, ended, failed);
    tokio::time::sleep(Duration::from_secs(31)).await;
    h.settle().await;
    triggers(&channel, "error_rate")
}

#[tokio::test(start_paused = true)]
async fn nine_percent_failures_raise_nothing() {
    assert_eq!(error_rate_alerts(100, 9).await, []);
}

#[tokio::test(start_paused = true)]
async fn fifteen_percent_failures_raise_a_warning() {
    assert_eq!(error_rate_alerts(100, 15).await, [Level::Warning]);
}

#[tokio::test(start_paused = true)]
async fn twenty_five_percent_failures_raise_a_critical_alert() {
    assert_eq!(error_rate_alerts(100, 25).await, [Level::Critical]);
}

#[tokio::test(start_paused = true)]
async fn below_the_minimum_sample_nothing_is_raised_even_if_all_failed() {
    assert_eq!(error_rate_alerts(19, 19).await, []);
}

#[tokio::test(start_paused = true)]
async fn calls_that_ended_before_the_window_do_not_count() {
    let channel = Arc::new(RecordingChannel::new("test"));
    let h = watched(vec![channel.clone()]).await;
    ended_calls(&h, 100, 30);
    // At the first look more than five minutes later, those failures are out of the
    // window (looks come every 30 s).
    tokio::time::sleep(Duration::from_secs(331)).await;
    h.settle().await;
    let notices = channel.delivered();
    let last = notices.last().unwrap();
    assert_eq!(
        (last.key.as_str(), last.action),
        ("error_rate", Action::Resolve)
    );
}

#[tokio::test(start_paused = true)]
async fn one_notice_per_cooldown_and_one_resolve_on_every_channel() {
    let (a, b) = (
        Arc::new(RecordingChannel::new("a")),
        Arc::new(RecordingChannel::new("b")),
    );
    let h = watched(vec![a.clone(), b.clone()]).await;
    // A key no rule owns (the rules resolve their own keys when their figures are fine).
    let alert = Alert::new(
        "campaign_failed:c1",
        Level::Warning,
        "Campaign failed",
        json!({}),
    );
    for _ in 0..10 {
        h.tree.monitors.raise(alert.clone());
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
    h.tree.monitors.resolve("campaign_failed:c1");
    h.settle().await;
    for channel in [&a, &b] {
        let actions: Vec<Action> = channel.delivered().iter().map(|n| n.action).collect();
        assert_eq!(
            actions,
            [Action::Trigger, Action::Resolve],
            "within 200 s of a 300 s cooldown"
        );
    }
    let log: Vec<String> = h.store.log().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        log,
        ["alert.trigger", "alert.resolve"],
        "the event log is a channel too"
    );
    let record = h.store.alerts().pop().unwrap();
    assert_eq!(
        (record.status, record.occurrences),
        (AlertStatus::Resolved, 10)
    );
}

#[tokio::test(start_paused = true)]
async fn a_condition_that_goes_on_past_the_cooldown_is_sent_again() {
    let channel = Arc::new(RecordingChannel::new("test"));
    let h = watched(vec![channel.clone()]).await;
    let alert = Alert::new(
        "campaign_failed:c2",
        Level::Warning,
        "Campaign failed",
        json!({}),
    );
    h.tree.monitors.raise(alert.clone());
    tokio::time::sleep(Duration::from_secs(301)).await;
    h.tree.monitors.raise(alert);
    h.settle().await;
    assert_eq!(triggers(&channel, "campaign_failed:c2").len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_failed_delivery_is_retried_with_backoff() {
    let channel = Arc::new(RecordingChannel::new("flaky"));
    channel.fail_next(2);
    let h = watched(vec![channel.clone()]).await;
    h.tree.monitors.raise(Alert::new(
        "campaign_failed:c3",
        Level::Error,
        "Campaign failed",
        json!({}),
    ));
    h.settle().await;
    assert_eq!(channel.attempts(), 1);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    h.settle().await;
    assert_eq!(channel.attempts(), 2, "second attempt after 1 s");
    assert!(channel.delivered().is_empty());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    h.settle().await;
    assert_eq!(channel.attempts(), 3, "third attempt 2 s later");
    assert_eq!(channel.delivered().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_channel_holds_up_neither_the_others_nor_the_calls() {
    let stuck = Arc::new(RecordingChannel::hanging("stuck"));
    let fine = Arc::new(RecordingChannel::new("fine"));
    let h = watched(vec![stuck.clone(), fine.clone()]).await;
    for i in 0..20 {
        h.tree.monitors.raise(Alert::new(
            format!("campaign_failed:{i}"),
            Level::Error,
            "Campaign failed",
            json!({}),
        ));
    }
    h.settle().await;
    assert_eq!(
        fine.delivered().len(),
        20,
        "the working channel got all at once"
    );
    assert_eq!(stuck.attempts(), 1, "the stuck one is on its first");
    // Calls go on meanwhile.
    let call = h.place(10).await.unwrap();
    h.settle().await;
    assert_eq!(h.provider.dials().len(), 1);
    h.webhook(call.id, CallStatus::Completed, 1).await;
    h.settle().await;
    assert_eq!(h.live().await, 0);
    // Each attempt is bounded: the stuck channel moves on to later attempts.
    tokio::time::sleep(Duration::from_secs(11)).await;
    h.settle().await;
    assert_eq!(stuck.attempts(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_campaign_that_failed_is_delivered_with_its_client() {
    let channel = Arc::new(RecordingChannel::new("test"));
    let h = watched(vec![channel.clone()]).await;
    let client = ClientId::new();
    let key = format!("campaign_failed:{}", uuid::Uuid::now_v7());
    h.tree.monitors.raise(Alert {
        client_id: Some(client),
        ..Alert::new(
            key.clone(),
            Level::Error,
            "Campaign failed",
            json!({"reason": "no agent"}),
        )
    });
    h.settle().await;
    let notices = channel.delivered();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        (notices[0].key.as_str(), notices[0].level),
        (key.as_str(), Level::Error)
    );
    let record = h.store.alerts().pop().unwrap();
    assert_eq!(
        (record.rule.as_str(), record.client_id),
        ("campaign_failed", Some(client))
    );
}

#[tokio::test(start_paused = true)]
async fn alerts_below_the_minimum_level_are_kept_but_not_sent() {
    let channel = Arc::new(RecordingChannel::new("test"));
    let h = watched(vec![channel.clone()]).await;
    h.tree.monitors.raise(Alert::new(
        "campaign_failed:c4",
        Level::Info,
        "FYI",
        json!({}),
    ));
    h.settle().await;
    assert!(channel.delivered().is_empty());
    assert!(h.store.log().is_empty());
    assert_eq!(h.store.alerts().len(), 1);
}
