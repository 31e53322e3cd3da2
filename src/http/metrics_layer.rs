//! HTTP metrics (latency by route, method and status, labelled by the matched route
//! template so ids never become labels), the `/metrics` endpoint, and the 404 fallback.

use super::error::ApiError;
use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// Times every routed request.
pub async fn record(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(
        "callvisor_http_request_duration_seconds",
        "method" => method, "route" => route, "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`, Prometheus text format. Counts only storage knows (campaigns by
/// status) are read at each scrape.
pub async fn render(State(state): State<AppState>) -> Response {
    match state.store.campaigns_by_status().await {
        Ok(counts) => crate::metric_catalog::campaigns_by_status(&counts),
        Err(e) => tracing::warn!(%e, "could not count campaigns for /metrics"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Any path that is not part of the API.
pub async fn not_found() -> ApiError {
    ApiError::not_found("route")
}
