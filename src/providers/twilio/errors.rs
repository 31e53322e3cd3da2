//! How Twilio's error body is read; what the HTTP status means is decided for every
//! provider alike in [`crate::providers::rest`].

use crate::providers::rest::{json_text, ErrorDetails};
use serde::Deserialize;

/// Twilio's error body: `{"code": 20404, "message": "…", "more_info": "…", "status": 404}`.
#[derive(Debug, Deserialize)]
struct TwilioErrorBody {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// The code and message of a Twilio error body, if it is one.
pub(crate) fn read_error(body: &[u8]) -> ErrorDetails {
    match serde_json::from_slice::<TwilioErrorBody>(body) {
        Ok(b) => ErrorDetails {
            code: json_text(b.code.as_ref()),
            message: b.message,
        },
        Err(_) => ErrorDetails::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::rest::from_status;
    use callvisor_actors::ports::ProviderError;

    fn refusal(status: u16, body: &[u8]) -> ProviderError {
        from_status(status, None, read_error(body), body)
    }

    #[test]
    fn client_errors_carry_twilio_code_and_message() {
        let body = br#"{"code": 21211, "message": "Invalid 'To' Phone Number: +1555", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let e = refusal(400, body);
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
            refusal(401, auth),
            ProviderError::Rejected {
                status: 401,
                code: Some("20003".into()),
                message: "Authenticate".into()
            }
        );
    }

    #[test]
    fn a_body_that_is_not_twilios_has_no_details() {
        assert_eq!(read_error(b"<html/>"), ErrorDetails::default());
        assert_eq!(
            read_error(br#"{"code": "", "message": null}"#),
            ErrorDetails::default()
        );
    }
}
