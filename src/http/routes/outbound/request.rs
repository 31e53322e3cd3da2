//! The body of an outbound call, as the API takes it, and its translation into a
//! [`CallRequest`]: phone numbers, the agent, caller id, metadata, and the optional
//! schedule and retry policy, each refused with the field it is wrong in.

use crate::http::auth::Principal;
use crate::http::error::ApiError;
use crate::http::routes::agents::visible_agent;
use crate::http::routes::bodies::{caller_id, BusinessHoursBody, RetryPolicyBody};
use crate::http::validate::{phone_field, timezone_field};
use crate::http::AppState;
use callvisor_actors::domain::{
    Agent, CallRequest, Client, Frequency, Priority, Recurrence, Schedule,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::ToSchema;

/// One call to place, now or on a schedule.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutboundCall {
    /// The number to dial, E.164.
    phone_number: String,
    #[schema(value_type = String, format = Uuid)]
    agent_id: String,
    /// Caller id to present; defaults to the agent's, then the server's.
    caller_id: Option<String>,
    #[schema(value_type = Option<String>, example = "normal")]
    priority: Option<Priority>,
    /// Any JSON object, kept with the call.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// Dial later: a local time read in `timezone` (`2026-11-23T08:00:00`), or an instant
    /// with its offset (`2026-11-23T02:30:00Z`). Without it the call is placed now.
    #[schema(example = "2026-11-23T08:00:00")]
    scheduled_for: Option<String>,
    /// IANA time zone of `scheduledFor` and the business hours; defaults to the client's.
    #[schema(example = "Asia/Kolkata")]
    timezone: Option<String>,
    /// Only dial within these hours; a time outside them moves to the next opening.
    business_hours: Option<BusinessHoursBody>,
    /// Repeat the call.
    recurrence: Option<RecurrenceBody>,
    /// Try again after these failures.
    retry_policy: Option<RetryPolicyBody>,
}

/// How a scheduled call repeats; it stops at `endDate` or after `maxOccurrences`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecurrenceBody {
    /// `daily`, `weekly` or `monthly`.
    #[schema(value_type = String, example = "daily")]
    frequency: Frequency,
    /// Every `interval` days, weeks or months; default 1.
    interval: Option<u32>,
    /// Last date (in the schedule's zone) an occurrence may fall on.
    #[schema(example = "2026-12-31")]
    end_date: Option<String>,
    max_occurrences: Option<u32>,
}

/// How far in the past a schedule's first run may be (clock skew, slow clients).
const PAST_TOLERANCE: chrono::Duration = chrono::Duration::seconds(60);

/// Agents and clients already looked up while reading a batch of calls.
#[derive(Default)]
pub struct Lookups {
    agents: HashMap<String, (Agent, Client)>,
}

impl OutboundCall {
    /// Whether the call is for later rather than now.
    pub fn is_scheduled(&self) -> bool {
        self.scheduled_for.is_some()
    }

    /// Checks the call and builds the request the CallSupervisor takes, with the
    /// client whose limits apply.
    pub async fn into_request(
        self,
        state: &AppState,
        principal: &Principal,
        lookups: &mut Lookups,
    ) -> Result<(CallRequest, Client), ApiError> {
        let to = phone_field("phoneNumber", &self.phone_number)?;
        let (agent, client) = match lookups.agents.get(&self.agent_id) {
            Some(found) => found.clone(),
            None => {
                let agent = visible_agent(state, principal, &self.agent_id).await?;
                let client = state
                    .store
                    .get_client(agent.client_id)
                    .await?
                    .ok_or_else(ApiError::agent_not_found)?;
                lookups
                    .agents
                    .insert(self.agent_id.clone(), (agent.clone(), client.clone()));
                (agent, client)
            }
        };
        let from = caller_id(self.caller_id.as_deref(), &agent, &state.defaults)?;
        let metadata = match self.metadata {
            None => json!({}),
            Some(Value::Object(m)) => Value::Object(m),
            Some(_) => return Err(ApiError::invalid_field("metadata", "must be a JSON object")),
        };
        let schedule = schedule(
            self.scheduled_for.as_deref(),
            self.timezone.as_deref(),
            self.business_hours,
            self.recurrence,
            &client,
            Utc::now(),
        )?;
        let retry_policy = self.retry_policy.map(|p| p.into_policy(2)).transpose()?;
        let request = CallRequest {
            client_id: client.id,
            agent_id: agent.id,
            to,
            from,
            answer_url: agent.answer_url,
            priority: self.priority.unwrap_or_default(),
            metadata,
            warmup_url: agent.warmup_url,
            retry_policy,
            schedule,
        };
        Ok((request, client))
    }
}

/// The schedule of a call, if it has one.
fn schedule(
    scheduled_for: Option<&str>,
    timezone: Option<&str>,
    hours: Option<BusinessHoursBody>,
    recurrence: Option<RecurrenceBody>,
    client: &Client,
    now: DateTime<Utc>,
) -> Result<Option<Schedule>, ApiError> {
    let Some(raw) = scheduled_for else {
        for (given, field) in [
            (timezone.is_some(), "timezone"),
            (hours.is_some(), "businessHours"),
            (recurrence.is_some(), "recurrence"),
        ] {
            if given {
                return Err(ApiError::invalid_field(
                    field,
                    "applies to scheduled calls only: give scheduledFor too",
                ));
            }
        }
        return Ok(None);
    };
    let zone = timezone_field("timezone", timezone.unwrap_or(&client.timezone))?;
    let zone: Tz = zone
        .parse()
        .map_err(|_| ApiError::invalid_field("timezone", "is not an IANA time zone"))?;
    let schedule = Schedule {
        scheduled_for: local_time(raw, zone)?,
        timezone: zone,
        business_hours: hours.map(|h| h.into_hours("businessHours")).transpose()?,
        recurrence: recurrence.map(recurrence_rule).transpose()?,
    };
    schedule
        .validate()
        .map_err(|e| ApiError::invalid_field(e.field, e.message))?;
    if schedule.first_run() < now - PAST_TOLERANCE {
        return Err(ApiError::invalid_field(
            "scheduledFor",
            format!(
                "is in the past: its first run would be {}",
                schedule.first_run().to_rfc3339()
            ),
        ));
    }
    Ok(Some(schedule))
}

/// `scheduledFor` as a local time of `zone`.
fn local_time(raw: &str, zone: Tz) -> Result<NaiveDateTime, ApiError> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(raw) {
        return Ok(instant.with_timezone(&zone).naive_local());
    }
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
    .ok_or_else(|| {
        ApiError::invalid_field(
            "scheduledFor",
            format!(
                "'{raw}' is not a date-time such as 2026-11-23T08:00:00 or 2026-11-23T02:30:00Z"
            ),
        )
    })
}

fn recurrence_rule(body: RecurrenceBody) -> Result<Recurrence, ApiError> {
    let end_date = body
        .end_date
        .map(|raw| {
            NaiveDate::parse_from_str(&raw, "%Y-%m-%d").map_err(|_| {
                ApiError::invalid_field(
                    "recurrence.endDate",
                    format!("'{raw}' is not a date such as 2026-12-31"),
                )
            })
        })
        .transpose()?;
    Ok(Recurrence {
        frequency: body.frequency,
        interval: body.interval.unwrap_or(1),
        end_date,
        max_occurrences: body.max_occurrences,
    })
}
