//! What the read side reports of a running campaign: counts per outcome, percentages,
//! and an estimate of when it will be done.
//!
//! The ETA is work divided by speed, laid onto the calendar. Work is the dials still to
//! come, from the share of dials that have needed a retry so far (q): 1 + q + q² + … up
//! to the policy's attempts for each contact not yet dialed, 1 + q for each waiting for
//! a retry, q for each live call. Speed is the campaign's own recent dial rate (gaps far
//! longer than usual, such as a closed window, are left out of it), never above its
//! pacing, or, before there is a history, what pacing and concurrency allow. The work is
//! placed in the hours the calling window is open for some contact still to be called
//! (each window read in that contact's zone, else the campaign's); then come the
//! last calls' duration and the retries of the last contacts, one backoff per round while
//! a round is likely to be needed; and the end is never before the last pending retry.

use super::contact::{ContactOutcome, ContactState};
use super::model::{Campaign, CampaignStatus};
use crate::domain::BusinessHours;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Contacts by where they stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeCounts {
    /// Not dialed yet (not reached by the cursor, or waiting for a window or a resume).
    pub pending: u32,
    /// A call is live for them.
    pub in_progress: u32,
    /// Waiting for a retry.
    pub retrying: u32,
    pub connected: u32,
    pub failed: u32,
    pub do_not_call: u32,
    pub canceled: u32,
}

impl OutcomeCounts {
    /// Counts `n` contacts in `state` (with `outcome` when done); `dialed` says whether
    /// they have had a call. Waiting contacts that have had one wait for a retry.
    pub fn add(
        &mut self,
        state: ContactState,
        dialed: bool,
        outcome: Option<ContactOutcome>,
        n: u32,
    ) {
        let bucket = match (state, outcome) {
            (ContactState::Pending, _) => &mut self.pending,
            (ContactState::Waiting, _) if dialed => &mut self.retrying,
            (ContactState::Waiting, _) => &mut self.pending,
            (ContactState::Dialing, _) => &mut self.in_progress,
            (ContactState::Done, Some(ContactOutcome::Connected)) => &mut self.connected,
            (ContactState::Done, Some(ContactOutcome::DoNotCall)) => &mut self.do_not_call,
            (ContactState::Done, Some(ContactOutcome::Canceled)) => &mut self.canceled,
            (ContactState::Done, _) => &mut self.failed,
        };
        *bucket += n;
    }

    pub fn total(&self) -> u32 {
        self.pending
            + self.in_progress
            + self.retrying
            + self.connected
            + self.failed
            + self.do_not_call
            + self.canceled
    }

    /// Contacts with a final outcome.
    pub fn finished(&self) -> u32 {
        self.connected + self.failed + self.do_not_call + self.canceled
    }
}

/// What the ETA is computed from.
#[derive(Clone, Debug)]
pub struct EtaInputs {
    pub now: DateTime<Utc>,
    pub counts: OutcomeCounts,
    /// Dials made so far, and the contacts they were for.
    pub dials: u32,
    pub contacts_dialed: u32,
    /// Times of the most recent dials, oldest first.
    pub recent_dials: Vec<DateTime<Utc>>,
    /// Mean time from dial to end of the campaign's finished calls.
    pub mean_call_seconds: Option<f64>,
    /// When the last pending retry may run.
    pub last_retry_at: Option<DateTime<Utc>>,
    /// The zones the calling window is read in for the contacts still to be called
    /// (their own, or the campaign's for those without one); empty when none is left.
    pub zones: Vec<Tz>,
}

/// When the campaign is expected to be done.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Eta {
    pub at: DateTime<Utc>,
    pub seconds: f64,
    /// Dials still expected.
    pub remaining_dials: f64,
    /// The dial rate the estimate assumes.
    pub dials_per_minute: f64,
}

/// A campaign's progress.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub status: CampaignStatus,
    pub current_index: u32,
    pub total_contacts: u32,
    pub processed_contacts: u32,
    pub remaining_contacts: u32,
    /// Contacts with a final outcome, of all.
    pub percent_complete: f64,
    /// Contacts the cursor has passed, of all.
    pub percent_dialed: f64,
    pub counts: OutcomeCounts,
    pub dials: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub elapsed_seconds: Option<f64>,
    pub last_activity: Option<DateTime<Utc>>,
    pub eta: Option<Eta>,
}

