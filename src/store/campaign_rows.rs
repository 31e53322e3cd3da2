//! Conversion between rows and campaign values: `campaigns` and `campaign_contacts`,
//! stored as [`rows`](super::rows) stores everything (ids as text, times as
//! milliseconds, structured settings as JSON text).

use super::rows::{decode, json_text, json_text_opt, millis, AnyQuery};
use super::StoreError;
use callvisor_actors::domain::campaign::{
    Campaign, CampaignStatus, Contact, ContactOutcome, ContactState, WaitReason,
};
use callvisor_actors::domain::{FailureReason, PhoneNumber};
use chrono_tz::Tz;
use sqlx::any::AnyRow;

/// The columns of `campaigns`, in the order [`bind_campaign`] binds them.
pub(super) const CAMPAIGN_COLUMNS: &str = "id, client_id, agent_id, name, caller_id, timezone, \
     retry_policy, pacing, calling_window, do_not_call, answer_url, warmup_url, status, \
     start_at, current_index, total_contacts, processed_contacts, dials, created_at, \
     updated_at, started_at, completed_at, last_activity, paused_at, paused_by, resumed_at, \
     failure";

/// The columns of `campaign_contacts`, in the order [`bind_contact`] binds them.
pub(super) const CONTACT_COLUMNS: &str = "campaign_id, position, phone_number, name, timezone, \
     variables, state, wait_reason, next_at, attempts, calls_made, call_id, outcome, \
     failure_reason, version, updated_at";

/// Binds the values of a campaign in [`CAMPAIGN_COLUMNS`] order.
pub(super) fn bind_campaign<'q>(
    query: AnyQuery<'q>,
    c: &'q Campaign,
) -> Result<AnyQuery<'q>, StoreError> {
    Ok(query
        .bind(c.id.to_string())
        .bind(c.client_id.to_string())
        .bind(c.agent_id.to_string())
        .bind(c.name.as_str())
        .bind(c.caller_id.as_str())
        .bind(c.timezone.name())
        .bind(json_text(&c.retry_policy)?)
        .bind(json_text(&c.pacing)?)
        .bind(json_text_opt(c.window.as_ref())?)
        .bind(json_text(&c.do_not_call)?)
        .bind(c.answer_url.as_str())
        .bind(c.warmup_url.as_deref())
        .bind(c.status.as_str())
        .bind(c.start_at.map(millis))
        .bind(i64::from(c.current_index))
        .bind(i64::from(c.total_contacts))
        .bind(i64::from(c.processed_contacts))
        .bind(i64::from(c.dials))
        .bind(millis(c.created_at))
        .bind(millis(c.updated_at))
        .bind(c.started_at.map(millis))
        .bind(c.completed_at.map(millis))
        .bind(c.last_activity.map(millis))
        .bind(c.paused_at.map(millis))
        .bind(c.paused_by.as_deref())
        .bind(c.resumed_at.map(millis))
        .bind(c.failure.as_deref()))
}

/// Binds the values of a contact in [`CONTACT_COLUMNS`] order.
pub(super) fn bind_contact<'q>(
    query: AnyQuery<'q>,
    c: &'q Contact,
) -> Result<AnyQuery<'q>, StoreError> {
    Ok(query
        .bind(c.campaign_id.to_string())
        .bind(i64::from(c.position))
        .bind(c.phone.as_str())
        .bind(c.name.as_deref())
        .bind(c.timezone.map(|tz| tz.name()))
        .bind(json_text(&c.variables)?)
        .bind(c.state.as_str())
        .bind(c.wait_reason.map(WaitReason::as_str))
        .bind(c.next_at.map(millis))
        .bind(i64::from(c.attempts))
        .bind(i64::from(c.calls_made))
        .bind(c.call_id.map(|id| id.to_string()))
        .bind(c.outcome.map(ContactOutcome::as_str))
        .bind(c.failure_reason.map(FailureReason::as_str))
        .bind(i64::from(c.version))
        .bind(millis(c.updated_at)))
}

/// Reads a campaign from a row of [`CAMPAIGN_COLUMNS`].
pub(super) fn campaign(row: &AnyRow) -> Result<Campaign, StoreError> {
    decode("campaigns", row, |r| {
        let retry: Option<_> = r.json_opt("retry_policy")?;
        let pacing: Option<_> = r.json_opt("pacing")?;
        let dnc: Option<_> = r.json_opt("do_not_call")?;
        Ok(Campaign {
            id: r.parse("id")?,
            client_id: r.parse("client_id")?,
            agent_id: r.parse("agent_id")?,
            name: r.get("name")?,
            caller_id: PhoneNumber::from_trusted(r.get("caller_id")?),
            timezone: r.parse::<Tz>("timezone")?,
            retry_policy: retry.ok_or("column retry_policy: missing")?,
            pacing: pacing.ok_or("column pacing: missing")?,
            window: r.json_opt("calling_window")?,
            do_not_call: dnc.ok_or("column do_not_call: missing")?,
            answer_url: r.get("answer_url")?,
            warmup_url: r.get("warmup_url")?,
            status: r.parse::<CampaignStatus>("status")?,
            start_at: r.time_opt("start_at")?,
            current_index: r.count("current_index")?,
            total_contacts: r.count("total_contacts")?,
            processed_contacts: r.count("processed_contacts")?,
            dials: r.count("dials")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
            started_at: r.time_opt("started_at")?,
            completed_at: r.time_opt("completed_at")?,
            last_activity: r.time_opt("last_activity")?,
            paused_at: r.time_opt("paused_at")?,
            paused_by: r.get("paused_by")?,
            resumed_at: r.time_opt("resumed_at")?,
            failure: r.get("failure")?,
        })
    })
}

/// Reads a contact from a row of [`CONTACT_COLUMNS`].
pub(super) fn contact(row: &AnyRow) -> Result<Contact, StoreError> {
    decode("campaign_contacts", row, |r| {
        Ok(Contact {
            campaign_id: r.parse("campaign_id")?,
            position: r.count("position")?,
            phone: PhoneNumber::from_trusted(r.get("phone_number")?),
            name: r.get("name")?,
            timezone: r.parse_opt::<Tz>("timezone")?,
            variables: r.json("variables")?,
            state: r.parse::<ContactState>("state")?,
            wait_reason: r.parse_opt::<WaitReason>("wait_reason")?,
            next_at: r.time_opt("next_at")?,
            attempts: r.count("attempts")?,
            calls_made: r.count("calls_made")?,
            call_id: r.parse_opt("call_id")?,
            outcome: r.parse_opt::<ContactOutcome>("outcome")?,
            failure_reason: r.parse_opt::<FailureReason>("failure_reason")?,
            version: r.count("version")?,
            updated_at: r.time("updated_at")?,
        })
    })
}
