//! The monitors' storage against real databases, each test on SQLite and on PostgreSQL:
//! health checks, sync runs, alerts and the event log, the error-rate rule's counts,
//! retention at its exact cutoff (call histories by the call's end), and analytics on a known dataset in a time zone that
//! is not UTC.

#[macro_use]
mod common;

use callvisor::store::{AlertFilter, DayRange, HealthFilter, Scope, SqlStore};
use callvisor_actors::domain::{
    Agent, Call, CallEvent, CallRequest, CallStatus, EventSource, PhoneNumber, Priority,
};
use callvisor_actors::monitors::{
    AlertRecord, AlertStatus, CheckSource, HealthCheck, HealthStatus, Level, LogEntry, SyncCounts,
    SyncRun, SyncStatus, SyncTrigger,
};
use callvisor_actors::ports::{
    AlertStore, CallStore, HealthStore, RetainedKind, RetentionStore, SyncStore,
};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::db::{agent, client, now, phone, tenant, TestDb};
use serde_json::json;
use uuid::Uuid;

on_both_backends!(
    health_checks_come_back_newest_first_and_add_up,
    sync_runs_are_replaced_in_place_and_the_last_success_is_found,
    a_run_left_in_progress_is_marked_failed,
    missed_calls_are_attributed_only_to_the_one_agent_with_the_number,
    alerts_round_trip_and_staff_see_only_system_and_own_alerts,
    the_error_rate_counts_calls_that_ended_since_a_time,
    retention_deletes_exactly_what_is_older_than_the_cutoff,
    a_long_call_history_is_deleted_across_batches,
    analytics_match_hand_computed_figures_in_kolkata,
);

fn check(at: DateTime<Utc>, status: HealthStatus, latency_ms: Option<i64>) -> HealthCheck {
    HealthCheck {
        id: Uuid::now_v7(),
        checked_at: at,
        source: CheckSource::Probe,
        status,
        incoming_affected: None,
        outgoing_affected: Some(status == HealthStatus::Error),
        latency_ms,
        error: (status != HealthStatus::Ok).then(|| "down".to_string()),
        raw: json!({"probe": "CA0"}),
    }
}

async fn health_checks_come_back_newest_first_and_add_up(db: TestDb) {
    let s = &db.store;
    let t0 = now() - Duration::hours(1);
    let checks = [
        check(t0, HealthStatus::Ok, Some(100)),
        check(t0 + Duration::minutes(1), HealthStatus::Error, None),
        check(t0 + Duration::minutes(2), HealthStatus::Warning, Some(6000)),
        check(t0 + Duration::minutes(3), HealthStatus::Ok, Some(200)),
    ];
    for c in &checks {
        s.insert_health_check(c).await.unwrap();
    }
    assert_eq!(
        s.latest_health_check().await.unwrap().as_ref(),
        Some(&checks[3])
    );
    let all = |status| HealthFilter {
        status,
        from: None,
        until: None,
        limit: 10,
    };
    let history = s.health_checks(&all(None)).await.unwrap();
    assert_eq!(
        history.iter().map(|c| c.id).collect::<Vec<_>>(),
        checks.iter().rev().map(|c| c.id).collect::<Vec<_>>()
    );
    let errors = s
        .health_checks(&all(Some(HealthStatus::Error)))
        .await
        .unwrap();
    assert_eq!(errors, [checks[1].clone()]);

    let stats = s.health_stats(t0, t0 + Duration::minutes(3)).await.unwrap();
    assert_eq!(stats.total, 3, "the end is excluded");
    assert_eq!(stats.by_status["OK"], 1);
    assert_eq!(stats.by_status["ERROR"], 1);
    assert_eq!(stats.outgoing_affected, 1);
    assert_eq!(stats.average_latency_ms, Some(3050.0));
    assert_eq!(stats.ok_ratio, Some(1.0 / 3.0));
    assert_eq!(stats.first_check_at, Some(t0));
}

fn run(started: DateTime<Utc>, status: SyncStatus) -> SyncRun {
    SyncRun {
        id: Uuid::now_v7(),
        sync_type: "bulk_call_details".into(),
        trigger: SyncTrigger::Schedule,
        status,
        started_at: started,
        finished_at: None,
        window_start: started - Duration::hours(1),
        window_end: started,
        counts: SyncCounts::default(),
        error: None,
    }
}

