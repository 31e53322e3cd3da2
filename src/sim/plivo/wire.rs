//! The Plivo flavor's answers and callbacks, in Plivo's shapes: the create answer, a
//! live call and a finished call's record, a page of the call list, the error body
//! `{"api_id", "error"}`, and the ring and hangup callbacks, form-encoded and signed
//! with `X-Plivo-Signature-V3` and a fresh nonce (the shared [`sign`], so a receiver
//! checking with `verify` is tested for real).

use super::{Hooks, Target};
use crate::providers::plivo::resource::format_time;
use crate::providers::plivo::signature::sign;
use crate::sim::callbacks::{CallbackMethod, CallbackRequest};
use crate::sim::config::SimConfig;
use crate::sim::state::{Phase, SimCall};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

/// What a minute costs, in hundred-thousandths of a dollar.
const RATE_PER_MINUTE: i64 = 950;

/// A new Plivo id: a hyphenated UUID.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// The seconds Plivo bills: whole started minutes.
fn billed_seconds(duration: i64) -> i64 {
    if duration <= 0 {
        0
    } else {
        (duration + 59) / 60 * 60
    }
}

fn amount(duration: i64) -> String {
    let cost = billed_seconds(duration) / 60 * RATE_PER_MINUTE;
    format!("{}.{:05}", cost / 100_000, cost % 100_000)
}

/// The `CallStatus` of a callback for a phase.
fn callback_status(p: Phase) -> &'static str {
    match p {
        Phase::Queued | Phase::Initiated => "queued",
        Phase::Ringing => "ringing",
        Phase::InProgress => "in-progress",
        Phase::Completed => "completed",
        Phase::Busy => "busy",
        Phase::NoAnswer => "no-answer",
        Phase::Failed => "failed",
        Phase::Canceled => "cancel",
    }
}

/// A finished call's `call_state`.
fn call_state(p: Phase) -> &'static str {
    match p {
        Phase::Completed => "ANSWER",
        Phase::Busy => "BUSY",
        Phase::NoAnswer => "NO_ANSWER",
        Phase::Canceled => "CANCEL",
        _ => "FAILED",
    }
}

/// Why a call ended: the `HangupCause` of callbacks and the `hangup_cause_name` of
/// call records.
fn hangup_cause(call: &SimCall, p: Phase) -> (&'static str, &'static str) {
    match p {
        Phase::Completed => ("NORMAL_CLEARING", "Normal Hangup"),
        Phase::Busy => ("USER_BUSY", "Busy Line"),
        Phase::NoAnswer => ("NO_ANSWER", "No Answer"),
        Phase::Canceled => ("ORIGINATOR_CANCEL", "Cancelled"),
        _ if call.failure_sip == 404 => ("UNALLOCATED_NUMBER", "Invalid Destination Address"),
        _ => ("NETWORK_OUT_OF_ORDER", "Network Error"),
    }
}

/// The answer to a create: `{"api_id", "message": "call fired", "request_uuid"}`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Created {
    api_id: String,
    message: &'static str,
    request_uuid: String,
}

impl Created {
    pub fn of(call: &SimCall) -> Self {
        Self {
            api_id: new_uuid(),
            message: "call fired",
            request_uuid: call.sid.clone(),
        }
    }
}

/// A call as `GET …/Call/{uuid}/` shows it: a live call, or a finished call's record.
#[derive(Clone, Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct CallView(Value);

impl CallView {
    /// The view of a call: live, or finished.
    pub fn of(call: &SimCall, account: &str) -> Self {
        Self(view(call, account))
    }
}

fn view(call: &SimCall, account: &str) -> Value {
    let resource_uri = format!("/v1/Account/{account}/Call/{}/", call.call_uuid);
    if !call.phase.is_final() {
        return json!({
            "api_id": new_uuid(),
            "call_uuid": call.call_uuid,
            "request_uuid": call.sid,
            "call_status": callback_status(call.phase),
            "direction": "outbound",
            "from": call.from,
            "to": call.to,
            "caller_name": null,
            "session_start": call.start_time.map(format_time),
            "resource_uri": resource_uri,
        });
    }
    let duration = call.duration.unwrap_or(0);
    let (_, cause_name) = hangup_cause(call, call.phase);
    json!({
        "api_id": new_uuid(),
        "answer_time": call.answered_at.map(format_time),
        "bill_duration": duration,
        "billed_duration": billed_seconds(duration),
        "call_direction": "outbound",
        "call_duration": duration,
        "call_state": call_state(call.phase),
        "call_uuid": call.call_uuid,
        "end_time": call.end_time.map(format_time),
        "from_number": call.from,
        "hangup_cause_name": cause_name,
        "hangup_source": if call.phase == Phase::Canceled { "Caller" } else { "Callee" },
        "initiation_time": format_time(call.start_time.unwrap_or(call.date_created)),
        "parent_call_uuid": null,
        "resource_uri": resource_uri,
        "to_number": call.to,
        "total_amount": amount(duration),
        "total_rate": amount(60),
    })
}

/// One page of a list (calls, recordings): `{"api_id", "meta": {…}, "objects": […]}`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ListPage<T = CallView> {
    api_id: String,
    meta: Meta,
    objects: Vec<T>,
}

#[derive(Clone, Debug, Serialize)]
struct Meta {
    limit: usize,
    next: Option<String>,
    offset: usize,
    previous: Option<String>,
    total_count: usize,
}

