//! The Exotel flavor's answers and callbacks, in Exotel's shapes: the Call resource
//! (with `Details` when asked), a page of the bulk list, the error body
//! `{"RestException": {"Status", "Message"}}`, and the status callbacks, as JSON or as
//! multipart form data, whichever the create asked for.

use super::Hooks;
use crate::providers::exotel::resource::format_time;
use crate::sim::callbacks::{CallbackMethod, CallbackRequest};
use crate::sim::config::SimConfig;
use crate::sim::state::{MessageRecord, Phase, SimCall};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// How status callbacks are encoded (`StatusCallbackContentType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ContentType {
    Json,
    Multipart,
}

impl ContentType {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "application/json" => Some(Self::Json),
            "multipart/form-data" => Some(Self::Multipart),
            _ => None,
        }
    }
}

/// What a call costs per started minute, in paise.
const PAISE_PER_MINUTE: i64 = 150;

/// Exotel's name for a phase.
fn status_name(p: Phase) -> &'static str {
    match p {
        Phase::Queued | Phase::Initiated => "queued",
        Phase::Ringing => "ringing",
        Phase::InProgress => "in-progress",
        Phase::Completed => "completed",
        Phase::Busy => "busy",
        Phase::NoAnswer => "no-answer",
        Phase::Failed => "failed",
        Phase::Canceled => "canceled",
    }
}

/// A call's whole duration in seconds (from the start to the end, ringing included).
fn whole_duration(call: &SimCall) -> Option<i64> {
    let (start, end) = (call.start_time?, call.end_time?);
    Some(((end - start).num_milliseconds().max(0) + 999) / 1000)
}

fn price(call: &SimCall) -> Option<String> {
    let talk = call.duration?;
    let cost = ((talk + 59) / 60).max(1) * PAISE_PER_MINUTE;
    Some(format!("{}.{:02}", cost / 100, cost % 100))
}

/// A call as the details and list answers show it.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct CallView(Value);

impl CallView {
    pub fn of(call: &SimCall, account: &str, details: bool) -> Self {
        let mut view = json!({
            "Sid": call.sid,
            "ParentCallSid": null,
            "DateCreated": format_time(call.date_created),
            "DateUpdated": format_time(call.date_updated),
            "AccountSid": account,
            "To": call.from,
            "From": call.to,
            "PhoneNumberSid": call.from,
            "Status": status_name(call.phase),
            "StartTime": call.start_time.map(format_time),
            "EndTime": call.end_time.map(format_time),
            "Duration": whole_duration(call),
            "Price": price(call),
            "Direction": "outbound-api",
            "AnsweredBy": call.answered_at.map(|_| "human"),
            "ForwardedFrom": null,
            "CallerName": null,
            "Uri": format!("/v1/Accounts/{account}/Calls/{}.json", call.sid),
            "RecordingUrl": call.recording_url,
        });
        if details {
            view["Details"] = json!({
                "ConversationDuration": call.duration.unwrap_or(0),
                "Leg1Status": status_name(call.phase),
                "Leg2Status": null,
            });
        }
        Self(view)
    }
}

/// `{"Call": {…}}`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct CallEnvelope {
    #[serde(rename = "Call")]
    call: CallView,
}

impl CallEnvelope {
    pub fn of(call: &SimCall, account: &str, details: bool) -> Self {
        Self {
            call: CallView::of(call, account, details),
        }
    }
}

/// One page of the bulk list: `{"Metadata": {…}, "Calls": […]}`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListPage {
    metadata: Metadata,
    calls: Vec<CallView>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    total: usize,
    page_size: usize,
    first_page_uri: String,
    prev_page_uri: Option<String>,
    next_page_uri: Option<String>,
}

impl ListPage {
    pub fn new(
        calls: Vec<CallView>,
        total: usize,
        page_size: usize,
        first_page_uri: String,
        next_page_uri: Option<String>,
        prev_page_uri: Option<String>,
    ) -> Self {
        Self {
            metadata: Metadata {
                total,
                page_size,
                first_page_uri,
                prev_page_uri,
                next_page_uri,
            },
            calls,
        }
    }
}

