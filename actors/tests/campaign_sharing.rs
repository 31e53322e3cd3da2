//! Campaigns among others, on paused time: two clients' campaigns share the global slots
//! fairly, and a paced campaign's ETA, read a quarter of the way in, comes true.

mod common;

use callvisor_actors::domain::campaign::{Control, Pacing, Progress};
use callvisor_actors::domain::ClientId;
use callvisor_actors::ports::{CampaignStore, Clock};
use common::campaigns::{campaign_request, contacts, default_mix, Player};
use common::{clock, start_with, Options};
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn two_clients_campaigns_share_the_global_slots_fairly() {
    let clock = clock();
    let h = start_with(Options {
        clock: clock.clone(),
        global_max_calls: 10,
        ..Options::default()
    })
    .await;
    let player = Player::start(&h, clock, default_mix());
    let (a, b) = (ClientId::new(), ClientId::new());
    let pacing = Pacing {
        max_concurrent: 20,
        calls_per_minute: None,
    };
    // Each client alone could fill every global slot.
    for client in [a, b] {
        h.store.set_client_limit(client, 10);
    }
    let first = h
        .create_campaign(campaign_request(a, pacing), contacts(400, 0))
        .await;
    let second = h
        .create_campaign(campaign_request(b, pacing), contacts(400, 10_000))
        .await;
    h.control(&first, Control::Start).await.unwrap();
    h.control(&second, Control::Start).await.unwrap();

    // While both have contacts left at their cursor, count whose calls were dialed.
    h.run_until(
        Duration::from_secs(10),
        Duration::from_secs(24 * 3600),
        |h| h.stored(&first).current_index >= 400 || h.stored(&second).current_index >= 400,
    )
    .await;
    let calls = h.store.calls();
    let campaign_of = |to: &str| {
        calls
            .iter()
            .find(|c| c.to.as_str() == to)
            .and_then(|c| c.campaign_id)
    };
    let dials = player.dials();
    let of_first = dials
        .iter()
        .filter(|d| campaign_of(&d.to) == Some(first.id))
        .count();
    let share = of_first as f64 / dials.len() as f64;
    assert!(
        (0.4..=0.6).contains(&share),
        "the first client had {of_first} of {} dials",
        dials.len()
    );
    assert!(h.slots().await.global_in_use <= 10);
}

#[tokio::test(start_paused = true)]
async fn the_eta_read_at_a_quarter_comes_true_within_fifteen_percent() {
    let clock = clock();
    let h = start_with(Options {
        clock: clock.clone(),
        ..Options::default()
    })
    .await;
    h.store.set_client_limit(h.client, 50);
    let _player = Player::start(&h, clock.clone(), default_mix());
    let pacing = Pacing {
        max_concurrent: 50,
        calls_per_minute: Some(20),
    };
    let campaign = h
        .create_campaign(campaign_request(h.client, pacing), contacts(1200, 0))
        .await;
    h.control(&campaign, Control::Start).await.unwrap();
    let quarter = h
        .run_until(
            Duration::from_secs(10),
            Duration::from_secs(24 * 3600),
            |h| h.stored(&campaign).processed_contacts >= 300,
        )
        .await;
    assert!(quarter);
    let now = clock.now();
    let at_quarter = h.stored(&campaign);
    let inputs = h.store.progress_inputs(&at_quarter, now).await.unwrap();
    let eta = Progress::of(&at_quarter, &inputs)
        .eta
        .expect("an ETA while running");

    let done = h
        .run_until_completed(
            &campaign,
            Duration::from_secs(10),
            Duration::from_secs(48 * 3600),
        )
        .await;
    assert!(done);
    let finished = h.stored(&campaign).completed_at.unwrap();
    let actual = (finished - now).num_seconds() as f64;
    let error = (eta.seconds - actual).abs() / actual;
    assert!(
        error <= 0.15,
        "ETA {:.0} s, actual {actual:.0} s ({:.1} % off)",
        eta.seconds,
        error * 100.0
    );
}
