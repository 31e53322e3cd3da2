//! The simulator's answers in Twilio's JSON shapes: the Call resource, a page of the
//! Calls list and the error body, field for field as Twilio's OpenAPI description
//! lists them (fields the simulator has no value for are `null`, as Twilio sends them);
//! and its status callbacks, form-encoded and signed with `X-Twilio-Signature` over the
//! exact URL they are sent to (the shared [`sign`], so a receiver checking with
//! `verify` is tested for real).

use super::Hooks;
use crate::providers::twilio::signature::sign;
use crate::sim::callbacks::{CallbackMethod, CallbackRequest};
use crate::sim::config::SimConfig;
use crate::sim::state::{MessageRecord, Phase, SimCall};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// A time as Twilio writes it: RFC 2822 in UTC, `Tue, 31 Aug 2010 20:36:28 +0000`.
pub(crate) fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S %z").to_string()
}

/// Twilio's price per started minute, in ten-thousandths of a dollar.
const PRICE_PER_MINUTE: i64 = 130;

/// `-0.0130` per started minute of an answered call.
fn price_for(seconds: i64) -> String {
    let minutes = ((seconds + 59) / 60).max(1);
    let cost = minutes * PRICE_PER_MINUTE;
    format!("-{}.{:04}", cost / 10_000, cost % 10_000)
}

/// The name of a phase in status callbacks (`CallStatus`).
pub(crate) fn callback_status(p: Phase) -> &'static str {
    match p {
        Phase::Queued => "queued",
        Phase::Initiated => "initiated",
        Phase::Ringing => "ringing",
        Phase::InProgress => "in-progress",
        Phase::Completed => "completed",
        Phase::Busy => "busy",
        Phase::NoAnswer => "no-answer",
        Phase::Failed => "failed",
        Phase::Canceled => "canceled",
    }
}

/// The name in the REST resource, whose status enum has no `initiated`.
pub(crate) fn resource_status(p: Phase) -> &'static str {
    match p {
        Phase::Initiated => "queued",
        other => callback_status(other),
    }
}

/// Parses a REST status name (for the list's `Status` filter).
pub(crate) fn phase_from_resource(name: &str) -> Option<Phase> {
    [
        Phase::Queued,
        Phase::Ringing,
        Phase::InProgress,
        Phase::Completed,
        Phase::Busy,
        Phase::NoAnswer,
        Phase::Failed,
        Phase::Canceled,
    ]
    .into_iter()
    .find(|p| callback_status(*p) == name)
}

/// The SIP final response a final status reports.
fn sip_code(call: &SimCall, to: Phase) -> u16 {
    match to {
        Phase::Completed => 200,
        Phase::Busy => 486,
        Phase::NoAnswer => 480,
        Phase::Canceled => 487,
        Phase::Failed => call.failure_sip,
        _ => 100,
    }
}

