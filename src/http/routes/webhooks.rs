//! Provider callbacks: `POST /webhooks/twilio/status`.
//!
//! Authenticated by the provider's signature, not by JWT: the signature is checked over
//! the URL exactly as the provider called it (the configured public URL plus the path
//! and query) and every form parameter. A bad or missing signature answers 403 and
//! changes nothing. The observation is routed to the call's actor through the
//! CallSupervisor; every rejection is counted by reason.

use crate::http::error::{ok, ApiError, ApiResult};
use crate::http::AppState;
use crate::providers::twilio::{signature, webhook};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use callvisor_actors::calls::{CallRef, CallSupervisorMsg, WebhookOutcome};
use callvisor_actors::domain::CallId;
use callvisor_actors::rpc::ask;
use serde_json::{json, Map, Value};
use std::time::Duration;

const ROUTE_TIMEOUT: Duration = Duration::from_secs(15);

fn rejected(provider: &'static str, reason: &'static str) {
    metrics::counter!("callvisor_webhooks_rejected_total", "provider" => provider, "reason" => reason)
        .increment(1);
}

#[utoipa::path(post, path = "/webhooks/twilio/status", tag = "webhooks",
    request_body(content_type = "application/x-www-form-urlencoded", description = "Twilio status callback"),
    params(("callId" = Option<String>, Query, description = "callvisor's call id, set in the StatusCallback URL")),
    responses((status = 200, description = "recorded"), (status = 403, description = "bad signature"),
        (status = 404, description = "unknown call")))]
pub async fn twilio_status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let full_url = format!(
        "{}{}",
        state.webhooks.public_url.trim_end_matches('/'),
        path_and_query
    );
    let signed = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|sig| {
            signature::verify(&state.webhooks.twilio_auth_token, &full_url, &params, sig)
        });
    if !signed {
        rejected("twilio", "bad_signature");
        return Err(ApiError::forbidden("missing or invalid X-Twilio-Signature"));
    }
    let callback = webhook::parse_status_callback(&params).map_err(|e| {
        rejected("twilio", "malformed");
        ApiError::validation(e.to_string())
    })?;
    if let Some(sent) = callback.timestamp {
        let lag = (state.clock.now() - sent).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::histogram!("callvisor_webhook_lag_seconds", "provider" => "twilio").record(lag);
    }
    let target = match query_param(&uri, "callId") {
        Some(raw) => CallRef::Id(
            raw.parse::<CallId>()
                .map_err(|_| ApiError::invalid_field("callId", "is not a valid id"))?,
        ),
        None => CallRef::Provider(callback.call_sid.clone()),
    };
    let detail = Value::Object(
        params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    );
    let supervisor = state.tree.calls.get();
    let outcome = ask(
        &supervisor,
        |reply| CallSupervisorMsg::Webhook {
            call: target,
            observation: callback.observation,
            detail,
            reply,
        },
        ROUTE_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    metrics::counter!("callvisor_webhooks_received_total", "provider" => "twilio").increment(1);
    match outcome {
        WebhookOutcome::Routed(o) => Ok(ok(json!({ "applied": o.applied, "status": o.status }))),
        WebhookOutcome::RecordedOnFinishedCall(status) => {
            Ok(ok(json!({ "applied": false, "status": status })))
        }
        WebhookOutcome::UnknownCall => {
            rejected("twilio", "unknown_call");
            Err(ApiError::not_found("call"))
        }
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
