//! The simulator's HTTP surface: Twilio's Calls endpoints, plus `/health` and the
//! `/sim/dials` log for tests that run the simulator as a separate process.
//!
//! Every refusal is Twilio-shaped (see [`ApiError`]), including malformed paths, bodies
//! and methods, so a client sees from the simulator exactly the kinds of answers Twilio
//! would give it. The answer URL (`Url`) is checked but never fetched: the simulator has
//! no call flow to run.

use super::callbacks::{CallbackMethod, CallbackTarget};
use super::listing::ListQuery;
use super::state::{DialRecord, NewCall, Phase, SimState, Subscriptions};
use super::wire::{ApiError, CallJson, CallPageJson};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Twilio's default ring time, in seconds, when `Timeout` is not given.
const DEFAULT_RING_SECONDS: u64 = 60;
/// Twilio's longest ring time, in seconds; longer values are cut to it.
const MAX_RING_SECONDS: u64 = 600;

type Shared = State<Arc<SimState>>;

/// The simulator's routes over its shared state.
pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/sim/dials", get(dials))
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            post(create_call).get(list_calls),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{file}",
            get(fetch_call).post(update_call),
        )
        .fallback(|uri: Uri| async move { ApiError::not_found(uri.path()) })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed")
        })
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn dials(State(state): Shared) -> Json<Vec<DialRecord>> {
    Json(state.dials())
}

/// The form fields of a request body, in order, repeated names kept.
fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first non-blank value of `name`.
fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

fn body_or_error(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError::new(e.status(), 20001, format!("Unreadable request body: {e}")))
}

/// Checks HTTP Basic credentials, then that the path names the same account.
fn authorize(
    state: &SimState,
    headers: &HeaderMap,
    account: &str,
    uri: &Uri,
) -> Result<(), ApiError> {
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| BASE64.decode(encoded.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let valid = credentials
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .is_some_and(|(user, password)| {
            user == state.config.account_sid && password == state.config.auth_token
        });
    if !valid {
        return Err(ApiError::unauthenticated());
    }
    if account != state.config.account_sid {
        return Err(ApiError::not_found(uri.path()));
    }
    Ok(())
}

/// A phone number (digits with an optional `+`, as Twilio reads E.164), or a SIP or
/// client endpoint.
fn is_endpoint(raw: &str) -> bool {
    if raw.starts_with("sip:") || raw.starts_with("client:") {
        return raw.len() > raw.find(':').map_or(0, |i| i + 1);
    }
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn web_url(raw: &str) -> Option<Url> {
    Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

/// Validates a create-call form the way Twilio does, most basic problem first.
pub(crate) fn validate_create(params: &[(String, String)]) -> Result<NewCall, ApiError> {
    let bad = |code, message: String| ApiError::new(StatusCode::BAD_REQUEST, code, message);
    let to = first(params, "To").ok_or_else(|| bad(21201, "No 'To' number is specified".into()))?;
    let from =
        first(params, "From").ok_or_else(|| bad(21213, "No 'From' number is specified".into()))?;
    let url = first(params, "Url");
    if url.is_none()
        && first(params, "Twiml").is_none()
        && first(params, "ApplicationSid").is_none()
    {
        return Err(bad(21205, "Url parameter is required.".into()));
    }
    if let Some(url) = url {
        if web_url(url).is_none() {
            return Err(bad(21205, format!("Url is not a valid URL: {url}")));
        }
    }
    if !is_endpoint(to) {
        return Err(bad(21211, format!("Invalid 'To' Phone Number: {to}")));
    }
    if !is_endpoint(from) {
        return Err(bad(21212, format!("Invalid 'From' Phone Number: {from}")));
    }
    let method = match first(params, "StatusCallbackMethod").map(str::to_ascii_uppercase) {
        None => CallbackMethod::Post,
        Some(m) if m == "POST" => CallbackMethod::Post,
        Some(m) if m == "GET" => CallbackMethod::Get,
        Some(m) => {
            return Err(ApiError::invalid(format!(
                "StatusCallbackMethod must be GET or POST: {m}"
            )))
        }
    };
    let callback = match first(params, "StatusCallback") {
        None => None,
        Some(raw) => Some(CallbackTarget {
            url: web_url(raw).ok_or_else(|| {
                ApiError::invalid(format!("StatusCallback is not a valid URL: {raw}"))
            })?,
            method,
        }),
    };
    let ring_seconds = match first(params, "Timeout") {
        None => DEFAULT_RING_SECONDS,
        Some(raw) => raw
            .parse::<u64>()
            .map_err(|_| ApiError::invalid(format!("Timeout must be an integer: {raw}")))?
            .min(MAX_RING_SECONDS),
    };
    let events = params
        .iter()
        .filter(|(k, _)| k == "StatusCallbackEvent")
        .map(|(_, v)| v.as_str());
    Ok(NewCall {
        to: to.to_string(),
        from: from.to_string(),
        callback,
        subscriptions: Subscriptions::from_values(events),
        ring_timeout: Duration::from_secs(ring_seconds),
    })
}

async fn create_call(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<CallJson>), ApiError> {
    let Path(account) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let new = validate_create(&form(&body_or_error(body)?))?;
    Ok((StatusCode::CREATED, Json(state.create_call(new))))
}

/// The call sid in `{sid}.json`.
fn sid_of<'a>(file: &'a str, uri: &Uri) -> Result<&'a str, ApiError> {
    file.strip_suffix(".json")
        .filter(|sid| !sid.is_empty())
        .ok_or_else(|| ApiError::not_found(uri.path()))
}

async fn fetch_call(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<CallJson>, ApiError> {
    let Path((account, file)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let sid = sid_of(&file, &uri)?;
    state
        .call_json(sid)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(uri.path()))
}

async fn update_call(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CallJson>, ApiError> {
    let Path((account, file)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let sid = sid_of(&file, &uri)?;
    let params = form(&body_or_error(body)?);
    let requested = match first(&params, "Status") {
        None => None,
        Some("canceled") => Some(Phase::Canceled),
        Some("completed") => Some(Phase::Completed),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Status must be canceled or completed: {other}"
            )))
        }
    };
    let call = match requested {
        Some(status) => state.hang_up(sid, status),
        // A redirect (Url / Twiml) has no call flow to change here: the call stays as is.
        None => state.call_json(sid),
    };
    call.map(Json)
        .ok_or_else(|| ApiError::not_found(uri.path()))
}