/// `{"SMSMessage": {…}}`, the answer to a send-SMS request.
pub(crate) fn sms_envelope(m: &MessageRecord, account: &str) -> Value {
    json!({
        "SMSMessage": {
            "Sid": m.sid,
            "AccountSid": account,
            "From": m.from,
            "To": m.to,
            "DateCreated": format_time(m.received_at),
            "DateUpdated": format_time(m.received_at),
            "DateSent": null,
            "Body": m.body,
            "Direction": "outbound-api",
            "Uri": format!("/v1/Accounts/{account}/SMS/Messages/{}.json", m.sid),
            "ApiVersion": null,
            "Price": null,
            "Status": "queued",
            "DetailedStatusCode": 21010,
            "DetailedStatus": "PENDING_TO_OPERATOR",
            "SmsUnits": m.segments(),
        }
    })
}

/// A refusal in Exotel's error shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400, a request Exotel would not take.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404, for a resource that does not exist.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("The requested resource {path} was not found"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "RestException": {"Status": self.status.as_u16(), "Message": self.message}
        });
        (self.status, Json(body)).into_response()
    }
}

/// A multipart/form-data body of text fields; nested values are sent as JSON text.
fn multipart(fields: &Map<String, Value>) -> (String, Vec<u8>) {
    let boundary = format!("exotel-sim-{}", uuid::Uuid::now_v7().simple());
    let mut body = String::new();
    for (name, value) in fields {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{text}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}

/// The callbacks a change of `call` to `to` sends: the answered event if it was asked
/// for, and always the terminal one.
pub(crate) fn callbacks(
    _config: &SimConfig,
    hooks: &Hooks,
    call: &SimCall,
    to: Phase,
    now: DateTime<Utc>,
) -> Vec<CallbackRequest> {
    let event = match to {
        Phase::InProgress if hooks.answered => "answered",
        p if p.is_final() => "terminal",
        _ => return Vec::new(),
    };
    let Some(url) = &hooks.url else {
        return Vec::new();
    };
    let mut fields = Map::new();
    let mut put = |k: &str, v: Value| {
        fields.insert(k.to_string(), v);
    };
    put("CallSid", json!(call.sid));
    put("DateUpdated", json!(format_time(now)));
    put("Status", json!(status_name(to)));
    put("RecordingUrl", json!(call.recording_url));
    if hooks.events {
        put("EventType", json!(event));
        put("DateCreated", json!(format_time(call.date_created)));
        put("To", json!(call.from));
        put("From", json!(call.to));
        put("PhoneNumberSid", json!(call.from));
        put("StartTime", json!(call.start_time.map(format_time)));
        put("EndTime", json!(call.end_time.map(format_time)));
        put("ConversationDuration", json!(call.duration.unwrap_or(0)));
        put("Direction", json!("outbound-api"));
        if event == "terminal" {
            put("CustomField", json!(call.custom_field));
        }
        put(
            "Legs",
            json!([{"Id": 1, "OnCallDuration": call.duration.unwrap_or(0), "Status": status_name(to)}]),
        );
    }
    let body = match hooks.content_type {
        ContentType::Json => (
            "application/json".to_string(),
            Value::Object(fields).to_string().into_bytes(),
        ),
        ContentType::Multipart => multipart(&fields),
    };
    vec![CallbackRequest {
        url: url.clone(),
        method: CallbackMethod::Post,
        headers: vec![("User-Agent", "Exotel-Callback/1.0".into())],
        body: Some(body),
        status: status_name(to).to_string(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_carry_every_field() {
        let mut fields = Map::new();
        fields.insert("CallSid".into(), json!("c1"));
        fields.insert("ConversationDuration".into(), json!(3));
        let (content_type, body) = multipart(&fields);
        let body = String::from_utf8(body).unwrap();
        let boundary = content_type.split("boundary=").nth(1).unwrap();
        assert!(body.contains("name=\"CallSid\"\r\n\r\nc1\r\n"));
        assert!(body.contains("name=\"ConversationDuration\"\r\n\r\n3\r\n"));
        assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    }
}
