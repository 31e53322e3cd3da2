//! The JSON Exotel answers with, read leniently, and the way Exotel writes times (shared
//! with the simulator, which writes them).
//!
//! Exotel writes times as `YYYY-MM-DD HH:mm:ss` without an offset. Its documentation
//! does not name the zone; Exotel's clock is India's (UTC+05:30), so that is how these
//! times are read and written, in this one place. In a call connected to a call flow,
//! Exotel's `From` is the number dialled first (our callee) and `To` is the ExoPhone, so
//! a record's `to` is Exotel's `From`.

use super::status::{observe, CallFacts};
use crate::providers::rest::json_text;
use callvisor_actors::ports::{ProviderCallRecord, ProviderError, SmsAccepted};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use serde_json::Value;

/// The zone Exotel's times are written in.
pub(crate) const EXOTEL_ZONE: Tz = chrono_tz::Asia::Kolkata;

/// How Exotel writes times.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A time as Exotel writes it.
pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&EXOTEL_ZONE)
        .format(TIME_FORMAT)
        .to_string()
}

/// A time as Exotel writes it (or with an explicit offset, RFC 3339).
pub(crate) fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(raw, TIME_FORMAT).ok()?;
    EXOTEL_ZONE
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// `{"Call": {…}}`, the answer to a create and to a details request.
#[derive(Debug, Deserialize)]
pub(crate) struct CallEnvelope {
    #[serde(rename = "Call")]
    pub call: CallResource,
}

/// `{"SMSMessage": {"Sid", "Status", …}}`, the answer to a send-SMS request.
#[derive(Debug, Deserialize)]
pub(crate) struct SmsEnvelope {
    #[serde(rename = "SMSMessage")]
    pub message: SmsMessage,
}

/// A message as Exotel describes it, as far as the adapter reads it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SmsMessage {
    pub sid: Option<String>,
    pub status: Option<String>,
}

impl SmsEnvelope {
    /// The provider-neutral acknowledgement, or a protocol error without a Sid.
    pub fn into_accepted(self) -> Result<SmsAccepted, ProviderError> {
        let sid = self
            .message
            .sid
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Protocol("SMS answer without a Sid".into()))?;
        Ok(SmsAccepted {
            provider_message_id: sid,
            status: self.message.status.unwrap_or_else(|| "queued".into()),
        })
    }
}

/// A call as Exotel describes it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CallResource {
    pub sid: Option<String>,
    pub status: Option<String>,
    pub to: Option<String>,
    pub from: Option<String>,
    pub date_created: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub duration: Option<Value>,
    pub price: Option<Value>,
    pub answered_by: Option<String>,
    pub recording_url: Option<String>,
    /// Present with `?details=true`.
    pub details: Option<CallDetails>,
}

/// The `Details` of a call.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CallDetails {
    pub conversation_duration: Option<Value>,
}

/// One page of the bulk call list: `{"Metadata": {…, "NextPageUri"}, "Calls": […]}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CallPage {
    pub metadata: Option<PageMetadata>,
    #[serde(default)]
    pub calls: Vec<CallResource>,
}

/// The paging part of a list answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PageMetadata {
    pub next_page_uri: Option<String>,
}

impl CallResource {
    /// The sid, or a protocol error when Exotel left it out.
    pub fn sid(&self) -> Result<&str, ProviderError> {
        self.sid
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Protocol("call resource without a Sid".into()))
    }

    /// When the call was created (what the list's `DateCreated` filter compares).
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.date_created.as_deref().and_then(parse_time)
    }

    /// The provider-neutral record of this call. Talk time is the conversation's
    /// duration when the details give it, else the call's whole duration.
    pub fn into_record(self) -> Result<ProviderCallRecord, ProviderError> {
        let sid = self.sid()?.to_string();
        let status = self
            .status
            .as_deref()
            .ok_or_else(|| ProviderError::Protocol(format!("call {sid} without a Status")))?;
        let duration = self
            .details
            .as_ref()
            .and_then(|d| json_text(d.conversation_duration.as_ref()))
            .or_else(|| json_text(self.duration.as_ref()));
        let price = json_text(self.price.as_ref());
        let facts = CallFacts {
            call_sid: Some(&sid),
            status: Some(status),
            duration: duration.as_deref(),
            price: price.as_deref(),
            recording_url: self.recording_url.as_deref(),
            answered_by: self.answered_by.as_deref(),
            ..Default::default()
        };
        let observation = observe(&facts).map_err(|e| ProviderError::Protocol(e.to_string()))?;
        Ok(ProviderCallRecord {
            to: self.from.clone().unwrap_or_default(),
            from: self.to.clone().unwrap_or_default(),
            observation,
            started_at: self.start_time.as_deref().and_then(parse_time),
            ended_at: self.end_time.as_deref().and_then(parse_time),
            provider_call_id: sid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::CallStatus;

    const DETAILED: &str = r#"{"Call": {
        "Sid": "b6cfaf5f5cef3ca0fc937749ef960e25",
        "ParentCallSid": null,
        "DateCreated": "2025-03-01 15:30:00",
        "DateUpdated": "2025-03-01 15:30:45",
        "AccountSid": "exotel-sim",
        "To": "08030752400",
        "From": "+919999900001",
        "PhoneNumberSid": "08030752400",
        "Status": "completed",
        "StartTime": "2025-03-01 15:30:01",
        "EndTime": "2025-03-01 15:30:45",
        "Duration": 44,
        "Price": "1.500",
        "Direction": "outbound-api",
        "AnsweredBy": "human",
        "Uri": "/v1/Accounts/exotel-sim/Calls/b6cfaf5f5cef3ca0fc937749ef960e25.json",
        "RecordingUrl": null,
        "Details": {"ConversationDuration": 30, "Leg1Status": "completed", "Leg2Status": "completed"}
    }}"#;

    #[test]
    fn reads_a_detailed_call() {
        let envelope: CallEnvelope = serde_json::from_str(DETAILED).unwrap();
        let rec = envelope.call.into_record().unwrap();
        assert_eq!(rec.provider_call_id, "b6cfaf5f5cef3ca0fc937749ef960e25");
        assert_eq!(rec.to, "+919999900001");
        assert_eq!(rec.from, "08030752400");
        assert_eq!(rec.observation.status, CallStatus::Completed);
        assert_eq!(rec.observation.duration_seconds, Some(30));
        assert_eq!(rec.observation.price.as_deref(), Some("1.500"));
        assert_eq!(
            rec.started_at,
            Some(Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 1).unwrap())
        );
    }

    #[test]
    fn falls_back_to_the_whole_duration_and_refuses_nonsense() {
        let plain: CallResource =
            serde_json::from_str(r#"{"Sid": "c1", "Status": "busy", "Duration": "0"}"#).unwrap();
        assert_eq!(
            plain.into_record().unwrap().observation.duration_seconds,
            Some(0)
        );
        let nameless: CallResource = serde_json::from_str(r#"{"Status": "busy"}"#).unwrap();
        assert!(nameless.into_record().is_err());
        let odd: CallResource = serde_json::from_str(r#"{"Sid": "c1", "Status": "gone"}"#).unwrap();
        assert!(odd.into_record().is_err());
    }

    #[test]
    fn times_are_india_time_without_an_offset() {
        let t = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 45).unwrap();
        assert_eq!(format_time(t), "2025-03-01 15:30:45");
        assert_eq!(parse_time("2025-03-01 15:30:45"), Some(t));
        assert_eq!(parse_time("2025-03-01T10:00:45Z"), Some(t));
        assert_eq!(parse_time("soon"), None);
    }
}
