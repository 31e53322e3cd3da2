//! Calls: `GET /api/v1/calls/{id}`, `GET /api/v1/calls`, `POST /api/v1/calls/{id}/cancel`,
//! `GET /api/v1/calls/{id}/recording` (placing them is in `outbound`). Canceling is a
//! message to the CallSupervisor; reads come from storage, where every change is
//! persisted first, except the recording, which the provider is asked for.

use crate::http::auth::{Principal, Role};
use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::extract::{parse_id, ApiQuery};
use crate::http::paging::{page_limit, split_page};
use crate::http::AppState;
use crate::store::CallFilter;
use axum::extract::{Path, State};
use callvisor_actors::calls::{CallSupervisorMsg, CancelError};
use callvisor_actors::domain::{
    AgentId, Call, CallEvent, CallId, CallStatus, CampaignId, ClientId, Priority, RetryPolicy,
    Schedule,
};
use callvisor_actors::gateway::{CircuitState, GatewayMsg, GatewayStats};
use callvisor_actors::rpc::ask;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;
use utoipa::ToSchema;

/// How long a request waits for the tree to answer.
pub(crate) const TREE_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest page of the call list.
const MAX_PAGE: u32 = 200;

/// A call as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    #[schema(value_type = String, format = Uuid)]
    id: CallId,
    #[schema(value_type = String, format = Uuid)]
    client_id: ClientId,
    #[schema(value_type = String, format = Uuid)]
    agent_id: AgentId,
    phone_number: String,
    caller_id: String,
    #[schema(value_type = String, example = "completed")]
    status: CallStatus,
    #[schema(value_type = Option<String>, example = "busy")]
    failure_reason: Option<String>,
    provider: String,
    provider_call_id: Option<String>,
    #[schema(value_type = String)]
    priority: Priority,
    #[schema(value_type = Object)]
    metadata: Value,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    dial_started_at: Option<DateTime<Utc>>,
    answered_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    duration_seconds: Option<i64>,
    price: Option<String>,
    recording_url: Option<String>,
    /// Bot warm-up attempts made before dialing.
    warmup_attempts: u32,
    /// Time the warm-up took, all attempts together.
    warmup_millis: Option<i64>,
    /// When the bot answered its warm-up.
    bot_ready_at: Option<DateTime<Utc>>,
    /// Not dialed before this time (a scheduled call, a retry's backoff).
    not_before: Option<DateTime<Utc>>,
    /// When the call got its concurrency slot; until then it waits in line.
    slot_granted_at: Option<DateTime<Utc>>,
    /// 1 for a first attempt, then 2, 3, … for its retries.
    attempt: u32,
    /// The first attempt, on retries.
    #[schema(value_type = Option<String>, format = Uuid)]
    original_call_id: Option<CallId>,
    /// The retry made after this call failed.
    #[schema(value_type = Option<String>, format = Uuid)]
    next_attempt_id: Option<CallId>,
    #[schema(value_type = Option<Object>)]
    retry_policy: Option<RetryPolicy>,
    /// The first occurrence of a scheduled call's series.
    #[schema(value_type = Option<String>, format = Uuid)]
    series_id: Option<CallId>,
    /// Which occurrence of its series the call is, from 1.
    occurrence: Option<u32>,
    /// The series' next occurrence, made when this one came due.
    #[schema(value_type = Option<String>, format = Uuid)]
    next_occurrence_id: Option<CallId>,
    /// `scheduledFor` (local), `timezone`, `businessHours` and `recurrence`.
    #[schema(value_type = Option<Object>)]
    schedule: Option<Schedule>,
    /// The campaign that made the call, and the contact's place in its list.
    #[schema(value_type = Option<String>, format = Uuid)]
    campaign_id: Option<CampaignId>,
    contact_position: Option<u32>,
    /// The call's history, oldest first (only on `GET /api/v1/calls/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<Vec<EventView>>,
}

