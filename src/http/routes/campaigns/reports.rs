//! What a campaign has done: `GET /api/v1/campaigns/{id}/progress` (status, cursor,
//! counts per outcome, percentages, elapsed time and ETA), `…/stats` (its calls by
//! status, success and error rates, talk time, day by day in the campaign's zone) and
//! `…/failures` (failures grouped by reason, with what to do about each).

use super::visible_campaign;
use crate::http::auth::Principal;
use crate::http::error::{ok, ApiResult};
use crate::http::AppState;
use crate::store::{DayRange, Scope};
use axum::extract::{Path, State};
use callvisor_actors::domain::campaign::{Campaign, Progress};
use callvisor_actors::domain::FailureReason;
use callvisor_actors::ports::CampaignStore;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// The progress of a campaign, as computed now.
pub async fn progress_of(
    state: &AppState,
    campaign: &Campaign,
) -> Result<Progress, crate::http::error::ApiError> {
    let inputs = state
        .store
        .progress_inputs(campaign, state.clock.now())
        .await?;
    Ok(Progress::of(campaign, &inputs))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/progress", tag = "campaigns",
    responses((status = 200, description = "status, cursor, processed and remaining contacts, percentages, counts per outcome, elapsed and ETA"),
        (status = 404, description = "CAMPAIGN_NOT_FOUND")))]
pub async fn progress(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let campaign = visible_campaign(&state, &principal, &id).await?;
    Ok(ok(progress_of(&state, &campaign).await?))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/stats", tag = "campaigns",
    responses((status = 200, description = "the campaign's calls: totals by status, rates, talk time, daily breakdown"),
        (status = 404, description = "CAMPAIGN_NOT_FOUND")))]
pub async fn stats(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let campaign = visible_campaign(&state, &principal, &id).await?;
    let zone = campaign.timezone;
    let until = campaign.completed_at.unwrap_or_else(|| state.clock.now());
    let days = DayRange {
        start: campaign.created_at.with_timezone(&zone).date_naive(),
        end: until.with_timezone(&zone).date_naive(),
        tz: zone,
    };
    let calls = state
        .store
        .call_analytics(Scope::Campaign(campaign.id), days)
        .await?;
    let progress = progress_of(&state, &campaign).await?;
    let finished = progress.counts.finished();
    let rate = |n: u32| (finished > 0).then(|| f64::from(n) / f64::from(finished));
    Ok(ok(json!({
        "campaignId": campaign.id,
        "status": campaign.status,
        "contacts": progress.counts,
        "dials": campaign.dials,
        "dialsPerContact": (progress.counts.total() > 0 && campaign.current_index > 0)
            .then(|| f64::from(campaign.dials) / f64::from(campaign.current_index)),
        "connectRate": rate(progress.counts.connected),
        "calls": calls,
    })))
}

/// Failures of one reason, and what to do about them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailureGroup {
    reason: String,
    /// Contacts that ended failed with this as their last reason.
    contacts: u32,
    /// Contacts waiting for a retry after a failure of this reason.
    retrying: u32,
    /// Calls (attempts) that ended with this reason.
    calls: u32,
    /// Whether the campaign's retry policy retries it.
    retried_by_policy: bool,
    /// Whether another attempt can help.
    worth_retrying: bool,
    recommendation: &'static str,
}

/// Whether another attempt can help a failure, and what to do about it.
fn advice(reason: Option<FailureReason>) -> (bool, &'static str) {
    use FailureReason::*;
    match reason {
        Some(Busy) => (true, "The line was busy: retry later, with a longer backoff or at another hour."),
        Some(NoAnswer) => (true, "Nobody answered: retry at another hour of the contact's day, or widen the calling window."),
        Some(Voicemail) => (true, "A voicemail answered: retry at another hour, or leave a message from the bot."),
        Some(InvalidNumber) => (false, "The number does not exist: correct or remove it; it is never retried."),
        Some(NetworkError | ApiUnavailable) => (true, "The provider failed: retry once it is healthy again (see /health/detailed)."),
        Some(RateLimited) => (true, "The provider refused the pace: lower pacing.callsPerMinute or the provider quota."),
        Some(Timeout) => (true, "Nothing was heard from the call: check the provider's webhooks reach callvisor, then retry."),
        Some(BotUnavailable) => (true, "The bot did not warm up: check the agent's warm-up URL, then retry."),
        Some(SupervisorGaveUp) => (false, "callvisor could not follow the call: see the server log before retrying."),
        Some(Canceled) => (false, "Canceled on purpose: nothing to do."),
        None => (false, "The provider gave no reason: look at the call's history."),
    }
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}/failures", tag = "campaigns",
    responses((status = 200, description = "failures grouped by reason with retry recommendations"),
        (status = 404, description = "CAMPAIGN_NOT_FOUND")))]
pub async fn failures(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let campaign = visible_campaign(&state, &principal, &id).await?;
    let counts = state.store.campaign_failures(campaign.id).await?;
    let mut reasons: Vec<String> = counts
        .contacts
        .iter()
        .chain(&counts.retrying)
        .chain(&counts.calls)
        .map(|(r, _)| r.clone())
        .collect();
    reasons.sort();
    reasons.dedup();
    let find = |list: &[(String, u32)], reason: &str| {
        list.iter()
            .find(|(r, _)| r == reason)
            .map_or(0, |(_, n)| *n)
    };
    let mut groups: Vec<FailureGroup> = reasons
        .into_iter()
        .map(|reason| {
            let parsed = reason.parse::<FailureReason>().ok();
            let (worth_retrying, recommendation) = advice(parsed);
            FailureGroup {
                contacts: find(&counts.contacts, &reason),
                retrying: find(&counts.retrying, &reason),
                calls: find(&counts.calls, &reason),
                retried_by_policy: parsed.is_some_and(|r| {
                    campaign.retry_policy.retry_on.contains(&r)
                        && !callvisor_actors::domain::RetryPolicy::NEVER_RETRIED.contains(&r)
                }),
                worth_retrying,
                recommendation,
                reason,
            }
        })
        .collect();
    groups.sort_by(|a, b| b.calls.cmp(&a.calls).then(a.reason.cmp(&b.reason)));
    let failed_contacts: u32 = counts.contacts.iter().map(|(_, n)| n).sum();
    let worth: u32 = groups
        .iter()
        .filter(|g| g.worth_retrying)
        .map(|g| g.contacts)
        .sum();
    Ok(ok(json!({
        "campaignId": campaign.id,
        "failedContacts": failed_contacts,
        "failedContactsWorthRetrying": worth,
        "byReason": groups,
    })))
}