/// Gaps between dials longer than this many times the median are not dialing speed
/// (a window closed, the campaign paused) and stay out of the rate.
const GAP_OUTLIER_FACTOR: f64 = 10.0;
/// Fewest recent dials the measured rate is trusted from.
const MIN_RATE_SAMPLES: usize = 5;
/// Most window openings the ETA walks through.
const MAX_WINDOW_STEPS: usize = 2_000;

impl Progress {
    pub fn of(campaign: &Campaign, inputs: &EtaInputs) -> Self {
        let total = campaign.total_contacts;
        let percent = |n: u32| {
            if total == 0 {
                0.0
            } else {
                (f64::from(n) * 10_000.0 / f64::from(total)).round() / 100.0
            }
        };
        let started = campaign.started_at;
        let until = campaign.completed_at.unwrap_or(inputs.now);
        Self {
            status: campaign.status,
            current_index: campaign.current_index,
            total_contacts: total,
            processed_contacts: campaign.processed_contacts,
            remaining_contacts: campaign.remaining_contacts(),
            percent_complete: percent(campaign.processed_contacts),
            percent_dialed: percent(campaign.current_index),
            counts: inputs.counts,
            dials: campaign.dials,
            started_at: started,
            elapsed_seconds: started.map(|s| (until - s).num_milliseconds() as f64 / 1000.0),
            last_activity: campaign.last_activity,
            eta: Eta::of(campaign, inputs),
        }
    }
}

impl Eta {
    /// The estimate for a campaign that is running or paused; `None` otherwise.
    pub fn of(campaign: &Campaign, inputs: &EtaInputs) -> Option<Eta> {
        if !matches!(
            campaign.status,
            CampaignStatus::Running | CampaignStatus::Paused
        ) {
            return None;
        }
        let counts = inputs.counts;
        let q = retry_chance(inputs);
        let max_attempts = campaign.retry_policy.max_attempts.max(1);
        // Expected dials of a contact not dialed yet: 1 + q + q² + … for each attempt.
        let per_contact: f64 = (0..max_attempts).map(|k| q.powi(k as i32)).sum();
        let remaining_dials = f64::from(counts.pending) * per_contact
            + f64::from(counts.retrying) * (1.0 + q)
            + f64::from(counts.in_progress) * q;
        let rate = dial_rate(campaign, inputs)?; // dials per second
        let mut at = inputs.now;
        let mut work = remaining_dials / rate;
        match &campaign.window {
            None => at += seconds(work),
            Some(window) => {
                let hours = OpenHours::new(window, campaign, &inputs.zones);
                for _ in 0..MAX_WINDOW_STEPS {
                    if work <= 0.0 {
                        break;
                    }
                    at = hours.next_opening(at);
                    let open = (hours.closing_after(at) - at).num_milliseconds() as f64;
                    let used = work.min(open / 1000.0);
                    at += seconds(used);
                    work -= used;
                    if work > 0.0 {
                        at += chrono::Duration::milliseconds(1); // step out of the closing instant
                    }
                }
            }
        }
        let call = inputs.mean_call_seconds.unwrap_or(0.0);
        let mut end = at + seconds(call);
        // The last calls' retries come a backoff later: each round of retries is added
        // while it is likely that one of the contacts dialed within a backoff of the end
        // still needs it.
        let mut chance = 1.0;
        for attempt in 1..max_attempts {
            chance *= q;
            let delay = campaign.retry_policy.delay_after(attempt).as_secs_f64() + call;
            if chance * rate * delay < 0.5 {
                break;
            }
            end += seconds(delay);
            if let Some(window) = &campaign.window {
                end = OpenHours::new(window, campaign, &inputs.zones).next_opening(end);
            }
        }
        if let Some(retry) = inputs.last_retry_at {
            end = end.max(retry + seconds(call));
        }
        if counts.pending + counts.retrying + counts.in_progress == 0 {
            end = inputs.now;
        }
        Some(Eta {
            at: end,
            seconds: ((end - inputs.now).num_milliseconds() as f64 / 1000.0).max(0.0),
            remaining_dials,
            dials_per_minute: rate * 60.0,
        })
    }
}

