//! Campaigns on paused time: a whole contact list dialed within its pacing and retry
//! policy, every contact ending with exactly one outcome that agrees with what the
//! provider saw; retries, do-not-call and invalid numbers.

mod common;

use callvisor_actors::domain::campaign::{
    Campaign, CampaignStatus, Contact, ContactOutcome, ContactState, Control, OutcomeCounts,
    Pacing, Progress,
};
use callvisor_actors::domain::{CallStatus, FailureReason, PhoneNumber};
use callvisor_actors::ports::{CampaignStore, Clock};
use common::campaigns::{campaign_request, contacts, default_mix, Dial, Player, Script};
use common::{clock, start_with, Options};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The size of the large campaign.
const CONTACTS: u32 = 10_000;

/// Each number's dials, in order.
fn by_number(dials: &[Dial]) -> HashMap<String, Vec<Dial>> {
    let mut map: HashMap<String, Vec<Dial>> = HashMap::new();
    for d in dials {
        map.entry(d.to.clone()).or_default().push(d.clone());
    }
    map
}

/// The outcome a contact must end with, given the provider's record of its dials.
fn expected_outcome(dials: &[Dial]) -> (ContactOutcome, Option<FailureReason>) {
    let last = dials.last().expect("dialed");
    match last.script.status {
        CallStatus::Completed => (ContactOutcome::Connected, None),
        status => (
            ContactOutcome::Failed,
            last.script.failure_reason.or(status.implied_failure()),
        ),
    }
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_contacts_each_end_with_one_outcome_that_matches_the_providers_log() {
    let clock = clock();
    let h = start_with(Options {
        clock: clock.clone(),
        global_max_calls: 60,
        ..Options::default()
    })
    .await;
    h.store.set_client_limit(h.client, 60);
    let player = Player::start(&h, clock.clone(), default_mix());
    let pacing = Pacing {
        max_concurrent: 50,
        calls_per_minute: None,
    };
    let campaign = h
        .create_campaign(campaign_request(h.client, pacing), contacts(CONTACTS, 0))
        .await;
    assert_eq!(campaign.status, CampaignStatus::Draft);
    h.control(&campaign, Control::Start).await.unwrap();

    let mut most_live = 0;
    let mut finished = false;
    for _ in 0..(48 * 60) {
        most_live = most_live.max(h.live().await);
        if h.stored(&campaign).status == CampaignStatus::Completed {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    assert!(finished, "{:?}", h.stored(&campaign));
    assert!(most_live <= 50, "pacing.maxConcurrent held: {most_live}");

    let dials = player.dials();
    let log = by_number(&dials);
    let stored: Vec<Contact> = h.store.contacts(campaign.id);
    assert_eq!(stored.len(), CONTACTS as usize);
    assert_eq!(log.len(), CONTACTS as usize, "every contact was dialed");
    let mut counts = OutcomeCounts::default();
    for contact in &stored {
        assert_eq!(contact.state, ContactState::Done, "{contact:?}");
        let dialed = &log[contact.phone.as_str()];
        let (outcome, reason) = expected_outcome(dialed);
        assert_eq!(contact.outcome, Some(outcome), "{contact:?} {dialed:?}");
        assert_eq!(contact.failure_reason, reason, "{contact:?}");
        assert_eq!(contact.attempts as usize, dialed.len(), "{contact:?}");
        // Retried exactly when the policy says: busy or unanswered, up to 3 attempts.
        for (i, d) in dialed.iter().enumerate() {
            let retried = matches!(d.script.status, CallStatus::Busy | CallStatus::NoAnswer);
            let last = i + 1 == dialed.len();
            assert_eq!(last, !retried || i + 1 == 3, "{dialed:?}");
            if i > 0 {
                let gap = d.at - dialed[i - 1].at;
                assert!(
                    gap >= chrono::Duration::seconds(600),
                    "backoff kept: {dialed:?}"
                );
            }
        }
        counts.add(contact.state, true, contact.outcome, 1);
    }
    let final_campaign = h.stored(&campaign);
    assert_eq!(final_campaign.processed_contacts, CONTACTS);
    assert_eq!(final_campaign.current_index, CONTACTS);
    assert_eq!(final_campaign.dials as usize, dials.len());
    // What the read side reports agrees with the contacts and the provider's log.
    let now = clock.now();
    let inputs = h.store.progress_inputs(&final_campaign, now).await.unwrap();
    let progress = Progress::of(&final_campaign, &inputs);
    assert_eq!(progress.counts, counts);
    let connected = log
        .values()
        .filter(|d| d.last().unwrap().script.status == CallStatus::Completed)
        .count();
    assert_eq!(progress.counts.connected as usize, connected);
    assert_eq!(progress.counts.finished(), CONTACTS);
    assert_eq!(progress.percent_complete, 100.0);
    assert_eq!(h.slots().await.global_in_use, 0, "every slot returned");
}

/// A scripter that answers as a fixed table says, by number.
fn scripted(
    table: Vec<(&'static str, CallStatus, Option<FailureReason>)>,
) -> common::campaigns::Scripter {
    Arc::new(move |number, _| {
        let (_, status, failure_reason) = table
            .iter()
            .find(|(n, _, _)| *n == number)
            .copied()
            .unwrap_or(("", CallStatus::Completed, None));
        Script {
            status,
            failure_reason,
            ring: Duration::from_secs(5),
            talk: Duration::from_secs(60),
        }
    })
}

#[tokio::test(start_paused = true)]
async fn busy_and_unanswered_are_retried_with_backoff_while_invalid_and_do_not_call_never_are() {
    let clock = clock();
    let h = start_with(Options {
        clock: clock.clone(),
        ..Options::default()
    })
    .await;
    let player = Player::start(
        &h,
        clock.clone(),
        scripted(vec![
            ("+14150000001", CallStatus::Busy, None),
            ("+14150000002", CallStatus::NoAnswer, None),
            (
                "+14150000003",
                CallStatus::Failed,
                Some(FailureReason::InvalidNumber),
            ),
        ]),
    );
    let mut request = campaign_request(h.client, Pacing::default());
    request.retry_policy.backoff_multiplier = 2.0;
    request.do_not_call = [PhoneNumber::from_trusted("+14150000004".into())].into();
    let campaign: Campaign = h.create_campaign(request, contacts(5, 1)).await;
    h.control(&campaign, Control::Start).await.unwrap();
    let done = h
        .run_until_completed(
            &campaign,
            Duration::from_secs(10),
            Duration::from_secs(6 * 3600),
        )
        .await;
    assert!(done);

    let log = by_number(&player.dials());
    let gaps = |n: &str| -> Vec<i64> {
        log[n]
            .windows(2)
            .map(|w| (w[1].at - w[0].at).num_seconds())
            .collect()
    };
    assert_eq!(log["+14150000001"].len(), 3, "busy: three attempts");
    assert_eq!(log["+14150000002"].len(), 3, "no answer: three attempts");
    // 600 s after the first attempt ended (5 s of ringing), then 1200 s after the second.
    assert_eq!(gaps("+14150000001"), vec![605, 1205]);
    assert_eq!(
        log["+14150000003"].len(),
        1,
        "an invalid number is dialed once"
    );
    assert!(
        !log.contains_key("+14150000004"),
        "do-not-call is never dialed"
    );
    assert_eq!(log["+14150000005"].len(), 1);

    let outcome = |position: usize| {
        let c = &h.store.contacts(campaign.id)[position];
        (c.outcome, c.failure_reason, c.attempts)
    };
    assert_eq!(
        outcome(0),
        (Some(ContactOutcome::Failed), Some(FailureReason::Busy), 3)
    );
    assert_eq!(
        outcome(1),
        (
            Some(ContactOutcome::Failed),
            Some(FailureReason::NoAnswer),
            3
        )
    );
    assert_eq!(
        outcome(2),
        (
            Some(ContactOutcome::Failed),
            Some(FailureReason::InvalidNumber),
            1
        )
    );
    assert_eq!(outcome(3), (Some(ContactOutcome::DoNotCall), None, 0));
    assert_eq!(outcome(4), (Some(ContactOutcome::Connected), None, 1));
    // Each attempt is a call of its own, numbered per contact.
    let mut attempts: Vec<u32> = h
        .store
        .calls()
        .iter()
        .filter(|c| c.contact_position == Some(0))
        .map(|c| c.attempt)
        .collect();
    attempts.sort();
    assert_eq!(attempts, vec![1, 2, 3]);
}
