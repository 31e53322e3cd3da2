//! The storage adapter against real databases.
//!
//! Every test of the shared suite runs twice: on a fresh SQLite file in a new temporary
//! directory, and on a fresh PostgreSQL database created for it on the server named by
//! `CALLVISOR_TEST_POSTGRES_URL` (for example `postgres://postgres@127.0.0.1:5432/test`).
//! Without that variable the PostgreSQL variants say so on stderr and pass.

#[macro_use]
mod common;

use common::db::{agent, client, now, phone, temp_dir, tenant, TestDb};

use callvisor::store::{CallFilter, SqlStore};
use callvisor_actors::domain::{
    Agent, AgentId, BusinessHours, Call, CallEvent, CallId, CallStatus, ClientId, EventSource,
    FailureReason, Frequency, Observation, Priority, Recurrence, RetryPolicy, Schedule,
};
use callvisor_actors::ports::CallStore;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::collections::BTreeSet;

on_both_backends!(
    migrations_are_idempotent_and_the_database_answers,
    clients_round_trip_and_update,
    agents_round_trip_and_deleted_agents_are_invisible,
    rows_pointing_at_missing_parents_are_refused,
    a_saved_call_round_trips_every_field,
    saving_again_replaces_the_call_without_duplicating_it,
    live_calls_are_exactly_the_calls_not_final,
    calls_are_found_by_provider_and_provider_id,
    call_events_come_back_oldest_first,
    list_calls_filters_and_pages_without_gaps_or_repeats,
    a_failed_event_insert_rolls_the_whole_save_back,
    concurrent_saves_all_land_and_a_failing_one_fails_alone,
    rows_that_do_not_decode_are_errors,
    a_follow_up_is_saved_with_its_call_and_only_once,
    calls_are_inserted_together_and_limits_read_back,
);

// ---------------------------------------------------------------------------------------
// Fixtures

/// A queued call with every optional field empty.
fn call(agent: &Agent) -> Call {
    let at = now();
    Call {
        id: CallId::new(),
        client_id: agent.client_id,
        agent_id: agent.id,
        to: phone("+14155550101"),
        from: phone("+14155550000"),
        answer_url: agent.answer_url.clone(),
        status: CallStatus::Queued,
        failure_reason: None,
        provider: "sim".to_string(),
        provider_call_id: None,
        priority: Priority::Normal,
        metadata: serde_json::Value::Null,
        created_at: at,
        updated_at: at,
        dial_started_at: None,
        answered_at: None,
        ended_at: None,
        last_heard_at: at,
        duration_seconds: None,
        price: None,
        recording_url: None,
        warmup_url: None,
        warmup_attempts: 0,
        warmup_millis: None,
        bot_ready_at: None,
        not_before: None,
        slot_granted_at: None,
        attempt: 1,
        original_call_id: None,
        retry_policy: None,
        next_attempt_id: None,
        series_id: None,
        occurrence: None,
        schedule: None,
        next_occurrence_id: None,
        campaign_id: None,
        contact_position: None,
    }
}

fn event(call: &Call, kind: &str, at: DateTime<Utc>) -> CallEvent {
    CallEvent::new(
        call.id,
        EventSource::Actor,
        kind,
        true,
        json!({ "kind": kind }),
        at,
    )
}

fn ids(calls: &[Call]) -> Vec<CallId> {
    calls.iter().map(|c| c.id).collect()
}

// ---------------------------------------------------------------------------------------
// The suite

async fn migrations_are_idempotent_and_the_database_answers(db: TestDb) {
    // The harness has migrated once already.
    db.store.migrate().await.expect("second migrate");
    db.store.migrate().await.expect("third migrate");

    let migration_files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("read migrations/")
        .filter(|f| {
            f.as_ref()
                .is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".sql"))
        })
        .count();
    let raw = db.raw_pool().await;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&raw)
        .await
        .expect("count applied migrations");
    raw.close().await;
    assert_eq!(
        applied, migration_files as i64,
        "each migration applied once"
    );

    let latency = db.store.ping().await.expect("ping");
    assert!(latency < std::time::Duration::from_secs(5), "{latency:?}");
    tenant(&db.store).await;
}

