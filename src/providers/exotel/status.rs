//! Exotel's call vocabulary translated into ours, in one place.
//!
//! A call's status reaches us as a status callback (`Status`, `EventType`) and as a call
//! resource from the REST API (`Status`, `Details`). Both are read into [`CallFacts`] and
//! turned into an [`Observation`] by [`observe`]. An `answered` event means the call is
//! in progress whatever `Status` says (Exotel documents `Status` for the terminal event);
//! Exotel sends no ringing event, so a call goes from queued to in progress or straight
//! to its end.

use crate::providers::fields::{non_empty, whole_number};
use callvisor_actors::domain::{CallStatus, FailureReason, Observation};

/// A call status name Exotel is not documented to send.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown Exotel call status '{0}'")]
pub struct UnknownExotelStatus(pub String);

/// What Exotel said about a call, in its own words, whichever way it arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallFacts<'a> {
    /// The call's id (`CallSid` / `Sid`).
    pub call_sid: Option<&'a str>,
    /// The status (`Status`); may be absent on an `answered` event.
    pub status: Option<&'a str>,
    /// `terminal` or `answered` on a status callback.
    pub event_type: Option<&'a str>,
    /// Talk time in seconds (`ConversationDuration`, or the resource's `Duration`).
    pub duration: Option<&'a str>,
    /// The call's price, as Exotel wrote it.
    pub price: Option<&'a str>,
    /// Where the recording can be fetched.
    pub recording_url: Option<&'a str>,
    /// `human` or `machine…`, when Exotel says who answered.
    pub answered_by: Option<&'a str>,
}

/// Our status for an Exotel status name.
pub fn map_status(raw: &str) -> Result<CallStatus, UnknownExotelStatus> {
    Ok(match raw.trim().to_ascii_lowercase().as_str() {
        "queued" => CallStatus::Queued,
        "ringing" => CallStatus::Ringing,
        "in-progress" => CallStatus::InProgress,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "failed" => CallStatus::Failed,
        "no-answer" => CallStatus::NoAnswer,
        "canceled" | "cancelled" => CallStatus::Canceled,
        _ => return Err(UnknownExotelStatus(raw.to_string())),
    })
}

/// Why a call that reached `status` did not end in a conversation, if it did not.
/// Exotel reports no cause with a failure, so a failed call is a network error.
pub fn failure_reason(status: CallStatus, facts: &CallFacts<'_>) -> Option<FailureReason> {
    match status {
        CallStatus::Failed => Some(FailureReason::NetworkError),
        CallStatus::Busy => Some(FailureReason::Busy),
        CallStatus::NoAnswer => Some(FailureReason::NoAnswer),
        CallStatus::Canceled => Some(FailureReason::Canceled),
        CallStatus::Completed
            if facts
                .answered_by
                .is_some_and(|who| who.trim().to_ascii_lowercase().starts_with("machine")) =>
        {
            Some(FailureReason::Voicemail)
        }
        _ => None,
    }
}

/// The observation these facts amount to.
pub fn observe(facts: &CallFacts<'_>) -> Result<Observation, UnknownExotelStatus> {
    let answered_event = facts
        .event_type
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("answered"));
    let status = match (answered_event, facts.status) {
        (true, _) => CallStatus::InProgress,
        (false, Some(raw)) => map_status(raw)?,
        (false, None) => return Err(UnknownExotelStatus(String::new())),
    };
    let provider_status = non_empty(facts.status).or_else(|| non_empty(facts.event_type));
    Ok(Observation {
        status,
        failure_reason: failure_reason(status, facts),
        provider_call_id: non_empty(facts.call_sid),
        provider_status,
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
            status: Some(status),
            ..Default::default()
        }
    }

    #[test]
    fn maps_every_documented_status() {
        for (raw, ours) in [
            ("queued", CallStatus::Queued),
            ("ringing", CallStatus::Ringing),
            ("in-progress", CallStatus::InProgress),
            ("completed", CallStatus::Completed),
            ("busy", CallStatus::Busy),
            ("failed", CallStatus::Failed),
            ("no-answer", CallStatus::NoAnswer),
            ("canceled", CallStatus::Canceled),
        ] {
            assert_eq!(map_status(raw), Ok(ours), "{raw}");
        }
        assert!(map_status("exploded").is_err());
        assert!(observe(&CallFacts::default()).is_err());
    }

    #[test]
    fn an_answered_event_is_in_progress() {
        let o = observe(&CallFacts {
            event_type: Some("answered"),
            status: Some("in-progress"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(o.status, CallStatus::InProgress);
        assert_eq!(o.provider_status.as_deref(), Some("in-progress"));
        let bare = observe(&CallFacts {
            event_type: Some("answered"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(bare.provider_status.as_deref(), Some("answered"));
    }

    #[test]
    fn terminal_statuses_carry_their_reason_and_details() {
        let reason = |s| observe(&facts(s)).unwrap().failure_reason;
        assert_eq!(reason("failed"), Some(FailureReason::NetworkError));
        assert_eq!(reason("busy"), Some(FailureReason::Busy));
        assert_eq!(reason("no-answer"), Some(FailureReason::NoAnswer));
        assert_eq!(reason("completed"), None);
        let machine = CallFacts {
            answered_by: Some("machine"),
            ..facts("completed")
        };
        assert_eq!(
            observe(&machine).unwrap().failure_reason,
            Some(FailureReason::Voicemail)
        );
        let o = observe(&CallFacts {
            call_sid: Some("c1"),
            duration: Some("42"),
            recording_url: Some("https://rec.example/1.mp3"),
            price: Some("0.5"),
            ..facts("completed")
        })
        .unwrap();
        assert_eq!(o.provider_call_id.as_deref(), Some("c1"));
        assert_eq!(o.duration_seconds, Some(42));
        assert_eq!(o.price.as_deref(), Some("0.5"));
        assert_eq!(
            o.recording_url.as_deref(),
            Some("https://rec.example/1.mp3")
        );
    }
}
