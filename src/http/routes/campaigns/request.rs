//! The body of a new campaign and of its contacts, and their translation into domain
//! values, each refused with the field it is wrong in.

use crate::http::auth::Principal;
use crate::http::error::ApiError;
use crate::http::routes::agents::visible_agent;
use crate::http::routes::bodies::{caller_id, BusinessHoursBody, RetryPolicyBody};
use crate::http::validate::{name_field, phone_field, timezone_field};
use crate::http::AppState;
use callvisor_actors::domain::campaign::{
    NewCampaign, NewContact, Pacing, MAX_CALLS_PER_MINUTE, MAX_CAMPAIGN_CONCURRENCY,
};
use callvisor_actors::domain::{ClientId, PhoneNumber, RetryPolicy};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// Most contacts in one JSON request (larger lists go up as CSV).
pub const MAX_JSON_CONTACTS: usize = 10_000;
/// Most numbers on a do-not-call list.
pub const MAX_DO_NOT_CALL: usize = 100_000;

/// A new campaign.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCampaign {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    name: String,
    #[schema(value_type = String, format = Uuid)]
    agent_id: String,
    /// Caller id to present; defaults to the agent's, then the server's.
    caller_id: Option<String>,
    /// IANA zone of the calling window for contacts that name none; default the client's.
    timezone: Option<String>,
    /// The first contacts (more can be appended, as JSON or CSV).
    #[serde(default)]
    contacts: Vec<ContactBody>,
    /// Default: 3 attempts, 600 s apart, retrying `busy` and `no_answer`.
    retry_policy: Option<RetryPolicyBody>,
    /// Default: 10 at once, no per-minute cap.
    pacing: Option<PacingBody>,
    /// Dial only within these hours, in each contact's zone.
    window: Option<BusinessHoursBody>,
    /// Numbers never dialed.
    #[serde(default)]
    do_not_call: Vec<String>,
    /// Start by itself at this instant (RFC 3339); the campaign is `scheduled` until then.
    start_at: Option<String>,
    /// The client, for super_admin requests.
    #[schema(value_type = Option<String>, format = Uuid)]
    client_id: Option<ClientId>,
}

/// How fast a campaign dials.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PacingBody {
    /// Most of the campaign's calls live at once (1 to 10000).
    max_concurrent: Option<u32>,
    /// Most new calls per minute (1 to 60000); none: as fast as slots allow.
    calls_per_minute: Option<u32>,
}

/// One contact.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactBody {
    /// E.164.
    phone_number: String,
    name: Option<String>,
    /// IANA zone of the contact's calling window; default the campaign's.
    timezone: Option<String>,
    /// Any JSON object, carried to each call's metadata.
    #[schema(value_type = Option<Object>)]
    variables: Option<Value>,
}

/// Contacts to append.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppendContacts {
    pub contacts: Vec<ContactBody>,
}

impl ContactBody {
    /// The contact, checked; `field` is where it stands in the request
    /// (`contacts[3]`).
    pub fn into_contact(self, field: &str) -> Result<NewContact, ApiError> {
        contact(
            &ContactFields::under(field),
            &self.phone_number,
            self.name.as_deref(),
            self.timezone.as_deref(),
            self.variables,
        )
    }
}

/// What errors call a contact's parts: their place in a JSON body
/// (`contacts[3].timezone`), or the columns of a CSV file as its header names them.
pub struct ContactFields {
    pub phone: String,
    pub name: String,
    pub timezone: String,
    pub variables: String,
}

impl ContactFields {
    /// The parts of a contact standing at `prefix` in a JSON body.
    pub fn under(prefix: &str) -> Self {
        let at = |name: &str| format!("{prefix}.{name}");
        Self {
            phone: at("phoneNumber"),
            name: at("name"),
            timezone: at("timezone"),
            variables: at("variables"),
        }
    }
}

/// A contact from its parts, as JSON and CSV give them; errors name the part's field
/// as `fields` says.
pub fn contact(
    fields: &ContactFields,
    phone: &str,
    name: Option<&str>,
    timezone: Option<&str>,
    variables: Option<Value>,
) -> Result<NewContact, ApiError> {
    let phone = phone_field(&fields.phone, phone.trim())?;
    let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > 200 => {
            return Err(ApiError::invalid_field(
                &fields.name,
                "must be at most 200 characters",
            ))
        }
        other => other.map(str::to_string),
    };
    let timezone = timezone
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .map(|z| zone(&fields.timezone, z))
        .transpose()?;
    let variables = match variables {
        None => Value::Object(Default::default()),
        Some(Value::Object(m)) => Value::Object(m),
        Some(_) => {
            return Err(ApiError::invalid_field(
                &fields.variables,
                "must be a JSON object",
            ))
        }
    };
    Ok(NewContact {
        phone,
        name,
        timezone,
        variables,
    })
}

