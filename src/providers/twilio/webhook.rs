//! Twilio status callbacks read into our terms.
//!
//! Twilio POSTs a form to the `StatusCallback` URL at each subscribed call-progress
//! event. This module only reads the form; checking `X-Twilio-Signature` (see
//! [`super::signature::verify`]) is the HTTP endpoint's job, since only it knows the
//! public URL the callback was sent to. Callbacks arrive late, twice or out of order, so
//! the parsed result keeps Twilio's `SequenceNumber` and `Timestamp` for the caller.

use super::status::{observe, CallFacts, UnknownTwilioStatus};
use crate::providers::fields::field;
use callvisor_actors::domain::Observation;
use chrono::{DateTime, Utc};

/// One status callback from Twilio.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusCallback {
    /// Twilio's id for the call (`CallSid`).
    pub call_sid: String,
    /// The account the call belongs to (`AccountSid`), to refuse callbacks for others.
    pub account_sid: Option<String>,
    /// What the callback says about the call.
    pub observation: Observation,
    /// When Twilio says the event happened (`Timestamp`, RFC 2822), if it said.
    pub timestamp: Option<DateTime<Utc>>,
}

/// Why a form is not a usable status callback.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A field every status callback carries is absent or empty.
    #[error("status callback without {0}")]
    Missing(&'static str),
    /// `CallStatus` is not one Twilio documents.
    #[error(transparent)]
    UnknownStatus(#[from] UnknownTwilioStatus),
}

/// Reads a status callback's form fields.
pub fn parse_status_callback(params: &[(String, String)]) -> Result<StatusCallback, WebhookError> {
    let call_sid = field(params, "CallSid").ok_or(WebhookError::Missing("CallSid"))?;
    let status = field(params, "CallStatus").ok_or(WebhookError::Missing("CallStatus"))?;
    let facts = CallFacts {
        call_sid: Some(call_sid),
        status,
        sip_response_code: field(params, "SipResponseCode"),
        error_code: field(params, "ErrorCode"),
        answered_by: field(params, "AnsweredBy"),
        duration: field(params, "CallDuration"),
        price: field(params, "Price"),
        recording_url: field(params, "RecordingUrl"),
        sequence: field(params, "SequenceNumber"),
    };
    Ok(StatusCallback {
        call_sid: call_sid.trim().to_string(),
        account_sid: field(params, "AccountSid").map(str::to_string),
        observation: observe(&facts)?,
        timestamp: field(params, "Timestamp").and_then(parse_rfc2822),
    })
}

/// Parses an RFC 2822 date, as Twilio writes its timestamps.
pub(crate) fn parse_rfc2822(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(raw.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::{CallStatus, FailureReason};
    use chrono::TimeZone;

    fn form(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn base(status: &str) -> Vec<(String, String)> {
        form(&[
            ("CallSid", "CA0123456789abcdef0123456789abcdef"),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("From", "+14155550000"),
            ("To", "+14155550101"),
            ("CallStatus", status),
            ("Direction", "outbound-api"),
            ("ApiVersion", "2010-04-01"),
            ("Timestamp", "Tue, 02 Sep 2025 10:11:12 +0000"),
            ("SequenceNumber", "2"),
            ("CallbackSource", "call-progress-events"),
        ])
    }

    #[test]
    fn reads_a_progress_callback() {
        let cb = parse_status_callback(&base("in-progress")).unwrap();
        assert_eq!(cb.call_sid, "CA0123456789abcdef0123456789abcdef");
        assert_eq!(
            cb.account_sid.as_deref(),
            Some("AC0123456789abcdef0123456789abcdef")
        );
        assert_eq!(cb.observation.status, CallStatus::InProgress);
        assert_eq!(
            cb.observation.provider_status.as_deref(),
            Some("in-progress")
        );
        assert_eq!(cb.observation.sequence, Some(2));
        assert_eq!(
            cb.observation.provider_call_id.as_deref(),
            Some("CA0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            cb.timestamp,
            Some(Utc.with_ymd_and_hms(2025, 9, 2, 10, 11, 12).unwrap())
        );
    }

    #[test]
    fn reads_a_final_callback_with_details() {
        let mut f = base("completed");
        f.extend(form(&[
            ("CallDuration", "17"),
            ("SipResponseCode", "200"),
            ("RecordingUrl", "https://api.twilio.com/rec/RE1"),
            ("Price", "-0.0130"),
        ]));
        let o = parse_status_callback(&f).unwrap().observation;
        assert_eq!(o.status, CallStatus::Completed);
        assert_eq!(o.failure_reason, None);
        assert_eq!(o.duration_seconds, Some(17));
        assert_eq!(o.price.as_deref(), Some("-0.0130"));
        assert_eq!(
            o.recording_url.as_deref(),
            Some("https://api.twilio.com/rec/RE1")
        );
    }

    #[test]
    fn maps_failures() {
        let reason = |status: &str, extra: &[(&str, &str)]| {
            let mut f = base(status);
            f.extend(form(extra));
            parse_status_callback(&f)
                .unwrap()
                .observation
                .failure_reason
        };
        assert_eq!(
            reason("failed", &[("SipResponseCode", "404")]),
            Some(FailureReason::InvalidNumber)
        );
        assert_eq!(
            reason("failed", &[("ErrorCode", "13224")]),
            Some(FailureReason::InvalidNumber)
        );
        assert_eq!(
            reason("failed", &[("SipResponseCode", "503")]),
            Some(FailureReason::NetworkError)
        );
        assert_eq!(reason("busy", &[]), Some(FailureReason::Busy));
        assert_eq!(reason("no-answer", &[]), Some(FailureReason::NoAnswer));
        assert_eq!(
            reason("completed", &[("AnsweredBy", "machine_end_beep")]),
            Some(FailureReason::Voicemail)
        );
    }

    #[test]
    fn refuses_what_is_not_a_status_callback() {
        let mut no_sid = base("ringing");
        no_sid.retain(|(k, _)| k != "CallSid");
        assert_eq!(
            parse_status_callback(&no_sid),
            Err(WebhookError::Missing("CallSid"))
        );
        let mut blank_status = base("ringing");
        blank_status.retain(|(k, _)| k != "CallStatus");
        blank_status.push(("CallStatus".into(), " ".into()));
        assert_eq!(
            parse_status_callback(&blank_status),
            Err(WebhookError::Missing("CallStatus"))
        );
        assert_eq!(
            parse_status_callback(&base("exploded")),
            Err(WebhookError::UnknownStatus(UnknownTwilioStatus(
                "exploded".into()
            )))
        );
    }

    #[test]
    fn tolerates_a_bad_timestamp() {
        let mut f = base("ringing");
        f.retain(|(k, _)| k != "Timestamp");
        f.push(("Timestamp".into(), "yesterday".into()));
        assert_eq!(parse_status_callback(&f).unwrap().timestamp, None);
    }
}