async fn sync_runs_are_replaced_in_place_and_the_last_success_is_found(db: TestDb) {
    let s = &db.store;
    let t0 = now();
    let mut first = run(t0, SyncStatus::InProgress);
    s.save_sync_run(&first).await.unwrap();
    first.status = SyncStatus::Success;
    first.finished_at = Some(t0 + Duration::seconds(3));
    first.counts = SyncCounts {
        fetched: 500,
        updated: 98,
        ended: 97,
        unchanged: 402,
        ..SyncCounts::default()
    };
    s.save_sync_run(&first).await.unwrap();
    let failed = run(t0 + Duration::minutes(15), SyncStatus::Failed);
    s.save_sync_run(&failed).await.unwrap();

    assert_eq!(s.last_successful_sync().await.unwrap(), Some(first.clone()));
    let history = s.sync_history("bulk_call_details", 10).await.unwrap();
    assert_eq!(history, [failed.clone(), first.clone()]);
    assert_eq!(
        s.latest_sync("bulk_call_details", None).await.unwrap(),
        Some(failed)
    );
    let stats = s
        .sync_stats("bulk_call_details", t0, t0 + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        (
            stats.runs,
            stats.by_status["success"],
            stats.by_status["failed"]
        ),
        (2, 1, 1)
    );
    assert_eq!(stats.totals.updated, 98);
    assert_eq!(stats.average_duration_ms, Some(3000.0));
}

async fn a_run_left_in_progress_is_marked_failed(db: TestDb) {
    let s = &db.store;
    let stuck = run(now(), SyncStatus::InProgress);
    s.save_sync_run(&stuck).await.unwrap();
    assert_eq!(s.fail_interrupted_syncs(now()).await.unwrap(), 1);
    let after = s
        .latest_sync("bulk_call_details", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, SyncStatus::Failed);
    assert!(after.error.unwrap().contains("interrupted"));
    assert_eq!(s.fail_interrupted_syncs(now()).await.unwrap(), 0);
}

async fn missed_calls_are_attributed_only_to_the_one_agent_with_the_number(db: TestDb) {
    let s = &db.store;
    let c = client("Acme");
    s.insert_client(&c).await.unwrap();
    let with_number = |name: &str, number: &str| Agent {
        caller_id: Some(phone(number)),
        ..agent(&c, name)
    };
    let sales = with_number("sales", "+14155550111");
    s.insert_agent(&sales).await.unwrap();
    for name in ["a", "b"] {
        s.insert_agent(&with_number(name, "+14155550222"))
            .await
            .unwrap();
    }
    let owner = s.agent_by_caller_id("+14155550111").await.unwrap().unwrap();
    assert_eq!((owner.agent_id, owner.client_id), (sales.id, c.id));
    assert_eq!(
        s.agent_by_caller_id("+14155550222").await.unwrap(),
        None,
        "two agents share it"
    );
    assert_eq!(s.agent_by_caller_id("+14155550333").await.unwrap(), None);
}

fn alert(
    key: &str,
    client_id: Option<callvisor_actors::domain::ClientId>,
    at: DateTime<Utc>,
) -> AlertRecord {
    AlertRecord {
        id: Uuid::now_v7(),
        key: key.to_string(),
        rule: key.split(':').next().unwrap().to_string(),
        level: Level::Warning,
        title: "t".into(),
        detail: json!({"n": 1}),
        client_id,
        status: AlertStatus::Active,
        occurrences: 1,
        first_raised_at: at,
        last_raised_at: at,
        last_notified_at: Some(at),
        resolved_at: None,
    }
}

