//! `GET /openapi.json`: the API described as OpenAPI 3, generated from the handlers'
//! annotations, then given the conventions every operation shares (see [`conventions`]).

mod conventions;

use super::{
    agents, alerts, analytics, bodies, calls, campaigns, clients, health, live_calls,
    monitoring_health, monitoring_sync, outbound, sms, stats, webhooks,
};
use axum::Json;
use serde_json::Value;
use std::sync::LazyLock;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "callvisor", description = "Actor-based telephony supervisor. Every response is `{success, data}` or `{success: false, error: {code, message, details}}`."),
    paths(
        clients::create, clients::get, clients::update,
        agents::create, agents::list, agents::get, agents::update, agents::delete,
        outbound::place, outbound::bulk, calls::get, calls::list, calls::cancel, live_calls::outbound_stats, live_calls::active,
        calls::recording, sms::send,
        webhooks::twilio::status, webhooks::plivo::status, webhooks::exotel::status,
        health::health, health::detailed,
        webhooks::exotel_heartbeat::heartbeat,
        monitoring_health::current, monitoring_health::history, monitoring_health::stats, monitoring_health::check,
        monitoring_sync::status, monitoring_sync::history, monitoring_sync::stats, monitoring_sync::trigger,
        alerts::list, stats::stats, analytics::report, analytics::recent,
        campaigns::create, campaigns::list, campaigns::get, campaigns::contacts::append,
        campaigns::contacts::list, campaigns::start, campaigns::pause, campaigns::resume,
        campaigns::cancel, campaigns::reports::progress, campaigns::reports::stats,
        campaigns::reports::failures, campaigns::events::events,
    ),
    components(schemas(
        clients::CreateClient, clients::UpdateClient, clients::ClientView,
        agents::CreateAgent, agents::UpdateAgent, agents::AgentView,
        outbound::OutboundCall, bodies::BusinessHoursBody, outbound::RecurrenceBody,
        bodies::RetryPolicyBody, outbound::Placed, outbound::BulkCalls, outbound::BulkPlaced,
        outbound::BulkItemError, calls::CallView, calls::EventView, calls::CallPage,
        live_calls::OutboundStats, live_calls::ClientSlots, live_calls::ActiveCalls, calls::RecordingView,
        sms::SendSms, sms::SmsSent,
        campaigns::request::CreateCampaign, campaigns::request::PacingBody,
        campaigns::request::ContactBody, campaigns::request::AppendContacts,
        campaigns::view::CampaignView, campaigns::view::ContactView, campaigns::CampaignPage,
        campaigns::contacts::Imported, campaigns::contacts::ContactError,
        campaigns::reports::FailureGroup,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document, made once.
static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    conventions::apply(&mut doc);
    doc
});

pub async fn document() -> Json<Value> {
    Json(DOCUMENT.clone())
}