impl<T> ListPage<T> {
    pub fn new(
        objects: Vec<T>,
        limit: usize,
        offset: usize,
        total_count: usize,
        next: Option<String>,
        previous: Option<String>,
    ) -> Self {
        Self {
            api_id: new_uuid(),
            meta: Meta {
                limit,
                next,
                offset,
                previous,
                total_count,
            },
            objects,
        }
    }
}

/// A recording in Plivo's recording list, for a call the simulator recorded.
pub(crate) fn recording_view(call: &SimCall, account: &str) -> Option<Value> {
    let url = call.recording_url.as_ref()?;
    let duration_ms = call.duration.unwrap_or(0) * 1000;
    let recording_id = call.call_uuid.clone();
    Some(json!({
        "add_time": call.end_time.map(format_time),
        "call_uuid": call.call_uuid,
        "conference_name": null,
        "recording_duration_ms": duration_ms.to_string(),
        "recording_end_ms": call.end_time.map(|t| t.timestamp_millis().to_string()),
        "recording_format": "mp3",
        "recording_id": recording_id,
        "recording_start_ms": call.answered_at.map(|t| t.timestamp_millis().to_string()),
        "recording_type": "call",
        "recording_url": url,
        "resource_uri": format!("/v1/Account/{account}/Recording/{recording_id}/"),
        "rounded_recording_duration": billed_seconds(call.duration.unwrap_or(0)),
    }))
}

/// The answer to a send-message request: 202 `{"api_id", "message", "message_uuid"}`.
pub(crate) fn message_queued(message_uuid: &str) -> Value {
    json!({
        "api_id": new_uuid(),
        "message": "message(s) queued",
        "message_uuid": [message_uuid],
    })
}

/// A refusal in Plivo's error shape: `{"api_id", "error"}`.
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

    /// 400, a request Plivo would not take.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404, for a resource that does not exist.
    pub fn not_found(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{path} not found"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "api_id": new_uuid(), "error": self.message });
        (self.status, Json(body)).into_response()
    }
}

/// A signed callback to `target` with `params`: a form POST, or for GET the fields in
/// the query and the signature over that full URL alone.
fn signed(
    config: &SimConfig,
    target: &Target,
    params: &[(String, String)],
    status: &str,
) -> CallbackRequest {
    let nonce: u64 = rand::random();
    let nonce = format!("{:020}", nonce);
    let (url, body) = match target.method {
        CallbackMethod::Post => (target.url.clone(), params.to_vec()),
        CallbackMethod::Get => {
            let mut url = target.url.clone();
            url.query_pairs_mut().extend_pairs(params);
            (url, Vec::new())
        }
    };
    let signature = sign(&config.auth_token, url.as_str(), &body, &nonce);
    let body = (!body.is_empty()).then(|| {
        (
            "application/x-www-form-urlencoded".to_string(),
            serde_urlencoded::to_string(&body)
                .unwrap_or_default()
                .into_bytes(),
        )
    });
    CallbackRequest {
        url,
        method: target.method,
        headers: vec![
            ("X-Plivo-Signature-V3", signature),
            ("X-Plivo-Signature-V3-Nonce", nonce),
            ("User-Agent", "PlivoHTTP/1.0".into()),
        ],
        body,
        status: status.to_string(),
    }
}

/// The callbacks a change of `call` to `to` sends: the ring callback when the phone
/// rings, the hangup callback when the call ends.
pub(crate) fn callbacks(
    config: &SimConfig,
    hooks: &Hooks,
    call: &SimCall,
    to: Phase,
    now: DateTime<Utc>,
) -> Vec<CallbackRequest> {
    let (target, event) = match to {
        Phase::Ringing => (hooks.ring.as_ref(), "Ring"),
        p if p.is_final() => (hooks.hangup.as_ref(), "Hangup"),
        _ => (None, ""),
    };
    let Some(target) = target else {
        return Vec::new();
    };
    let status = callback_status(to);
    let mut params: Vec<(String, String)> = [
        ("CallUUID", call.call_uuid.clone()),
        ("RequestUUID", call.sid.clone()),
        ("ALegRequestUUID", call.sid.clone()),
        ("ALegUUID", call.call_uuid.clone()),
        ("From", call.from.clone()),
        ("To", call.to.clone()),
        ("CallStatus", status.to_string()),
        ("Direction", "outbound".to_string()),
        ("Event", event.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if to.is_final() {
        let duration = call.duration.unwrap_or(0);
        let (cause, cause_name) = hangup_cause(call, to);
        let time = |t: Option<DateTime<Utc>>| t.map(format_time).unwrap_or_default();
        params.extend(
            [
                ("HangupCause", cause.to_string()),
                ("HangupCauseName", cause_name.to_string()),
                ("Duration", duration.to_string()),
                ("BillDuration", billed_seconds(duration).to_string()),
                ("TotalCost", amount(duration)),
                ("StartTime", time(call.start_time)),
                ("AnswerTime", time(call.answered_at)),
                ("EndTime", format_time(now)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
        );
    }
    vec![signed(config, target, &params, status)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bills_started_minutes() {
        assert_eq!(billed_seconds(0), 0);
        assert_eq!(billed_seconds(1), 60);
        assert_eq!(billed_seconds(61), 120);
        assert_eq!(amount(0), "0.00000");
        assert_eq!(amount(30), "0.00950");
        assert_eq!(amount(61), "0.01900");
    }
}
