//! How Plivo's error body is read: `{"api_id": "…", "error": "…"}`, where `error` is a
//! message or, for a request that fails validation, an object naming the bad fields.
//! What the HTTP status means is decided for every provider alike in
//! [`crate::providers::rest`].

use crate::providers::rest::ErrorDetails;
use serde_json::Value;

/// The message of a Plivo error body, if it is one (Plivo's errors carry no code).
pub(crate) fn read_error(body: &[u8]) -> ErrorDetails {
    let message = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => match fields.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other @ (Value::Object(_) | Value::Array(_))) => Some(other.to_string()),
            _ => None,
        },
        _ => None,
    };
    ErrorDetails {
        code: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::rest::from_status;
    use callvisor_actors::ports::ProviderError;

    #[test]
    fn refusals_carry_plivos_message() {
        let body = br#"{"api_id": "a1", "error": "invalid to number"}"#;
        assert_eq!(
            from_status(400, None, read_error(body), body),
            ProviderError::Rejected {
                status: 400,
                code: None,
                message: "invalid to number".into()
            }
        );
        let fields = br#"{"api_id": "a1", "error": {"to": ["required"]}}"#;
        assert_eq!(
            read_error(fields).message.as_deref(),
            Some(r#"{"to":["required"]}"#)
        );
        assert_eq!(read_error(b"<html/>"), ErrorDetails::default());
    }
}
