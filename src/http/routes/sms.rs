//! Text messages: `POST /api/v1/sms`, sent through the ProviderGateway on the
//! provider's SMS quota.

use super::calls::require_closed_circuit;
use crate::http::auth::{Principal, Role};
use crate::http::error::{accepted, ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::validate::phone_field;
use crate::http::AppState;
use axum::extract::State;
use callvisor_actors::gateway::GatewayMsg;
use callvisor_actors::ports::SmsRequest;
use callvisor_actors::rpc::ask;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

/// How long a request waits for the gateway's answer (including its queue).
const GATEWAY_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest message, in characters (what the providers accept, split into parts).
pub const MAX_BODY_CHARS: usize = 1600;

/// A text message to send.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendSms {
    /// The recipient, E.164.
    to: String,
    /// The text, 1 to 1600 characters.
    body: String,
    /// The sender, E.164; defaults to the server's caller id.
    from: Option<String>,
}

/// The provider's acknowledgement: accepted for delivery, not yet delivered.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmsSent {
    /// The provider's id of the message.
    message_id: String,
    /// The provider's status for it, in its own words (`queued`, …).
    status: String,
}

/// Sends a text message. Manager or above.
///
/// Errors: a number that is not E.164 is 400 `INVALID_PHONE_NUMBER`, as is one the
/// provider refuses as a bad number (a 400 or 404 refusal); a body that is empty or
/// longer than 1600 characters is 400 `VALIDATION_ERROR`; 503 `API_UNAVAILABLE` while
/// the provider's circuit is open or the provider is not answering; any other refusal
/// is 502 `PROVIDER_ERROR`, as is a request with no answer (the message may have gone
/// out, so it is never sent again).
#[utoipa::path(post, path = "/api/v1/sms", tag = "sms", request_body = SendSms,
    responses(
        (status = 202, body = SmsSent),
        (status = 400, description = "VALIDATION_ERROR or INVALID_PHONE_NUMBER"),
        (status = 403, description = "FORBIDDEN: below manager"),
        (status = 502, description = "PROVIDER_ERROR: the provider refused the message or its outcome is unknown"),
        (status = 503, description = "API_UNAVAILABLE: the provider's circuit is open")))]
pub async fn send(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SendSms>,
) -> ApiResult {
    principal.require(Role::Manager)?;
    let to = phone_field("to", &body.to)?;
    let from = match (&body.from, &state.defaults.caller_id) {
        (Some(raw), _) => phone_field("from", raw)?,
        (None, Some(default)) => default.clone(),
        (None, None) => {
            return Err(ApiError::invalid_field(
                "from",
                "is required: the server has no default caller id",
            ))
        }
    };
    let length = body.body.chars().count();
    if !(1..=MAX_BODY_CHARS).contains(&length) {
        return Err(ApiError::invalid_field(
            "body",
            format!("must be 1 to {MAX_BODY_CHARS} characters (has {length})"),
        ));
    }
    require_closed_circuit(&state).await?;
    let sms = SmsRequest {
        to,
        from,
        body: body.body,
    };
    let sent = ask(
        &state.tree.gateway.get(),
        |tx| GatewayMsg::SendSms(sms, tx),
        GATEWAY_TIMEOUT,
    )
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| {
        if e.is_invalid_number() {
            ApiError::invalid_phone("to", format!("was refused by the provider: {e}"))
        } else {
            ApiError::from_provider(&e)
        }
    })?;
    let data = SmsSent {
        message_id: sent.provider_message_id,
        status: sent.status,
    };
    Ok(accepted(data))
}
