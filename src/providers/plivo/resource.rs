//! The JSON Plivo answers with, read leniently, and the formats Plivo writes numbers and
//! times in (shared with the simulator, which writes them).
//!
//! Only the fields the adapter uses are read; everything else is ignored, and numbers
//! are accepted as JSON numbers or strings. A live call is described with `call_status`
//! (`ringing`, `in-progress`), a finished call's record with `call_state` (`ANSWER`,
//! `BUSY`, …); whichever is present is the status.

use super::status::{observe, CallFacts};
use crate::providers::rest::json_text;
use callvisor_actors::ports::{ProviderCallRecord, ProviderError, SmsAccepted};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// How Plivo writes times: `2025-03-01 10:11:12+00:00`.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%:z";

/// How Plivo's list filters take times: `2025-03-01 10:11:12` (UTC).
pub(crate) const FILTER_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A time as Plivo writes it.
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// A time as Plivo writes it (with or without its offset, or RFC 3339).
pub(crate) fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    DateTime::parse_from_str(raw, TIME_FORMAT)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%z"))
        .or_else(|_| DateTime::parse_from_rfc3339(raw))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(raw, FILTER_TIME_FORMAT)
                .ok()
                .map(|t| t.and_utc())
        })
}

/// A number as Plivo takes it: country code and digits, no `+`.
pub(crate) fn to_plivo_number(e164: &str) -> String {
    e164.trim().trim_start_matches('+').to_string()
}

/// A number as Plivo writes it, in E.164 (`+` added to plain digits), so it compares
/// equal to the number we dialed. SIP endpoints are left as they are.
pub(crate) fn from_plivo_number(raw: &str) -> String {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{raw}")
    } else {
        raw.to_string()
    }
}

/// The answer to a create-call request: `{"api_id", "message", "request_uuid"}`, where
/// `request_uuid` is a list when several numbers were dialed at once.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateResponse {
    pub request_uuid: Option<Value>,
}

impl CreateResponse {
    /// The request id of the one call created.
    pub fn request_uuid(&self) -> Result<String, ProviderError> {
        let id = match &self.request_uuid {
            Some(Value::Array(ids)) => json_text(ids.first()),
            other => json_text(other.as_ref()),
        };
        id.ok_or_else(|| ProviderError::Protocol("create answer without a request_uuid".into()))
    }
}

/// The answer to a send-message request: `{"api_id", "message", "message_uuid": [..]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct MessageResponse {
    pub message_uuid: Option<Value>,
}

impl MessageResponse {
    /// The acknowledgement of the one message sent (the first uuid when Plivo split it).
    pub fn into_accepted(self) -> Result<SmsAccepted, ProviderError> {
        let id = match &self.message_uuid {
            Some(Value::Array(ids)) => json_text(ids.first()),
            other => json_text(other.as_ref()),
        };
        let provider_message_id = id.ok_or_else(|| {
            ProviderError::Protocol("message answer without a message_uuid".into())
        })?;
        Ok(SmsAccepted {
            provider_message_id,
            // Plivo answers "message(s) queued"; its delivery reports say the rest.
            status: "queued".into(),
        })
    }
}

/// One recording in Plivo's recording list.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordingObject {
    pub recording_url: Option<String>,
}

/// A page of the recording list: `{"meta": {…}, "objects": [{"recording_url", …}]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordingPage {
    #[serde(default)]
    pub objects: Vec<RecordingObject>,
}

impl RecordingPage {
    /// The first recording's URL, if any.
    pub fn first_url(self) -> Option<String> {
        self.objects
            .into_iter()
            .next()
            .and_then(|r| r.recording_url)
            .filter(|u| !u.trim().is_empty())
    }
}

/// A call as Plivo describes it, live or finished.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct CallObject {
    pub call_uuid: Option<String>,
    pub request_uuid: Option<String>,
    pub call_status: Option<String>,
    pub call_state: Option<String>,
    pub to_number: Option<String>,
    pub from_number: Option<String>,
    /// The live-call spelling of the numbers.
    pub to: Option<String>,
    pub from: Option<String>,
    pub call_duration: Option<Value>,
    pub bill_duration: Option<Value>,
    pub total_amount: Option<Value>,
    pub hangup_cause_name: Option<String>,
    pub initiation_time: Option<String>,
    pub end_time: Option<String>,
}

/// One page of the call list: `{"meta": {"next", "total_count", …}, "objects": […]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct CallPage {
    pub meta: Option<PageMeta>,
    #[serde(default)]
    pub objects: Vec<CallObject>,
}

/// The paging part of a list answer.
#[derive(Debug, Deserialize)]
pub(crate) struct PageMeta {
    pub next: Option<String>,
}

impl CallObject {
    /// When the call was placed, as far as the record says.
    pub fn initiated_at(&self) -> Option<DateTime<Utc>> {
        self.initiation_time.as_deref().and_then(parse_time)
    }

