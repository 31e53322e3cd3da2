//! The axum front end. It validates requests, authenticates callers and providers, and
//! sends messages into the actor tree; it holds no call state of its own.

pub mod auth;
pub mod error;
pub mod extract;
mod metrics_layer;
pub mod paging;
pub mod routes;
pub mod validate;

use crate::store::SqlStore;
use auth::JwtKeys;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use callvisor_actors::domain::PhoneNumber;
use callvisor_actors::ports::Clock;
use callvisor_actors::root::Tree;
use metrics_exporter_prometheus::PrometheusHandle;
use routes::{
    agents, alerts, analytics, calls, campaigns, clients, health, live_calls, monitoring_health,
    monitoring_sync, openapi, outbound, sms, stats, webhooks,
};
use std::sync::Arc;
use std::time::Instant;

/// Settings for authenticating provider callbacks. A provider whose secret is not set
/// has every callback refused.
pub struct WebhookSettings {
    /// Base URL the provider calls back, as configured: signatures are computed over it.
    pub public_url: String,
    /// The key of `X-Twilio-Signature`.
    pub twilio_auth_token: Option<String>,
    /// The key of `X-Plivo-Signature-V3`.
    pub plivo_auth_token: Option<String>,
    /// The token Exotel's callback URLs carry.
    pub exotel_token: Option<String>,
}

/// Defaults applied to requests that leave something out.
pub struct CallDefaults {
    pub caller_id: Option<PhoneNumber>,
}

/// What the health endpoints say about the provider.
pub struct ProviderInfo {
    pub name: String,
    pub api_base: String,
    pub simulated: bool,
    pub configured: bool,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: SqlStore,
    pub tree: Tree,
    pub jwt: JwtKeys,
    pub webhooks: Arc<WebhookSettings>,
    pub defaults: Arc<CallDefaults>,
    pub provider: Arc<ProviderInfo>,
    pub clock: Arc<dyn Clock>,
    pub metrics: PrometheusHandle,
    pub started: Instant,
    /// How long the ProviderHealthMonitor lets a probe take.
    pub check_timeout: std::time::Duration,
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/clients", post(clients::create))
        .route(
            "/api/v1/clients/{id}",
            get(clients::get).patch(clients::update),
        )
        .route("/api/v1/agents", post(agents::create).get(agents::list))
        .route(
            "/api/v1/agents/{id}",
            get(agents::get)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route("/api/v1/calls/outbound", post(outbound::place))
        .route("/api/v1/calls/outbound/bulk", post(outbound::bulk))
        .route(
            "/api/v1/calls/outbound/stats",
            get(live_calls::outbound_stats),
        )
        .route("/api/v1/calls/active", get(live_calls::active))
        .route("/api/v1/calls", get(calls::list))
        .route("/api/v1/calls/{id}", get(calls::get))
        .route("/api/v1/calls/{id}/cancel", post(calls::cancel))
        .route("/api/v1/calls/{id}/recording", get(calls::recording))
        .route("/api/v1/sms", post(sms::send))
        .route(
            "/api/v1/campaigns",
            post(campaigns::create).get(campaigns::list),
        )
        .route("/api/v1/campaigns/{id}", get(campaigns::get))
        .route(
            "/api/v1/campaigns/{id}/contacts",
            post(campaigns::contacts::append).get(campaigns::contacts::list),
        )
        .route("/api/v1/campaigns/{id}/start", post(campaigns::start))
        .route("/api/v1/campaigns/{id}/pause", post(campaigns::pause))
        .route("/api/v1/campaigns/{id}/resume", post(campaigns::resume))
        .route("/api/v1/campaigns/{id}/cancel", post(campaigns::cancel))
        .route(
            "/api/v1/campaigns/{id}/progress",
            get(campaigns::reports::progress),
        )
        .route(
            "/api/v1/campaigns/{id}/stats",
            get(campaigns::reports::stats),
        )
        .route(
            "/api/v1/campaigns/{id}/failures",
            get(campaigns::reports::failures),
        )
        .route(
            "/api/v1/campaigns/{id}/events",
            get(campaigns::events::events),
        )
        .route("/webhooks/twilio/status", post(webhooks::twilio::status))
        .route("/webhooks/plivo/status", post(webhooks::plivo::status))
        .route("/webhooks/exotel/status", post(webhooks::exotel::status))
        .route(
            "/webhooks/exotel/heartbeat",
            post(webhooks::exotel_heartbeat::heartbeat),
        )
        .route(
            "/api/monitoring/health/current",
            get(monitoring_health::current),
        )
        .route(
            "/api/monitoring/health/history",
            get(monitoring_health::history),
        )
        .route(
            "/api/monitoring/health/stats",
            get(monitoring_health::stats),
        )
        .route(
            "/api/monitoring/health/check",
            post(monitoring_health::check),
        )
        .route("/api/monitoring/sync/status", get(monitoring_sync::status))
        .route(
            "/api/monitoring/sync/history",
            get(monitoring_sync::history),
        )
        .route("/api/monitoring/sync/stats", get(monitoring_sync::stats))
        .route(
            "/api/monitoring/sync/trigger",
            post(monitoring_sync::trigger),
        )
        .route("/api/v1/alerts", get(alerts::list))
        .route("/api/v1/stats", get(stats::stats))
        .route("/api/v1/analytics/{kind}/{id}", get(analytics::report))
        .route(
            "/api/v1/analytics/{kind}/{id}/recent",
            get(analytics::recent),
        )
        .route("/health", get(health::health))
        .route("/health/detailed", get(health::detailed))
        .route("/metrics", get(metrics_layer::render))
        .route("/openapi.json", get(openapi::document));
    api.fallback(metrics_layer::not_found)
        .route_layer(axum::middleware::from_fn(metrics_layer::record))
        .layer(DefaultBodyLimit::max(extract::JSON_BODY_LIMIT))
        .with_state(state)
}
