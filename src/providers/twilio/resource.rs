//! The JSON Twilio answers with, read leniently.
//!
//! Only the fields the adapter uses are read; everything else is ignored, and fields the
//! OpenAPI description types as strings (`duration`, `price`) are also accepted as
//! numbers, so a harmless change on Twilio's side does not break every lookup.

use super::status::{observe, CallFacts};
use super::webhook::parse_rfc2822;
use callvisor_actors::ports::{ProviderCallRecord, ProviderError, SmsAccepted};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// A Call resource (`api.v2010.account.call`), as far as the adapter reads it.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct CallResource {
    pub sid: Option<String>,
    pub status: Option<String>,
    pub to: Option<String>,
    pub from: Option<String>,
    pub duration: Option<Value>,
    pub price: Option<Value>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub date_created: Option<String>,
    pub answered_by: Option<String>,
}

/// One page of the Calls list.
#[derive(Debug, Deserialize)]
pub(crate) struct CallPage {
    #[serde(default)]
    pub calls: Vec<CallResource>,
    pub next_page_uri: Option<String>,
}

/// A Message resource (`api.v2010.account.message`), as far as the adapter reads it.
#[derive(Debug, Deserialize)]
pub(crate) struct MessageResource {
    pub sid: Option<String>,
    pub status: Option<String>,
}

impl MessageResource {
    /// The provider-neutral acknowledgement, or a protocol error without a sid.
    pub fn into_accepted(self) -> Result<SmsAccepted, ProviderError> {
        let sid = self
            .sid
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Protocol("message resource without a sid".into()))?;
        Ok(SmsAccepted {
            provider_message_id: sid,
            status: self.status.unwrap_or_else(|| "queued".into()),
        })
    }
}

/// One recording of a call, as far as the adapter reads it.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordingResource {
    /// `/2010-04-01/Accounts/{sid}/Recordings/{RE…}.json`, relative to the API base.
    pub uri: Option<String>,
}

impl RecordingResource {
    /// The path of the recording's audio: its `uri` with `.json` replaced by `.mp3`.
    pub fn media_path(&self) -> Option<String> {
        let uri = self.uri.as_deref().filter(|u| !u.is_empty())?;
        Some(match uri.strip_suffix(".json") {
            Some(stem) => format!("{stem}.mp3"),
            None => uri.to_string(),
        })
    }
}

/// The recordings of one call (`ListCallRecordingResponse`).
#[derive(Debug, Deserialize)]
pub(crate) struct RecordingPage {
    #[serde(default)]
    pub recordings: Vec<RecordingResource>,
}

