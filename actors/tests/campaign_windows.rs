//! Calling windows on paused time, across days and daylight-saving changes: contacts in
//! New York, London and Kolkata with a weekday 09:00–18:00 window are dialed only inside
//! their own local window, retries included, while the others' windows keep the
//! campaign going.

mod common;

use callvisor_actors::domain::campaign::{ContactState, Control, NewContact, Pacing};
use callvisor_actors::domain::CallStatus;
use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use common::campaigns::{campaign_request, contact, office_hours, Player, Script, Scripter};
use common::{clock_at, start_with, Options};
use std::sync::Arc;
use std::time::Duration;

const ZONES: [(&str, Tz); 3] = [
    ("+1212555", chrono_tz::America::New_York),
    ("+44207946", chrono_tz::Europe::London),
    ("+919800", chrono_tz::Asia::Kolkata),
];

fn zone_of(number: &str) -> Tz {
    ZONES
        .iter()
        .find(|(prefix, _)| number.starts_with(prefix))
        .map(|(_, z)| *z)
        .expect("a number of a known zone")
}

/// `per_zone` contacts in each zone, interleaved.
fn worldwide(per_zone: u32) -> Vec<NewContact> {
    (0..per_zone)
        .flat_map(|i| {
            ZONES
                .iter()
                .map(move |(prefix, zone)| contact(&format!("{prefix}{i:04}"), Some(*zone)))
        })
        .collect()
}

/// Every third first attempt is busy; the rest are answered.
fn some_busy() -> Scripter {
    Arc::new(|number, nth| {
        let last: u32 = number[number.len() - 1..].parse().unwrap();
        let busy = nth == 1 && last % 3 == 0;
        Script {
            status: if busy {
                CallStatus::Busy
            } else {
                CallStatus::Completed
            },
            failure_reason: None,
            ring: Duration::from_secs(10),
            talk: Duration::from_secs(60),
        }
    })
}

fn inside_window(at: DateTime<Utc>, zone: Tz) -> bool {
    let local = at.with_timezone(&zone);
    let open = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
    let close = NaiveTime::from_hms_opt(18, 0, 0).unwrap();
    !matches!(local.weekday(), Weekday::Sat | Weekday::Sun)
        && local.time() >= open
        && local.time() < close
}

/// Runs a windowed campaign from `start` and checks every dial against its window.
/// Returns the dial times per zone.
async fn run_from(start: DateTime<Utc>) -> Vec<(Tz, DateTime<Utc>)> {
    let clock = clock_at(start);
    let h = start_with(Options {
        clock: clock.clone(),
        ..Options::default()
    })
    .await;
    let player = Player::start(&h, clock, some_busy());
    let mut request = campaign_request(
        h.client,
        Pacing {
            max_concurrent: 5,
            calls_per_minute: Some(1),
        },
    );
    request.window = Some(office_hours());
    request.timezone = chrono_tz::America::New_York;
    request.retry_policy.backoff_seconds = 8 * 3600;
    let campaign = h.create_campaign(request, worldwide(200)).await;
    h.control(&campaign, Control::Start).await.unwrap();
    let done = h
        .run_until_completed(
            &campaign,
            Duration::from_secs(300),
            Duration::from_secs(14 * 24 * 3600),
        )
        .await;
    assert!(done, "{:?}", h.stored(&campaign));
    assert!(h
        .store
        .contacts(campaign.id)
        .iter()
        .all(|c| c.state == ContactState::Done));
    let dials = player.dials();
    assert_eq!(dials.iter().filter(|d| d.nth == 1).count(), 600);
    assert!(dials.iter().any(|d| d.nth == 2), "retries were made");
    for d in &dials {
        let zone = zone_of(&d.to);
        assert!(
            inside_window(d.at, zone),
            "{} dialed at {} local time",
            d.to,
            d.at.with_timezone(&zone)
        );
    }
    dials.iter().map(|d| (zone_of(&d.to), d.at)).collect()
}

#[tokio::test(start_paused = true)]
async fn contacts_are_dialed_only_in_their_own_window_across_the_us_clock_change() {
    // Friday 2026-03-06 12:00 UTC; New York moves to EDT on Sunday 2026-03-08.
    let dials = run_from(Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap()).await;
    let change = Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap();
    let new_york = |d: &&(Tz, DateTime<Utc>)| d.0 == chrono_tz::America::New_York;
    assert!(dials.iter().filter(new_york).any(|(_, at)| *at < change));
    // After the change New York opens at 13:00 UTC, no longer 14:00.
    assert!(dials
        .iter()
        .filter(new_york)
        .any(|(_, at)| *at > change && at.hour() == 13));
}

#[tokio::test(start_paused = true)]
async fn contacts_are_dialed_only_in_their_own_window_across_the_european_clock_change() {
    // Friday 2026-03-27 12:00 UTC; London moves to BST on Sunday 2026-03-29.
    let dials = run_from(Utc.with_ymd_and_hms(2026, 3, 27, 12, 0, 0).unwrap()).await;
    let change = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
    let london = |d: &&(Tz, DateTime<Utc>)| d.0 == chrono_tz::Europe::London;
    assert!(dials.iter().filter(london).any(|(_, at)| *at < change));
    // After the change London opens at 08:00 UTC.
    assert!(dials
        .iter()
        .filter(london)
        .any(|(_, at)| *at > change && at.hour() == 8));
}
