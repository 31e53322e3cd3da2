//! How Exotel's error body is read: `{"RestException": {"Status", "Code", "Message"}}`.
//! What the HTTP status means is decided for every provider alike in
//! [`crate::providers::rest`].

use crate::providers::rest::{json_text, ErrorDetails};
use serde_json::Value;

/// The code and message of an Exotel error body, if it is one.
pub(crate) fn read_error(body: &[u8]) -> ErrorDetails {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return ErrorDetails::default();
    };
    let exception = &value["RestException"];
    ErrorDetails {
        code: json_text(exception.get("Code")),
        message: json_text(exception.get("Message")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::rest::from_status;
    use callvisor_actors::ports::ProviderError;

    #[test]
    fn refusals_carry_exotels_code_and_message() {
        let body = br#"{"RestException": {"Status": 400, "Code": 21211, "Message": "Invalid From number"}}"#;
        assert_eq!(
            from_status(400, None, read_error(body), body),
            ProviderError::Rejected {
                status: 400,
                code: Some("21211".into()),
                message: "Invalid From number".into()
            }
        );
        assert_eq!(read_error(b"[]"), ErrorDetails::default());
        assert_eq!(read_error(b"nope"), ErrorDetails::default());
    }
}