/// The hours in which some contact still to be called may be dialed: the calling window
/// read in each of their zones, taken together.
struct OpenHours<'a> {
    window: &'a BusinessHours,
    zones: Vec<Tz>,
}

impl<'a> OpenHours<'a> {
    fn new(window: &'a BusinessHours, campaign: &Campaign, zones: &[Tz]) -> Self {
        let zones = if zones.is_empty() {
            vec![campaign.timezone]
        } else {
            zones.to_vec()
        };
        Self { window, zones }
    }

    /// The first instant from `at` on at which the window is open in some zone.
    fn next_opening(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.zones
            .iter()
            .map(|zone| self.window.next_opening(*zone, at))
            .min()
            .unwrap_or(at)
    }

    /// When the window, open at `at` in some zone, closes in the last of the zones it is
    /// open in at `at`.
    fn closing_after(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        self.zones
            .iter()
            .filter(|zone| self.window.next_opening(**zone, at) == at)
            .map(|zone| self.window.closing_after(*zone, at))
            .max()
            .unwrap_or(at)
    }
}

/// The share of finished dials that have led to a retry: the retries made, and the
/// contacts waiting for one, over the dials no longer live.
fn retry_chance(inputs: &EtaInputs) -> f64 {
    let retries_made = inputs.dials.saturating_sub(inputs.contacts_dialed);
    let finished = inputs.dials.saturating_sub(inputs.counts.in_progress);
    if finished == 0 {
        return 0.0;
    }
    let retried = f64::from(retries_made + inputs.counts.retrying);
    (retried / f64::from(finished)).clamp(0.0, 0.95)
}

/// Dials per second: measured from recent dials when there are enough, capped by the
/// pacing; else the most pacing and concurrency allow.
fn dial_rate(campaign: &Campaign, inputs: &EtaInputs) -> Option<f64> {
    let paced = campaign
        .pacing
        .calls_per_minute
        .map(|cpm| f64::from(cpm) / 60.0);
    let concurrent = inputs
        .mean_call_seconds
        .filter(|s| *s > 0.0)
        .map(|s| f64::from(campaign.pacing.max_concurrent) / s);
    let measured = measured_rate(&inputs.recent_dials);
    let rate = match (measured, paced, concurrent) {
        (Some(m), Some(p), _) => m.min(p),
        (Some(m), None, _) => m,
        (None, Some(p), Some(c)) => p.min(c),
        (None, Some(p), None) => p,
        (None, None, Some(c)) => c,
        (None, None, None) => return None,
    };
    (rate > 0.0 && rate.is_finite()).then_some(rate)
}

/// The rate of the given dial times, leaving out gaps far longer than the median.
fn measured_rate(times: &[DateTime<Utc>]) -> Option<f64> {
    if times.len() < MIN_RATE_SAMPLES {
        return None;
    }
    let mut gaps: Vec<f64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds().max(0) as f64 / 1000.0)
        .collect();
    let mut sorted = gaps.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if median > 0.0 {
        gaps.retain(|g| *g <= median * GAP_OUTLIER_FACTOR);
    }
    let span: f64 = gaps.iter().sum();
    (span > 0.0).then(|| gaps.len() as f64 / span)
}

