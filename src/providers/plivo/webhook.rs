//! Plivo's ring and hangup callbacks read into our terms.
//!
//! Plivo POSTs a form to `ring_url` when the callee's phone rings and to `hangup_url`
//! when the call ends. This module only reads the form; checking the V3 signature (see
//! [`super::signature::verify`]) is the HTTP endpoint's job, since only it knows the
//! public URL the callback was sent to. A callback names the live call by `CallUUID` and
//! carries the id the create request was answered with as `RequestUUID` (or, on some
//! callbacks, `ALegRequestUUID`), which is how a call known only by its request id is
//! matched and given its call id.

use super::status::{observe, CallFacts, UnknownPlivoStatus};
use crate::providers::fields::{field, first_of};
use callvisor_actors::domain::Observation;

/// One ring or hangup callback from Plivo.
#[derive(Clone, Debug, PartialEq)]
pub struct PlivoCallback {
    /// Plivo's id for the live call (`CallUUID`).
    pub call_uuid: String,
    /// The id the create-call request was answered with, if the callback carries it.
    pub request_uuid: Option<String>,
    /// What the callback says about the call.
    pub observation: Observation,
}

/// Why a form is not a usable Plivo callback.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// A field every callback carries is absent or empty.
    #[error("Plivo callback without {0}")]
    Missing(&'static str),
    /// `CallStatus` is not one Plivo documents.
    #[error(transparent)]
    UnknownStatus(#[from] UnknownPlivoStatus),
}

/// Reads a ring or hangup callback's form fields.
pub fn parse_callback(params: &[(String, String)]) -> Result<PlivoCallback, WebhookError> {
    let call_uuid = field(params, "CallUUID").ok_or(WebhookError::Missing("CallUUID"))?;
    let status = field(params, "CallStatus").ok_or(WebhookError::Missing("CallStatus"))?;
    let request_uuid = first_of(params, &["RequestUUID", "ALegRequestUUID"]);
    let facts = CallFacts {
        call_uuid: Some(call_uuid),
        request_uuid,
        status,
        hangup_cause: first_of(params, &["HangupCause", "HangupCauseName"]),
        machine: field(params, "Machine"),
        duration: field(params, "Duration"),
        bill_duration: field(params, "BillDuration"),
        amount: field(params, "TotalCost"),
        recording_url: field(params, "RecordUrl"),
    };
    Ok(PlivoCallback {
        call_uuid: call_uuid.to_string(),
        request_uuid: request_uuid.map(str::to_string),
        observation: observe(&facts)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::{CallStatus, FailureReason};

    fn form(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn hangup(status: &str, cause: &str) -> Vec<(String, String)> {
        form(&[
            ("CallUUID", "1a2b-call"),
            ("RequestUUID", "9z8y-request"),
            ("From", "14155550000"),
            ("To", "14155550101"),
            ("Direction", "outbound"),
            ("Event", "Hangup"),
            ("CallStatus", status),
            ("HangupCause", cause),
            ("Duration", "17"),
            ("BillDuration", "60"),
        ])
    }

    #[test]
    fn reads_a_ring_callback_by_its_a_leg_request_id() {
        let cb = parse_callback(&form(&[
            ("CallUUID", "1a2b-call"),
            ("ALegRequestUUID", "9z8y-request"),
            ("CallStatus", "ringing"),
            ("Event", "Ring"),
        ]))
        .unwrap();
        assert_eq!(cb.call_uuid, "1a2b-call");
        assert_eq!(cb.request_uuid.as_deref(), Some("9z8y-request"));
        assert_eq!(cb.observation.status, CallStatus::Ringing);
        assert_eq!(cb.observation.supersedes.as_deref(), Some("9z8y-request"));
        assert_eq!(cb.observation.duration_seconds, None);
    }

    #[test]
    fn reads_hangups_with_their_reasons() {
        let done = parse_callback(&hangup("completed", "NORMAL_CLEARING"))
            .unwrap()
            .observation;
        assert_eq!(done.status, CallStatus::Completed);
        assert_eq!(done.failure_reason, None);
        assert_eq!(done.duration_seconds, Some(17));
        let reason = |status, cause| {
            parse_callback(&hangup(status, cause))
                .unwrap()
                .observation
                .failure_reason
        };
        assert_eq!(reason("busy", "USER_BUSY"), Some(FailureReason::Busy));
        assert_eq!(
            reason("failed", "UNALLOCATED_NUMBER"),
            Some(FailureReason::InvalidNumber)
        );
        assert_eq!(
            reason("timeout", "NO_ANSWER"),
            Some(FailureReason::NoAnswer)
        );
        assert_eq!(
            reason("cancel", "ORIGINATOR_CANCEL"),
            Some(FailureReason::Canceled)
        );
    }

    #[test]
    fn refuses_what_is_not_a_callback() {
        let mut no_uuid = hangup("completed", "NORMAL_CLEARING");
        no_uuid.retain(|(k, _)| k != "CallUUID");
        assert_eq!(
            parse_callback(&no_uuid),
            Err(WebhookError::Missing("CallUUID"))
        );
        let mut no_status = hangup("completed", "NORMAL_CLEARING");
        no_status.retain(|(k, _)| k != "CallStatus");
        assert_eq!(
            parse_callback(&no_status),
            Err(WebhookError::Missing("CallStatus"))
        );
        assert!(matches!(
            parse_callback(&hangup("exploded", "")),
            Err(WebhookError::UnknownStatus(_))
        ));
    }
}
