//! Plivo's call vocabulary translated into ours, in one place.
//!
//! A call's status reaches us as a ring or hangup callback (`CallStatus`, `HangupCause`)
//! and as a call record from the REST API (`call_status` for a live call, `call_state`
//! for a finished one, `hangup_cause_name`). Both are read into [`CallFacts`] and turned
//! into an [`Observation`] by [`observe`], so a status or failure reason can never mean
//! one thing in a webhook and another in a lookup. Plivo writes the same states in
//! several spellings (`no-answer`, `NO_ANSWER`, `No Answer`); they are compared in one
//! normalized form.

use crate::providers::fields::{non_empty, whole_number};
use callvisor_actors::domain::{CallStatus, FailureReason, Observation};

/// A call status name Plivo is not documented to send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown Plivo call status '{0}'")]
pub struct UnknownPlivoStatus(pub String);

/// Hangup causes that mean the number itself is wrong (normalized).
const INVALID_NUMBER_CAUSES: [&str; 5] = [
    "unallocated-number",
    "invalid-number-format",
    "no-route-destination",
    "invalid-destination-address",
    "invalid-destination-number",
];

/// Hangup causes that mean an answering machine took the call (normalized).
const MACHINE_CAUSES: [&str; 2] = ["machine-detected", "machine-detection"];

/// What Plivo said about a call, in its own words, whichever way it arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallFacts<'a> {
    /// The live call's id (`CallUUID` / `call_uuid`).
    pub call_uuid: Option<&'a str>,
    /// The id the create request was answered with (`RequestUUID`), when it differs.
    pub request_uuid: Option<&'a str>,
    /// The status (`CallStatus`, `call_status` or `call_state`).
    pub status: &'a str,
    /// Why the call ended (`HangupCause`, `HangupCauseName`, `hangup_cause_name`).
    pub hangup_cause: Option<&'a str>,
    /// `Machine` (`true` when machine detection found one).
    pub machine: Option<&'a str>,
    /// Talk time in seconds (`Duration` / `call_duration`).
    pub duration: Option<&'a str>,
    /// Billed seconds, used when no duration is given.
    pub bill_duration: Option<&'a str>,
    /// What the call cost (`TotalCost` / `total_amount`).
    pub amount: Option<&'a str>,
    /// Where the recording can be fetched.
    pub recording_url: Option<&'a str>,
}