async fn list_calls(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<CallPageJson>, ApiError> {
    let Path(account) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let pairs: Vec<(String, String)> = form(query.unwrap_or_default().as_bytes());
    let list = ListQuery::parse(&pairs)?;
    let matching = state.calls_newest_first(|call| list.admits(call));
    Ok(Json(list.page_of(&state.config.account_sid, matching)))
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
            ("To", "+14155550101"),
            ("From", "+14155550000"),
            ("Url", "https://bot.example/answer"),
            ("StatusCallback", "https://cv.example/hook?call_id=1"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("Timeout", "900"),
        ])
    }

    fn refusal(params: &[(String, String)]) -> (u16, u32) {
        let e = validate_create(params).unwrap_err();
        (e.status.as_u16(), e.code)
    }

    #[test]
    fn accepts_a_complete_request() {
        let new = validate_create(&valid()).unwrap();
        assert_eq!(new.to, "+14155550101");
        assert_eq!(new.ring_timeout, Duration::from_secs(600));
        let cb = new.callback.unwrap();
        assert_eq!(cb.url.as_str(), "https://cv.example/hook?call_id=1");
        assert_eq!(cb.method, CallbackMethod::Post);
        assert_eq!(
            new.subscriptions,
            Subscriptions {
                initiated: false,
                ringing: true,
                answered: true
            }
        );
    }

    #[test]
    fn refuses_what_twilio_refuses() {
        let without = |name: &str| {
            let mut p = valid();
            p.retain(|(k, _)| k != name);
            p
        };
        let with = |name: &str, value: &str| {
            let mut p = without(name);
            p.push((name.to_string(), value.to_string()));
            p
        };
        assert_eq!(refusal(&without("To")), (400, 21201));
        assert_eq!(refusal(&without("From")), (400, 21213));
        assert_eq!(refusal(&without("Url")), (400, 21205));
        assert_eq!(refusal(&with("Url", "not a url")), (400, 21205));
        assert_eq!(refusal(&with("To", "555-CALL-NOW")), (400, 21211));
        assert_eq!(refusal(&with("From", "+")), (400, 21212));
        assert_eq!(refusal(&with("Timeout", "soon")), (400, 20001));
        assert_eq!(refusal(&with("StatusCallback", "ftp://x/y")), (400, 20001));
        assert_eq!(refusal(&with("StatusCallbackMethod", "PUT")), (400, 20001));
        let twiml = with("Twiml", "<Response/>");
        assert!(validate_create(
            &twiml
                .into_iter()
                .filter(|(k, _)| k != "Url")
                .collect::<Vec<_>>()
        )
        .is_ok());
    }

    #[test]
    fn endpoints_are_numbers_or_sip_or_client() {
        for ok in [
            "+14155550101",
            "14155550101",
            "sip:bob@example.com",
            "client:alice",
        ] {
            assert!(is_endpoint(ok), "{ok}");
        }
        for bad in ["+1", "+1415555010112345", "+1 415 555", "sip:", "bob"] {
            assert!(!is_endpoint(bad), "{bad}");
        }
    }
}
