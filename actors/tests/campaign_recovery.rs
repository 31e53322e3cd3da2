//! Campaigns through crashes, on paused time: the whole tree killed at several moments
//! and started again over the same storage (a process crash), and a CampaignActor that
//! fails while writing, restarted by its supervisor until it keeps failing and its
//! campaign is marked failed with an alert. No contact's attempt is ever made twice and
//! none is skipped. A campaign scheduled to start later starts at its time, restart or
//! not.

mod common;

use callvisor_actors::domain::campaign::{CampaignStatus, ContactState, Control, Pacing};
use callvisor_actors::domain::{CallId, CallStatus};
use callvisor_actors::monitors::{Action, Level};
use callvisor_actors::ports::Clock;
use callvisor_actors::testing::RecordingChannel;
use common::campaigns::{campaign_request, contacts, default_mix, Player};
use common::{clock, start_with, Harness, Options};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Every dial the provider saw, as (number, attempt) pairs: none may repeat.
fn attempts_dialed(h: &Harness, player: &Player) -> Vec<(String, u32)> {
    let attempts: HashMap<CallId, u32> =
        h.store.calls().iter().map(|c| (c.id, c.attempt)).collect();
    player
        .dials()
        .iter()
        .map(|d| (d.to.clone(), attempts[&d.call_id]))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_campaign_killed_five_times_dials_every_contact_and_no_attempt_twice() {
    let clock = clock();
    let options = |h: Option<&Harness>| Options {
        store: h.map(|h| h.store.clone()).unwrap_or_default(),
        provider: h.map(|h| h.provider.clone()).unwrap_or_default(),
        clock: clock.clone(),
        global_max_calls: 30,
        ..Options::default()
    };
    let mut h = start_with(options(None)).await;
    let client = h.client;
    h.store.set_client_limit(client, 30);
    let player = Player::start(&h, clock.clone(), default_mix());
    let pacing = Pacing {
        max_concurrent: 30,
        calls_per_minute: Some(120),
    };
    let campaign = h
        .create_campaign(campaign_request(client, pacing), contacts(2000, 0))
        .await;
    h.control(&campaign, Control::Start).await.unwrap();

    // Killed at uneven moments, mid-dial and mid-call.
    for minutes in [3, 7, 4, 11, 6] {
        tokio::time::sleep(Duration::from_secs(minutes * 60) + Duration::from_millis(137)).await;
        h.tree.root.kill();
        tokio::time::sleep(Duration::from_secs(2)).await;
        h = start_with(options(Some(&h))).await;
        h.client = client;
        player.follow(&h);
    }
    let done = h
        .run_until_completed(
            &campaign,
            Duration::from_secs(30),
            Duration::from_secs(24 * 3600),
        )
        .await;
    assert!(done, "{:?}", h.stored(&campaign));

    let dialed = attempts_dialed(&h, &player);
    let unique: HashSet<_> = dialed.iter().cloned().collect();
    assert_eq!(unique.len(), dialed.len(), "an attempt was dialed twice");
    let numbers: HashSet<_> = dialed.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(numbers.len(), 2000, "every contact was dialed");
    let firsts = dialed.iter().filter(|(_, a)| *a == 1).count();
    assert_eq!(firsts, 2000, "each contact's first attempt once");
    assert!(h
        .store
        .contacts(campaign.id)
        .iter()
        .all(|c| c.state == ContactState::Done));
    assert_eq!(h.stored(&campaign).processed_contacts, 2000);
    assert_eq!(h.slots().await.global_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failing_campaign_actor_is_restarted_then_given_up_with_an_alert() {
    let channel = Arc::new(RecordingChannel::new("test"));
    let clock = clock();
    let h = start_with(Options {
        clock: clock.clone(),
        channels: vec![channel.clone()],
        ..Options::default()
    })
    .await;
    let player = Player::start(&h, clock, default_mix());
    let campaign = h
        .create_campaign(
            campaign_request(h.client, Pacing::default()),
            contacts(300, 0),
        )
        .await;
    h.control(&campaign, Control::Start).await.unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;

    // Two failures in a row: restarted from storage, the campaign goes on.
    h.store.panic_on_next_campaign_writes(2);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(h.stored(&campaign).status, CampaignStatus::Running);
    let before = h.stored(&campaign).processed_contacts;
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert!(
        h.stored(&campaign).processed_contacts > before,
        "it kept dialing"
    );

    // It keeps failing (the first failure and each of its 3 restarts): the campaign is
    // failed, dialing stops, an alert goes out.
    h.store.panic_on_next_campaign_writes(4);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let failed = h.stored(&campaign);
    assert_eq!(failed.status, CampaignStatus::Failed);
    assert!(
        failed
            .failure
            .as_deref()
            .unwrap_or("")
            .contains("kept failing"),
        "{failed:?}"
    );
    let dials = player.dials().len();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        player.dials().len(),
        dials,
        "a failed campaign dials no more"
    );
    let contacts = h.store.contacts(campaign.id);
    assert!(
        contacts.iter().all(|c| c.state != ContactState::Dialing),
        "the calls live when it failed were still recorded"
    );
    let alert = channel
        .delivered()
        .into_iter()
        .find(|n| n.key == format!("campaign_failed:{}", campaign.id))
        .expect("a campaign_failed alert");
    assert_eq!((alert.action, alert.level), (Action::Trigger, Level::Error));
    assert!(h
        .store
        .calls()
        .iter()
        .filter(|c| c.campaign_id == Some(campaign.id))
        .all(|c| c.status != CallStatus::Queued || !c.is_live()));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_campaign_starts_at_its_time_even_across_a_restart() {
    let clock = clock();
    let options = |h: Option<&Harness>| Options {
        store: h.map(|h| h.store.clone()).unwrap_or_default(),
        provider: h.map(|h| h.provider.clone()).unwrap_or_default(),
        clock: clock.clone(),
        ..Options::default()
    };
    let mut h = start_with(options(None)).await;
    let client = h.client;
    let player = Player::start(&h, clock.clone(), default_mix());
    let starts = clock.now() + chrono::Duration::hours(2);
    let mut request = campaign_request(client, Pacing::default());
    request.start_at = Some(starts);
    let campaign = h.create_campaign(request, contacts(20, 0)).await;
    assert_eq!(campaign.status, CampaignStatus::Scheduled);

    // An hour in, the process dies and comes back; nothing has been dialed.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    h.tree.root.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    h = start_with(options(Some(&h))).await;
    h.client = client;
    player.follow(&h);
    tokio::time::sleep(Duration::from_secs(3600 - 60)).await;
    assert!(player.dials().is_empty(), "dialed before its start time");
    assert_eq!(h.stored(&campaign).status, CampaignStatus::Scheduled);

    let done = h
        .run_until_completed(
            &campaign,
            Duration::from_secs(30),
            Duration::from_secs(6 * 3600),
        )
        .await;
    assert!(done, "{:?}", h.stored(&campaign));
    let first = player.dials().iter().map(|d| d.at).min().unwrap();
    assert!(
        first >= starts && first < starts + chrono::Duration::minutes(1),
        "first dial at {first}, start time {starts}"
    );
    assert_eq!(h.stored(&campaign).processed_contacts, 20);
}