async fn clients_round_trip_and_update(db: TestDb) {
    let store = &db.store;
    let acme = client("Acme");
    let globex = client("Globex");
    store.insert_client(&acme).await.unwrap();
    store.insert_client(&globex).await.unwrap();

    assert_eq!(store.get_client(acme.id).await.unwrap(), Some(acme.clone()));
    assert_eq!(store.get_client(ClientId::new()).await.unwrap(), None);
    assert!(
        store.insert_client(&acme).await.is_err(),
        "a duplicate id is refused"
    );

    let mut renamed = acme.clone();
    renamed.name = "Acme Corp".to_string();
    renamed.max_concurrent_calls = 10_000;
    renamed.timezone = "Europe/London".to_string();
    renamed.updated_at = now() + Duration::seconds(5);
    store.update_client(&renamed).await.unwrap();
    assert_eq!(
        store.get_client(acme.id).await.unwrap(),
        Some(renamed.clone())
    );

    assert_eq!(store.list_clients().await.unwrap(), vec![renamed, globex]);
    assert!(
        store.update_client(&client("Nobody")).await.is_err(),
        "updating an unknown client is an error"
    );
}

async fn agents_round_trip_and_deleted_agents_are_invisible(db: TestDb) {
    let store = &db.store;
    let (acme, sales) = tenant(store).await;
    let mut support = agent(&acme, "support");
    support.warmup_url = Some("https://bots.example/support/warmup".to_string());
    support.caller_id = Some(phone("+14155550199"));
    store.insert_agent(&support).await.unwrap();
    let globex = client("Globex");
    let billing = agent(&globex, "billing");
    store.insert_client(&globex).await.unwrap();
    store.insert_agent(&billing).await.unwrap();

    assert_eq!(
        store.get_agent(support.id).await.unwrap(),
        Some(support.clone())
    );
    assert_eq!(store.get_agent(AgentId::new()).await.unwrap(), None);
    assert_eq!(
        store.list_agents(Some(acme.id)).await.unwrap(),
        vec![sales.clone(), support.clone()]
    );
    assert_eq!(
        store.list_agents(None).await.unwrap(),
        vec![sales.clone(), support.clone(), billing.clone()]
    );

    let mut changed = sales.clone();
    changed.name = "outbound sales".to_string();
    changed.answer_url = "https://bots.example/v2/answer".to_string();
    changed.warmup_url = Some("https://bots.example/v2/warmup".to_string());
    changed.caller_id = Some(phone("+14155550123"));
    changed.updated_at = now() + Duration::seconds(1);
    store.update_agent(&changed).await.unwrap();
    assert_eq!(
        store.get_agent(sales.id).await.unwrap(),
        Some(changed.clone())
    );

    // A call made by the agent keeps pointing at it after the agent is deleted.
    let made = call(&changed);
    store.save_call(&made, &[]).await.unwrap();

    assert!(store.delete_agent(sales.id, now()).await.unwrap());
    assert_eq!(store.get_agent(sales.id).await.unwrap(), None);
    assert_eq!(
        store.list_agents(Some(acme.id)).await.unwrap(),
        vec![support.clone()]
    );
    assert_eq!(
        store.list_agents(None).await.unwrap(),
        vec![support, billing]
    );
    assert!(
        !store.delete_agent(sales.id, now()).await.unwrap(),
        "deleting twice"
    );
    assert!(
        !store.delete_agent(AgentId::new(), now()).await.unwrap(),
        "deleting an unknown agent"
    );
    assert!(
        store.update_agent(&changed).await.is_err(),
        "a deleted agent cannot be updated"
    );
    assert_eq!(store.load_call(made.id).await.unwrap(), Some(made));
}

async fn rows_pointing_at_missing_parents_are_refused(db: TestDb) {
    let store = &db.store;
    let ghost_client = client("Ghost");
    assert!(
        store
            .insert_agent(&agent(&ghost_client, "orphan"))
            .await
            .is_err(),
        "an agent needs its client"
    );
    assert!(store.list_agents(None).await.unwrap().is_empty());

    let (_, sales) = tenant(store).await;
    let mut orphan = call(&sales);
    orphan.agent_id = AgentId::new();
    assert!(
        store.save_call(&orphan, &[]).await.is_err(),
        "a call needs its agent"
    );
    assert_eq!(store.load_call(orphan.id).await.unwrap(), None);

    let never_saved = call(&sales);
    assert!(
        store
            .append_events(&[event(&never_saved, "queued", now())])
            .await
            .is_err(),
        "an event needs its call"
    );
}

