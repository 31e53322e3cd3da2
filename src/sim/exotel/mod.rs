//! The Exotel flavor: Exotel's Voice API v1 (connect a number to a call flow, call
//! details, bulk call details) and its request validation; [`wire`] holds the JSON
//! shapes, the error body and the status callbacks. Exotel signs nothing: a callback is
//! authenticated by the secret the receiver put in its URL, which the simulator keeps.
//! There is no hang-up endpoint, as Exotel's v1 API has none.

pub(crate) mod wire;

use super::http::{has_credentials, is_endpoint, web_url};
use super::state::{new_id, Hooks as AnyHooks, NewCall, SimState};
use crate::providers::exotel::resource::parse_time;
use crate::providers::fields::{field, form_pairs};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use wire::{ApiError, CallEnvelope, CallView, ContentType, ListPage};

/// Exotel's default ring time, in seconds, when `TimeOut` is not given.
const DEFAULT_RING_SECONDS: u64 = 45;
/// The longest ring the simulator lets a call have, in seconds.
const MAX_RING_SECONDS: u64 = 600;
/// Exotel's default and largest pages of the bulk list.
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 100;
/// The longest `CustomField` Exotel keeps.
const MAX_CUSTOM_FIELD: usize = 128;

type Shared = State<Arc<SimState>>;

/// What an Exotel create asked to hear about.
#[derive(Clone, Debug)]
pub(crate) struct Hooks {
    pub url: Option<Url>,
    /// `StatusCallbackEvents` named `answered`.
    pub answered: bool,
    /// `StatusCallbackEvents` named at all: the callbacks then carry `EventType`.
    pub events: bool,
    pub content_type: ContentType,
}

impl Hooks {
    pub fn final_url(&self) -> Option<String> {
        self.url.as_ref().map(Url::to_string)
    }
}

/// Exotel's routes added to the shared ones, with Exotel's answers to unknown paths and
/// methods.
pub(crate) fn routes(common: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    common
        .route("/v1/Accounts/{account}/Calls.json", get(list_calls))
        .route(
            "/v1/Accounts/{account}/Calls/{file}",
            get(call_details).post(connect),
        )
        .route("/v1/Accounts/{account}/Sms/send.json", post(send_sms))
        .fallback(|uri: Uri| async move { ApiError::not_found(uri.path()) })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
}

/// Checks HTTP Basic credentials (API key and token), then that the path names the
/// same account.
fn authorize(
    state: &SimState,
    headers: &HeaderMap,
    account: &str,
    uri: &Uri,
) -> Result<(), ApiError> {
    if !has_credentials(headers, &state.config.api_key, &state.config.auth_token) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Authentication is required to view this page.",
        ));
    }
    if account != state.config.account_sid {
        return Err(ApiError::not_found(uri.path()));
    }
    Ok(())
}

/// Validates a connect form the way Exotel does, most basic problem first.
pub(crate) fn validate_connect(params: &[(String, String)]) -> Result<NewCall, ApiError> {
    let from = field(params, "From").ok_or_else(|| ApiError::invalid("From is required"))?;
    let caller_id =
        field(params, "CallerId").ok_or_else(|| ApiError::invalid("CallerId is required"))?;
    let flow = field(params, "Url");
    if flow.is_none() && field(params, "To").is_none() {
        return Err(ApiError::invalid("either To or Url is required"));
    }
    if let Some(url) = flow {
        if web_url(url).is_none() {
            return Err(ApiError::invalid(format!("Url is not a valid URL: {url}")));
        }
    }
    if !is_endpoint(from) {
        return Err(ApiError::invalid(format!(
            "From is not a valid number: {from}"
        )));
    }
    if !is_endpoint(caller_id) {
        return Err(ApiError::invalid(format!(
            "CallerId is not a valid number: {caller_id}"
        )));
    }
    let url = field(params, "StatusCallback")
        .map(|raw| {
            web_url(raw).ok_or_else(|| {
                ApiError::invalid(format!("StatusCallback is not a valid URL: {raw}"))
            })
        })
        .transpose()?;
    let mut answered = false;
    let mut events = false;
    for (_, value) in params
        .iter()
        .filter(|(k, _)| k.starts_with("StatusCallbackEvents"))
    {
        events = true;
        match value.trim() {
            "answered" => answered = true,
            "terminal" => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "StatusCallbackEvents must be terminal or answered: {other}"
                )))
            }
        }
    }
    let content_type = match field(params, "StatusCallbackContentType") {
        None => ContentType::Multipart,
        Some(raw) => ContentType::parse(raw).ok_or_else(|| {
            ApiError::invalid(format!(
                "StatusCallbackContentType must be multipart/form-data or application/json: {raw}"
            ))
        })?,
    };
    let custom_field = field(params, "CustomField").map(str::to_string);
    if custom_field
        .as_ref()
        .is_some_and(|c| c.len() > MAX_CUSTOM_FIELD)
    {
        return Err(ApiError::invalid(
            "CustomField is longer than 128 characters",
        ));
    }
    let ring_seconds = match field(params, "TimeOut") {
        None => DEFAULT_RING_SECONDS,
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::invalid(format!("TimeOut must be a positive integer: {raw}")))?
            .min(MAX_RING_SECONDS),
    };
    Ok(NewCall {
        to: from.to_string(),
        from: caller_id.to_string(),
        hooks: AnyHooks::Exotel(Hooks {
            url,
            answered,
            events,
            content_type,
        }),
        ring_timeout: Duration::from_secs(ring_seconds),
        custom_field,
    })
}

fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError::new(e.status(), format!("Unreadable request body: {e}")))
}

/// `POST …/Calls/connect.json`.
async fn connect(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CallEnvelope>, ApiError> {
    let Path((account, file)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    if file != "connect.json" {
        return Err(ApiError::not_found(uri.path()));
    }
    authorize(&state, &headers, &account, &uri)?;
    let new = validate_connect(&form_pairs(&body_or_error(body)?))?;
    let sid = new_id("");
    let created = state.create_call((sid.clone(), sid), new, |c| {
        CallEnvelope::of(c, &account, false)
    });
    Ok(Json(created))
}

/// The longest SMS body the simulator takes, in characters.
const MAX_SMS_CHARS: usize = 1600;

/// A validated send-SMS form: `(to, from, body)`.
pub(crate) fn validate_sms(params: &[(String, String)]) -> Result<(&str, &str, &str), ApiError> {
    let from = field(params, "From").ok_or_else(|| ApiError::invalid("Missing parameter From"))?;
    let to = field(params, "To").ok_or_else(|| ApiError::invalid("Missing parameter To"))?;
    let body = field(params, "Body").ok_or_else(|| ApiError::invalid("Missing parameter Body"))?;
    if !is_endpoint(to) || to.contains(':') {
        return Err(ApiError::invalid(format!("Invalid To number: {to}")));
    }
    if !is_endpoint(from) || from.contains(':') {
        return Err(ApiError::invalid(format!("Invalid From number: {from}")));
    }
    if body.chars().count() > MAX_SMS_CHARS {
        return Err(ApiError::invalid(format!(
            "Body is longer than {MAX_SMS_CHARS} characters"
        )));
    }
    Ok((to, from, body))
}

/// `POST …/Sms/send.json`: logs the message, answers 200 `{"SMSMessage": {…}}`.
async fn send_sms(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Path(account) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let params = form_pairs(&body_or_error(body)?);
    let (to, from, text) = validate_sms(&params)?;
    let sent = state.send_message(new_id(""), to, from, text);
    Ok(Json(wire::sms_envelope(&sent, &account)))
}

/// `GET …/Calls/{CallSid}.json[?details=true]`.
async fn call_details(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<CallEnvelope>, ApiError> {
    let Path((account, file)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let sid = file
        .strip_suffix(".json")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    let pairs = form_pairs(query.unwrap_or_default().as_bytes());
    let details = field(&pairs, "details") == Some("true");
    state
        .call(sid, |c| CallEnvelope::of(c, &account, details))
        .map(Json)
        .ok_or_else(|| ApiError::not_found(uri.path()))
}

/// The bulk list's filters, as Exotel takes them.
#[derive(Debug, Default, PartialEq)]
struct ListQuery {
    after: Option<DateTime<Utc>>,
    before: Option<DateTime<Utc>>,
    page_size: usize,
    page: usize,
    ascending: bool,
}

impl ListQuery {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut q = ListQuery {
            page_size: DEFAULT_PAGE_SIZE,
            ..Default::default()
        };
        if let Some(range) = field(pairs, "DateCreated") {
            for condition in range.split(';').map(str::trim).filter(|c| !c.is_empty()) {
                let bad =
                    || ApiError::invalid(format!("invalid DateCreated condition: {condition}"));
                let (op, raw) = condition.split_once(':').ok_or_else(bad)?;
                let at = parse_time(raw).ok_or_else(bad)?;
                match op {
                    "gte" => q.after = Some(at),
                    "lte" => q.before = Some(at),
                    _ => return Err(bad()),
                }
            }
        }
        if let Some(raw) = field(pairs, "PageSize") {
            q.page_size = raw
                .parse()
                .ok()
                .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                .ok_or_else(|| ApiError::invalid(format!("PageSize must be 1 to 100: {raw}")))?;
        }
        if let Some(raw) = field(pairs, "Page") {
            q.page = raw
                .parse()
                .map_err(|_| ApiError::invalid(format!("invalid Page: {raw}")))?;
        }
        q.ascending = match field(pairs, "SortBy") {
            None | Some("DateCreated:desc") => false,
            Some("DateCreated:asc") => true,
            Some(other) => return Err(ApiError::invalid(format!("invalid SortBy: {other}"))),
        };
        Ok(q)
    }

    fn admits(&self, created: DateTime<Utc>) -> bool {
        self.after.is_none_or(|a| created >= a) && self.before.is_none_or(|b| created <= b)
    }
}

/// `GET …/Calls.json`: the bulk call details.
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
    let mut matching = state.calls(
        |c| list.admits(c.date_created),
        |c| CallView::of(c, &account, false),
    );
    if !list.ascending {
        matching.reverse();
    }
    let total = matching.len();
    let start = list.page.saturating_mul(list.page_size);
    let calls: Vec<CallView> = matching
        .into_iter()
        .skip(start)
        .take(list.page_size)
        .map(|(_, c)| c)
        .collect();
    let filters: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "Page").collect();
    let page_uri = |page: usize| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.extend_pairs(&filters)
            .append_pair("Page", &page.to_string());
        format!("/v1/Accounts/{account}/Calls.json?{}", q.finish())
    };
    let next = (start + list.page_size < total).then(|| page_uri(list.page + 1));
    let previous = (list.page > 0).then(|| page_uri(list.page - 1));
    Ok(Json(ListPage::new(
        calls,
        total,
        list.page_size,
        page_uri(0),
        next,
        previous,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn valid() -> Vec<(String, String)> {
        pairs(&[
            ("From", "+919999900001"),
            ("CallerId", "08030752400"),
            ("Url", "http://my.exotel.com/acme/exoml/start_voice/1"),
            ("StatusCallback", "https://cv.example/hook?token=t&callId=1"),
            ("StatusCallbackEvents[]", "terminal"),
            ("StatusCallbackEvents[]", "answered"),
            ("StatusCallbackContentType", "application/json"),
            ("CustomField", "call-1"),
            ("TimeOut", "30"),
        ])
    }

    #[test]
    fn accepts_a_complete_request() {
        let new = validate_connect(&valid()).unwrap();
        assert_eq!(
            (new.to.as_str(), new.from.as_str()),
            ("+919999900001", "08030752400")
        );
        assert_eq!(new.custom_field.as_deref(), Some("call-1"));
        assert_eq!(new.ring_timeout, Duration::from_secs(30));
        let AnyHooks::Exotel(hooks) = new.hooks else {
            panic!("Exotel hooks expected");
        };
        assert!(hooks.answered && hooks.events);
        assert_eq!(hooks.content_type, ContentType::Json);
    }

    #[test]
    fn refuses_what_exotel_refuses() {
        let with = |name: &str, value: &str| {
            let mut p = valid();
            p.retain(|(k, _)| k != name);
            if !value.is_empty() {
                p.push((name.to_string(), value.to_string()));
            }
            p
        };
        for (name, value) in [
            ("From", ""),
            ("From", "not-a-number"),
            ("CallerId", ""),
            ("Url", "nope"),
            ("StatusCallback", "ftp://x"),
            ("StatusCallbackEvents[]", "ringing"),
            ("StatusCallbackContentType", "text/plain"),
            ("TimeOut", "soon"),
            ("CustomField", &"x".repeat(129)),
        ] {
            let e = validate_connect(&with(name, value)).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{name}={value}");
        }
    }

    #[test]
    fn list_filters_are_checked() {
        let q = ListQuery::parse(&pairs(&[
            (
                "DateCreated",
                "gte:2025-03-01 05:30:00;lte:2025-03-01 06:30:00",
            ),
            ("SortBy", "DateCreated:asc"),
        ]))
        .unwrap();
        assert!(q.ascending && q.after.is_some() && q.before.is_some());
        for (k, v) in [
            ("DateCreated", "after:2025-03-01 00:00:00"),
            ("DateCreated", "gte:yesterday"),
            ("PageSize", "101"),
            ("SortBy", "Sid:asc"),
        ] {
            assert!(ListQuery::parse(&pairs(&[(k, v)])).is_err(), "{k}={v}");
        }
    }
}