/// One entry of a call's history.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    #[schema(value_type = String)]
    id: String,
    /// `api`, `webhook`, `provider` or `actor`.
    source: String,
    /// A status name or what the actor did (`dial_requested`, `recovered`, `timeout`, …).
    kind: String,
    /// Whether it moved the call; duplicates and stale webhooks are kept but not applied.
    applied: bool,
    sequence: Option<i64>,
    #[schema(value_type = Object)]
    detail: Value,
    at: DateTime<Utc>,
}

impl From<CallEvent> for EventView {
    fn from(e: CallEvent) -> Self {
        Self {
            id: e.id.to_string(),
            source: e.source.as_str().to_string(),
            kind: e.kind,
            applied: e.applied,
            sequence: e.sequence,
            detail: e.detail,
            at: e.at,
        }
    }
}

impl CallView {
    pub(crate) fn new(c: Call, events: Option<Vec<CallEvent>>) -> Self {
        Self {
            id: c.id,
            client_id: c.client_id,
            agent_id: c.agent_id,
            phone_number: c.to.to_string(),
            caller_id: c.from.to_string(),
            status: c.status,
            failure_reason: c.failure_reason.map(|r| r.as_str().to_string()),
            provider: c.provider,
            provider_call_id: c.provider_call_id,
            priority: c.priority,
            metadata: c.metadata,
            created_at: c.created_at,
            updated_at: c.updated_at,
            dial_started_at: c.dial_started_at,
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            duration_seconds: c.duration_seconds,
            price: c.price,
            recording_url: c.recording_url,
            warmup_attempts: c.warmup_attempts,
            warmup_millis: c.warmup_millis,
            bot_ready_at: c.bot_ready_at,
            not_before: c.not_before,
            slot_granted_at: c.slot_granted_at,
            attempt: c.attempt,
            original_call_id: c.original_call_id,
            next_attempt_id: c.next_attempt_id,
            retry_policy: c.retry_policy,
            series_id: c.series_id,
            occurrence: c.occurrence,
            next_occurrence_id: c.next_occurrence_id,
            schedule: c.schedule,
            campaign_id: c.campaign_id,
            contact_position: c.contact_position,
            events: events.map(|es| es.into_iter().map(EventView::from).collect()),
        }
    }
}

/// Filters and paging of the call list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallQuery {
    status: Option<CallStatus>,
    agent_id: Option<AgentId>,
    client_id: Option<ClientId>,
    /// Only the retries of this first attempt.
    original_call_id: Option<CallId>,
    /// Only the occurrences of this series.
    series_id: Option<CallId>,
    /// Only the calls of this campaign.
    campaign_id: Option<CampaignId>,
    limit: Option<u32>,
    cursor: Option<CallId>,
}

/// A page of calls.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallPage {
    calls: Vec<CallView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/calls/{id}", tag = "calls",
    responses((status = 200, body = CallView), (status = 404, description = "NOT_FOUND")))]
pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let call = visible_call(&state, &principal, &id).await?;
    let events = state.store.call_events(call.id).await?;
    Ok(ok(CallView::new(call, Some(events))))
}

