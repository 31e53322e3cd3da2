//! How a failed Twilio request becomes a [`ProviderError`].
//!
//! The distinction that matters to the caller is whether the request may have taken
//! effect: a refused connection certainly did not (safe to retry), a timeout after the
//! request left may have (a retried create could dial twice), and an HTTP error status
//! says exactly what Twilio decided.

use callvisor_actors::ports::ProviderError;
use serde::Deserialize;
use std::time::Duration;

/// Twilio's error body: `{"code": 20404, "message": "…", "more_info": "…", "status": 404}`.
#[derive(Debug, Deserialize)]
struct TwilioErrorBody {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// The error for a request that got no HTTP response.
pub(crate) fn from_send_error(e: &reqwest::Error) -> ProviderError {
    if e.is_connect() || e.is_builder() {
        // Connecting (DNS, TCP, TLS) failed, or the request could not even be built:
        // nothing reached Twilio. A connect timeout lands here too, which is right.
        ProviderError::Connect(e.to_string())
    } else if e.is_redirect() {
        ProviderError::Protocol(format!("unexpected redirect: {e}"))
    } else {
        // Timed out, or the connection broke after the request was written: Twilio may
        // have acted on it.
        ProviderError::Ambiguous
    }
}

/// The error for a response with a non-success HTTP status.
pub(crate) fn from_status(status: u16, retry_after: Option<&str>, body: &[u8]) -> ProviderError {
    match status {
        429 => ProviderError::RateLimited {
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        500..=599 => ProviderError::Unavailable { status },
        400..=499 => {
            let parsed = serde_json::from_slice::<TwilioErrorBody>(body).ok();
            let code = parsed.as_ref().and_then(|b| match &b.code {
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
                _ => None,
            });
            let message = parsed
                .and_then(|b| b.message)
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| fallback_message(status, body));
            ProviderError::Rejected {
                status,
                code,
                message,
            }
        }
        other => ProviderError::Protocol(format!("unexpected HTTP status {other}")),
    }
}

/// A message for an error response that is not Twilio's JSON: the start of the body, or
/// the status's reason phrase when the body is empty.
fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_string()
    } else {
        text.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_reads_retry_after_seconds() {
        assert_eq!(
            from_status(429, Some("7"), b""),
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            from_status(429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), b""),
            ProviderError::RateLimited { retry_after: None }
        );
        assert_eq!(
            from_status(429, None, b""),
            ProviderError::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn server_errors_are_unavailable() {
        for s in [500, 502, 503, 504] {
            assert_eq!(
                from_status(s, None, b"{}"),
                ProviderError::Unavailable { status: s }
            );
        }
    }

    #[test]
    fn client_errors_carry_twilio_code_and_message() {
        let body = br#"{"code": 21211, "message": "Invalid 'To' Phone Number: +1555", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let e = from_status(400, None, body);
        assert_eq!(
            e,
            ProviderError::Rejected {
                status: 400,
                code: Some("21211".into()),
                message: "Invalid 'To' Phone Number: +1555".into()
            }
        );
        assert!(e.is_invalid_number());

        let auth = br#"{"code": 20003, "message": "Authenticate", "status": 401}"#;
        assert_eq!(
            from_status(401, None, auth),
            ProviderError::Rejected {
                status: 401,
                code: Some("20003".into()),
                message: "Authenticate".into()
            }
        );
    }

    #[test]
    fn client_errors_without_twilio_json_still_explain() {
        assert_eq!(
            from_status(404, None, b""),
            ProviderError::Rejected {
                status: 404,
                code: None,
                message: "Not Found".into()
            }
        );
        assert_eq!(
            from_status(403, None, b"<html>denied</html>"),
            ProviderError::Rejected {
                status: 403,
                code: None,
                message: "<html>denied</html>".into()
            }
        );
    }

    #[test]
    fn other_statuses_are_protocol_errors() {
        assert!(matches!(
            from_status(302, None, b""),
            ProviderError::Protocol(_)
        ));
    }
}
