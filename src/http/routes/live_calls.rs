//! Live calls and slot use: `GET /api/v1/calls/outbound/stats` (concurrency, circuit and
//! rate limiters) and `GET /api/v1/calls/active` (live calls and utilization per client
//! and globally). Slot counts come from the ConcurrencyBroker, the calls themselves from
//! storage, where every live call is persisted.

use super::calls::{gateway_stats, CallView, TREE_TIMEOUT};
use crate::http::auth::Principal;
use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::extract::ApiQuery;
use crate::http::AppState;
use axum::extract::State;
use callvisor_actors::broker::{BrokerMsg, SlotStats};
use callvisor_actors::domain::ClientId;
use callvisor_actors::gateway::CircuitState;
use callvisor_actors::ports::CallStore;
use callvisor_actors::rpc::ask;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

/// Slot use of the principal's own client (or, for super_admin, of every client).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSlots {
    #[schema(value_type = String, format = Uuid)]
    client_id: ClientId,
    in_use: u32,
    /// The client's limit (absent when the client is unknown, e.g. deleted).
    max_concurrent_calls: Option<u32>,
    /// `inUse` as a share of the client's limit, 0..=1 (absent without a limit).
    utilization: Option<f64>,
}

/// Concurrency, circuit and rate-limiter state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboundStats {
    active_calls: u32,
    max_concurrent_calls: u32,
    /// Active calls as a share of the global limit, 0..=1.
    utilization: f64,
    provider: String,
    #[schema(value_type = String, example = "closed")]
    circuit_state: CircuitState,
    circuit_opened: u64,
    #[schema(value_type = Object)]
    rate_limiter: Value,
    clients: Vec<ClientSlots>,
}

#[utoipa::path(get, path = "/api/v1/calls/outbound/stats", tag = "calls",
    responses((status = 200, body = OutboundStats)))]
pub async fn outbound_stats(State(state): State<AppState>, principal: Principal) -> ApiResult {
    let gateway = gateway_stats(&state).await?;
    let slots = slot_stats(&state).await?;
    let clients = client_slots(&state, &slots, principal.listing_scope(None)?).await?;
    Ok(ok(OutboundStats {
        active_calls: slots.global_in_use,
        max_concurrent_calls: slots.global_max,
        utilization: slots.global_in_use as f64 / slots.global_max.max(1) as f64,
        provider: gateway.provider,
        circuit_state: gateway.circuit_state,
        circuit_opened: gateway.circuit_opened,
        rate_limiter: json!({
            "createCall": gateway.create_call_limiter,
            "other": gateway.other_limiter,
            "sms": gateway.sms_limiter,
        }),
        clients,
    }))
}

/// Slot use as the ConcurrencyBroker sees it.
async fn slot_stats(state: &AppState) -> Result<SlotStats, ApiError> {
    ask(&state.tree.broker.get(), BrokerMsg::Stats, TREE_TIMEOUT)
        .await
        .map_err(ApiError::internal)
}

/// Slot use of the clients in `scope` (one client, or every client with calls for
/// `None`), each with its limit.
async fn client_slots(
    state: &AppState,
    slots: &SlotStats,
    scope: Option<ClientId>,
) -> Result<Vec<ClientSlots>, ApiError> {
    let mut in_use: Vec<(ClientId, u32)> = slots
        .per_client
        .iter()
        .copied()
        .filter(|(c, _)| scope.is_none_or(|s| s == *c))
        .collect();
    if let Some(own) = scope {
        if in_use.is_empty() {
            in_use.push((own, 0));
        }
    }
    let mut clients = Vec::with_capacity(in_use.len());
    for (client_id, in_use) in in_use {
        let limit = state
            .store
            .get_client(client_id)
            .await?
            .map(|c| c.max_concurrent_calls);
        clients.push(ClientSlots {
            client_id,
            in_use,
            max_concurrent_calls: limit,
            utilization: limit.map(|l| in_use as f64 / l.max(1) as f64),
        });
    }
    Ok(clients)
}

/// Filter of the live-call view.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActiveQuery {
    /// super_admin only: one client (default: every client).
    client_id: Option<ClientId>,
    /// Include the live calls themselves.
    #[serde(default)]
    include_calls: bool,
}

/// Live calls and utilization.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveCalls {
    /// Calls in scope (the principal's client, or the one asked for) holding a slot.
    active_calls: usize,
    /// Calls in scope waiting in line for a slot.
    waiting_calls: usize,
    /// Calls in scope waiting for their time (scheduled calls, retries in backoff).
    scheduled_calls: usize,
    /// Every live call of the system, and the global limit.
    global_in_use: u32,
    global_max: u32,
    global_utilization: f64,
    clients: Vec<ClientSlots>,
    /// The calls holding a slot, when `includeCalls=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    calls: Option<Vec<CallView>>,
}

#[utoipa::path(get, path = "/api/v1/calls/active", tag = "calls",
    params(
        ("clientId" = Option<String>, Query, description = "super_admin only"),
        ("includeCalls" = Option<bool>, Query, description = "include the live calls")),
    responses((status = 200, body = ActiveCalls)))]
pub async fn active(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ActiveQuery>,
) -> ApiResult {
    let scope = principal.listing_scope(query.client_id)?;
    let slots = slot_stats(&state).await?;
    let now = state.clock.now();
    let (mut live, mut waiting_calls, mut scheduled_calls) = (Vec::new(), 0, 0);
    for call in state.store.live_calls().await? {
        if scope.is_some_and(|s| s != call.client_id) {
            continue;
        }
        if call.slot_granted_at.is_some() {
            live.push(call);
        } else if call.is_pending(now) {
            scheduled_calls += 1;
        } else {
            waiting_calls += 1;
        }
    }
    Ok(ok(ActiveCalls {
        active_calls: live.len(),
        waiting_calls,
        scheduled_calls,
        global_in_use: slots.global_in_use,
        global_max: slots.global_max,
        global_utilization: slots.global_in_use as f64 / slots.global_max.max(1) as f64,
        clients: client_slots(&state, &slots, scope).await?,
        calls: query
            .include_calls
            .then(|| live.into_iter().map(|c| CallView::new(c, None)).collect()),
    }))
}
