//! Twilio's call vocabulary translated into ours, in one place.
//!
//! A call's status reaches us two ways, as a status callback (form fields such as
//! `CallStatus`, `SipResponseCode`) and as a REST call resource (JSON fields such as
//! `status`). Both are read into [`CallFacts`] and turned into an [`Observation`] by
//! [`observe`], so a status or failure reason can never mean one thing in a webhook and
//! another in a lookup.

use crate::providers::fields::{non_empty, whole_number};
use callvisor_actors::domain::{CallStatus, FailureReason, Observation};

/// A call status name Twilio is not documented to send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown Twilio call status '{0}'")]
pub struct UnknownTwilioStatus(pub String);

/// SIP final responses that mean the number itself is wrong: not found, incomplete,
/// gone (disconnected), does not exist anywhere.
const INVALID_NUMBER_SIP: [u16; 4] = [404, 410, 484, 604];

/// Twilio error codes that mean the number itself is wrong: invalid `To` (21211), not a
/// valid phone number (21217), invalid number format when dialing (13223), number
/// invalid or not supported (13224).
const INVALID_NUMBER_ERRORS: [u32; 4] = [21211, 21217, 13223, 13224];

/// What Twilio said about a call, in its own words, whichever way it arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallFacts<'a> {
    /// The call's sid (`CA…`).
    pub call_sid: Option<&'a str>,
    /// The status name (`CallStatus` in a callback, `status` in a resource).
    pub status: &'a str,
    /// The SIP final response code, sent with a final callback.
    pub sip_response_code: Option<&'a str>,
    /// Twilio's error code, sent when the call failed for a reason Twilio knows.
    pub error_code: Option<&'a str>,
    /// `human`, `machine_start`, `fax`, … when answering machine detection ran.
    pub answered_by: Option<&'a str>,
    /// Talk time in seconds (`CallDuration` / `duration`).
    pub duration: Option<&'a str>,
    /// The call's price, as Twilio wrote it.
    pub price: Option<&'a str>,
    /// Where the recording can be fetched, when the call was recorded.
    pub recording_url: Option<&'a str>,
    /// The callback's `SequenceNumber`.
    pub sequence: Option<&'a str>,
}

/// Our status for a Twilio status name.
pub fn map_status(raw: &str) -> Result<CallStatus, UnknownTwilioStatus> {
    Ok(match raw {
        "queued" => CallStatus::Queued,
        "initiated" => CallStatus::Initiated,
        "ringing" => CallStatus::Ringing,
        "in-progress" => CallStatus::InProgress,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "failed" => CallStatus::Failed,
        "no-answer" => CallStatus::NoAnswer,
        "canceled" => CallStatus::Canceled,
        other => return Err(UnknownTwilioStatus(other.to_string())),
    })
}

/// Why a call that reached `status` did not end in a conversation, if it did not.
pub fn failure_reason(status: CallStatus, facts: &CallFacts<'_>) -> Option<FailureReason> {
    match status {
        CallStatus::Failed => Some(if number_was_invalid(facts) {
            FailureReason::InvalidNumber
        } else {
            FailureReason::NetworkError
        }),
        CallStatus::Busy => Some(FailureReason::Busy),
        CallStatus::NoAnswer => Some(FailureReason::NoAnswer),
        CallStatus::Canceled => Some(FailureReason::Canceled),
        CallStatus::Completed
            if facts
                .answered_by
                .is_some_and(|who| who.trim().starts_with("machine")) =>
        {
            Some(FailureReason::Voicemail)
        }
        _ => None,
    }
}

fn number_was_invalid(facts: &CallFacts<'_>) -> bool {
    let sip = facts
        .sip_response_code
        .and_then(|c| c.trim().parse::<u16>().ok());
    let error = facts.error_code.and_then(|c| c.trim().parse::<u32>().ok());
    sip.is_some_and(|c| INVALID_NUMBER_SIP.contains(&c))
        || error.is_some_and(|c| INVALID_NUMBER_ERRORS.contains(&c))
}

