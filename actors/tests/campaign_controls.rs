//! Operator controls on paused time: a pause takes effect at the provider's door (no
//! create-call of the campaign arrives after it is acknowledged, even with dials queued
//! behind the rate limit and on the wire), live calls finish and are tracked, resume
//! continues from the cursor, cancel ends the campaign, and repeats change nothing.

mod common;

use callvisor_actors::campaigns::{CampaignError, CampaignSupervisorMsg};
use callvisor_actors::domain::campaign::{
    Campaign, CampaignStatus, ContactOutcome, ContactState, Control, Pacing,
};
use callvisor_actors::domain::CallStatus;
use callvisor_actors::rpc::ask;
use common::campaigns::{campaign_request, contacts, default_mix, Player};
use common::{clock, start_with, Harness, Options};
use std::collections::HashMap;
use std::time::Duration;

async fn running_campaign(contact_count: u32) -> (Harness, Player, Campaign) {
    let clock = clock();
    let h = start_with(Options {
        clock: clock.clone(),
        global_max_calls: 40,
        ..Options::default()
    })
    .await;
    h.store.set_client_limit(h.client, 40);
    // Every create-call takes 2 s at the provider: dials are on the wire when a pause comes.
    h.provider.set_create_latency(Duration::from_secs(2));
    let player = Player::start(&h, clock, default_mix());
    // More calls than slots: some always wait in the broker's line.
    let pacing = Pacing {
        max_concurrent: 60,
        calls_per_minute: None,
    };
    let campaign = h
        .create_campaign(
            campaign_request(h.client, pacing),
            contacts(contact_count, 0),
        )
        .await;
    h.control(&campaign, Control::Start).await.unwrap();
    (h, player, campaign)
}