/// A JSON string or number as text; anything else as absent.
fn text(v: &Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl CallResource {
    /// The sid, or a protocol error when Twilio left it out.
    pub fn sid(&self) -> Result<&str, ProviderError> {
        self.sid
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Protocol("call resource without a sid".into()))
    }

    /// When the call started, or failing that when it was created: the time the
    /// `StartTime` list filters compare, for a call that never started ringing too.
    pub fn listed_at(&self) -> Option<DateTime<Utc>> {
        self.start_time
            .as_deref()
            .and_then(parse_rfc2822)
            .or_else(|| self.date_created.as_deref().and_then(parse_rfc2822))
    }

    /// The provider-neutral record of this call.
    pub fn into_record(self) -> Result<ProviderCallRecord, ProviderError> {
        let sid = self.sid()?.to_string();
        let status = self
            .status
            .as_deref()
            .ok_or_else(|| ProviderError::Protocol(format!("call {sid} without a status")))?;
        let duration = text(&self.duration);
        let price = text(&self.price);
        let facts = CallFacts {
            call_sid: Some(&sid),
            status,
            answered_by: self.answered_by.as_deref(),
            duration: duration.as_deref(),
            price: price.as_deref(),
            ..Default::default()
        };
        let observation = observe(&facts).map_err(|e| ProviderError::Protocol(e.to_string()))?;
        Ok(ProviderCallRecord {
            to: self.to.unwrap_or_default(),
            from: self.from.unwrap_or_default(),
            observation,
            started_at: self.start_time.as_deref().and_then(parse_rfc2822),
            ended_at: self.end_time.as_deref().and_then(parse_rfc2822),
            provider_call_id: sid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::{CallStatus, FailureReason};
    use chrono::TimeZone;

    // Shaped like the fetch example in Twilio's OpenAPI description.
    const FETCHED: &str = r#"{
        "account_sid": "AC11111111111111111111111111111111",
        "answered_by": "machine_start",
        "api_version": "2010-04-01",
        "date_created": "Fri, 18 Oct 2019 17:00:00 +0000",
        "direction": "outbound-api",
        "duration": "4",
        "end_time": "Fri, 18 Oct 2019 17:03:00 +0000",
        "from": "+13051416799",
        "price": "-0.200",
        "price_unit": "USD",
        "sid": "CA22222222222222222222222222222222",
        "start_time": "Fri, 18 Oct 2019 17:02:00 +0000",
        "status": "completed",
        "subresource_uris": {"events": "/2010-04-01/Accounts/AC1/Calls/CA2/Events.json"},
        "to": "+13051913581",
        "uri": "/2010-04-01/Accounts/AC1/Calls/CA2.json",
        "queue_time": "1000"
    }"#;

    #[test]
    fn reads_a_fetched_call() {
        let r: CallResource = serde_json::from_str(FETCHED).unwrap();
        let rec = r.into_record().unwrap();
        assert_eq!(rec.provider_call_id, "CA22222222222222222222222222222222");
        assert_eq!(rec.to, "+13051913581");
        assert_eq!(rec.from, "+13051416799");
        assert_eq!(rec.observation.status, CallStatus::Completed);
        assert_eq!(
            rec.observation.failure_reason,
            Some(FailureReason::Voicemail)
        );
        assert_eq!(rec.observation.duration_seconds, Some(4));
        assert_eq!(rec.observation.price.as_deref(), Some("-0.200"));
        assert_eq!(
            rec.started_at,
            Some(Utc.with_ymd_and_hms(2019, 10, 18, 17, 2, 0).unwrap())
        );
        assert_eq!(
            rec.ended_at,
            Some(Utc.with_ymd_and_hms(2019, 10, 18, 17, 3, 0).unwrap())
        );
    }

    #[test]
    fn accepts_numbers_and_nulls_where_strings_are_documented() {
        let r: CallResource = serde_json::from_str(
            r#"{"sid": "CA3", "status": "busy", "duration": 0, "price": null,
                "start_time": null, "to": null}"#,
        )
        .unwrap();
        let rec = r.into_record().unwrap();
        assert_eq!(rec.observation.duration_seconds, Some(0));
        assert_eq!(rec.observation.price, None);
        assert_eq!(rec.observation.failure_reason, Some(FailureReason::Busy));
        assert_eq!(rec.started_at, None);
        assert_eq!(rec.to, "");
    }

    #[test]
    fn a_call_without_sid_or_known_status_is_a_protocol_error() {
        let no_sid: CallResource = serde_json::from_str(r#"{"status": "queued"}"#).unwrap();
        assert!(matches!(
            no_sid.into_record(),
            Err(ProviderError::Protocol(_))
        ));
        let odd: CallResource =
            serde_json::from_str(r#"{"sid": "CA4", "status": "vanished"}"#).unwrap();
        assert!(matches!(odd.into_record(), Err(ProviderError::Protocol(_))));
    }

    #[test]
    fn listed_at_falls_back_to_creation() {
        let r: CallResource = serde_json::from_str(
            r#"{"sid": "CA5", "status": "queued",
                "date_created": "Fri, 18 Oct 2019 17:00:00 +0000"}"#,
        )
        .unwrap();
        assert_eq!(
            r.listed_at(),
            Some(Utc.with_ymd_and_hms(2019, 10, 18, 17, 0, 0).unwrap())
        );
    }
}