fn zone(field: &str, raw: &str) -> Result<Tz, ApiError> {
    let name = timezone_field(field, raw)?;
    name.parse()
        .map_err(|_| ApiError::invalid_field(field, "is not an IANA time zone"))
}

impl CreateCampaign {
    /// Checks the campaign and builds what the CampaignSupervisor takes.
    pub async fn into_request(
        self,
        state: &AppState,
        principal: &Principal,
    ) -> Result<(NewCampaign, Vec<NewContact>), ApiError> {
        let name = name_field("name", &self.name)?;
        let agent = visible_agent(state, principal, &self.agent_id).await?;
        if let Some(named) = self.client_id {
            if principal.acting_client(Some(named))? != agent.client_id {
                return Err(ApiError::agent_not_found());
            }
        }
        let client = state
            .store
            .get_client(agent.client_id)
            .await?
            .ok_or_else(ApiError::agent_not_found)?;
        let caller_id = caller_id(self.caller_id.as_deref(), &agent, &state.defaults)?;
        let timezone = zone(
            "timezone",
            self.timezone.as_deref().unwrap_or(&client.timezone),
        )?;
        let retry_policy = match self.retry_policy {
            Some(body) => body.into_policy(1)?,
            None => RetryPolicy {
                max_attempts: 3,
                backoff_seconds: 600,
                backoff_multiplier: 1.0,
                retry_on: RetryPolicy::DEFAULT_RETRY_ON.to_vec(),
            },
        };
        let pacing = self.pacing.map(pacing).transpose()?.unwrap_or_default();
        let window = self.window.map(|w| w.into_hours("window")).transpose()?;
        let do_not_call = do_not_call(&self.do_not_call)?;
        let start_at = self
            .start_at
            .as_deref()
            .map(|raw| start_at(raw, state.clock.now()))
            .transpose()?;
        if self.contacts.len() > MAX_JSON_CONTACTS {
            return Err(ApiError::invalid_field(
                "contacts",
                format!("at most {MAX_JSON_CONTACTS} in one request; append more, or upload CSV"),
            ));
        }
        let contacts = self
            .contacts
            .into_iter()
            .enumerate()
            .map(|(i, c)| c.into_contact(&format!("contacts[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let request = NewCampaign {
            client_id: client.id,
            agent_id: agent.id,
            name,
            caller_id,
            timezone,
            retry_policy,
            pacing,
            window,
            do_not_call,
            start_at,
            answer_url: agent.answer_url,
            warmup_url: agent.warmup_url,
        };
        Ok((request, contacts))
    }
}

fn pacing(body: PacingBody) -> Result<Pacing, ApiError> {
    let max_concurrent = body
        .max_concurrent
        .unwrap_or(Pacing::default().max_concurrent);
    if !(1..=MAX_CAMPAIGN_CONCURRENCY).contains(&max_concurrent) {
        return Err(ApiError::invalid_field(
            "pacing.maxConcurrent",
            format!("must be 1 to {MAX_CAMPAIGN_CONCURRENCY}"),
        ));
    }
    if let Some(cpm) = body.calls_per_minute {
        if !(1..=MAX_CALLS_PER_MINUTE).contains(&cpm) {
            return Err(ApiError::invalid_field(
                "pacing.callsPerMinute",
                format!("must be 1 to {MAX_CALLS_PER_MINUTE}"),
            ));
        }
    }
    Ok(Pacing {
        max_concurrent,
        calls_per_minute: body.calls_per_minute,
    })
}

fn do_not_call(raw: &[String]) -> Result<BTreeSet<PhoneNumber>, ApiError> {
    if raw.len() > MAX_DO_NOT_CALL {
        return Err(ApiError::invalid_field(
            "doNotCall",
            format!("at most {MAX_DO_NOT_CALL} numbers"),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, n)| phone_field(&format!("doNotCall[{i}]"), n.trim()))
        .collect()
}

fn start_at(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| {
            ApiError::invalid_field(
                "startAt",
                format!("'{raw}' is not an instant such as 2026-12-03T09:00:00Z"),
            )
        })?
        .with_timezone(&Utc);
    if at < now - chrono::Duration::seconds(60) {
        return Err(ApiError::invalid_field("startAt", "is in the past"));
    }
    Ok(at)
}
