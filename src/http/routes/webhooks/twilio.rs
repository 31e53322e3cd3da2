//! `POST /webhooks/twilio/status`: Twilio's status callbacks, signed with
//! `X-Twilio-Signature` over the public URL and the form.

use super::{
    call_id, called_url, detail_of, query_param, record_lag, rejected, route, targets,
    CALL_ID_PARAM,
};
use crate::http::error::{ApiError, ApiResult};
use crate::http::AppState;
use crate::providers::fields::form_pairs;
use crate::providers::twilio::{signature, webhook};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};

const PROVIDER: &str = "twilio";

#[utoipa::path(post, path = "/webhooks/twilio/status", tag = "webhooks",
    request_body(content_type = "application/x-www-form-urlencoded", description = "Twilio status callback"),
    params(("callId" = Option<String>, Query, description = "callvisor's call id, set in the StatusCallback URL")),
    responses((status = 200, description = "recorded"), (status = 403, description = "bad signature"),
        (status = 404, description = "unknown call")))]
pub async fn status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let params = form_pairs(&body);
    let signed = state
        .webhooks
        .twilio_auth_token
        .as_deref()
        .is_some_and(|token| {
            headers
                .get("x-twilio-signature")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|sig| {
                    signature::verify(token, &called_url(&state, &uri), &params, sig)
                })
        });
    if !signed {
        rejected(PROVIDER, "bad_signature");
        return Err(ApiError::forbidden("missing or invalid X-Twilio-Signature"));
    }
    let callback = webhook::parse_status_callback(&params).map_err(|e| {
        rejected(PROVIDER, "malformed");
        ApiError::validation(e.to_string())
    })?;
    record_lag(&state, PROVIDER, callback.timestamp);
    let ours = call_id(query_param(&uri, CALL_ID_PARAM).as_deref(), CALL_ID_PARAM)?;
    let targets = targets(ours, &[Some(&callback.call_sid)]);
    route(
        &state,
        PROVIDER,
        targets,
        callback.observation,
        detail_of(&params),
    )
    .await
}
