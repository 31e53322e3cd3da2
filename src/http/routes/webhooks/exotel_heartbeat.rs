//! `POST /webhooks/exotel/heartbeat`: Exotel's heartbeat, its own report on the health
//! of the account's ExoPhones, authenticated like its status callbacks by the token in
//! the URL. Each heartbeat becomes a health check, handed to the ProviderHealthMonitor
//! to store and act on like its own probes.
//!
//! Exotel's `status_type` is `OK`, `WARNING` (some numbers affected), `CRITICAL` (all
//! affected) or `PAYLOAD_TOO_LARGE` (too many numbers to list); `CRITICAL` is an ERROR
//! here and `PAYLOAD_TOO_LARGE` a WARNING, since Exotel could not say which are down.

use super::exotel::check_token;
use super::rejected;
use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use callvisor_actors::monitors::{CheckSource, HealthCheck, HealthMsg, HealthStatus};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// The fields of a heartbeat callvisor reads; the whole body is kept as sent.
#[derive(Deserialize)]
struct Heartbeat {
    timestamp: Option<DateTime<Utc>>,
    status_type: String,
    #[serde(default)]
    incoming_affected: Vec<Value>,
    #[serde(default)]
    outgoing_affected: Vec<Value>,
}

fn status_of(status_type: &str) -> Result<HealthStatus, ApiError> {
    match status_type {
        "OK" => Ok(HealthStatus::Ok),
        "WARNING" | "PAYLOAD_TOO_LARGE" => Ok(HealthStatus::Warning),
        "CRITICAL" => Ok(HealthStatus::Error),
        other => Err(ApiError::invalid_field(
            "status_type",
            format!("'{other}' is not OK, WARNING, CRITICAL or PAYLOAD_TOO_LARGE"),
        )),
    }
}

#[utoipa::path(post, path = "/webhooks/exotel/heartbeat", tag = "webhooks",
    request_body(content_type = "application/json", description = "Exotel heartbeat: timestamp, status_type, incoming_affected, outgoing_affected, data"),
    params(("token" = String, Query, description = "the deployment's secret webhook token")),
    responses((status = 200, description = "recorded"), (status = 400, description = "malformed"),
        (status = 403, description = "missing or wrong token")))]
pub async fn heartbeat(State(state): State<AppState>, uri: Uri, body: Bytes) -> ApiResult {
    check_token(&state, &uri)?;
    let raw: Value = serde_json::from_slice(&body).map_err(|e| {
        rejected("exotel", "malformed");
        ApiError::validation(format!("heartbeat is not JSON: {e}"))
    })?;
    let beat: Heartbeat = serde_json::from_value(raw.clone()).map_err(|e| {
        rejected("exotel", "malformed");
        ApiError::validation(format!("heartbeat: {e}"))
    })?;
    let status = status_of(&beat.status_type).inspect_err(|_| rejected("exotel", "malformed"))?;
    let check = HealthCheck {
        id: uuid::Uuid::now_v7(),
        checked_at: beat.timestamp.unwrap_or_else(|| state.clock.now()),
        source: CheckSource::Heartbeat,
        status,
        incoming_affected: Some(
            !beat.incoming_affected.is_empty() || status == HealthStatus::Error,
        ),
        outgoing_affected: Some(
            !beat.outgoing_affected.is_empty() || status == HealthStatus::Error,
        ),
        latency_ms: None,
        error: (status != HealthStatus::Ok).then(|| format!("Exotel reports {}", beat.status_type)),
        raw,
    };
    state
        .tree
        .monitors
        .health
        .get()
        .cast(HealthMsg::Record(check.clone()))
        .map_err(ApiError::internal)?;
    metrics::counter!("callvisor_provider_heartbeats_total", "status" => status.as_str())
        .increment(1);
    Ok(ok(json!({"recorded": check.id, "status": status})))
}