/// First dials per number: a contact's first attempt must never be made twice.
fn first_attempts(player: &Player) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for d in player.dials().iter().filter(|d| d.nth == 1) {
        *counts.entry(d.to.clone()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(start_paused = true)]
async fn a_pause_stops_dialing_at_once_and_resume_goes_on_from_the_cursor() {
    let (h, player, campaign) = running_campaign(1000).await;
    let reached = h
        .run_until(Duration::from_secs(5), Duration::from_secs(6 * 3600), |h| {
            h.stored(&campaign).current_index >= 300
        })
        .await;
    assert!(reached);

    let paused = h.control(&campaign, Control::Pause).await.unwrap();
    let dials_at_ack = player.dials().len();
    assert_eq!(paused.status, CampaignStatus::Paused);
    assert_eq!(paused.paused_by.as_deref(), Some("operator-1"));
    assert!(paused.paused_at.is_some());
    let cursor = h.stored(&campaign).current_index;

    // A second pause is acknowledged and changes nothing.
    let again = h.control(&campaign, Control::Pause).await.unwrap();
    assert_eq!(again.paused_at, paused.paused_at);

    tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
    assert_eq!(
        player.dials().len(),
        dials_at_ack,
        "no create-call reached the provider after the pause was acknowledged"
    );
    let stored = h.stored(&campaign);
    assert_eq!(stored.current_index, cursor, "the cursor stood still");
    let contacts = h.store.contacts(campaign.id);
    assert!(
        contacts.iter().all(|c| c.state != ContactState::Dialing),
        "every live call finished and was recorded"
    );
    let withdrawn = contacts
        .iter()
        .filter(|c| c.state == ContactState::Waiting && c.attempts == 0 && c.calls_made > 0)
        .count();
    assert!(
        withdrawn > 0,
        "calls still waiting when the pause came gave their slot back"
    );
    assert_eq!(h.slots().await.global_in_use, 0);

    let resumed = h.control(&campaign, Control::Resume).await.unwrap();
    assert_eq!(resumed.status, CampaignStatus::Running);
    assert!(resumed.resumed_at.is_some());
    assert_eq!(
        h.control(&campaign, Control::Resume)
            .await
            .unwrap()
            .resumed_at,
        resumed.resumed_at,
        "a repeated resume changes nothing"
    );
    let done = h
        .run_until_completed(
            &campaign,
            Duration::from_secs(30),
            Duration::from_secs(24 * 3600),
        )
        .await;
    assert!(done, "{:?}", h.stored(&campaign));
    let firsts = first_attempts(&player);
    assert_eq!(firsts.len(), 1000, "no contact was skipped");
    assert!(
        firsts.values().all(|n| *n == 1),
        "none was dialed twice as a first attempt"
    );
    assert!(h
        .store
        .contacts(campaign.id)
        .iter()
        .all(|c| c.state == ContactState::Done));
    let refused = h.control(&campaign, Control::Resume).await.unwrap_err();
    assert!(matches!(refused, CampaignError::Refused(_)), "{refused:?}");
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_for_good_and_records_the_calls_that_were_live() {
    let (h, player, campaign) = running_campaign(500).await;
    h.run_until(Duration::from_secs(5), Duration::from_secs(3600), |h| {
        h.stored(&campaign).current_index >= 100
    })
    .await;
    let cancelled = h.control(&campaign, Control::Cancel).await.unwrap();
    assert_eq!(cancelled.status, CampaignStatus::Cancelled);
    let dials = player.dials().len();
    tokio::time::sleep(Duration::from_secs(3 * 3600)).await;
    assert_eq!(
        player.dials().len(),
        dials,
        "nothing dialed after the cancel"
    );
    let contacts = h.store.contacts(campaign.id);
    assert!(contacts.iter().all(|c| c.state != ContactState::Dialing));
    // Calls answered before the cancel ran to their end and count as connected.
    let connected = contacts
        .iter()
        .filter(|c| c.outcome == Some(ContactOutcome::Connected))
        .count();
    let answered = player
        .dials()
        .iter()
        .filter(|d| d.script.status == CallStatus::Completed)
        .count();
    assert_eq!(connected, answered);
    assert!(contacts
        .iter()
        .any(|c| c.outcome == Some(ContactOutcome::Canceled)));
    assert_eq!(h.stored(&campaign).status, CampaignStatus::Cancelled);
    assert_eq!(
        h.control(&campaign, Control::Cancel).await.unwrap().status,
        CampaignStatus::Cancelled,
        "a repeated cancel is acknowledged"
    );
    assert!(h.control(&campaign, Control::Resume).await.is_err());
    assert_eq!(h.slots().await.global_in_use, 0);
}

/// Contacts appended right behind a cancel reach the campaign's actor as it stops: each
/// is refused as a closed campaign's (or taken, if it came first), never answered as an
/// internal error, and none is half-applied.
#[tokio::test(start_paused = true)]
async fn appends_queued_behind_a_cancel_are_refused_as_closed() {
    let (h, _player, campaign) = running_campaign(50).await;
    h.run_until(Duration::from_secs(5), Duration::from_secs(3600), |h| {
        h.stored(&campaign).current_index >= 10
    })
    .await;
    h.control(&campaign, Control::Pause).await.unwrap();
    let idle = h
        .run_until(Duration::from_secs(5), Duration::from_secs(3600), |h| {
            h.store
                .contacts(campaign.id)
                .iter()
                .all(|c| c.state != ContactState::Dialing)
        })
        .await;
    assert!(idle, "the paused campaign's calls ended");

    let supervisor = h.tree.campaigns.get();
    let cancel = tokio::spawn({
        let supervisor = supervisor.clone();
        async move {
            ask(
                &supervisor,
                |reply| CampaignSupervisorMsg::Control {
                    campaign: campaign.id,
                    control: Control::Cancel,
                    by: None,
                    reply,
                },
                Duration::from_secs(5),
            )
            .await
            .unwrap()
        }
    });
    let appends: Vec<_> = (0..8u32)
        .map(|i| {
            let supervisor = supervisor.clone();
            let extra = contacts(1, 1_000_000 + i);
            tokio::spawn(async move {
                ask(
                    &supervisor,
                    |tx| CampaignSupervisorMsg::Append(campaign.id, extra, tx),
                    Duration::from_secs(5),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    assert_eq!(
        cancel.await.unwrap().unwrap().status,
        CampaignStatus::Cancelled
    );
    let mut taken = 0;
    for append in appends {
        match append.await.unwrap() {
            Ok(_) => taken += 1,
            Err(CampaignError::Closed(CampaignStatus::Cancelled)) => {}
            other => panic!("an append behind a cancel was answered {other:?}"),
        }
    }
    assert_eq!(h.stored(&campaign).total_contacts, 50 + taken);
    assert_eq!(h.store.contacts(campaign.id).len() as u32, 50 + taken);
}

/// An append whose write fails (storage did not answer) is answered with the error by
/// the actor that took it, once: it is not handed on to the restarted actor, so one bad
/// write costs one restart, not the campaign. The next append goes through.
#[tokio::test(start_paused = true)]
async fn an_append_that_storage_refuses_is_answered_once_and_the_campaign_runs_on() {
    let (h, _player, campaign) = running_campaign(50).await;
    h.run_until(Duration::from_secs(5), Duration::from_secs(3600), |h| {
        h.stored(&campaign).current_index >= 10
    })
    .await;
    let supervisor = h.tree.campaigns.get();
    let append = |first| {
        let supervisor = supervisor.clone();
        async move {
            ask(
                &supervisor,
                |tx| CampaignSupervisorMsg::Append(campaign.id, contacts(2, first), tx),
                Duration::from_secs(5),
            )
            .await
            .unwrap()
        }
    };
    h.store.refuse_next_appends(1);
    let refused = append(1_000_000).await;
    assert!(
        matches!(refused, Err(CampaignError::Internal(_))),
        "{refused:?}"
    );
    let taken = append(1_000_010).await.expect("the next append is taken");
    assert_eq!(taken.total_contacts, 52);
    assert_eq!(h.stored(&campaign).status, CampaignStatus::Running);
    let done = h
        .run_until_completed(
            &campaign,
            Duration::from_secs(30),
            Duration::from_secs(24 * 3600),
        )
        .await;
    assert!(done, "{:?}", h.stored(&campaign));
    assert_eq!(h.store.contacts(campaign.id).len(), 52);
}
