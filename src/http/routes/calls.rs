//! Calls: `POST /api/v1/calls/outbound`, `GET /api/v1/calls/{id}`, `GET /api/v1/calls`,
//! `POST /api/v1/calls/{id}/cancel`, `GET /api/v1/calls/{id}/recording`. Placing and
//! canceling are messages to the CallSupervisor; reads come from storage, where every
//! change is persisted first, except the recording, which the provider is asked for.

use super::agents::visible_agent;
use crate::http::auth::{Principal, Role};
use crate::http::error::{created, ok, ApiError, ApiResult};
use crate::http::extract::{parse_id, ApiJson, ApiQuery};
use crate::http::validate::phone_field;
use crate::http::AppState;
use crate::store::CallFilter;
use axum::extract::{Path, State};
use callvisor_actors::calls::{CallSupervisorMsg, CancelError, NewCall, PlaceError};
use callvisor_actors::domain::{
    AgentId, Call, CallEvent, CallId, CallRequest, CallStatus, ClientId, Priority,
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

/// One call to place now.
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
}

/// The placed call.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Placed {
    #[schema(value_type = String, format = Uuid)]
    call_id: CallId,
    #[schema(value_type = String, example = "queued")]
    status: CallStatus,
}

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

#[utoipa::path(post, path = "/api/v1/calls/outbound", tag = "calls", request_body = OutboundCall,
    responses(
        (status = 201, body = Placed),
        (status = 400, description = "VALIDATION_ERROR or INVALID_PHONE_NUMBER"),
        (status = 404, description = "AGENT_NOT_FOUND"),
        (status = 429, description = "CONCURRENT_LIMIT_REACHED"),
        (status = 503, description = "API_UNAVAILABLE: the provider's circuit is open")))]
pub async fn place(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<OutboundCall>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let to = phone_field("phoneNumber", &body.phone_number)?;
    require_closed_circuit(&state).await?;
    let agent = visible_agent(&state, &principal, &body.agent_id).await?;
    let from = match (&body.caller_id, &agent.caller_id, &state.defaults.caller_id) {
        (Some(raw), _, _) => phone_field("callerId", raw)?,
        (None, Some(agent_caller), _) => agent_caller.clone(),
        (None, None, Some(default)) => default.clone(),
        (None, None, None) => {
            return Err(ApiError::invalid_field(
                "callerId",
                "is required: neither the agent nor the server has a default caller id",
            ))
        }
    };
    let metadata = match body.metadata {
        None => json!({}),
        Some(Value::Object(m)) => Value::Object(m),
        Some(_) => return Err(ApiError::invalid_field("metadata", "must be a JSON object")),
    };
    let client = state
        .store
        .get_client(agent.client_id)
        .await?
        .ok_or_else(ApiError::agent_not_found)?;
    let new_call = NewCall {
        request: CallRequest {
            client_id: client.id,
            agent_id: agent.id,
            to,
            from,
            answer_url: agent.answer_url,
            priority: body.priority.unwrap_or_default(),
            metadata,
            warmup_url: agent.warmup_url,
            retry_policy: None,
            schedule: None,
        },
        client_limit: client.max_concurrent_calls,
    };
    let supervisor = state.tree.calls.get();
    let placed = ask(
        &supervisor,
        |tx| CallSupervisorMsg::Place(new_call, tx),
        TREE_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?;
    match placed {
        Ok(call) => Ok(created(Placed {
            call_id: call.id,
            status: call.status,
        })),
        Err(PlaceError::NoSlot(denied)) => Err(ApiError::concurrent_limit(denied.to_string())
            .with_details(serde_json::to_value(denied).unwrap_or_default())),
        Err(PlaceError::Internal(e)) => Err(ApiError::internal(e)),
    }
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
        ("limit" = Option<u32>, Query, description = "1..=200, default 50"),
        ("cursor" = Option<String>, Query, description = "nextCursor of the previous page")),
    responses((status = 200, body = CallPage)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CallQuery>,
) -> ApiResult {
    let client_id = principal.listing_scope(query.client_id)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    let filter = CallFilter {
        client_id,
        agent_id: query.agent_id,
        status: query.status,
        after: query.cursor,
        limit: limit + 1,
    };
    let mut calls = state.store.list_calls(&filter).await?;
    let next_cursor = if calls.len() > limit as usize {
        calls.truncate(limit as usize);
        calls.last().map(|c| c.id.to_string())
    } else {
        None
    };
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