async fn alerts_round_trip_and_staff_see_only_system_and_own_alerts(db: TestDb) {
    let s = &db.store;
    let (mine, _) = tenant(s).await;
    let t0 = now();
    let system = alert("error_rate", None, t0);
    let own = alert(
        "campaign_failed:1",
        Some(mine.id),
        t0 + Duration::seconds(1),
    );
    let theirs = alert(
        "campaign_failed:2",
        Some(callvisor_actors::domain::ClientId::new()),
        t0 + Duration::seconds(2),
    );
    for a in [&system, &own, &theirs] {
        s.save_alert(a).await.unwrap();
    }
    let mut resolved = system.clone();
    resolved.status = AlertStatus::Resolved;
    resolved.level = Level::Critical;
    resolved.occurrences = 7;
    resolved.resolved_at = Some(t0 + Duration::minutes(5));
    s.save_alert(&resolved).await.unwrap();

    let active = s.active_alerts().await.unwrap();
    assert_eq!(active.len(), 2);
    let filter = |visible_to| AlertFilter {
        status: None,
        min_level: None,
        visible_to,
        limit: 10,
    };
    let seen = s.list_alerts(&filter(Some(mine.id))).await.unwrap();
    assert_eq!(seen, [own.clone(), resolved.clone()]);
    assert_eq!(s.list_alerts(&filter(None)).await.unwrap().len(), 3);
    let critical = AlertFilter {
        min_level: Some(Level::Error),
        ..filter(None)
    };
    assert_eq!(s.list_alerts(&critical).await.unwrap(), [resolved]);

    let entry = LogEntry {
        id: Uuid::now_v7(),
        at: t0,
        level: Level::Warning,
        kind: "alert.trigger".into(),
        subject: "error_rate".into(),
        message: "Call error rate is high".into(),
        detail: json!({"errorRate": 0.15}),
    };
    s.append_log(&entry).await.unwrap();
    assert_eq!(s.event_log(10).await.unwrap(), [entry]);
}

/// A stored call of `agent` made at `created`, ending as `status` after `talk` seconds.
async fn stored_call(
    s: &SqlStore,
    agent: &Agent,
    created: DateTime<Utc>,
    status: CallStatus,
    talk: Option<i64>,
) -> Call {
    let request = CallRequest {
        client_id: agent.client_id,
        agent_id: agent.id,
        to: PhoneNumber::from_trusted("+919876543210".into()),
        from: PhoneNumber::from_trusted("+14155550000".into()),
        answer_url: agent.answer_url.clone(),
        priority: Priority::Normal,
        metadata: json!({}),
        warmup_url: None,
        retry_policy: None,
        schedule: None,
    };
    let mut call = Call::queued(request, "sim", created);
    if status.is_final() {
        call.finish(
            status,
            None,
            created + Duration::seconds(talk.unwrap_or(0) + 5),
        );
        call.duration_seconds = talk;
    } else {
        call.status = status;
    }
    s.save_call(&call, &[]).await.unwrap();
    call
}

async fn the_error_rate_counts_calls_that_ended_since_a_time(db: TestDb) {
    let s = &db.store;
    let (_, a) = tenant(s).await;
    let t0 = now() - Duration::minutes(10);
    for (i, status) in [
        CallStatus::Completed,
        CallStatus::Failed,
        CallStatus::Timeout,
        CallStatus::Busy,
        CallStatus::InProgress,
    ]
    .into_iter()
    .enumerate()
    {
        stored_call(s, &a, t0 + Duration::minutes(i as i64), status, Some(10)).await;
    }
    let old = stored_call(s, &a, t0 - Duration::hours(1), CallStatus::Failed, None).await;
    let counts = s.call_outcomes_since(t0).await.unwrap();
    assert_eq!(
        (counts.ended, counts.errors),
        (4, 2),
        "failed and timeout are errors"
    );
    let all = s.call_outcomes_since(old.created_at).await.unwrap();
    assert_eq!((all.ended, all.errors), (5, 3));
}