/// Lower case with spaces and underscores as hyphens: `NO_ANSWER`, `No Answer` and
/// `no-answer` are one name.
pub(crate) fn normalize(raw: &str) -> String {
    raw.trim()
        .chars()
        .map(|c| match c {
            ' ' | '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Our status for a Plivo status name. `timeout` (the ring timeout expired) is a call
/// nobody answered; `answer` is how a finished call's record says it was answered.
pub fn map_status(raw: &str) -> Result<CallStatus, UnknownPlivoStatus> {
    Ok(match normalize(raw).as_str() {
        "queued" => CallStatus::Queued,
        "ringing" | "early-media" => CallStatus::Ringing,
        "in-progress" | "live" => CallStatus::InProgress,
        "completed" | "answer" | "answered" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "failed" => CallStatus::Failed,
        "no-answer" | "timeout" => CallStatus::NoAnswer,
        "cancel" | "canceled" | "cancelled" => CallStatus::Canceled,
        _ => return Err(UnknownPlivoStatus(raw.to_string())),
    })
}

/// Why a call that reached `status` did not end in a conversation, if it did not.
pub fn failure_reason(status: CallStatus, facts: &CallFacts<'_>) -> Option<FailureReason> {
    let cause = facts.hangup_cause.map(normalize).unwrap_or_default();
    match status {
        CallStatus::Failed if INVALID_NUMBER_CAUSES.contains(&cause.as_str()) => {
            Some(FailureReason::InvalidNumber)
        }
        CallStatus::Failed => Some(FailureReason::NetworkError),
        CallStatus::Busy => Some(FailureReason::Busy),
        CallStatus::NoAnswer => Some(FailureReason::NoAnswer),
        CallStatus::Canceled => Some(FailureReason::Canceled),
        CallStatus::Completed
            if MACHINE_CAUSES.contains(&cause.as_str())
                || facts.machine.is_some_and(|m| m.trim() == "true") =>
        {
            Some(FailureReason::Voicemail)
        }
        _ => None,
    }
}

/// The observation these facts amount to. The live call's id is the provider id, and it
/// supersedes the request id the create was answered with.
pub fn observe(facts: &CallFacts<'_>) -> Result<Observation, UnknownPlivoStatus> {
    let status = map_status(facts.status)?;
    let call_uuid = non_empty(facts.call_uuid);
    let supersedes = non_empty(facts.request_uuid).filter(|r| Some(r) != call_uuid.as_ref());
    Ok(Observation {
        status,
        failure_reason: failure_reason(status, facts),
        provider_call_id: call_uuid,
        provider_status: Some(facts.status.trim().to_string()),
        duration_seconds: whole_number(facts.duration).or(whole_number(facts.bill_duration)),
        price: non_empty(facts.amount),
        recording_url: non_empty(facts.recording_url),
        supersedes,
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
    fn maps_every_documented_status_in_any_spelling() {
        let table = [
            ("ringing", CallStatus::Ringing),
            ("in-progress", CallStatus::InProgress),
            ("completed", CallStatus::Completed),
            ("busy", CallStatus::Busy),
            ("failed", CallStatus::Failed),
            ("timeout", CallStatus::NoAnswer),
            ("no-answer", CallStatus::NoAnswer),
            ("cancel", CallStatus::Canceled),
            ("NO_ANSWER", CallStatus::NoAnswer),
            ("ANSWER", CallStatus::Completed),
            ("queued", CallStatus::Queued),
        ];
        for (raw, ours) in table {
            assert_eq!(map_status(raw), Ok(ours), "{raw}");
        }
        assert!(map_status("exploded").is_err());
        assert!(map_status("").is_err());
    }

    #[test]
    fn failures_carry_their_reason() {
        let reason = |status: &str, cause: Option<&str>| {
            observe(&CallFacts {
                hangup_cause: cause,
                ..facts(status)
            })
            .unwrap()
            .failure_reason
        };
        assert_eq!(
            reason("failed", Some("UNALLOCATED_NUMBER")),
            Some(FailureReason::InvalidNumber)
        );
        assert_eq!(
            reason("failed", Some("Invalid Destination Address")),
            Some(FailureReason::InvalidNumber)
        );
        assert_eq!(
            reason("failed", Some("NETWORK_OUT_OF_ORDER")),
            Some(FailureReason::NetworkError)
        );
        assert_eq!(reason("failed", None), Some(FailureReason::NetworkError));
        assert_eq!(reason("busy", None), Some(FailureReason::Busy));
        assert_eq!(reason("timeout", None), Some(FailureReason::NoAnswer));
        assert_eq!(reason("cancel", None), Some(FailureReason::Canceled));
        assert_eq!(reason("completed", Some("NORMAL_CLEARING")), None);
        assert_eq!(
            reason("completed", Some("Machine Detected")),
            Some(FailureReason::Voicemail)
        );
    }

    #[test]
    fn the_call_id_supersedes_the_request_id() {
        let o = observe(&CallFacts {
            call_uuid: Some("c-1"),
            request_uuid: Some("r-1"),
            duration: Some("12"),
            amount: Some("0.00950"),
            ..facts("completed")
        })
        .unwrap();
        assert_eq!(o.provider_call_id.as_deref(), Some("c-1"));
        assert_eq!(o.supersedes.as_deref(), Some("r-1"));
        assert_eq!(o.duration_seconds, Some(12));
        assert_eq!(o.price.as_deref(), Some("0.00950"));
        assert_eq!(o.provider_status.as_deref(), Some("completed"));
        let same = observe(&CallFacts {
            call_uuid: Some("c-1"),
            request_uuid: Some("c-1"),
            bill_duration: Some("60"),
            ..facts("completed")
        })
        .unwrap();
        assert_eq!(same.supersedes, None);
        assert_eq!(same.duration_seconds, Some(60));
    }
}