/// The observation these facts amount to. Optional numeric fields that do not parse are
/// left out rather than failing the whole report: the status is what matters.
pub fn observe(facts: &CallFacts<'_>) -> Result<Observation, UnknownTwilioStatus> {
    let status = map_status(facts.status.trim())?;
    Ok(Observation {
        status,
        failure_reason: failure_reason(status, facts),
        provider_call_id: non_empty(facts.call_sid),
        provider_status: Some(facts.status.to_string()),
        sequence: whole_number(facts.sequence),
        duration_seconds: whole_number(facts.duration),
        price: non_empty(facts.price),
        recording_url: non_empty(facts.recording_url),
        ..Observation::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: &str) -> CallFacts<'_> {
        CallFacts {
            status,
            ..Default::default()
        }
    }

    #[test]
    fn maps_every_documented_status() {
        let table = [
            ("queued", CallStatus::Queued),
            ("initiated", CallStatus::Initiated),
            ("ringing", CallStatus::Ringing),
            ("in-progress", CallStatus::InProgress),
            ("completed", CallStatus::Completed),
            ("busy", CallStatus::Busy),
            ("failed", CallStatus::Failed),
            ("no-answer", CallStatus::NoAnswer),
            ("canceled", CallStatus::Canceled),
        ];
        for (raw, ours) in table {
            assert_eq!(map_status(raw), Ok(ours), "{raw}");
        }
    }

    #[test]
    fn refuses_unknown_statuses() {
        for raw in ["timeout", "cancelled", "InProgress", ""] {
            assert_eq!(map_status(raw), Err(UnknownTwilioStatus(raw.to_string())));
        }
        assert!(observe(&facts("answered")).is_err());
    }

    #[test]
    fn failed_is_an_invalid_number_only_with_evidence() {
        let plain = observe(&facts("failed")).unwrap();
        assert_eq!(plain.failure_reason, Some(FailureReason::NetworkError));
        for sip in ["404", "484", "604", "410"] {
            let f = CallFacts {
                sip_response_code: Some(sip),
                ..facts("failed")
            };
            assert_eq!(
                observe(&f).unwrap().failure_reason,
                Some(FailureReason::InvalidNumber),
                "{sip}"
            );
        }
        for code in ["21211", "13224", "13223", "21217"] {
            let f = CallFacts {
                error_code: Some(code),
                ..facts("failed")
            };
            assert_eq!(
                observe(&f).unwrap().failure_reason,
                Some(FailureReason::InvalidNumber),
                "{code}"
            );
        }
        let network = CallFacts {
            sip_response_code: Some("503"),
            error_code: Some("31005"),
            ..facts("failed")
        };
        assert_eq!(
            observe(&network).unwrap().failure_reason,
            Some(FailureReason::NetworkError)
        );
    }

    #[test]
    fn other_final_statuses_imply_their_reason() {
        let reason = |s| observe(&facts(s)).unwrap().failure_reason;
        assert_eq!(reason("busy"), Some(FailureReason::Busy));
        assert_eq!(reason("no-answer"), Some(FailureReason::NoAnswer));
        assert_eq!(reason("canceled"), Some(FailureReason::Canceled));
        assert_eq!(reason("completed"), None);
        assert_eq!(reason("in-progress"), None);
    }

    #[test]
    fn a_machine_answering_is_voicemail() {
        for who in ["machine_start", "machine_end_beep", "machine_end_other"] {
            let f = CallFacts {
                answered_by: Some(who),
                ..facts("completed")
            };
            assert_eq!(
                observe(&f).unwrap().failure_reason,
                Some(FailureReason::Voicemail)
            );
        }
        let human = CallFacts {
            answered_by: Some("human"),
            ..facts("completed")
        };
        assert_eq!(observe(&human).unwrap().failure_reason, None);
        // Only a completed call counts as voicemail.
        let ringing = CallFacts {
            answered_by: Some("machine_start"),
            ..facts("in-progress")
        };
        assert_eq!(observe(&ringing).unwrap().failure_reason, None);
    }

    #[test]
    fn carries_details_and_skips_unreadable_numbers() {
        let f = CallFacts {
            call_sid: Some("CA00000000000000000000000000000001"),
            duration: Some("42"),
            price: Some("-0.0130"),
            recording_url: Some("https://api.twilio.com/rec/RE1"),
            sequence: Some("3"),
            ..facts("completed")
        };
        let o = observe(&f).unwrap();
        assert_eq!(o.status, CallStatus::Completed);
        assert_eq!(o.provider_status.as_deref(), Some("completed"));
        assert_eq!(
            o.provider_call_id.as_deref(),
            Some("CA00000000000000000000000000000001")
        );
        assert_eq!(o.duration_seconds, Some(42));
        assert_eq!(o.price.as_deref(), Some("-0.0130"));
        assert_eq!(
            o.recording_url.as_deref(),
            Some("https://api.twilio.com/rec/RE1")
        );
        assert_eq!(o.sequence, Some(3));

        let bad = CallFacts {
            duration: Some("forty"),
            sequence: Some(""),
            price: Some(""),
            ..facts("completed")
        };
        let o = observe(&bad).unwrap();
        assert_eq!(
            (o.duration_seconds, o.sequence, o.price),
            (None, None, None)
        );
    }
}
