//! The Plivo flavor: Plivo's Call API v1 (create with a JSON body, get, hang up, cancel a
//! queued request, list finished calls) and its request validation; [`wire`] holds the
//! JSON shapes, the error body and the signed ring and hangup callbacks.
//!
//! A create is answered with a `request_uuid`; the live call has a `call_uuid` of its
//! own, which the callbacks reveal (with the request id alongside), as Plivo does.

pub(crate) mod wire;

use super::callbacks::CallbackMethod;
use super::http::{has_credentials, is_endpoint, web_url};
use super::state::{Hooks as AnyHooks, NewCall, Phase, SimState};
use crate::providers::fields::{field, form_pairs};
use crate::providers::plivo::resource::parse_time;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use wire::{ApiError, CallView, Created, ListPage};

/// Plivo's default ring time, in seconds.
const DEFAULT_RING_SECONDS: u64 = 120;
/// The longest ring the simulator lets a call have, in seconds.
const MAX_RING_SECONDS: u64 = 600;
/// Plivo's largest (and default) page of the call list.
const MAX_PAGE_SIZE: usize = 20;

type Shared = State<Arc<SimState>>;

/// Where one kind of callback goes.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub url: Url,
    pub method: CallbackMethod,
}

/// What a Plivo create asked to hear about.
#[derive(Clone, Debug)]
pub(crate) struct Hooks {
    pub ring: Option<Target>,
    pub hangup: Option<Target>,
}

impl Hooks {
    pub fn final_url(&self) -> Option<String> {
        self.hangup.as_ref().map(|t| t.url.to_string())
    }
}

/// Plivo's routes added to the shared ones, with Plivo's answers to unknown paths and
/// methods.
pub(crate) fn routes(common: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    common
        .route(
            "/v1/Account/{account}/Call/",
            get(list_calls).post(create_call),
        )
        .route(
            "/v1/Account/{account}/Call/{uuid}/",
            get(get_call).delete(hang_up),
        )
        .route(
            "/v1/Account/{account}/Request/{uuid}/",
            delete(cancel_request),
        )
        .route("/v1/Account/{account}/Message/", post(send_message))
        .route("/v1/Account/{account}/Recording/", get(list_recordings))
        .fallback(|uri: Uri| async move { ApiError::not_found(uri.path()) })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
}

/// Checks HTTP Basic credentials, then that the path names the same account.
fn authorize(
    state: &SimState,
    headers: &HeaderMap,
    account: &str,
    uri: &Uri,
) -> Result<(), ApiError> {
    if !has_credentials(headers, &state.config.account_sid, &state.config.auth_token) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided or are invalid",
        ));
    }
    if account != state.config.account_sid {
        return Err(ApiError::not_found(uri.path()));
    }
    Ok(())
}

/// A string field of the create body, trimmed, if present and not blank.
fn text<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A callback target: its URL (if given, it must be a web URL) and method (GET or POST).
fn target(body: &Value, url_field: &str, method_field: &str) -> Result<Option<Target>, ApiError> {
    let Some(raw) = text(body, url_field) else {
        return Ok(None);
    };
    let url = web_url(raw)
        .ok_or_else(|| ApiError::invalid(format!("{url_field} is not a valid URL: {raw}")))?;
    let method = match text(body, method_field) {
        None => CallbackMethod::Post,
        Some(m) => CallbackMethod::parse(m)
            .ok_or_else(|| ApiError::invalid(format!("{method_field} must be GET or POST")))?,
    };
    Ok(Some(Target { url, method }))
}

/// Validates a create-call body the way Plivo does, most basic problem first.
pub(crate) fn validate_create(body: &[u8]) -> Result<NewCall, ApiError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    if !body.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    let from = text(&body, "from").ok_or_else(|| ApiError::invalid("from is required"))?;
    let to = text(&body, "to").ok_or_else(|| ApiError::invalid("to is required"))?;
    let answer_url =
        text(&body, "answer_url").ok_or_else(|| ApiError::invalid("answer_url is required"))?;
    if web_url(answer_url).is_none() {
        return Err(ApiError::invalid(format!(
            "invalid answer_url: {answer_url}"
        )));
    }
    if text(&body, "answer_method").is_some_and(|m| CallbackMethod::parse(m).is_none()) {
        return Err(ApiError::invalid("answer_method must be GET or POST"));
    }
    if !is_endpoint(from) {
        return Err(ApiError::invalid(format!("invalid from number: {from}")));
    }
    if !is_endpoint(to) {
        return Err(ApiError::invalid(format!("invalid to number: {to}")));
    }
    let ring_seconds = match body.get("ring_timeout") {
        None | Some(Value::Null) => DEFAULT_RING_SECONDS,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::invalid("ring_timeout must be a positive integer"))?
            .min(MAX_RING_SECONDS),
    };
    Ok(NewCall {
        to: to.to_string(),
        from: from.to_string(),
        hooks: AnyHooks::Plivo(Hooks {
            ring: target(&body, "ring_url", "ring_method")?,
            hangup: target(&body, "hangup_url", "hangup_method")?,
        }),
        ring_timeout: Duration::from_secs(ring_seconds),
        custom_field: None,
    })
}

fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError::new(e.status(), format!("unreadable request body: {e}")))
}

async fn create_call(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let Path(account) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let new = validate_create(&body_or_error(body)?)?;
    let ids = (wire::new_uuid(), wire::new_uuid());
    let created = state.create_call(ids, new, Created::of);
    Ok((StatusCode::CREATED, Json(created)))
}

async fn get_call(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<CallView>, ApiError> {
    let Path((account, uuid)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    // A call is found by its call id, as Plivo's call API knows it.
    state
        .call(&uuid, |c| {
            (c.call_uuid == uuid).then(|| CallView::of(c, &account))
        })
        .flatten()
        .map(Json)
        .ok_or_else(|| ApiError::not_found(uri.path()))
}

/// `DELETE …/Call/{uuid}/`: ends the call, answered or not. 204.
async fn hang_up(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let Path((account, uuid)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let is_call = state.call(&uuid, |c| c.call_uuid == uuid && !c.phase.is_final());
    if is_call != Some(true) {
        return Err(ApiError::not_found(uri.path()));
    }
    state.hang_up(&uuid, Phase::Completed, |_| ());
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/Request/{request_uuid}/`: cancels a call still waiting to be dialed. 204.
async fn cancel_request(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let Path((account, uuid)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let queued = state.call(&uuid, |c| c.sid == uuid && c.phase == Phase::Queued);
    if queued != Some(true) {
        return Err(ApiError::not_found(uri.path()));
    }
    state.hang_up(&uuid, Phase::Canceled, |_| ());
    Ok(StatusCode::NO_CONTENT)
}

/// The longest message text the simulator takes, in characters.
const MAX_TEXT_CHARS: usize = 1600;

/// A validated send-message body: `(dst, src, text)`.
pub(crate) fn validate_message(body: &[u8]) -> Result<(String, String, String), ApiError> {
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let src = text(&body, "src").ok_or_else(|| ApiError::invalid("src is required"))?;
    let dst = text(&body, "dst").ok_or_else(|| ApiError::invalid("dst is required"))?;
    let message = text(&body, "text").ok_or_else(|| ApiError::invalid("text is required"))?;
    let number = |n: &str| is_endpoint(n) && !n.contains(':');
    if !number(src) {
        return Err(ApiError::invalid(format!("invalid src: {src}")));
    }
    if !number(dst) {
        return Err(ApiError::invalid(format!("invalid dst: {dst}")));
    }
    if message.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::invalid(format!(
            "text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok((dst.to_string(), src.to_string(), message.to_string()))
}

/// `POST …/Message/`: logs the message, answers 202 with its uuid.
async fn send_message(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Path(account) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let (dst, src, message) = validate_message(&body_or_error(body)?)?;
    let sent = state.send_message(wire::new_uuid(), &dst, &src, &message);
    Ok((StatusCode::ACCEPTED, Json(wire::message_queued(&sent.sid))))
}

/// `GET …/Recording/[?call_uuid=…]`: the recordings of answered calls (of the one call
/// named, if any), newest first, in one page.
async fn list_recordings(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<ListPage<Value>>, ApiError> {
    let Path(account) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let pairs = form_pairs(query.unwrap_or_default().as_bytes());
    let call_uuid = field(&pairs, "call_uuid");
    let mut found: Vec<Value> = state
        .calls(
            |c| call_uuid.is_none_or(|id| c.is_named(id)),
            |c| wire::recording_view(c, &account),
        )
        .into_iter()
        .filter_map(|(_, view)| view)
        .collect();
    found.reverse();
    let total = found.len();
    found.truncate(MAX_PAGE_SIZE);
    Ok(Json(ListPage::new(
        found,
        MAX_PAGE_SIZE,
        0,
        total,
        None,
        None,
    )))
}

/// The list's filters, as Plivo takes them.
#[derive(Debug, Default, PartialEq)]
struct ListQuery {
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    limit: usize,
    offset: usize,
}

impl ListQuery {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let time = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
            field(pairs, name)
                .map(|raw| {
                    parse_time(raw)
                        .ok_or_else(|| ApiError::invalid(format!("invalid {name}: {raw}")))
                })
                .transpose()
        };
        let number = |name: &str, default: usize, max: usize| -> Result<usize, ApiError> {
            match field(pairs, name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| ApiError::invalid(format!("invalid {name}: {raw}"))),
            }
        };
        let limit = number("limit", MAX_PAGE_SIZE, MAX_PAGE_SIZE)?;
        if limit == 0 {
            return Err(ApiError::invalid("limit must be 1 to 20"));
        }
        Ok(Self {
            after: time("end_time__gte")?,
            before: time("end_time__lte")?,
            limit,
            offset: number("offset", 0, usize::MAX)?,
        })
    }

    /// Finished calls that ended within the range.
    fn admits(&self, ended: Option<DateTime<Utc>>) -> bool {
        ended.is_some_and(|t| {
            self.after.is_none_or(|a| t >= a) && self.before.is_none_or(|b| t <= b)
        })
    }
}

async fn list_calls(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<ListPage>, ApiError> {
    let Path(account) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let pairs = form_pairs(query.unwrap_or_default().as_bytes());
    let list = ListQuery::parse(&pairs)?;
    let mut matching = state.calls(|c| list.admits(c.end_time), |c| CallView::of(c, &account));
    // Most recent first.
    matching.reverse();
    let total = matching.len();
    let page: Vec<CallView> = matching
        .into_iter()
        .skip(list.offset)
        .take(list.limit)
        .map(|(_, c)| c)
        .collect();
    let filters: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, _)| k != "limit" && k != "offset")
        .collect();
    let page_uri = |offset: usize| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(&filters)
            .append_pair("limit", &list.limit.to_string())
            .append_pair("offset", &offset.to_string());
        format!("/v1/Account/{account}/Call/?{}", q.finish())
    };
    let next = (list.offset + list.limit < total).then(|| page_uri(list.offset + list.limit));
    let previous = (list.offset > 0).then(|| page_uri(list.offset.saturating_sub(list.limit)));
    Ok(Json(ListPage::new(
        page,
        list.limit,
        list.offset,
        total,
        next,
        previous,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "from": "14155550000",
            "to": "14155550101",
            "answer_url": "https://bot.example/answer",
            "answer_method": "POST",
            "ring_url": "https://cv.example/hook?callId=1",
            "hangup_url": "https://cv.example/hook?callId=1",
            "hangup_method": "GET",
            "ring_timeout": 900
        })
    }

    fn refusal(body: &Value) -> String {
        validate_create(body.to_string().as_bytes())
            .unwrap_err()
            .message
    }

    #[test]
    fn accepts_a_complete_request() {
        let new = validate_create(valid().to_string().as_bytes()).unwrap();
        assert_eq!(new.to, "14155550101");
        assert_eq!(new.ring_timeout, Duration::from_secs(600));
        let AnyHooks::Plivo(hooks) = new.hooks else {
            panic!("Plivo hooks expected");
        };
        assert_eq!(hooks.ring.unwrap().method, CallbackMethod::Post);
        assert_eq!(hooks.hangup.unwrap().method, CallbackMethod::Get);
    }

    #[test]
    fn refuses_what_plivo_refuses() {
        let with = |k: &str, v: Value| {
            let mut b = valid();
            b[k] = v;
            b
        };
        let without = |k: &str| {
            let mut b = valid();
            b.as_object_mut().unwrap().remove(k);
            b
        };
        assert!(refusal(&without("to")).contains("to is required"));
        assert!(refusal(&without("from")).contains("from is required"));
        assert!(refusal(&without("answer_url")).contains("answer_url"));
        assert!(refusal(&with("answer_url", json!("nope"))).contains("answer_url"));
        assert!(refusal(&with("to", json!("555-CALL"))).contains("to number"));
        assert!(refusal(&with("ring_url", json!("ftp://x/y"))).contains("ring_url"));
        assert!(refusal(&with("ring_timeout", json!("soon"))).contains("ring_timeout"));
        assert!(refusal(&with("hangup_method", json!("PUT"))).contains("hangup_method"));
        assert!(validate_create(b"to=1").is_err());
        assert!(validate_create(b"[]").is_err());
    }

    #[test]
    fn list_filters_are_checked() {
        let pairs = |items: &[(&str, &str)]| {
            items
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let q = ListQuery::parse(&pairs(&[
            ("end_time__gte", "2025-03-01 00:00:00"),
            ("limit", "5"),
        ]))
        .unwrap();
        assert_eq!((q.limit, q.offset), (5, 0));
        assert!(q.admits(parse_time("2025-03-01 00:00:01")));
        assert!(!q.admits(parse_time("2025-02-28 23:59:59")));
        assert!(!q.admits(None));
        for (k, v) in [
            ("limit", "21"),
            ("limit", "0"),
            ("offset", "-1"),
            ("end_time__lte", "x"),
        ] {
            assert!(ListQuery::parse(&pairs(&[(k, v)])).is_err(), "{k}={v}");
        }
    }
}