async fn a_saved_call_round_trips_every_field(db: TestDb) {
    let store = &db.store;
    let (_, sales) = tenant(store).await;
    let t = now();
    let mut full = call(&sales);
    full.to = phone("+919876543210");
    full.from = phone("+447911123456");
    full.status = CallStatus::NoAnswer;
    full.failure_reason = Some(FailureReason::NoAnswer);
    full.provider = "twilio".to_string();
    full.provider_call_id = Some("CA0123456789abcdef".to_string());
    full.priority = Priority::High;
    full.metadata = json!({
        "campaign": "renewals",
        "attempt": 2,
        "ratio": 0.25,
        "tags": ["vip", "ünïcødé"],
        "nested": { "ok": true, "none": null }
    });
    full.created_at = t - Duration::milliseconds(90_001);
    full.updated_at = t;
    full.dial_started_at = Some(t - Duration::milliseconds(60_002));
    full.answered_at = Some(t - Duration::milliseconds(30_003));
    full.ended_at = Some(t - Duration::milliseconds(4));
    full.last_heard_at = t + Duration::milliseconds(5);
    full.duration_seconds = Some(27);
    full.price = Some("-0.0130".to_string());
    full.recording_url = Some("https://rec.example/CA0123.mp3".to_string());
    full.warmup_url = Some("https://bot.example/warmup".to_string());
    full.warmup_attempts = 2;
    full.warmup_millis = Some(1_250);
    full.bot_ready_at = Some(t - Duration::milliseconds(61_007));
    full.not_before = Some(t - Duration::milliseconds(70_008));
    full.slot_granted_at = Some(t - Duration::milliseconds(62_009));
    full.attempt = 2;
    full.original_call_id = Some(CallId::new());
    full.retry_policy = Some(RetryPolicy {
        max_attempts: 3,
        backoff_seconds: 600,
        backoff_multiplier: 1.5,
        retry_on: vec![FailureReason::Busy, FailureReason::NoAnswer],
    });
    full.next_attempt_id = Some(CallId::new());
    full.series_id = Some(CallId::new());
    full.occurrence = Some(4);
    full.schedule = Some(Schedule {
        scheduled_for: chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap(),
        timezone: chrono_tz::Asia::Kolkata,
        business_hours: Some(BusinessHours {
            start: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            days_of_week: vec![1, 2, 3, 4, 5],
        }),
        recurrence: Some(Recurrence {
            frequency: Frequency::Weekly,
            interval: 2,
            end_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
            max_occurrences: Some(6),
        }),
    });
    full.next_occurrence_id = Some(CallId::new());

    let mut events = vec![
        event(&full, "dial_requested", t - Duration::milliseconds(60_002)),
        event(&full, "ringing", t - Duration::milliseconds(45_000)),
        event(&full, "no-answer", t),
    ];
    events[1].source = EventSource::Webhook;
    events[1].applied = false;
    events[1].sequence = Some(3);
    events[1].detail = json!({ "CallStatus": "ringing", "SequenceNumber": "3" });
    events[2].source = EventSource::Provider;
    events[2].sequence = Some(i64::MAX);

    store.save_call(&full, &events).await.unwrap();
    assert_eq!(store.load_call(full.id).await.unwrap(), Some(full.clone()));
    assert_eq!(store.call_events(full.id).await.unwrap(), events);

    // A call with every optional field empty comes back empty, not defaulted.
    let bare = call(&sales);
    store.save_call(&bare, &[]).await.unwrap();
    assert_eq!(store.load_call(bare.id).await.unwrap(), Some(bare.clone()));
    assert!(store.call_events(bare.id).await.unwrap().is_empty());

    // Time is kept to the millisecond; anything finer is dropped.
    let mut fine = call(&sales);
    fine.created_at = t + Duration::microseconds(1_999);
    store.save_call(&fine, &[]).await.unwrap();
    let loaded = store.load_call(fine.id).await.unwrap().unwrap();
    assert_eq!(loaded.created_at, t + Duration::milliseconds(1));

    assert_eq!(store.load_call(CallId::new()).await.unwrap(), None);
}

