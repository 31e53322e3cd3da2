//! How a campaign is shown over the API.

use callvisor_actors::domain::campaign::{Campaign, CampaignStatus, Contact, Pacing};
use callvisor_actors::domain::{AgentId, BusinessHours, CampaignId, ClientId, RetryPolicy};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A campaign.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignView {
    #[schema(value_type = String, format = Uuid)]
    id: CampaignId,
    #[schema(value_type = String, format = Uuid)]
    client_id: ClientId,
    #[schema(value_type = String, format = Uuid)]
    agent_id: AgentId,
    name: String,
    caller_id: String,
    /// The calling window's zone for contacts that name none.
    timezone: String,
    /// `draft`, `scheduled`, `running`, `paused`, `completed`, `cancelled` or `failed`.
    #[schema(value_type = String, example = "running")]
    status: CampaignStatus,
    #[schema(value_type = Object)]
    retry_policy: RetryPolicy,
    #[schema(value_type = Object)]
    pacing: Pacing,
    #[schema(value_type = Option<Object>)]
    window: Option<BusinessHours>,
    /// How many numbers the do-not-call list holds.
    do_not_call_count: usize,
    start_at: Option<DateTime<Utc>>,
    /// The cursor: contacts before it have been taken from the list.
    current_index: u32,
    total_contacts: u32,
    processed_contacts: u32,
    /// Calls made, every attempt counted.
    dials: u32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    last_activity: Option<DateTime<Utc>>,
    paused_at: Option<DateTime<Utc>>,
    paused_by: Option<String>,
    resumed_at: Option<DateTime<Utc>>,
    /// Why the system stopped the campaign, when it did.
    failure: Option<String>,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> Self {
        Self {
            id: c.id,
            client_id: c.client_id,
            agent_id: c.agent_id,
            name: c.name,
            caller_id: c.caller_id.to_string(),
            timezone: c.timezone.name().to_string(),
            status: c.status,
            retry_policy: c.retry_policy,
            pacing: c.pacing,
            window: c.window,
            do_not_call_count: c.do_not_call.len(),
            start_at: c.start_at,
            current_index: c.current_index,
            total_contacts: c.total_contacts,
            processed_contacts: c.processed_contacts,
            dials: c.dials,
            created_at: c.created_at,
            updated_at: c.updated_at,
            started_at: c.started_at,
            completed_at: c.completed_at,
            last_activity: c.last_activity,
            paused_at: c.paused_at,
            paused_by: c.paused_by,
            resumed_at: c.resumed_at,
            failure: c.failure,
        }
    }
}

/// A contact of a campaign and where it stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactView {
    position: u32,
    phone_number: String,
    name: Option<String>,
    timezone: Option<String>,
    #[schema(value_type = Object)]
    variables: serde_json::Value,
    /// `pending`, `waiting`, `dialing` or `done`.
    state: &'static str,
    /// Why a waiting contact waits: `window`, `retry` or `paused`.
    wait_reason: Option<&'static str>,
    next_at: Option<DateTime<Utc>>,
    attempts: u32,
    #[schema(value_type = Option<String>, format = Uuid)]
    call_id: Option<String>,
    /// `connected`, `failed`, `do_not_call` or `canceled`, once done.
    outcome: Option<&'static str>,
    failure_reason: Option<&'static str>,
}

impl From<Contact> for ContactView {
    fn from(c: Contact) -> Self {
        Self {
            position: c.position,
            phone_number: c.phone.to_string(),
            name: c.name,
            timezone: c.timezone.map(|z| z.name().to_string()),
            variables: c.variables,
            state: c.state.as_str(),
            wait_reason: c.wait_reason.map(|r| r.as_str()),
            next_at: c.next_at,
            attempts: c.attempts,
            call_id: c.call_id.map(|id| id.to_string()),
            outcome: c.outcome.map(|o| o.as_str()),
            failure_reason: c.failure_reason.map(|r| r.as_str()),
        }
    }
}
