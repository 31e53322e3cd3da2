//! `GET /health` (fast: status, uptime, active calls) and `GET /health/detailed`
//! (database latency, provider, memory; 503 when unhealthy). No authentication, so load
//! balancers and probes can use them.

use crate::http::error::ok;
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use callvisor_actors::calls::CallSupervisorMsg;
use callvisor_actors::gateway::{CircuitState, GatewayMsg};
use callvisor_actors::rpc::ask;
use serde_json::json;
use std::time::Duration;

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

async fn active_calls(state: &AppState) -> Option<usize> {
    ask(
        &state.tree.calls.get(),
        CallSupervisorMsg::LiveCount,
        PROBE_TIMEOUT,
    )
    .await
    .ok()
}

#[utoipa::path(get, path = "/health", tag = "monitoring",
    responses((status = 200, description = "status, uptimeSeconds, activeCalls")))]
pub async fn health(State(state): State<AppState>) -> Response {
    let active = active_calls(&state).await;
    let status = if active.is_some() { "ok" } else { "degraded" };
    ok(json!({
        "status": status,
        "uptimeSeconds": state.started.elapsed().as_secs(),
        "activeCalls": active,
    }))
}

#[utoipa::path(get, path = "/health/detailed", tag = "monitoring",
    responses((status = 200, description = "healthy or degraded"), (status = 503, description = "unhealthy")))]
pub async fn detailed(State(state): State<AppState>) -> Response {
    let database = match tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await {
        Ok(Ok(latency)) => json!({"status": "up", "latencyMs": latency.as_secs_f64() * 1000.0}),
        Ok(Err(e)) => json!({"status": "down", "error": e.to_string()}),
        Err(_) => json!({"status": "down", "error": "no answer within 2 s"}),
    };
    let database_up = database["status"] == "up";
    let reachable = provider_reachable(&state.provider.api_base).await;
    let active = active_calls(&state).await;
    let circuit = ask(&state.tree.gateway.get(), GatewayMsg::Stats, PROBE_TIMEOUT)
        .await
        .ok()
        .map(|s| s.circuit_state);
    let status = if !database_up {
        "unhealthy"
    } else if !reachable || active.is_none() || circuit != Some(CircuitState::Closed) {
        "degraded"
    } else {
        "healthy"
    };
    let body = json!({
        "status": status,
        "uptimeSeconds": state.started.elapsed().as_secs(),
        "database": database,
        "provider": {
            "name": state.provider.name,
            "simulated": state.provider.simulated,
            "configured": state.provider.configured,
            "reachable": reachable,
            "circuit": circuit,
        },
        "calls": { "active": active },
        "memory": { "residentBytes": crate::process::resident_memory_bytes() },
    });
    let code = if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut response = ok(body);
    *response.status_mut() = code;
    response.into_response()
}

/// Whether a TCP connection to the provider's API host opens within the probe timeout.
/// A connection, not an API request: probing must not spend the account's rate limit.
async fn provider_reachable(api_base: &str) -> bool {
    let Ok(url) = url::Url::parse(api_base) else {
        return false;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    matches!(
        tokio::time::timeout(
            PROBE_TIMEOUT,
            tokio::net::TcpStream::connect((host.as_str(), port))
        )
        .await,
        Ok(Ok(_))
    )
}
