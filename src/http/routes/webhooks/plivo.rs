//! `POST /webhooks/plivo/status`: Plivo's ring and hangup callbacks, signed with
//! `X-Plivo-Signature-V3` and its nonce over the public URL and the form.
//!
//! A callback without our call id in its URL is matched by Plivo's call id, then by the
//! request id the create was answered with (a call is known by that until its first
//! callback).

use super::{call_id, called_url, detail_of, query_param, rejected, route, targets, CALL_ID_PARAM};
use crate::http::error::{ApiError, ApiResult};
use crate::http::AppState;
use crate::providers::fields::form_pairs;
use crate::providers::plivo::{signature, webhook};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};

const PROVIDER: &str = "plivo";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[utoipa::path(post, path = "/webhooks/plivo/status", tag = "webhooks",
    request_body(content_type = "application/x-www-form-urlencoded", description = "Plivo ring or hangup callback"),
    params(("callId" = Option<String>, Query, description = "callvisor's call id, set in the ring and hangup URLs")),
    responses((status = 200, description = "recorded"), (status = 403, description = "bad or missing X-Plivo-Signature-V3"),
        (status = 404, description = "unknown call")))]
pub async fn status(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let params = form_pairs(&body);
    let signed = match (
        state.webhooks.plivo_auth_token.as_deref(),
        header(&headers, "x-plivo-signature-v3"),
        header(&headers, "x-plivo-signature-v3-nonce"),
    ) {
        (Some(token), Some(signatures), Some(nonce)) => {
            signature::verify(token, &called_url(&state, &uri), &params, nonce, signatures)
        }
        _ => false,
    };
    if !signed {
        rejected(PROVIDER, "bad_signature");
        return Err(ApiError::forbidden(
            "missing or invalid X-Plivo-Signature-V3",
        ));
    }
    let callback = webhook::parse_callback(&params).map_err(|e| {
        rejected(PROVIDER, "malformed");
        ApiError::validation(e.to_string())
    })?;
    let ours = call_id(query_param(&uri, CALL_ID_PARAM).as_deref(), CALL_ID_PARAM)?;
    let targets = targets(
        ours,
        &[Some(&callback.call_uuid), callback.request_uuid.as_deref()],
    );
    route(
        &state,
        PROVIDER,
        targets,
        callback.observation,
        detail_of(&params),
    )
    .await
}