async fn retention_deletes_exactly_what_is_older_than_the_cutoff(db: TestDb) {
    let s = &db.store;
    let cutoff = now() - Duration::days(7);
    let ms = Duration::milliseconds(1);
    let times = [cutoff - ms, cutoff, cutoff + ms];
    for at in times {
        s.insert_health_check(&check(at, HealthStatus::Ok, Some(1)))
            .await
            .unwrap();
        let entry = LogEntry {
            id: Uuid::now_v7(),
            at,
            level: Level::Info,
            kind: "alert.trigger".into(),
            subject: "k".into(),
            message: "m".into(),
            detail: json!({}),
        };
        s.append_log(&entry).await.unwrap();
        let mut done = alert("memory", None, at - Duration::days(1));
        done.status = AlertStatus::Resolved;
        done.resolved_at = Some(at);
        s.save_alert(&done).await.unwrap();
    }
    let ancient_but_active = alert("error_rate", None, cutoff - Duration::days(100));
    s.save_alert(&ancient_but_active).await.unwrap();
    // Calls that ended just before, at and just after the cutoff, each with one event,
    // and a call still live whose event is older than all of them.
    let (_, agent) = tenant(s).await;
    let mut calls = Vec::new();
    for at in times {
        let call = stored_call(
            s,
            &agent,
            at - Duration::seconds(5),
            CallStatus::Completed,
            Some(0),
        )
        .await;
        assert_eq!(call.ended_at, Some(at));
        calls.push(call);
    }
    let live = stored_call(
        s,
        &agent,
        cutoff - Duration::days(30),
        CallStatus::Ringing,
        None,
    )
    .await;
    calls.push(live);
    for call in &calls {
        let event = CallEvent::new(
            call.id,
            EventSource::Provider,
            "ringing",
            true,
            json!({}),
            call.created_at,
        );
        s.append_events(&[event]).await.unwrap();
    }

    for kind in RetainedKind::ALL {
        assert_eq!(
            s.delete_older_than(kind, cutoff).await.unwrap(),
            1,
            "{kind:?}"
        );
        assert_eq!(
            s.delete_older_than(kind, cutoff).await.unwrap(),
            0,
            "{kind:?} again"
        );
    }
    let kept: Vec<_> = s
        .health_checks(&HealthFilter {
            status: None,
            from: None,
            until: None,
            limit: 10,
        })
        .await
        .unwrap()
        .iter()
        .map(|c| c.checked_at)
        .collect();
    assert_eq!(kept, [cutoff + ms, cutoff]);
    assert_eq!(s.event_log(10).await.unwrap().len(), 2);
    let alerts = s
        .list_alerts(&AlertFilter {
            status: None,
            min_level: None,
            visible_to: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(
        alerts.len(),
        3,
        "two resolved within the age and the active one"
    );
    assert!(alerts.iter().any(|a| a.id == ancient_but_active.id));
    let mut histories = Vec::new();
    for call in &calls {
        histories.push(s.call_events(call.id).await.unwrap().len());
    }
    assert_eq!(
        histories,
        [0, 1, 1, 1],
        "only the call that ended before the cutoff lost its history; the live one kept it"
    );
    for call in &calls {
        assert!(s.load_call(call.id).await.unwrap().is_some(), "calls stay");
    }
}

async fn a_long_call_history_is_deleted_across_batches(db: TestDb) {
    let s = &db.store;
    let (_, agent) = tenant(s).await;
    let cutoff = now() - Duration::days(90);
    let history = |call: &Call, n: i64| -> Vec<CallEvent> {
        (0..n)
            .map(|i| {
                let at = call.created_at + Duration::milliseconds(i);
                CallEvent::new(
                    call.id,
                    EventSource::Provider,
                    "ringing",
                    false,
                    json!({}),
                    at,
                )
            })
            .collect()
    };
    // Twelve calls that ended an hour apart before the cutoff, 1,000 events each: more
    // than two deletes' worth (about 5,000 each), ranges ending mid-way through a call.
    let mut old = Vec::new();
    for k in 0..12 {
        let created = cutoff - Duration::days(1) - Duration::hours(k);
        let call = stored_call(s, &agent, created, CallStatus::Completed, Some(0)).await;
        for chunk in history(&call, 1_000).chunks(500) {
            s.append_events(chunk).await.unwrap();
        }
        old.push(call);
    }
    let kept = stored_call(
        s,
        &agent,
        cutoff + Duration::days(1),
        CallStatus::Completed,
        Some(0),
    )
    .await;
    s.append_events(&history(&kept, 3)).await.unwrap();

    let deleted = s
        .delete_older_than(RetainedKind::CallEvents, cutoff)
        .await
        .unwrap();
    assert_eq!(deleted, 12_000);
    for call in &old {
        assert!(s.call_events(call.id).await.unwrap().is_empty());
    }
    assert_eq!(s.call_events(kept.id).await.unwrap().len(), 3);

    // A late webhook recorded on a long-ended call is deleted by the next clean-up.
    s.append_events(&history(&old[5], 1)).await.unwrap();
    let deleted = s
        .delete_older_than(RetainedKind::CallEvents, cutoff)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(
        s.delete_older_than(RetainedKind::CallEvents, cutoff)
            .await
            .unwrap(),
        0
    );
}

/// A known week of calls for one agent in Kolkata (UTC+05:30), and one for another agent:
///
/// | local time (IST)   | UTC              | agent | status    | talk |
/// |--------------------|------------------|-------|-----------|------|
/// | 1 Mar 00:10        | 28 Feb 18:40     | sales | completed | 60   |
/// | 1 Mar 09:00        | 1 Mar 03:30      | sales | completed | 120  |
/// | 1 Mar 23:50        | 1 Mar 18:20      | sales | failed    | —    |
/// | 2 Mar 00:05        | 1 Mar 18:35      | sales | busy      | —    |
/// | 2 Mar 12:00        | 2 Mar 06:30      | sales | completed | 30   |
/// | 2 Mar 13:00        | 2 Mar 07:30      | sales | timeout   | —    |
/// | 2 Mar 14:00        | 2 Mar 08:30      | other | completed | 300  |
/// | 28 Feb 23:59       | 28 Feb 18:29     | sales | completed | 999  | (before the range)
///
/// In UTC days the first call would fall on 28 February; in Kolkata it is 1 March.
async fn analytics_match_hand_computed_figures_in_kolkata(db: TestDb) {
    let s = &db.store;
    let (c, sales) = tenant(s).await;
    let other = agent(&c, "other");
    s.insert_agent(&other).await.unwrap();
    let utc = |d, h, m| {
        Utc.with_ymd_and_hms(
            2026,
            if d > 28 { 2 } else { 3 },
            if d > 28 { 28 } else { d },
            h,
            m,
            0,
        )
        .unwrap()
    };
    let rows = [
        (utc(29, 18, 40), &sales, CallStatus::Completed, Some(60)),
        (utc(1, 3, 30), &sales, CallStatus::Completed, Some(120)),
        (utc(1, 18, 20), &sales, CallStatus::Failed, None),
        (utc(1, 18, 35), &sales, CallStatus::Busy, None),
        (utc(2, 6, 30), &sales, CallStatus::Completed, Some(30)),
        (utc(2, 7, 30), &sales, CallStatus::Timeout, None),
        (utc(2, 8, 30), &other, CallStatus::Completed, Some(300)),
        (utc(29, 18, 29), &sales, CallStatus::Completed, Some(999)),
    ];
    for (at, agent, status, talk) in rows {
        stored_call(s, agent, at, status, talk).await;
    }
    let range = DayRange {
        start: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        end: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
        tz: chrono_tz::Asia::Kolkata,
    };
    let r = s
        .call_analytics(Scope::Agent(sales.id), range)
        .await
        .unwrap();
    let t = &r.totals;
    assert_eq!((t.total, t.ended), (6, 6));
    assert_eq!(
        (
            t.by_status["completed"],
            t.by_status["failed"],
            t.by_status["busy"],
            t.by_status["timeout"]
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(t.success_rate, Some(0.5));
    assert_eq!(t.error_rate, Some(2.0 / 6.0));
    assert_eq!(
        t.average_duration_seconds,
        Some(70.0),
        "(60 + 120 + 30) / 3"
    );
    let days: Vec<(String, u64)> = r
        .daily
        .iter()
        .map(|d| (d.date.to_string(), d.tally.total))
        .collect();
    assert_eq!(
        days,
        [("2026-03-01".to_string(), 3), ("2026-03-02".to_string(), 3)]
    );
    let first = &r.daily[0].tally;
    assert_eq!(first.average_duration_seconds, Some(90.0));
    assert_eq!(first.error_rate, Some(1.0 / 3.0));
    let second = &r.daily[1].tally;
    assert_eq!(
        (second.success_rate, second.average_duration_seconds),
        (Some(1.0 / 3.0), Some(30.0))
    );

    let whole = s.call_analytics(Scope::Client(c.id), range).await.unwrap();
    assert_eq!(whole.totals.total, 7);
    assert_eq!(
        whole.totals.average_duration_seconds,
        Some(127.5),
        "(60 + 120 + 30 + 300) / 4"
    );
    let in_utc = DayRange {
        tz: chrono_tz::UTC,
        ..range
    };
    let u = s
        .call_analytics(Scope::Agent(sales.id), in_utc)
        .await
        .unwrap();
    let utc_days: Vec<u64> = u.daily.iter().map(|d| d.tally.total).collect();
    // In UTC, 00:10 IST on 1 March is still 28 February (out of range), and the calls of
    // 23:50 IST on 1 March and 00:05 IST on 2 March both fall on 1 March.
    assert_eq!(utc_days, [3, 2]);
}