/// The status callback a change of `call` to `to` sends, if its create subscribed to
/// it: a signed form POST, or for GET the fields in the query and the signature over
/// that full URL alone.
pub(crate) fn callbacks(
    config: &SimConfig,
    hooks: &Hooks,
    call: &SimCall,
    to: Phase,
    now: DateTime<Utc>,
) -> Vec<CallbackRequest> {
    let Some(target) = hooks
        .callback
        .as_ref()
        .filter(|_| hooks.subscriptions.wants(to))
    else {
        return Vec::new();
    };
    let mut params: Vec<(String, String)> = [
        ("CallSid", call.sid.clone()),
        ("AccountSid", config.account_sid.clone()),
        ("From", call.from.clone()),
        ("To", call.to.clone()),
        ("Caller", call.from.clone()),
        ("Called", call.to.clone()),
        ("CallStatus", callback_status(to).to_string()),
        ("Direction", "outbound-api".to_string()),
        ("ApiVersion", "2010-04-01".to_string()),
        ("Timestamp", rfc2822(now)),
        ("SequenceNumber", call.callbacks_sent.to_string()),
        ("CallbackSource", "call-progress-events".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if to.is_final() {
        params.push((
            "CallDuration".into(),
            call.duration.unwrap_or(0).to_string(),
        ));
        params.push(("SipResponseCode".into(), sip_code(call, to).to_string()));
        if let Some(url) = &call.recording_url {
            // Twilio names a recording without extension; `.mp3` added gives the audio.
            let url = url.strip_suffix(".mp3").unwrap_or(url);
            params.push(("RecordingUrl".into(), url.to_string()));
        }
    }
    let request = match target.method {
        CallbackMethod::Post => CallbackRequest {
            url: target.url.clone(),
            method: CallbackMethod::Post,
            headers: vec![
                (
                    "X-Twilio-Signature",
                    sign(&config.auth_token, target.url.as_str(), &params),
                ),
                ("User-Agent", "TwilioProxy/1.1".into()),
            ],
            body: Some((
                "application/x-www-form-urlencoded".into(),
                serde_urlencoded::to_string(&params)
                    .unwrap_or_default()
                    .into_bytes(),
            )),
            status: callback_status(to).into(),
        },
        CallbackMethod::Get => {
            let mut url = target.url.clone();
            url.query_pairs_mut().extend_pairs(&params);
            CallbackRequest {
                headers: vec![
                    (
                        "X-Twilio-Signature",
                        sign(&config.auth_token, url.as_str(), &[]),
                    ),
                    ("User-Agent", "TwilioProxy/1.1".into()),
                ],
                url,
                method: CallbackMethod::Get,
                body: None,
                status: callback_status(to).into(),
            }
        }
    };
    vec![request]
}

/// `/2010-04-01/Accounts/{account_sid}/Calls`, the prefix of every call URI.
pub(crate) fn calls_path(account_sid: &str) -> String {
    format!("/2010-04-01/Accounts/{account_sid}/Calls")
}

/// The Call resource (`api.v2010.account.call`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CallJson {
    pub account_sid: String,
    pub answered_by: Option<String>,
    pub api_version: &'static str,
    pub caller_name: Option<String>,
    pub date_created: String,
    pub date_updated: String,
    pub direction: &'static str,
    pub duration: Option<String>,
    pub end_time: Option<String>,
    pub forwarded_from: Option<String>,
    pub from: String,
    pub from_formatted: String,
    pub group_sid: Option<String>,
    pub parent_call_sid: Option<String>,
    pub phone_number_sid: Option<String>,
    pub price: Option<String>,
    pub price_unit: &'static str,
    pub queue_time: String,
    pub sid: String,
    pub start_time: Option<String>,
    pub status: &'static str,
    pub subresource_uris: BTreeMap<&'static str, String>,
    pub to: String,
    pub to_formatted: String,
    pub trunk_sid: Option<String>,
    pub uri: String,
}

impl CallJson {
    /// The resource for a stored call.
    pub fn of(call: &SimCall, account_sid: &str) -> Self {
        let base = format!("{}/{}", calls_path(account_sid), call.sid);
        let subresource_uris = [
            ("notifications", "Notifications"),
            ("recordings", "Recordings"),
            ("events", "Events"),
        ]
        .into_iter()
        .map(|(name, file)| (name, format!("{base}/{file}.json")))
        .collect();
        Self {
            account_sid: account_sid.to_string(),
            answered_by: None,
            api_version: "2010-04-01",
            caller_name: None,
            date_created: rfc2822(call.date_created),
            date_updated: rfc2822(call.date_updated),
            direction: "outbound-api",
            duration: call.duration.map(|d| d.to_string()),
            end_time: call.end_time.map(rfc2822),
            forwarded_from: None,
            from: call.from.clone(),
            from_formatted: call.from.clone(),
            group_sid: None,
            parent_call_sid: None,
            phone_number_sid: None,
            price: call.duration.map(price_for),
            price_unit: "USD",
            queue_time: "0".to_string(),
            sid: call.sid.clone(),
            start_time: call.start_time.map(rfc2822),
            status: resource_status(call.phase),
            subresource_uris,
            to: call.to.clone(),
            to_formatted: call.to.clone(),
            trunk_sid: None,
            uri: format!("{base}.json"),
        }
    }
}

/// The recording sid of a call: `RE` and the call sid's hex digits.
fn recording_sid(call_sid: &str) -> String {
    format!("RE{}", call_sid.trim_start_matches("CA"))
}

/// The call sid of a recording sid (the inverse of [`recording_sid`]).
pub(crate) fn call_of_recording(recording_sid: &str) -> Option<String> {
    recording_sid
        .strip_prefix("RE")
        .map(|hex| format!("CA{hex}"))
}

/// `/2010-04-01/Accounts/{account}/Recordings/{RE…}`, without extension, as Twilio's
/// `RecordingUrl` names a recording.
fn recording_path(account_sid: &str, call_sid: &str) -> String {
    format!(
        "/2010-04-01/Accounts/{account_sid}/Recordings/{}",
        recording_sid(call_sid)
    )
}

/// A Recording resource (`api.v2010.account.call.call_recording`), as far as the
/// simulator fills it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RecordingJson {
    pub account_sid: String,
    pub call_sid: String,
    pub sid: String,
    pub status: &'static str,
    pub duration: Option<String>,
    pub channels: u32,
    pub source: &'static str,
    pub date_created: Option<String>,
    /// Relative to the API base; the audio is the same path with `.mp3`.
    pub uri: String,
    /// Where the simulator serves the audio.
    pub media_url: Option<String>,
}