fn seconds(s: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((s * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::super::model::{NewCampaign, Pacing};
    use super::*;
    use crate::domain::{AgentId, BusinessHours, ClientId, PhoneNumber, RetryPolicy};
    use chrono::{NaiveTime, TimeZone};

    fn running(pacing: Pacing, window: Option<BusinessHours>) -> Campaign {
        let mut c = Campaign::new(
            NewCampaign {
                client_id: ClientId::new(),
                agent_id: AgentId::new(),
                name: "eta".into(),
                caller_id: PhoneNumber::from_trusted("+14155550000".into()),
                timezone: chrono_tz::UTC,
                retry_policy: RetryPolicy {
                    max_attempts: 1,
                    backoff_seconds: 60,
                    backoff_multiplier: 1.0,
                    retry_on: vec![],
                },
                pacing,
                window,
                do_not_call: Default::default(),
                start_at: None,
                answer_url: "http://bot/answer".into(),
                warmup_url: None,
            },
            Utc::now(),
        );
        c.status = CampaignStatus::Running;
        c
    }

    fn inputs(now: DateTime<Utc>, pending: u32) -> EtaInputs {
        EtaInputs {
            now,
            counts: OutcomeCounts {
                pending,
                ..Default::default()
            },
            dials: 0,
            contacts_dialed: 0,
            recent_dials: vec![],
            mean_call_seconds: Some(30.0),
            last_retry_at: None,
            zones: vec![],
        }
    }

    #[test]
    fn a_paced_campaign_needs_its_remaining_dials_at_its_pace() {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let pacing = Pacing {
            max_concurrent: 100,
            calls_per_minute: Some(60),
        };
        let eta = Eta::of(&running(pacing, None), &inputs(now, 600)).unwrap();
        assert_eq!(
            eta.seconds, 630.0,
            "600 dials at 1/s, then the last call's 30 s"
        );
    }

    #[test]
    fn the_window_is_read_in_the_zones_of_the_contacts_left() {
        // 07:00 UTC on a Monday in March: 07:00 in London, 03:00 in New York.
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 7, 0, 0).unwrap();
        let window = BusinessHours {
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            days_of_week: vec![1, 2, 3, 4, 5],
        };
        let pacing = Pacing {
            max_concurrent: 10,
            calls_per_minute: Some(60),
        };
        let mut campaign = running(pacing, Some(window));
        campaign.timezone = chrono_tz::America::New_York;
        let mut i = inputs(now, 3600); // an hour of dialing at 1/s
        i.mean_call_seconds = None;

        // Only London contacts are left: they open at 09:00 UTC and are done by 10:00.
        i.zones = vec![chrono_tz::Europe::London];
        let eta = Eta::of(&campaign, &i).unwrap();
        let london = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        assert!((eta.at - london).num_seconds().abs() <= 1, "{eta:?}");

        // Without contact zones the campaign's own is used: 09:00 New York is 14:00 UTC.
        i.zones = vec![];
        let eta = Eta::of(&campaign, &i).unwrap();
        let new_york = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap();
        assert!((eta.at - new_york).num_seconds().abs() <= 1, "{eta:?}");

        // Contacts in both: the hours either window is open in count, from 09:00 UTC.
        i.zones = vec![chrono_tz::America::New_York, chrono_tz::Europe::London];
        let eta = Eta::of(&campaign, &i).unwrap();
        assert!((eta.at - london).num_seconds().abs() <= 1, "{eta:?}");
    }

    #[test]
    fn the_measured_rate_ignores_a_closed_window_and_work_waits_for_the_next_opening() {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 17, 0, 0).unwrap(); // Monday
        let window = BusinessHours {
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
            days_of_week: vec![1, 2, 3, 4, 5],
        };
        let mut i = inputs(now, 7200);
        i.mean_call_seconds = None;
        // One dial a second, with an overnight gap in the middle.
        let start = now - chrono::Duration::hours(20);
        i.recent_dials = (0..10)
            .map(|n| start + chrono::Duration::seconds(n))
            .chain((0..10).map(|n| now - chrono::Duration::seconds(10 - n)))
            .collect();
        let eta = Eta::of(&running(Pacing::default(), Some(window)), &i).unwrap();
        assert!((eta.dials_per_minute - 60.0).abs() < 1.0, "{eta:?}");
        // 2 h of work: 1 h today until 18:00, 1 h from 09:00 on Tuesday.
        let expected = Utc.with_ymd_and_hms(2026, 3, 3, 10, 0, 0).unwrap();
        assert!((eta.at - expected).num_seconds().abs() <= 1, "{eta:?}");
    }

    #[test]
    fn pending_retries_hold_the_end_back_and_a_finished_list_has_none() {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let pacing = Pacing {
            max_concurrent: 10,
            calls_per_minute: Some(600),
        };
        let mut i = inputs(now, 0);
        i.counts.retrying = 1;
        i.last_retry_at = Some(now + chrono::Duration::hours(1));
        let eta = Eta::of(&running(pacing, None), &i).unwrap();
        assert_eq!(eta.seconds, 3630.0);
        let mut campaign = running(pacing, None);
        campaign.status = CampaignStatus::Completed;
        assert_eq!(Eta::of(&campaign, &i), None);
    }
}