#[utoipa::path(get, path = "/api/v1/calls", tag = "calls",
    params(
        ("status" = Option<String>, Query, description = "queued, initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled, timeout"),
        ("agentId" = Option<String>, Query), ("clientId" = Option<String>, Query, description = "super_admin only"),
        ("originalCallId" = Option<String>, Query, description = "the retries of this call"),
        ("seriesId" = Option<String>, Query, description = "the occurrences of this scheduled series"),
        ("campaignId" = Option<String>, Query, description = "the calls of this campaign"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "1..=200, default 50"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page")),
    responses((status = 200, body = CallPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CallQuery>,
) -> ApiResult {
    let client_id = principal.listing_scope(query.client_id)?;
    let limit = page_limit(query.limit, 50, MAX_PAGE)?;
    let filter = CallFilter {
        client_id,
        agent_id: query.agent_id,
        status: query.status,
        original_call_id: query.original_call_id,
        series_id: query.series_id,
        campaign_id: query.campaign_id,
        after: query.cursor,
        limit: limit + 1,
    };
    let calls = state.store.list_calls(&filter).await?;
    let (calls, next_cursor) = split_page(calls, limit, |c| c.id.to_string());
    Ok(ok(CallPage {
        calls: calls.into_iter().map(|c| CallView::new(c, None)).collect(),
        next_cursor,
    }))
}

#[utoipa::path(post, path = "/api/v1/calls/{id}/cancel", tag = "calls",
    responses((status = 200, body = CallView), (status = 409, description = "INVALID_STATE: already final")))]
pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let call = visible_call(&state, &principal, &id).await?;
    principal.require(Role::Manager)?;
    let supervisor = state.tree.calls.get();
    let result = ask(
        &supervisor,
        |tx| CallSupervisorMsg::Cancel(call.id, tx),
        TREE_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?;
    match result {
        Ok(call) => Ok(ok(CallView::new(call, None))),
        Err(CancelError::AlreadyFinal(status)) => Err(ApiError::invalid_state(format!(
            "the call is already {status}"
        ))),
        Err(CancelError::NotLive) => Err(ApiError::invalid_state("the call is not live")),
        Err(CancelError::Provider(e)) => Err(ApiError::unavailable(format!(
            "the provider did not hang up: {e}"
        ))),
    }
}

/// Refuses with 503 `API_UNAVAILABLE` while the provider's circuit is not closed: a new
/// request would only wait for the breaker's probe.
pub(crate) async fn require_closed_circuit(state: &AppState) -> Result<(), ApiError> {
    let gateway = gateway_stats(state).await?;
    if gateway.circuit_state != CircuitState::Closed {
        return Err(ApiError::unavailable(format!(
            "the provider is failing and its circuit is {}; try again later",
            gateway.circuit_state.as_str()
        ))
        .with_details(json!({ "circuitState": gateway.circuit_state })));
    }
    Ok(())
}

/// Where a call's recording is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordingView {
    /// The provider's URL of the recording; `null` when the call has none.
    recording_url: Option<String>,
}

/// `GET /api/v1/calls/{id}/recording`: asks the provider (through the gateway, on its
/// quota for lookups) where the call's recording is. Viewer or above, scoped to the
/// principal's client exactly like `GET /api/v1/calls/{id}`.
#[utoipa::path(get, path = "/api/v1/calls/{id}/recording", tag = "calls",
    responses(
        (status = 200, body = RecordingView),
        (status = 404, description = "NOT_FOUND"),
        (status = 409, description = "INVALID_STATE: the provider has not given the call an id yet"),
        (status = 502, description = "PROVIDER_ERROR"),
        (status = 503, description = "API_UNAVAILABLE: the provider is not answering")))]
pub async fn recording(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult {
    let call = visible_call(&state, &principal, &id).await?;
    let provider_call_id = call
        .provider_call_id
        .ok_or_else(|| ApiError::invalid_state("the provider has not given this call an id yet"))?;
    let found = ask(
        &state.tree.gateway.get(),
        |tx| GatewayMsg::RecordingUrl(provider_call_id, tx),
        TREE_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::from_provider(&e))?;
    Ok(ok(RecordingView {
        recording_url: found,
    }))
}

/// The gateway's circuit and limiter state.
pub(crate) async fn gateway_stats(state: &AppState) -> Result<GatewayStats, ApiError> {
    ask(&state.tree.gateway.get(), GatewayMsg::Stats, TREE_TIMEOUT)
        .await
        .map_err(ApiError::internal)
}

/// Loads a call the principal may see, or answers 404.
async fn visible_call(
    state: &AppState,
    principal: &Principal,
    raw_id: &str,
) -> Result<Call, ApiError> {
    let id: CallId = parse_id("id", raw_id)?;
    let found = callvisor_actors::ports::CallStore::load_call(&state.store, id).await?;
    match found {
        Some(c) if principal.sees(c.client_id) => Ok(c),
        _ => Err(ApiError::not_found("call")),
    }
}
