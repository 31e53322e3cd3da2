//! Placing calls: `POST /api/v1/calls/outbound` (one call, now or scheduled) and
//! `POST /api/v1/calls/outbound/bulk` (up to 1000, each checked on its own).
//!
//! A call placed now needs a free slot at once, or is refused with 429
//! `CONCURRENT_LIMIT_REACHED`. Scheduled and bulk calls are accepted and wait: for their
//! time, then for a slot in the broker's fair line. Either way, every accepted call is
//! persisted before the answer.

mod request;

pub use request::{OutboundCall, RecurrenceBody};

use super::calls::{require_closed_circuit, TREE_TIMEOUT};
use crate::http::auth::{Principal, Role};
use crate::http::error::{created, ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::AppState;
use axum::extract::State;
use callvisor_actors::calls::{CallSupervisorMsg, NewCall, PlaceError};
use callvisor_actors::domain::{Call, CallId, CallRequest, CallStatus};
use callvisor_actors::rpc::ask;
use chrono::{DateTime, Utc};
use request::Lookups;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

/// Most calls in one bulk request.
pub const MAX_BULK: usize = 1000;

/// The placed call.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Placed {
    #[schema(value_type = String, format = Uuid)]
    call_id: CallId,
    #[schema(value_type = String, example = "queued")]
    status: CallStatus,
    /// When a scheduled call will be dialed (its first occurrence).
    #[serde(skip_serializing_if = "Option::is_none")]
    scheduled_at: Option<DateTime<Utc>>,
}

impl From<&Call> for Placed {
    fn from(call: &Call) -> Self {
        Self {
            call_id: call.id,
            status: call.status,
            scheduled_at: call.not_before,
        }
    }
}

#[utoipa::path(post, path = "/api/v1/calls/outbound", tag = "calls", request_body = OutboundCall,
    responses(
        (status = 201, body = Placed),
        (status = 400, description = "VALIDATION_ERROR or INVALID_PHONE_NUMBER"),
        (status = 404, description = "AGENT_NOT_FOUND"),
        (status = 429, description = "CONCURRENT_LIMIT_REACHED (calls placed now only)"),
        (status = 503, description = "API_UNAVAILABLE: the provider's circuit is open")))]
pub async fn place(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<OutboundCall>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let scheduled = body.is_scheduled();
    if !scheduled {
        require_closed_circuit(&state).await?;
    }
    let (request, client) = body
        .into_request(&state, &principal, &mut Lookups::default())
        .await?;
    if scheduled {
        let calls = enqueue(&state, vec![request]).await?;
        return Ok(created(Placed::from(&calls[0])));
    }
    let new_call = NewCall {
        request,
        client_limit: client.max_concurrent_calls,
    };
    let placed = ask(
        &state.tree.calls.get(),
        |tx| CallSupervisorMsg::Place(new_call, tx),
        TREE_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?;
    match placed {
        Ok(call) => Ok(created(Placed::from(&call))),
        Err(PlaceError::NoSlot(denied)) => Err(ApiError::concurrent_limit(denied.to_string())
            .with_details(serde_json::to_value(denied).unwrap_or_default())),
        Err(PlaceError::Internal(e)) => Err(ApiError::internal(e)),
    }
}

/// Many calls at once.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkCalls {
    /// 1 to 1000 calls, each as `POST /api/v1/calls/outbound` takes it.
    #[schema(value_type = Vec<OutboundCall>)]
    calls: Vec<Value>,
}

/// Why one call of a bulk request was refused.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkItemError {
    /// Position of the call in the request, from 0.
    index: usize,
    /// The error code the call alone would have got.
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<Value>,
}

/// What became of a bulk request.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkPlaced {
    total: usize,
    successful: usize,
    failed: usize,
    /// The accepted calls' ids, in request order.
    #[schema(value_type = Vec<String>)]
    call_ids: Vec<CallId>,
    errors: Vec<BulkItemError>,
}

#[utoipa::path(post, path = "/api/v1/calls/outbound/bulk", tag = "calls", request_body = BulkCalls,
    responses(
        (status = 201, body = BulkPlaced, description = "at least one call accepted; the others are in `errors`"),
        (status = 400, description = "VALIDATION_ERROR: more than 1000 calls, none, or none valid")))]
pub async fn bulk(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<BulkCalls>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let total = body.calls.len();
    if !(1..=MAX_BULK).contains(&total) {
        return Err(ApiError::invalid_field(
            "calls",
            format!("must hold 1 to {MAX_BULK} calls; it holds {total}"),
        ));
    }
    let mut lookups = Lookups::default();
    let (mut requests, mut errors) = (Vec::new(), Vec::new());
    for (index, raw) in body.calls.into_iter().enumerate() {
        let checked = match serde_json::from_value::<OutboundCall>(raw) {
            Ok(call) => call.into_request(&state, &principal, &mut lookups).await,
            Err(e) => Err(ApiError::validation(format!("invalid call: {e}"))),
        };
        match checked {
            Ok((request, _)) => requests.push(request),
            Err(e) => errors.push(BulkItemError {
                index,
                code: e.code,
                message: e.message,
                details: e.details,
            }),
        }
    }
    if requests.is_empty() {
        return Err(ApiError::validation("no call in the request is valid")
            .with_details(json!({ "total": total, "errors": errors })));
    }
    let calls = enqueue(&state, requests).await?;
    metrics::counter!("callvisor_bulk_calls_total", "outcome" => "accepted")
        .increment(calls.len() as u64);
    metrics::counter!("callvisor_bulk_calls_total", "outcome" => "refused")
        .increment(errors.len() as u64);
    Ok(created(BulkPlaced {
        total,
        successful: calls.len(),
        failed: errors.len(),
        call_ids: calls.iter().map(|c| c.id).collect(),
        errors,
    }))
}

/// Hands calls that wait (scheduled, bulk) to the CallSupervisor, which persists them.
async fn enqueue(state: &AppState, requests: Vec<CallRequest>) -> Result<Vec<Call>, ApiError> {
    ask(
        &state.tree.calls.get(),
        |tx| CallSupervisorMsg::Enqueue(requests, tx),
        TREE_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::internal(e.to_string()))
}
