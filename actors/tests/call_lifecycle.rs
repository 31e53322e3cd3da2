//! The call subsystem on paused tokio time, against in-memory storage and a scripted
//! provider: a call's life from dial to final status, out-of-order webhooks, timeouts,
//! crashes and restarts.

mod common;

use callvisor_actors::broker::SlotDenied;
use callvisor_actors::calls::{CallRef, CallSupervisorMsg, PlaceError, WebhookOutcome};
use callvisor_actors::domain::{Call, CallId, CallStatus, FailureReason, Observation};
use callvisor_actors::ports::{HangUp, ProviderError};
use callvisor_actors::rpc::ask;
use callvisor_actors::testing::{MemoryStore, ScriptedProvider};
use common::*;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn a_call_is_dialed_once_follows_its_webhooks_and_returns_its_slot() {
    let h = fresh().await;
    let call = h.place(10).await.unwrap();
    h.settle().await;
    let dials = h.provider.dials();
    assert_eq!(dials.len(), 1);
    assert_eq!(
        dials[0].status_callback_url,
        format!("http://cv.test/webhooks/twilio/status?callId={}", call.id)
    );
    assert_eq!(h.slots().await.global_in_use, 1);

    for (seq, s) in [
        CallStatus::Initiated,
        CallStatus::Ringing,
        CallStatus::InProgress,
        CallStatus::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        let outcome = h.webhook(call.id, s, seq as i64).await;
        assert!(matches!(outcome, WebhookOutcome::Routed(o) if o.applied && o.status == s));
    }
    h.settle().await;
    let stored = h.store.call(call.id).unwrap();
    assert_eq!(stored.status, CallStatus::Completed);
    assert_eq!(stored.duration_seconds, Some(42));
    assert!(stored.provider_call_id.is_some());
    assert!(stored.answered_at.is_some() && stored.ended_at.is_some());
    assert_eq!(h.slots().await.global_in_use, 0);
    assert_eq!(h.live().await, 0);
    let kinds: Vec<String> = h
        .store
        .events(call.id)
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "dial_requested",
            "queued",
            "initiated",
            "ringing",
            "in-progress",
            "completed"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn late_duplicate_and_out_of_order_webhooks_never_move_a_call_backwards() {
    let h = fresh().await;
    let call = h.place(1).await.unwrap();
    h.settle().await;
    h.webhook(call.id, CallStatus::Completed, 3).await;
    h.settle().await;
    // The call is over: its actor is gone, later webhooks are recorded and ignored.
    assert_eq!(
        h.webhook(call.id, CallStatus::Completed, 3).await,
        WebhookOutcome::RecordedOnFinishedCall(CallStatus::Completed)
    );
    assert_eq!(
        h.webhook(call.id, CallStatus::Ringing, 1).await,
        WebhookOutcome::RecordedOnFinishedCall(CallStatus::Completed)
    );
    let stored = h.store.call(call.id).unwrap();
    assert_eq!(stored.status, CallStatus::Completed);
    let events = h.store.events(call.id);
    let webhooks: Vec<(String, bool)> = events
        .iter()
        .filter(|e| e.sequence.is_some())
        .map(|e| (e.kind.clone(), e.applied))
        .collect();
    assert_eq!(
        webhooks,
        [
            ("completed".into(), true),
            ("completed".into(), false),
            ("ringing".into(), false)
        ]
    );
    // The slot came back exactly once: the client's only slot is free again, and only one.
    assert_eq!(h.slots().await.global_in_use, 0);
    h.place(1).await.unwrap();
    assert!(matches!(
        h.place(1).await,
        Err(PlaceError::NoSlot(SlotDenied::Client { limit: 1 }))
    ));
}

#[tokio::test(start_paused = true)]
async fn a_report_about_another_provider_call_never_moves_this_one() {
    let h = fresh().await;
    let call = h.place(10).await.unwrap();
    h.settle().await;
    let observation = Observation {
        status: CallStatus::Completed,
        provider_call_id: Some("CAsomeoneelse".into()),
        ..Default::default()
    };
    let calls = h.tree.calls.get();
    let outcome = ask(
        &calls,
        |reply| CallSupervisorMsg::Webhook {
            call: CallRef::Id(call.id),
            observation,
            detail: serde_json::json!({}),
            reply,
        },
        ASK,
    )
    .await
    .unwrap()
    .unwrap();
    assert!(matches!(outcome, WebhookOutcome::Routed(o) if !o.applied));
    assert_eq!(h.store.call(call.id).unwrap().status, CallStatus::Queued);
    assert!(h
        .store
        .events(call.id)
        .iter()
        .any(|e| e.kind == "other_provider_call"));
}

#[tokio::test(start_paused = true)]
async fn a_webhook_for_an_unknown_call_changes_nothing() {
    let h = fresh().await;
    assert_eq!(
        h.webhook(CallId::new(), CallStatus::Completed, 0).await,
        WebhookOutcome::UnknownCall
    );
    assert!(h.store.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_silent_call_times_out_after_the_configured_time_and_frees_its_slot() {
    let h = fresh().await;
    let call = h.place(10).await.unwrap();
    h.settle().await;
    h.webhook(call.id, CallStatus::Ringing, 0).await;
    tokio::time::sleep(Duration::from_secs(599)).await;
    h.settle().await;
    assert_eq!(h.store.call(call.id).unwrap().status, CallStatus::Ringing);
    tokio::time::sleep(Duration::from_secs(2)).await;
    h.settle().await;
    let stored = h.store.call(call.id).unwrap();
    assert_eq!(stored.status, CallStatus::Timeout);
    assert_eq!(stored.failure_reason, Some(FailureReason::Timeout));
    assert_eq!(
        h.provider.hang_ups().len(),
        1,
        "the ringing phone is hung up"
    );
    assert_eq!(h.slots().await.global_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn a_long_conversation_the_provider_vouches_for_is_not_cut_off() {
    let h = fresh().await;
    let call = h.place(10).await.unwrap();
    h.settle().await;
    h.webhook(call.id, CallStatus::InProgress, 0).await;
    let pid = h.store.call(call.id).unwrap().provider_call_id.unwrap();
    h.provider
        .set_record(&pid, "+14155552671", CallStatus::InProgress);
    tokio::time::sleep(Duration::from_secs(25 * 60)).await;
    h.settle().await;
    assert_eq!(
        h.store.call(call.id).unwrap().status,
        CallStatus::InProgress
    );
    h.provider
        .set_record(&pid, "+14155552671", CallStatus::Completed);
    tokio::time::sleep(Duration::from_secs(10 * 60)).await;
    h.settle().await;
    assert_eq!(h.store.call(call.id).unwrap().status, CallStatus::Completed);
    assert!(h.provider.hang_ups().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_call_actor_is_restarted_and_takes_the_webhook_that_crashed_it() {
    let h = fresh().await;
    let call = h.place(10).await.unwrap();
    h.settle().await;
    h.webhook(call.id, CallStatus::Ringing, 1).await;
    h.store.panic_on_next_saves(1);
    let calls = h.tree.calls.get();
    let answer = ask(
        &calls,
        |reply| CallSupervisorMsg::Webhook {
            call: CallRef::Id(call.id),
            observation: Observation {
                status: CallStatus::InProgress,
                ..Default::default()
            },
            detail: serde_json::json!({}),
            reply,
        },
        ASK,
    )
    .await
    .unwrap();
    assert!(
        matches!(answer, Ok(WebhookOutcome::Routed(o)) if o.applied && o.status == CallStatus::InProgress),
        "the webhook that crashed the actor is handed to its restarted actor, not lost: {answer:?}"
    );
    h.settle().await;
    assert_eq!(
        h.live().await,
        1,
        "the supervisor restarted the call's actor"
    );
    assert!(h
        .store
        .events(call.id)
        .iter()
        .any(|e| e.kind == "recovered"));
    assert_eq!(
        h.store.call(call.id).unwrap().status,
        CallStatus::InProgress
    );
    h.webhook(call.id, CallStatus::Completed, 3).await;
    h.settle().await;
    assert_eq!(h.store.call(call.id).unwrap().status, CallStatus::Completed);
    assert_eq!(
        h.provider.dials().len(),
        1,
        "the restart did not dial again"
    );
    assert_eq!(h.slots().await.global_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_whose_actor_keeps_crashing_is_marked_failed_and_frees_its_slot() {
    let h = fresh().await;
    let call = h.place(10).await.unwrap();
    h.settle().await;
    h.store.panic_on_next_saves(4);
    for seq in 0..4 {
        let calls = h.tree.calls.get();
        let _ = ask(
            &calls,
            |reply| CallSupervisorMsg::Webhook {
                call: CallRef::Id(call.id),
                observation: Observation {
                    status: CallStatus::Ringing,
                    ..Default::default()
                },
                detail: serde_json::json!({"seq": seq}),
                reply,
            },
            ASK,
        )
        .await;
        h.settle().await;
    }
    let stored = h.store.call(call.id).unwrap();
    assert_eq!(stored.status, CallStatus::Failed);
    assert_eq!(stored.failure_reason, Some(FailureReason::SupervisorGaveUp));
    assert_eq!(h.live().await, 0);
    assert_eq!(h.slots().await.global_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn live_calls_get_their_actors_back_with_the_rest_of_their_timeout() {
    // A first process places a call, hears it ring, and dies after 7 minutes of silence.
    let store: Arc<MemoryStore> = Arc::default();
    let provider: Arc<ScriptedProvider> = Arc::default();
    let clock = clock();
    let first = start(store.clone(), provider.clone(), clock.clone()).await;
    let call = first.place(10).await.unwrap();
    first.settle().await;
    first.webhook(call.id, CallStatus::Ringing, 1).await;
    tokio::time::sleep(Duration::from_secs(7 * 60)).await;
    first.tree.root.kill();
    first.settle().await;
    let pid = store.call(call.id).unwrap().provider_call_id.unwrap();
    provider.set_record(&pid, "+14155552671", CallStatus::Ringing);

    let second = start(store.clone(), provider.clone(), clock).await;
    second.settle().await;
    assert_eq!(second.live().await, 1);
    assert_eq!(
        second.slots().await.global_in_use,
        1,
        "its slot is held again"
    );
    tokio::time::sleep(Duration::from_secs(2 * 60 + 55)).await;
    second.settle().await;
    assert_eq!(store.call(call.id).unwrap().status, CallStatus::Ringing);
    tokio::time::sleep(Duration::from_secs(10)).await;
    second.settle().await;
    assert_eq!(store.call(call.id).unwrap().status, CallStatus::Timeout);
    assert_eq!(provider.dials().len(), 1, "never dialed twice");
    assert_eq!(second.slots().await.global_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn a_dial_with_an_unknown_outcome_is_looked_up_before_anything_is_redialed() {
    let h = fresh().await;
    // The provider took the call but the answer was lost.
    h.provider.answer_next_create(Err(ProviderError::Ambiguous));
    let call = h.place(10).await.unwrap();
    h.settle().await;
    // Nothing in its records: the lookup proves the call was never made, so it is dialed
    // again, once.
    assert_eq!(h.provider.dials().len(), 2);
    assert!(h
        .store
        .events(call.id)
        .iter()
        .any(|e| e.kind == "dial_not_found"));

    // This time the provider has a record of the lost call: it is adopted, not redialed.
    h.provider.answer_next_create(Err(ProviderError::Ambiguous));
    h.provider
        .set_record("CAlost", "+14155552671", CallStatus::Ringing);
    let second = h.place(10).await.unwrap();
    h.settle().await;
    assert_eq!(h.provider.dials().len(), 3);
    let adopted = h.store.call(second.id).unwrap();
    assert_eq!(adopted.provider_call_id.as_deref(), Some("CAlost"));
    assert_eq!(adopted.status, CallStatus::Ringing);
}

#[tokio::test(start_paused = true)]
async fn a_refused_dial_fails_the_call_with_its_reason() {
    let h = fresh().await;
    h.provider.answer_next_create(Err(ProviderError::Rejected {
        status: 400,
        code: Some("21211".into()),
        message: "invalid To".into(),
    }));
    let call = h.place(10).await.unwrap();
    h.settle().await;
    let stored = h.store.call(call.id).unwrap();
    assert_eq!(stored.status, CallStatus::Failed);
    assert_eq!(stored.failure_reason, Some(FailureReason::InvalidNumber));
    assert_eq!(h.slots().await.global_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn cancel_hangs_up_a_ringing_call_and_refuses_a_finished_one() {
    let h = fresh().await;
    let call = h.place(10).await.unwrap();
    h.settle().await;
    h.webhook(call.id, CallStatus::Ringing, 1).await;
    let calls = h.tree.calls.get();
    let canceled = ask(&calls, |tx| CallSupervisorMsg::Cancel(call.id, tx), ASK)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(canceled.status, CallStatus::Canceled);
    assert_eq!(h.provider.hang_ups()[0].1, HangUp::Cancel);
    h.settle().await;
    let again = ask(&calls, |tx| CallSupervisorMsg::Cancel(call.id, tx), ASK)
        .await
        .unwrap();
    assert!(again.is_err());
    assert_eq!(h.slots().await.global_in_use, 0);
}

impl Harness {
    async fn place_with_warmup(&self) -> Call {
        let mut request = new_call(self.client, 10);
        request.request.warmup_url = Some("http://bot.test/warmup".into());
        let calls = self.tree.calls.get();
        ask(&calls, |tx| CallSupervisorMsg::Place(request, tx), ASK)
            .await
            .unwrap()
            .unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn a_bot_that_never_warms_up_fails_its_call_without_a_dial() {
    let h = fresh().await;
    h.warmer
        .answer_next((0..3).map(|i| Err(format!("HTTP 503 #{i}"))));
    let call = h.place_with_warmup().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    h.settle().await;
    let stored = h.store.call(call.id).unwrap();
    assert_eq!(stored.status, CallStatus::Failed);
    assert_eq!(stored.failure_reason, Some(FailureReason::BotUnavailable));
    assert_eq!(stored.warmup_attempts, 3);
    assert!(
        stored.warmup_millis.unwrap() >= 3_000,
        "backoff 1 s then 2 s"
    );
    assert!(h.provider.dials().is_empty(), "never dialed");
    assert_eq!(h.warmer.attempts().len(), 3);
    assert_eq!(h.slots().await.global_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn a_bot_that_warms_up_on_the_second_attempt_is_dialed_with_two_attempts_recorded() {
    let h = fresh().await;
    h.warmer.answer_next([Err("timed out".to_string())]);
    let call = h.place_with_warmup().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    h.settle().await;
    let stored = h.store.call(call.id).unwrap();
    assert_eq!(stored.warmup_attempts, 2);
    assert!(stored.bot_ready_at.is_some());
    assert_eq!(h.provider.dials().len(), 1, "dialed once the bot answered");
    let kinds: Vec<String> = h
        .store
        .events(call.id)
        .into_iter()
        .map(|e| e.kind)
        .collect();
    let ready = kinds.iter().position(|k| k == "bot_ready").unwrap();
    let dialed = kinds.iter().position(|k| k == "dial_requested").unwrap();
    assert!(ready < dialed, "{kinds:?}");
}
