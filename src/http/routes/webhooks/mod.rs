//! Provider callbacks: `POST /webhooks/{twilio,plivo,exotel}/status`.
//!
//! Authenticated by the provider's own means, not by JWT: Twilio's and Plivo's
//! signatures are checked over the URL exactly as the provider called it (the configured
//! public URL plus the path and query) and every form parameter; Exotel's callbacks
//! carry our secret token in their URL. A callback that fails authentication answers 403
//! and changes nothing. Each provider's module reads its callback into an
//! [`Observation`]; what follows is shared and lives here: the lag and rejection
//! metrics, and routing the observation to the call's actor through the CallSupervisor
//! (by our call id when the URL carries it, else by the provider's ids).

pub mod exotel;
pub mod exotel_heartbeat;
pub mod plivo;
pub mod twilio;

use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::AppState;
use axum::http::Uri;
use callvisor_actors::calls::{CallRef, CallSupervisorMsg, WebhookOutcome};
use callvisor_actors::domain::{CallId, Observation};
use callvisor_actors::rpc::ask;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::time::Duration;

const ROUTE_TIMEOUT: Duration = Duration::from_secs(15);

/// The query parameter of every status-callback URL that carries our call id.
pub const CALL_ID_PARAM: &str = "callId";

/// Counts a callback refused for `reason`.
pub(crate) fn rejected(provider: &'static str, reason: &'static str) {
    metrics::counter!("callvisor_webhooks_rejected_total", "provider" => provider, "reason" => reason)
        .increment(1);
}

/// Records how long after `sent` (the provider's own time) a callback arrived.
pub(crate) fn record_lag(state: &AppState, provider: &'static str, sent: Option<DateTime<Utc>>) {
    if let Some(sent) = sent {
        let lag = (state.clock.now() - sent).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("callvisor_webhook_lag_seconds", "provider" => provider).record(lag);
        state
            .tree
            .signals
            .webhook_lag(std::time::Duration::from_secs_f64(lag));
    }
}

/// The URL the provider called: the configured public URL plus the path and query.
pub(crate) fn called_url(state: &AppState, uri: &Uri) -> String {
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    format!(
        "{}{}",
        state.webhooks.public_url.trim_end_matches('/'),
        path_and_query
    )
}

/// The first value of `name` in the URL's query.
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The callback's fields as the history keeps them.
pub(crate) fn detail_of(params: &[(String, String)]) -> Value {
    Value::Object(
        params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

/// Our call id, when the callback's URL (or, for Exotel, its custom field) carries one.
pub(crate) fn call_id(raw: Option<&str>, source: &'static str) -> Result<Option<CallId>, ApiError> {
    raw.map(|raw| {
        raw.trim()
            .parse::<CallId>()
            .map_err(|_| ApiError::invalid_field(source, "is not a valid id"))
    })
    .transpose()
}

/// Who a callback is about: our call id when known, else the provider's ids, tried in
/// order until one names a call.
pub(crate) fn targets(ours: Option<CallId>, provider_ids: &[Option<&str>]) -> Vec<CallRef> {
    match ours {
        Some(id) => vec![CallRef::Id(id)],
        None => provider_ids
            .iter()
            .flatten()
            .filter(|id| !id.trim().is_empty())
            .map(|id| CallRef::Provider(id.trim().to_string()))
            .collect(),
    }
}

/// Hands an authenticated, parsed callback to the call it is about, and answers as the
/// providers expect: 200 when recorded (applied or not), 404 for a call we do not know.
pub(crate) async fn route(
    state: &AppState,
    provider: &'static str,
    targets: Vec<CallRef>,
    observation: Observation,
    detail: Value,
) -> ApiResult {
    let supervisor = state.tree.calls.get();
    let mut outcome = WebhookOutcome::UnknownCall;
    for target in targets {
        let (observation, detail) = (observation.clone(), detail.clone());
        outcome = ask(
            &supervisor,
            |reply| CallSupervisorMsg::Webhook {
                call: target,
                observation,
                detail,
                reply,
            },
            ROUTE_TIMEOUT,
        )
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
        if !matches!(outcome, WebhookOutcome::UnknownCall) {
            break;
        }
    }
    metrics::counter!("callvisor_webhooks_received_total", "provider" => provider).increment(1);
    match outcome {
        WebhookOutcome::Routed(o) => Ok(ok(json!({ "applied": o.applied, "status": o.status }))),
        WebhookOutcome::RecordedOnFinishedCall(status) => {
            Ok(ok(json!({ "applied": false, "status": status })))
        }
        WebhookOutcome::UnknownCall => {
            rejected(provider, "unknown_call");
            Err(ApiError::not_found("call"))
        }
    }
}