    /// The provider-neutral record of this call.
    pub fn into_record(self) -> Result<ProviderCallRecord, ProviderError> {
        let uuid = self
            .call_uuid
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| ProviderError::Protocol("call without a call_uuid".into()))?;
        let status = self
            .call_status
            .as_deref()
            .or(self.call_state.as_deref())
            .ok_or_else(|| ProviderError::Protocol(format!("call {uuid} without a status")))?;
        let duration = json_text(self.call_duration.as_ref());
        let bill_duration = json_text(self.bill_duration.as_ref());
        let amount = json_text(self.total_amount.as_ref());
        let facts = CallFacts {
            call_uuid: Some(&uuid),
            request_uuid: self.request_uuid.as_deref(),
            status,
            hangup_cause: self.hangup_cause_name.as_deref(),
            duration: duration.as_deref(),
            bill_duration: bill_duration.as_deref(),
            amount: amount.as_deref(),
            ..Default::default()
        };
        let observation = observe(&facts).map_err(|e| ProviderError::Protocol(e.to_string()))?;
        let number = |a: &Option<String>, b: &Option<String>| {
            a.as_deref()
                .or(b.as_deref())
                .map(from_plivo_number)
                .unwrap_or_default()
        };
        Ok(ProviderCallRecord {
            to: number(&self.to_number, &self.to),
            from: number(&self.from_number, &self.from),
            observation,
            started_at: self.initiated_at(),
            ended_at: self.end_time.as_deref().and_then(parse_time),
            provider_call_id: uuid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::{CallStatus, FailureReason};
    use chrono::TimeZone;

    // Shaped like the call record in Plivo's documentation.
    const FINISHED: &str = r#"{
        "answer_time": "2025-03-01 10:00:05+05:30",
        "api_id": "0b7d6a8e-0000-11ee-9d4c-0242ac110002",
        "bill_duration": 17,
        "billed_duration": 60,
        "call_direction": "outbound",
        "call_duration": 17,
        "call_state": "ANSWER",
        "call_uuid": "eba53b9e-8fbd-45c1-9444-696d2172fbc8",
        "end_time": "2025-03-01 10:00:22+05:30",
        "from_number": "14155550000",
        "initiation_time": "2025-03-01 10:00:00+05:30",
        "parent_call_uuid": null,
        "resource_uri": "/v1/Account/MA1/Call/eba53b9e-8fbd-45c1-9444-696d2172fbc8/",
        "to_number": "14155550101",
        "total_amount": "0.00950",
        "total_rate": "0.00950",
        "hangup_cause_name": "Normal Hangup",
        "hangup_cause_code": 4000,
        "hangup_source": "Callee"
    }"#;

    #[test]
    fn reads_a_finished_call() {
        let call: CallObject = serde_json::from_str(FINISHED).unwrap();
        let rec = call.into_record().unwrap();
        assert_eq!(rec.provider_call_id, "eba53b9e-8fbd-45c1-9444-696d2172fbc8");
        assert_eq!(
            (rec.to.as_str(), rec.from.as_str()),
            ("+14155550101", "+14155550000")
        );
        assert_eq!(rec.observation.status, CallStatus::Completed);
        assert_eq!(rec.observation.duration_seconds, Some(17));
        assert_eq!(rec.observation.price.as_deref(), Some("0.00950"));
        assert_eq!(
            rec.started_at,
            Some(Utc.with_ymd_and_hms(2025, 3, 1, 4, 30, 0).unwrap())
        );
        assert!(rec.ended_at.is_some());
    }

    #[test]
    fn reads_a_live_call_and_refuses_nonsense() {
        let live: CallObject = serde_json::from_str(
            r#"{"call_uuid": "c1", "call_status": "ringing", "to": "14155550101", "from": "14155550000"}"#,
        )
        .unwrap();
        let rec = live.into_record().unwrap();
        assert_eq!(rec.observation.status, CallStatus::Ringing);
        assert_eq!(rec.to, "+14155550101");
        let busy: CallObject =
            serde_json::from_str(r#"{"call_uuid": "c2", "call_state": "BUSY"}"#).unwrap();
        assert_eq!(
            busy.into_record().unwrap().observation.failure_reason,
            Some(FailureReason::Busy)
        );
        let nameless: CallObject = serde_json::from_str(r#"{"call_state": "BUSY"}"#).unwrap();
        assert!(nameless.into_record().is_err());
        let odd: CallObject =
            serde_json::from_str(r#"{"call_uuid": "c3", "call_state": "VANISHED"}"#).unwrap();
        assert!(odd.into_record().is_err());
    }

    #[test]
    fn create_answers_carry_one_request_id() {
        let one: CreateResponse = serde_json::from_str(
            r#"{"api_id": "a", "message": "call fired", "request_uuid": "r1"}"#,
        )
        .unwrap();
        assert_eq!(one.request_uuid().unwrap(), "r1");
        let many: CreateResponse =
            serde_json::from_str(r#"{"request_uuid": ["r2", "r3"]}"#).unwrap();
        assert_eq!(many.request_uuid().unwrap(), "r2");
        let none: CreateResponse = serde_json::from_str(r#"{"message": "x"}"#).unwrap();
        assert!(none.request_uuid().is_err());
    }

    #[test]
    fn numbers_and_times_round_trip() {
        assert_eq!(to_plivo_number("+14155550101"), "14155550101");
        assert_eq!(from_plivo_number("14155550101"), "+14155550101");
        assert_eq!(from_plivo_number("sip:bob@x"), "sip:bob@x");
        let t = Utc.with_ymd_and_hms(2025, 3, 1, 10, 11, 12).unwrap();
        assert_eq!(format_time(t), "2025-03-01 10:11:12+00:00");
        assert_eq!(parse_time(&format_time(t)), Some(t));
        assert_eq!(parse_time("2025-03-01 10:11:12"), Some(t));
        assert_eq!(parse_time("yesterday"), None);
    }
}