async fn saving_again_replaces_the_call_without_duplicating_it(db: TestDb) {
    let store = &db.store;
    let (acme, sales) = tenant(store).await;
    let mut c = call(&sales);
    let queued = event(&c, "queued", c.created_at);
    store
        .save_call(&c, std::slice::from_ref(&queued))
        .await
        .unwrap();

    let t = now() + Duration::seconds(1);
    c.provider_call_id = Some("SIM-1".to_string());
    c.dial_started_at = Some(t);
    assert!(c.apply(&observed(CallStatus::Ringing), t));
    let ringing = event(&c, "ringing", t);
    store
        .save_call(&c, std::slice::from_ref(&ringing))
        .await
        .unwrap();
    assert_eq!(store.load_call(c.id).await.unwrap(), Some(c.clone()));

    let t = t + Duration::seconds(20);
    let completed = Observation {
        duration_seconds: Some(19),
        price: Some("0.02".to_string()),
        ..observed(CallStatus::Completed)
    };
    assert!(c.apply(&completed, t));
    let done = event(&c, "completed", t);
    store
        .save_call(&c, std::slice::from_ref(&done))
        .await
        .unwrap();

    let loaded = store.load_call(c.id).await.unwrap().unwrap();
    assert_eq!(loaded, c);
    assert_eq!(loaded.status, CallStatus::Completed);
    let listed = store
        .list_calls(&CallFilter {
            client_id: Some(acme.id),
            ..CallFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed, vec![c.clone()], "still one call");
    assert_eq!(
        store.call_events(c.id).await.unwrap(),
        vec![queued, ringing, done]
    );
    assert!(store.live_calls().await.unwrap().is_empty());
}

async fn a_follow_up_is_saved_with_its_call_and_only_once(db: TestDb) {
    let store = &db.store;
    let (_, sales) = tenant(store).await;
    let first = call(&sales);
    store.save_call(&first, &[]).await.unwrap();

    let mut failed = first.clone();
    failed.finish(CallStatus::Busy, None, now());
    let mut retry = call(&sales);
    retry.attempt = 2;
    retry.original_call_id = Some(first.id);
    failed.next_attempt_id = Some(retry.id);
    let created = event(&retry, "created", now());
    let inserted = store
        .save_with_follow_up(
            &failed,
            &[event(&failed, "busy", now())],
            &retry,
            &[created],
        )
        .await
        .unwrap();
    assert!(inserted);
    assert_eq!(
        store.load_call(first.id).await.unwrap(),
        Some(failed.clone())
    );
    assert_eq!(
        store.load_call(retry.id).await.unwrap(),
        Some(retry.clone())
    );
    assert_eq!(store.call_events(retry.id).await.unwrap().len(), 1);

    // A second attempt number 2 of the same first call is refused, quietly: the
    // call is still saved, the duplicate and its events are not.
    let mut twin = call(&sales);
    twin.attempt = 2;
    twin.original_call_id = Some(first.id);
    let inserted = store
        .save_with_follow_up(&failed, &[], &twin, &[event(&twin, "created", now())])
        .await
        .unwrap();
    assert!(!inserted);
    assert_eq!(store.load_call(twin.id).await.unwrap(), None);
    assert!(store.call_events(twin.id).await.unwrap().is_empty());

    // Likewise one call per occurrence of a series.
    let mut second = call(&sales);
    second.series_id = Some(first.id);
    second.occurrence = Some(2);
    assert!(store
        .save_with_follow_up(&first, &[], &second, &[])
        .await
        .unwrap());
    let mut again = call(&sales);
    again.series_id = Some(first.id);
    again.occurrence = Some(2);
    assert!(!store
        .save_with_follow_up(&first, &[], &again, &[])
        .await
        .unwrap());
}

async fn calls_are_inserted_together_and_limits_read_back(db: TestDb) {
    let store = &db.store;
    let (acme, sales) = tenant(store).await;
    let calls: Vec<Call> = (0..3).map(|_| call(&sales)).collect();
    let events: Vec<CallEvent> = calls.iter().map(|c| event(c, "created", now())).collect();
    store.insert_calls(&calls, &events).await.unwrap();
    for c in &calls {
        assert_eq!(store.load_call(c.id).await.unwrap().as_ref(), Some(c));
        assert_eq!(store.call_events(c.id).await.unwrap().len(), 1);
    }
    assert_eq!(
        store.client_limit(acme.id).await.unwrap(),
        Some(acme.max_concurrent_calls)
    );
    assert_eq!(store.client_limit(ClientId::new()).await.unwrap(), None);
}

fn observed(status: CallStatus) -> Observation {
    Observation {
        status,
        ..Observation::default()
    }
}

async fn live_calls_are_exactly_the_calls_not_final(db: TestDb) {
    let store = &db.store;
    let (_, sales) = tenant(store).await;
    let mut live = BTreeSet::new();
    for status in CallStatus::ALL {
        let mut c = call(&sales);
        c.status = status;
        store.save_call(&c, &[]).await.unwrap();
        if !status.is_final() {
            live.insert(c.id);
        }
    }
    assert_eq!(live.len(), 4, "queued, initiated, ringing, in-progress");

    let found = store.live_calls().await.unwrap();
    assert!(found.iter().all(Call::is_live));
    assert_eq!(found.len(), live.len(), "no call twice");
    assert_eq!(ids(&found).into_iter().collect::<BTreeSet<_>>(), live);
}

async fn calls_are_found_by_provider_and_provider_id(db: TestDb) {
    let store = &db.store;
    let (_, sales) = tenant(store).await;
    let mut on_twilio = call(&sales);
    on_twilio.provider = "twilio".to_string();
    on_twilio.provider_call_id = Some("CA1".to_string());
    let mut on_plivo = call(&sales);
    on_plivo.provider = "plivo".to_string();
    on_plivo.provider_call_id = Some("CA1".to_string());
    let mut not_dialed = call(&sales);
    not_dialed.provider = "twilio".to_string();
    for c in [&on_twilio, &on_plivo, &not_dialed] {
        store.save_call(c, &[]).await.unwrap();
    }

    let find = |provider: &'static str, id: &'static str| store.find_by_provider_id(provider, id);
    assert_eq!(find("twilio", "CA1").await.unwrap(), Some(on_twilio));
    assert_eq!(find("plivo", "CA1").await.unwrap(), Some(on_plivo));
    assert_eq!(find("twilio", "CA2").await.unwrap(), None);
    assert_eq!(find("exotel", "CA1").await.unwrap(), None);
    assert_eq!(find("twilio", "").await.unwrap(), None);
}

async fn call_events_come_back_oldest_first(db: TestDb) {
    let store = &db.store;
    let (_, sales) = tenant(store).await;
    let c = call(&sales);
    let t = now();
    let third = event(&c, "ringing", t + Duration::milliseconds(2));
    let first = event(&c, "queued", t);
    store
        .save_call(&c, &[third.clone(), first.clone()])
        .await
        .unwrap();

    // Appending leaves the call alone.
    let second = event(&c, "initiated", t + Duration::milliseconds(1));
    let mut same_ms = [
        event(&c, "ringing", t + Duration::milliseconds(3)),
        event(&c, "ringing", t + Duration::milliseconds(3)),
    ];
    same_ms.sort_by_key(|e| e.id);
    store
        .append_events(&[same_ms[1].clone(), second.clone(), same_ms[0].clone()])
        .await
        .unwrap();
    store.append_events(&[]).await.unwrap();
    assert_eq!(store.load_call(c.id).await.unwrap(), Some(c.clone()));

    let history = store.call_events(c.id).await.unwrap();
    let [fourth, fifth] = same_ms;
    assert_eq!(history, vec![first, second, third, fourth, fifth]);
    assert!(store.call_events(CallId::new()).await.unwrap().is_empty());
}

async fn list_calls_filters_and_pages_without_gaps_or_repeats(db: TestDb) {
    let store = &db.store;
    let (acme, sales) = tenant(store).await;
    let support = agent(&acme, "support");
    store.insert_agent(&support).await.unwrap();
    let (globex, billing) = tenant(store).await;

    let mut acme_calls = Vec::new();
    for i in 0..25 {
        let mut c = call(if i % 2 == 0 { &sales } else { &support });
        if i % 5 == 0 {
            c.status = CallStatus::Completed;
        }
        store.save_call(&c, &[]).await.unwrap();
        acme_calls.push(c);
    }
    let mut globex_calls = Vec::new();
    for i in 0..5 {
        let mut c = call(&billing);
        if i % 5 == 0 {
            c.status = CallStatus::Completed;
        }
        store.save_call(&c, &[]).await.unwrap();
        globex_calls.push(c);
    }
    let newest_first = |calls: &[Call], keep: &dyn Fn(&Call) -> bool| {
        let mut ids: Vec<CallId> = calls.iter().filter(|c| keep(c)).map(|c| c.id).collect();
        ids.sort_by(|a, b| b.cmp(a));
        ids
    };

    // Pages of ten through Acme's 25 calls: 10, 10, 5, then nothing.
    let mut filter = CallFilter {
        client_id: Some(acme.id),
        limit: 10,
        ..CallFilter::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = store.list_calls(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(pages.len() < 3, "a cursor that never runs out: {filter:?}");
        filter.after = page.last().map(|c| c.id);
        pages.push(page);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    let seen: Vec<CallId> = pages.iter().flat_map(|p| ids(p)).collect();
    assert_eq!(seen, newest_first(&acme_calls, &|_| true));
    assert!(pages.concat().iter().all(|c| c.client_id == acme.id));
    // Whole calls come back, not just ids.
    assert!(pages.concat().iter().all(|c| acme_calls.contains(c)));

    let by_status = store
        .list_calls(&CallFilter {
            client_id: Some(acme.id),
            status: Some(CallStatus::Completed),
            ..CallFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&by_status),
        newest_first(&acme_calls, &|c| c.status == CallStatus::Completed)
    );
    assert_eq!(by_status.len(), 5);

    let by_agent = store
        .list_calls(&CallFilter {
            agent_id: Some(support.id),
            ..CallFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&by_agent),
        newest_first(&acme_calls, &|c| c.agent_id == support.id)
    );

    let globex_queued = store
        .list_calls(&CallFilter {
            client_id: Some(globex.id),
            status: Some(CallStatus::Queued),
            ..CallFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&globex_queued),
        newest_first(&globex_calls, &|c| c.status == CallStatus::Queued)
    );
    assert_eq!(globex_queued.len(), 4);

    let everything = store
        .list_calls(&CallFilter {
            limit: 100,
            ..CallFilter::default()
        })
        .await
        .unwrap();
    let all: Vec<Call> = acme_calls.iter().chain(&globex_calls).cloned().collect();
    assert_eq!(ids(&everything), newest_first(&all, &|_| true));

    let nothing = CallFilter {
        limit: 0,
        ..CallFilter::default()
    };
    assert!(store.list_calls(&nothing).await.unwrap().is_empty());
}

async fn a_failed_event_insert_rolls_the_whole_save_back(db: TestDb) {
    let store = &db.store;
    let (_, sales) = tenant(store).await;
    let original = call(&sales);
    let queued = event(&original, "queued", original.created_at);
    store
        .save_call(&original, std::slice::from_ref(&queued))
        .await
        .unwrap();

    // The second event reuses an id already stored, so its insert fails.
    let t = now() + Duration::seconds(1);
    let mut moved = original.clone();
    assert!(moved.apply(&observed(CallStatus::Ringing), t));
    let ringing = event(&moved, "ringing", t);
    let result = store
        .save_call(&moved, &[ringing.clone(), queued.clone()])
        .await;
    let err = result.expect_err("a duplicate event id fails the save");
    assert!(err.0.contains(&queued.id.to_string()), "{err}");

    assert_eq!(
        store.load_call(original.id).await.unwrap(),
        Some(original.clone())
    );
    assert_eq!(
        store.call_events(original.id).await.unwrap(),
        vec![queued.clone()]
    );

    // Appending is all or nothing too.
    let initiated = event(&original, "initiated", t);
    assert!(store
        .append_events(&[initiated, queued.clone()])
        .await
        .is_err());
    assert_eq!(
        store.call_events(original.id).await.unwrap(),
        vec![queued.clone()]
    );

    // A new call whose events fail is not created at all.
    let fresh = call(&sales);
    let mut clash = event(&fresh, "queued", fresh.created_at);
    clash.id = queued.id;
    assert!(store.save_call(&fresh, &[clash]).await.is_err());
    assert_eq!(store.load_call(fresh.id).await.unwrap(), None);

    // The store is still usable after the rollbacks.
    store
        .save_call(&moved, std::slice::from_ref(&ringing))
        .await
        .unwrap();
    assert_eq!(store.load_call(moved.id).await.unwrap(), Some(moved));
}

async fn rows_that_do_not_decode_are_errors(db: TestDb) {
    let store = &db.store;
    let (_, sales) = tenant(store).await;
    let c = call(&sales);
    store
        .save_call(&c, &[event(&c, "queued", c.created_at)])
        .await
        .unwrap();

    let raw = db.raw_pool().await;
    sqlx::query("UPDATE calls SET status = 'exploded' WHERE id = $1")
        .bind(c.id.to_string())
        .execute(&raw)
        .await
        .unwrap();
    sqlx::query("UPDATE call_events SET detail = '{not json' WHERE call_id = $1")
        .bind(c.id.to_string())
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;

    let err = store.load_call(c.id).await.expect_err("unknown status");
    assert!(
        err.0.contains("status") && err.0.contains("exploded"),
        "{err}"
    );
    assert!(err.0.contains(&c.id.to_string()), "{err}");
    assert!(store.list_calls(&CallFilter::default()).await.is_err());
    let err = store.call_events(c.id).await.expect_err("invalid JSON");
    assert!(err.0.contains("detail"), "{err}");
}

// ---------------------------------------------------------------------------------------
// SQLite only

#[tokio::test]
async fn sqlite_creates_its_file_in_a_missing_directory_in_wal_mode() {
    let root = temp_dir();
    let file = root
        .join("does")
        .join("not")
        .join("exist")
        .join("callvisor.db");
    assert!(!root.exists());

    let url = format!("sqlite://{}", file.display());
    let store = SqlStore::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    assert!(file.is_file(), "{} was created", file.display());

    let db = TestDb {
        store: store.clone(),
        url,
    };
    let raw = db.raw_pool().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&raw)
        .await
        .expect("read the journal mode");
    raw.close().await;
    assert_eq!(mode.to_ascii_lowercase(), "wal");

    // Reopening an existing file works and keeps the data.
    let (acme, _) = tenant(&store).await;
    store.close().await;
    let reopened = SqlStore::connect(&db.url).await.expect("reconnect");
    reopened.migrate().await.expect("migrate again");
    assert_eq!(reopened.get_client(acme.id).await.unwrap(), Some(acme));
    reopened.close().await;
    std::fs::remove_dir_all(&root).expect("clean up");
}

#[tokio::test]
async fn connect_refuses_an_unknown_database_scheme() {
    let err = SqlStore::connect("mysql://cv:s3cret@localhost/cv")
        .await
        .expect_err("MySQL is not supported");
    assert!(err.0.contains("sqlite://"), "{err}");
    assert!(!err.0.contains("s3cret"), "{err}");
}

async fn concurrent_saves_all_land_and_a_failing_one_fails_alone(db: TestDb) {
    let store = &db.store;
    let (_, sales) = tenant(store).await;
    let stored = call(&sales);
    let queued = event(&stored, "queued", stored.created_at);
    store
        .save_call(&stored, std::slice::from_ref(&queued))
        .await
        .unwrap();

    // Many saves at once (they share transactions); one of them reuses a stored event
    // id, so it cannot be made.
    let mut moved = stored.clone();
    assert!(moved.apply(&observed(CallStatus::Ringing), now() + Duration::seconds(1)));
    let mut clash = event(&moved, "ringing", moved.updated_at);
    clash.id = queued.id;
    let bad = tokio::spawn({
        let store = store.clone();
        async move { store.save_call(&moved, &[clash]).await }
    });
    let saves: Vec<_> = (0..60)
        .map(|i| {
            let (store, mut fresh) = (store.clone(), call(&sales));
            fresh.metadata = json!({ "n": i });
            tokio::spawn(async move {
                let created = event(&fresh, "created", fresh.created_at);
                store.save_call(&fresh, &[created]).await.map(|()| fresh)
            })
        })
        .collect();

    let refused = bad
        .await
        .unwrap()
        .expect_err("a duplicate event id fails its save");
    assert!(refused.0.contains(&queued.id.to_string()), "{refused}");
    for save in saves {
        let fresh = save.await.unwrap().expect("every other save lands");
        assert_eq!(
            store.load_call(fresh.id).await.unwrap(),
            Some(fresh.clone())
        );
        let kinds: Vec<String> = store
            .call_events(fresh.id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, ["created"]);
    }
    assert_eq!(
        store.load_call(stored.id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.call_events(stored.id).await.unwrap(), vec![queued]);
}
