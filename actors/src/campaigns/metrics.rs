//! The per-campaign metrics. Campaign ids are labels: campaigns are few and long-lived,
//! unlike calls or phone numbers, which never are.

use crate::domain::campaign::{Campaign, CampaignStatus, Contact, ContactState};

fn gauges(campaign: &Campaign) {
    let id = campaign.id.to_string();
    metrics::gauge!("callvisor_campaign_cursor", "campaign_id" => id.clone())
        .set(f64::from(campaign.current_index));
    metrics::gauge!("callvisor_campaign_remaining_contacts", "campaign_id" => id)
        .set(f64::from(campaign.remaining_contacts()));
}

/// What a contact's call ending can make of it, as the outcome label.
const OUTCOMES: [&str; 6] = [
    "connected",
    "failed",
    "do_not_call",
    "canceled",
    "retry_scheduled",
    "withdrawn",
];

/// The campaign's actor started: its series exist from now on, at zero if need be, so
/// rates over them have data from the first scrape.
pub fn started(campaign: &Campaign) {
    let id = campaign.id.to_string();
    metrics::counter!("callvisor_campaign_dials_total", "campaign_id" => id.clone()).increment(0);
    for outcome in OUTCOMES {
        metrics::counter!(
            "callvisor_campaign_outcomes_total",
            "campaign_id" => id.clone(), "outcome" => outcome
        )
        .increment(0);
    }
    status_changed(campaign);
}

/// A call was made.
pub fn dialed(campaign: &Campaign) {
    metrics::counter!("callvisor_campaign_dials_total", "campaign_id" => campaign.id.to_string())
        .increment(1);
    gauges(campaign);
}

/// A call ended and moved its contact.
pub fn call_ended(campaign: &Campaign, contact: &Contact) {
    let outcome = match (contact.state, contact.outcome) {
        (ContactState::Done, Some(outcome)) => outcome.as_str(),
        (ContactState::Waiting, _) => contact.wait_reason.map_or("waiting", |r| match r {
            crate::domain::campaign::WaitReason::Retry => "retry_scheduled",
            _ => "withdrawn",
        }),
        _ => "other",
    };
    metrics::counter!(
        "callvisor_campaign_outcomes_total",
        "campaign_id" => campaign.id.to_string(), "outcome" => outcome
    )
    .increment(1);
    gauges(campaign);
}

/// A contact on the do-not-call list was passed.
pub fn contact_skipped(campaign: &Campaign) {
    metrics::counter!(
        "callvisor_campaign_outcomes_total",
        "campaign_id" => campaign.id.to_string(), "outcome" => "do_not_call"
    )
    .increment(1);
}

/// The campaign's status changed.
pub fn status_changed(campaign: &Campaign) {
    let paused = f64::from(u8::from(campaign.status == CampaignStatus::Paused));
    metrics::gauge!("callvisor_campaign_paused", "campaign_id" => campaign.id.to_string())
        .set(paused);
    gauges(campaign);
    if campaign.status == CampaignStatus::Failed {
        metrics::counter!("callvisor_campaigns_failed_total").increment(1);
    }
}
