//! Exotel status callbacks read into our terms, and their authentication.
//!
//! Exotel POSTs to the `StatusCallback` URL when the call is answered and when it ends
//! (we ask for `application/json`; a form body reads the same). Exotel documents no
//! signature scheme, so the URL we give it carries a per-deployment secret token, which
//! the endpoint compares in constant time ([`token_matches`]). The callback's
//! `CustomField` holds our call id, as a second way to match the call.

use super::resource::parse_time;
use super::status::{observe, CallFacts, UnknownExotelStatus};
use crate::providers::fields::{field, first_of};
use callvisor_actors::domain::Observation;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

/// The query parameter of the callback URL that carries the secret token.
pub const TOKEN_PARAM: &str = "token";

/// One status callback from Exotel.
#[derive(Clone, Debug, PartialEq)]
pub struct ExotelCallback {
    /// Exotel's id for the call (`CallSid`).
    pub call_sid: String,
    /// What we put in `CustomField` (our call id), on the terminal event.
    pub custom_field: Option<String>,
    /// What the callback says about the call.
    pub observation: Observation,
    /// When Exotel last updated the call (`DateUpdated`), if it said.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Why a body is not a usable Exotel callback.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A field every callback carries is absent or empty.
    #[error("Exotel callback without {0}")]
    Missing(&'static str),
    /// `Status` is not one Exotel documents.
    #[error(transparent)]
    UnknownStatus(#[from] UnknownExotelStatus),
}

/// Reads a status callback's fields (a JSON body's top-level scalars, or a form).
pub fn parse_callback(params: &[(String, String)]) -> Result<ExotelCallback, WebhookError> {
    let call_sid = field(params, "CallSid").ok_or(WebhookError::Missing("CallSid"))?;
    let status = field(params, "Status");
    let event_type = field(params, "EventType");
    if status.is_none() && event_type.is_none() {
        return Err(WebhookError::Missing("Status"));
    }
    let facts = CallFacts {
        call_sid: Some(call_sid),
        status,
        event_type,
        duration: first_of(params, &["ConversationDuration", "Duration"]),
        price: field(params, "Price"),
        recording_url: field(params, "RecordingUrl"),
        answered_by: field(params, "AnsweredBy"),
    };
    Ok(ExotelCallback {
        call_sid: call_sid.to_string(),
        custom_field: field(params, "CustomField").map(str::to_string),
        observation: observe(&facts)?,
        updated_at: field(params, "DateUpdated").and_then(parse_time),
    })
}

/// The status-callback URL for a deployment: our endpoint with the token in its query.
pub fn callback_base(endpoint: &str, token: &str) -> String {
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let token: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    format!("{endpoint}{sep}{TOKEN_PARAM}={token}")
}

/// Whether `given` is the deployment's token, compared in constant time (for tokens of
/// the same length). An empty expected token matches nothing.
pub fn token_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::{CallStatus, FailureReason};
    use chrono::TimeZone;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_a_terminal_callback_from_json() {
        let body = serde_json::json!({
            "CallSid": "b6cfaf5f5cef3ca0fc937749ef960e25",
            "EventType": "terminal",
            "Status": "completed",
            "DateUpdated": "2025-03-01 15:30:45",
            "ConversationDuration": 17,
            "RecordingUrl": "https://rec.example/1.mp3",
            "CustomField": "0192f0c4-call",
            "Legs": [{"Id": 1, "OnCallDuration": 17, "Status": "completed"}]
        });
        let cb = parse_callback(&crate::providers::fields::json_pairs(&body)).unwrap();
        assert_eq!(cb.call_sid, "b6cfaf5f5cef3ca0fc937749ef960e25");
        assert_eq!(cb.custom_field.as_deref(), Some("0192f0c4-call"));
        assert_eq!(cb.observation.status, CallStatus::Completed);
        assert_eq!(cb.observation.duration_seconds, Some(17));
        // Exotel writes India time without an offset.
        assert_eq!(
            cb.updated_at,
            Some(Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 45).unwrap())
        );
    }

    #[test]
    fn reads_answered_and_failed_callbacks() {
        let answered = parse_callback(&pairs(&[
            ("CallSid", "c1"),
            ("EventType", "answered"),
            ("Status", "in-progress"),
        ]))
        .unwrap();
        assert_eq!(answered.observation.status, CallStatus::InProgress);
        let busy = parse_callback(&pairs(&[("CallSid", "c1"), ("Status", "busy")])).unwrap();
        assert_eq!(busy.observation.failure_reason, Some(FailureReason::Busy));
        assert_eq!(
            parse_callback(&pairs(&[("Status", "busy")])),
            Err(WebhookError::Missing("CallSid"))
        );
        assert_eq!(
            parse_callback(&pairs(&[("CallSid", "c1")])),
            Err(WebhookError::Missing("Status"))
        );
        assert!(parse_callback(&pairs(&[("CallSid", "c1"), ("Status", "odd")])).is_err());
    }

    #[test]
    fn the_token_travels_in_the_url_and_must_match_exactly() {
        assert_eq!(
            callback_base("http://h/webhooks/exotel/status", "a b&c"),
            "http://h/webhooks/exotel/status?token=a+b%26c"
        );
        assert!(token_matches("s3cret-token", "s3cret-token"));
        assert!(!token_matches("s3cret-token", "s3cret-tokem"));
        assert!(!token_matches("s3cret-token", "s3cret"));
        assert!(!token_matches("", ""));
    }
}