/// The recordings of one call (`ListCallRecordingResponse`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RecordingPageJson {
    pub recordings: Vec<RecordingJson>,
    pub end: usize,
    pub first_page_uri: String,
    pub next_page_uri: Option<String>,
    pub page: usize,
    pub page_size: usize,
    pub previous_page_uri: Option<String>,
    pub start: usize,
    pub uri: String,
}

impl RecordingPageJson {
    /// The one recording of an answered call, or an empty page.
    pub fn of(call: &SimCall, account_sid: &str) -> Self {
        let recordings: Vec<RecordingJson> = call
            .recording_url
            .iter()
            .map(|media| RecordingJson {
                account_sid: account_sid.to_string(),
                call_sid: call.sid.clone(),
                sid: recording_sid(&call.sid),
                status: "completed",
                duration: call.duration.map(|d| d.to_string()),
                channels: 1,
                source: "OutboundAPI",
                date_created: call.end_time.map(rfc2822),
                uri: format!("{}.json", recording_path(account_sid, &call.sid)),
                media_url: Some(media.clone()),
            })
            .collect();
        let uri = format!("{}/{}/Recordings.json", calls_path(account_sid), call.sid);
        Self {
            end: recordings.len().saturating_sub(1),
            page_size: 50,
            recordings,
            first_page_uri: format!("{uri}?PageSize=50&Page=0"),
            next_page_uri: None,
            page: 0,
            previous_page_uri: None,
            start: 0,
            uri,
        }
    }
}

/// A Message resource (`api.v2010.account.message`), as created.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct MessageJson {
    pub account_sid: String,
    pub api_version: &'static str,
    pub body: String,
    pub date_created: String,
    pub date_sent: Option<String>,
    pub date_updated: String,
    pub direction: &'static str,
    pub error_code: Option<u32>,
    pub error_message: Option<String>,
    pub from: String,
    pub messaging_service_sid: Option<String>,
    pub num_media: &'static str,
    pub num_segments: String,
    pub price: Option<String>,
    pub price_unit: &'static str,
    pub sid: String,
    pub status: &'static str,
    pub to: String,
    pub uri: String,
}

impl MessageJson {
    /// The resource of a message just accepted (`queued`).
    pub fn of(m: &MessageRecord, account_sid: &str) -> Self {
        Self {
            account_sid: account_sid.to_string(),
            api_version: "2010-04-01",
            body: m.body.clone(),
            date_created: rfc2822(m.received_at),
            date_sent: None,
            date_updated: rfc2822(m.received_at),
            direction: "outbound-api",
            error_code: None,
            error_message: None,
            from: m.from.clone(),
            messaging_service_sid: None,
            num_media: "0",
            num_segments: m.segments().to_string(),
            price: None,
            price_unit: "USD",
            sid: m.sid.clone(),
            status: "queued",
            to: m.to.clone(),
            uri: format!("/2010-04-01/Accounts/{account_sid}/Messages/{}.json", m.sid),
        }
    }
}

/// One page of the Calls list (`ListCallResponse`).
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CallPageJson {
    pub calls: Vec<CallJson>,
    pub end: usize,
    pub first_page_uri: String,
    pub next_page_uri: Option<String>,
    pub page: usize,
    pub page_size: usize,
    pub previous_page_uri: Option<String>,
    pub start: usize,
    pub uri: String,
}

/// A refusal in Twilio's error shape: `{"code", "message", "more_info", "status"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401 / 20003, Twilio's answer to missing or wrong credentials.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate")
    }

    /// 404 / 20404, for a resource that does not exist.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource {path} was not found"),
        )
    }

    /// 400 / 20001, a parameter with a value Twilio would not take.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 20001, message)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: u32,
    message: &'a str,
    more_info: String,
    status: u16,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
            more_info: format!("https://www.twilio.com/docs/errors/{}", self.code),
            status: self.status.as_u16(),
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"Twilio API\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn prices_each_started_minute() {
        assert_eq!(price_for(0), "-0.0130");
        assert_eq!(price_for(1), "-0.0130");
        assert_eq!(price_for(60), "-0.0130");
        assert_eq!(price_for(61), "-0.0260");
        assert_eq!(price_for(60 * 100), "-1.3000");
    }

    #[test]
    fn resource_status_names_stay_in_twilios_enum() {
        assert_eq!(resource_status(Phase::Initiated), "queued");
        assert_eq!(resource_status(Phase::InProgress), "in-progress");
        assert_eq!(phase_from_resource("no-answer"), Some(Phase::NoAnswer));
        assert_eq!(phase_from_resource("initiated"), None);
    }

    #[test]
    fn formats_times_like_twilio() {
        let t = Utc.with_ymd_and_hms(2010, 8, 3, 20, 36, 28).unwrap();
        assert_eq!(rfc2822(t), "Tue, 03 Aug 2010 20:36:28 +0000");
        assert_eq!(
            chrono::DateTime::parse_from_rfc2822(&rfc2822(t)).unwrap(),
            t
        );
    }
}
