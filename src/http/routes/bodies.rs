//! Request bodies shared by several endpoints — opening hours, retry policies, the
//! caller id — and their translation into domain values, each refused with the field it
//! is wrong in.

use crate::http::error::ApiError;
use crate::http::validate::phone_field;
use crate::http::CallDefaults;
use callvisor_actors::domain::retry::{MAX_ATTEMPTS, MAX_BACKOFF};
use callvisor_actors::domain::{Agent, BusinessHours, FailureReason, PhoneNumber, RetryPolicy};
use chrono::NaiveTime;
use serde::Deserialize;
use utoipa::ToSchema;

/// Opening hours: a scheduled call's (in its zone) or a campaign's calling window (in
/// each contact's zone).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BusinessHoursBody {
    #[schema(example = "09:00")]
    start: String,
    #[schema(example = "18:00")]
    end: String,
    /// 0 = Sunday … 6 = Saturday.
    #[schema(example = json!([1, 2, 3, 4, 5]))]
    days_of_week: Vec<u8>,
}

/// When a failed call is tried again.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryPolicyBody {
    /// Attempts in all, the first included (2 to 10).
    max_attempts: u32,
    /// Wait before the second attempt; default 300.
    backoff_seconds: Option<u64>,
    /// Each further wait is this many times the last; default 2.
    backoff_multiplier: Option<f64>,
    /// Failures retried; default `busy` and `no_answer`. `invalid_number`, `canceled` and
    /// `supervisor_gave_up` are never retried.
    #[schema(value_type = Option<Vec<String>>, example = json!(["busy", "no_answer"]))]
    retry_on: Option<Vec<FailureReason>>,
}

impl BusinessHoursBody {
    /// The hours, checked; `prefix` names the request field (`businessHours`, `window`).
    pub fn into_hours(self, prefix: &'static str) -> Result<BusinessHours, ApiError> {
        let (start_field, end_field) = match prefix {
            "window" => ("window.start", "window.end"),
            _ => ("businessHours.start", "businessHours.end"),
        };
        let mut days = self.days_of_week;
        days.sort_unstable();
        days.dedup();
        let hours = BusinessHours {
            start: clock_time(start_field, &self.start)?,
            end: clock_time(end_field, &self.end)?,
            days_of_week: days,
        };
        hours
            .validate(prefix)
            .map_err(|e| ApiError::invalid_field(e.field, e.message))?;
        Ok(hours)
    }
}

fn clock_time(field: &'static str, raw: &str) -> Result<NaiveTime, ApiError> {
    NaiveTime::parse_from_str(raw, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw, "%H:%M:%S"))
        .map_err(|_| ApiError::invalid_field(field, format!("'{raw}' is not a time such as 09:00")))
}

impl RetryPolicyBody {
    /// The policy, checked; `min_attempts` is 2 for a single call (a policy of one
    /// attempt retries nothing) and 1 for a campaign (whose policy always applies).
    pub fn into_policy(self, min_attempts: u32) -> Result<RetryPolicy, ApiError> {
        let body = self;
        if !(min_attempts..=MAX_ATTEMPTS).contains(&body.max_attempts) {
            return Err(ApiError::invalid_field(
                "retryPolicy.maxAttempts",
                format!(
                    "must be {min_attempts} to {MAX_ATTEMPTS} (attempts in all, the first included)"
                ),
            ));
        }
        let backoff_seconds = body.backoff_seconds.unwrap_or(300);
        if !(1..=MAX_BACKOFF.as_secs()).contains(&backoff_seconds) {
            return Err(ApiError::invalid_field(
                "retryPolicy.backoffSeconds",
                format!("must be 1 to {}", MAX_BACKOFF.as_secs()),
            ));
        }
        let multiplier = body.backoff_multiplier.unwrap_or(2.0);
        if !(1.0..=10.0).contains(&multiplier) {
            return Err(ApiError::invalid_field(
                "retryPolicy.backoffMultiplier",
                "must be 1 to 10",
            ));
        }
        let retry_on = body
            .retry_on
            .unwrap_or_else(|| RetryPolicy::DEFAULT_RETRY_ON.to_vec());
        if retry_on.is_empty() {
            return Err(ApiError::invalid_field(
                "retryPolicy.retryOn",
                "must name at least one failure",
            ));
        }
        if let Some(never) = retry_on
            .iter()
            .find(|r| RetryPolicy::NEVER_RETRIED.contains(r))
        {
            return Err(ApiError::invalid_field(
                "retryPolicy.retryOn",
                format!("'{never}' is never retried"),
            ));
        }
        Ok(RetryPolicy {
            max_attempts: body.max_attempts,
            backoff_seconds,
            backoff_multiplier: multiplier,
            retry_on,
        })
    }
}

/// The number calls are made from: the request's `callerId`, else the agent's, else the
/// server's default; required when none of them has one.
pub fn caller_id(
    requested: Option<&str>,
    agent: &Agent,
    defaults: &CallDefaults,
) -> Result<PhoneNumber, ApiError> {
    match (requested, &agent.caller_id, &defaults.caller_id) {
        (Some(raw), _, _) => phone_field("callerId", raw),
        (None, Some(agent_caller), _) => Ok(agent_caller.clone()),
        (None, None, Some(default)) => Ok(default.clone()),
        (None, None, None) => Err(ApiError::invalid_field(
            "callerId",
            "is required: neither the agent nor the server has a default caller id",
        )),
    }
}
