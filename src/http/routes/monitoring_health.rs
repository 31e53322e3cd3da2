//! Provider health over the API: `GET /api/monitoring/health/{current,history,stats}`
//! (manager or above) and `POST /api/monitoring/health/check` (admin or above), which
//! asks the ProviderHealthMonitor for a check now and answers with its result. Reads
//! come from `health_checks`, where every check is stored.

use super::range;
use crate::http::auth::{Principal, Role};
use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::extract::ApiQuery;
use crate::http::AppState;
use crate::store::HealthFilter;
use axum::extract::State;
use callvisor_actors::gateway::GatewayMsg;
use callvisor_actors::monitors::{HealthMsg, HealthStatus};
use callvisor_actors::rpc::ask;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Filters of the history.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryQuery {
    limit: Option<u32>,
    status: Option<HealthStatus>,
    start_date: Option<String>,
    end_date: Option<String>,
}

/// A range of the statistics.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RangeQuery {
    start_date: Option<String>,
    end_date: Option<String>,
}

#[utoipa::path(get, path = "/api/monitoring/health/current", tag = "monitoring",
    responses((status = 200, description = "the latest check (null before the first) and the circuit state")))]
pub async fn current(State(state): State<AppState>, principal: Principal) -> ApiResult {
    principal.require(Role::Manager)?;
    let latest = state.store.latest_health_check().await?;
    let circuit = ask(
        &state.tree.gateway.get(),
        GatewayMsg::Stats,
        Duration::from_secs(5),
    )
    .await
    .ok()
    .map(|s| s.circuit_state);
    Ok(ok(json!({
        "status": latest.as_ref().map(|c| c.status),
        "check": latest,
        "circuitState": circuit,
        "provider": state.provider.name,
    })))
}

#[utoipa::path(get, path = "/api/monitoring/health/history", tag = "monitoring",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "1..=500, default 50"),
        ("status" = Option<String>, Query, description = "OK, WARNING or ERROR"),
        ("startDate" = Option<String>, Query), ("endDate" = Option<String>, Query)),
    responses((status = 200, description = "checks, newest first"), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let limit = range::limit(q.limit, 50, 500)?;
    let bounds = match (&q.start_date, &q.end_date) {
        (None, None) => None,
        (s, e) => Some(range::instants(
            s.as_deref(),
            e.as_deref(),
            state.clock.now(),
            chrono::Duration::days(3650),
        )?),
    };
    let checks = state
        .store
        .health_checks(&HealthFilter {
            status: q.status,
            from: bounds.map(|(f, _)| f),
            until: bounds.map(|(_, u)| u),
            limit,
        })
        .await?;
    Ok(ok(json!({ "checks": checks })))
}

#[utoipa::path(get, path = "/api/monitoring/health/stats", tag = "monitoring",
    params(("startDate" = Option<String>, Query, description = "default: 24 hours before endDate"),
        ("endDate" = Option<String>, Query, description = "default: now")),
    responses((status = 200, description = "checks by status, OK ratio, mean latency"), (status = 400, description = "VALIDATION_ERROR")))]
pub async fn stats(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let (from, until) = range::instants(
        q.start_date.as_deref(),
        q.end_date.as_deref(),
        state.clock.now(),
        chrono::Duration::hours(24),
    )?;
    let stats = state.store.health_stats(from, until).await?;
    Ok(ok(json!({ "from": from, "until": until, "stats": stats })))
}

#[utoipa::path(post, path = "/api/monitoring/health/check", tag = "monitoring",
    responses((status = 200, description = "the check just made"), (status = 403, description = "FORBIDDEN")))]
pub async fn check(State(state): State<AppState>, principal: Principal) -> ApiResult {
    principal.require(Role::Admin)?;
    // The monitor bounds its probe by the health timeout; this waits a little longer.
    let wait = state.check_timeout + Duration::from_secs(10);
    let check = ask(&state.tree.monitors.health.get(), HealthMsg::CheckNow, wait)
        .await
        .map_err(|e| ApiError::unavailable(format!("the health monitor did not answer: {e}")))?;
    Ok(ok(check))
}
