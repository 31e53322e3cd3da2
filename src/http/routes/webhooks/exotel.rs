//! `POST /webhooks/exotel/status`: Exotel's status callbacks (JSON, or a form),
//! authenticated by the deployment's secret token in the URL's query, compared in
//! constant time.
//!
//! A callback is matched by our call id in its URL, else by the `CustomField` we set to
//! it, else by Exotel's `CallSid`.

use super::{call_id, detail_of, query_param, record_lag, rejected, route, targets, CALL_ID_PARAM};
use crate::http::error::{ApiError, ApiResult};
use crate::http::AppState;
use crate::providers::exotel::webhook::{self, TOKEN_PARAM};
use crate::providers::fields::{form_pairs, json_pairs};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Uri};
use serde_json::Value;

const PROVIDER: &str = "exotel";

/// The callback's fields and what the history keeps of it: a JSON body's top-level
/// scalars (the whole body is kept), or a form's pairs.
fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<(Vec<(String, String)>, Value), ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let params = form_pairs(body);
        let detail = detail_of(&params);
        return Ok((params, detail));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::validation(format!("Exotel callback is not JSON: {e}")))?;
    Ok((json_pairs(&value), value))
}

/// Refuses (403) a callback whose URL does not carry the deployment's token.
pub(super) fn check_token(state: &AppState, uri: &Uri) -> Result<(), ApiError> {
    let authentic = match (
        state.webhooks.exotel_token.as_deref(),
        query_param(uri, TOKEN_PARAM),
    ) {
        (Some(expected), Some(given)) => webhook::token_matches(expected, &given),
        _ => false,
    };
    if authentic {
        return Ok(());
    }
    rejected(PROVIDER, "bad_token");
    Err(ApiError::forbidden("missing or invalid webhook token"))
}

#[utoipa::path(post, path = "/webhooks/exotel/status", tag = "webhooks",
    request_body(content_type = "application/json", description = "Exotel status callback (answered or terminal event)"),
    params(("token" = String, Query, description = "the deployment's secret webhook token"),
        ("callId" = Option<String>, Query, description = "callvisor's call id, set in the StatusCallback URL")),
    responses((status = 200, description = "recorded"), (status = 403, description = "missing or wrong token"),
        (status = 404, description = "unknown call")))]
pub async fn status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_token(&state, &uri)?;
    let parsed = read_body(&headers, &body).and_then(|(params, detail)| {
        let callback =
            webhook::parse_callback(&params).map_err(|e| ApiError::validation(e.to_string()))?;
        Ok((callback, detail))
    });
    let (callback, detail) = parsed.inspect_err(|_| rejected(PROVIDER, "malformed"))?;
    record_lag(&state, PROVIDER, callback.updated_at);
    let from_url = query_param(&uri, CALL_ID_PARAM);
    let ours = match from_url {
        Some(raw) => call_id(Some(&raw), CALL_ID_PARAM)?,
        // Our call id, when it came back as the custom field and parses as one.
        None => call_id(callback.custom_field.as_deref(), "CustomField")
            .ok()
            .flatten(),
    };
    let targets = targets(ours, &[Some(&callback.call_sid)]);
    route(&state, PROVIDER, targets, callback.observation, detail).await
}
