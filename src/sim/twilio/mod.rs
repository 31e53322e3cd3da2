//! The Twilio flavor: Twilio's Calls endpoints, its request validation, and (in
//! [`wire`]) its JSON shapes and signed status callbacks.
//!
//! Every refusal is Twilio-shaped (see [`ApiError`]), including malformed paths, bodies
//! and methods, so a client sees from the simulator exactly the kinds of answers Twilio
//! would give it. The answer URL (`Url`) is checked but never fetched: the simulator has
//! no call flow to run.

pub(crate) mod listing;
pub(crate) mod wire;

use super::callbacks::CallbackMethod;
use super::http::{has_credentials, is_endpoint, web_url};
use super::state::{new_id, Hooks as AnyHooks, NewCall, Phase, SimState};
use crate::providers::fields::{field, form_pairs};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use listing::ListQuery;
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use wire::{ApiError, CallJson, CallPageJson, MessageJson, RecordingPageJson};

/// Twilio's default ring time, in seconds, when `Timeout` is not given.
const DEFAULT_RING_SECONDS: u64 = 60;
/// Twilio's longest ring time, in seconds; longer values are cut to it.
const MAX_RING_SECONDS: u64 = 600;

type Shared = State<Arc<SimState>>;

/// Where a call's callbacks go.
#[derive(Clone, Debug)]
pub(crate) struct CallbackTarget {
    pub url: Url,
    pub method: CallbackMethod,
}

/// Which intermediate events the caller asked to hear about (`StatusCallbackEvent`);
/// the final event is always sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Subscriptions {
    pub initiated: bool,
    pub ringing: bool,
    pub answered: bool,
}

impl Subscriptions {
    /// Reads `StatusCallbackEvent` values; each may also hold several names separated by
    /// spaces or commas. Unknown names are ignored.
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut subs = Self::default();
        for name in values
            .into_iter()
            .flat_map(|v| v.split([' ', ',']))
            .map(str::trim)
        {
            match name {
                "initiated" => subs.initiated = true,
                "ringing" => subs.ringing = true,
                "answered" => subs.answered = true,
                _ => {}
            }
        }
        subs
    }

    pub fn wants(self, p: Phase) -> bool {
        match p {
            Phase::Initiated => self.initiated,
            Phase::Ringing => self.ringing,
            Phase::InProgress => self.answered,
            Phase::Queued => false,
            _ => true,
        }
    }
}

/// What a Twilio create asked to hear about.
#[derive(Clone, Debug)]
pub(crate) struct Hooks {
    pub callback: Option<CallbackTarget>,
    pub subscriptions: Subscriptions,
}

impl Hooks {
    pub fn final_url(&self) -> Option<String> {
        self.callback.as_ref().map(|c| c.url.to_string())
    }
}

/// Twilio's routes added to the shared ones, with Twilio's answers to unknown paths and
/// methods.
pub(crate) fn routes(common: Router<Arc<SimState>>) -> Router<Arc<SimState>> {
    common
        .route(
            "/2010-04-01/Accounts/{account}/Calls.json",
            post(create_call).get(list_calls),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{file}",
            get(fetch_call).post(update_call),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Calls/{sid}/Recordings.json",
            get(list_recordings),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Recordings/{file}",
            get(recording_media),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(send_message),
        )
        .fallback(|uri: Uri| async move { ApiError::not_found(uri.path()) })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, 20004, "Method not allowed")
        })
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
    if !has_credentials(headers, &state.config.account_sid, &state.config.auth_token) {
        return Err(ApiError::unauthenticated());
    }
    if account != state.config.account_sid {
        return Err(ApiError::not_found(uri.path()));
    }
    Ok(())
}

/// Validates a create-call form the way Twilio does, most basic problem first.
pub(crate) fn validate_create(params: &[(String, String)]) -> Result<NewCall, ApiError> {
    let bad = |code, message: String| ApiError::new(StatusCode::BAD_REQUEST, code, message);
    let to = field(params, "To").ok_or_else(|| bad(21201, "No 'To' number is specified".into()))?;
    let from =
        field(params, "From").ok_or_else(|| bad(21213, "No 'From' number is specified".into()))?;
    let url = field(params, "Url");
    if url.is_none()
        && field(params, "Twiml").is_none()
        && field(params, "ApplicationSid").is_none()
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
    let method = match field(params, "StatusCallbackMethod") {
        None => CallbackMethod::Post,
        Some(m) => CallbackMethod::parse(m).ok_or_else(|| {
            ApiError::invalid(format!("StatusCallbackMethod must be GET or POST: {m}"))
        })?,
    };
    let callback = match field(params, "StatusCallback") {
        None => None,
        Some(raw) => Some(CallbackTarget {
            url: web_url(raw).ok_or_else(|| {
                ApiError::invalid(format!("StatusCallback is not a valid URL: {raw}"))
            })?,
            method,
        }),
    };
    let ring_seconds = match field(params, "Timeout") {
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
        hooks: AnyHooks::Twilio(Hooks {
            callback,
            subscriptions: Subscriptions::from_values(events),
        }),
        ring_timeout: Duration::from_secs(ring_seconds),
        custom_field: None,
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
    let new = validate_create(&form_pairs(&body_or_error(body)?))?;
    let sid = new_id("CA");
    let account = state.config.account_sid.clone();
    let created = state.create_call((sid.clone(), sid), new, |c| CallJson::of(c, &account));
    Ok((StatusCode::CREATED, Json(created)))
}

/// The longest message body Twilio takes, in characters.
const MAX_BODY_CHARS: usize = 1600;

/// A validated Messages form: `(to, from, body)`.
pub(crate) fn validate_message(
    params: &[(String, String)],
) -> Result<(&str, &str, &str), ApiError> {
    let bad = |code, message: String| ApiError::new(StatusCode::BAD_REQUEST, code, message);
    let to =
        field(params, "To").ok_or_else(|| bad(21604, "A 'To' phone number is required.".into()))?;
    let from = field(params, "From")
        .ok_or_else(|| bad(21603, "A 'From' phone number is required.".into()))?;
    let body =
        field(params, "Body").ok_or_else(|| bad(21602, "Message body is required.".into()))?;
    if !is_endpoint(to) || to.contains(':') {
        return Err(bad(21211, format!("Invalid 'To' Phone Number: {to}")));
    }
    if !is_endpoint(from) || from.contains(':') {
        return Err(bad(21212, format!("Invalid 'From' Phone Number: {from}")));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(bad(
            21617,
            "The concatenated message body exceeds the 1600 character limit.".into(),
        ));
    }
    Ok((to, from, body))
}

/// `POST …/Messages.json`: logs the message, answers 201 with the Message resource.
async fn send_message(
    State(state): Shared,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<MessageJson>), ApiError> {
    let Path(account) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    let params = form_pairs(&body_or_error(body)?);
    let (to, from, text) = validate_message(&params)?;
    let sent = state.send_message(new_id("SM"), to, from, text);
    Ok((
        StatusCode::CREATED,
        Json(MessageJson::of(&sent, &state.config.account_sid)),
    ))
}

/// `GET …/Calls/{CallSid}/Recordings.json`: the call's one recording if it was
/// answered, none otherwise; 404 for a call that does not exist.
async fn list_recordings(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<RecordingPageJson>, ApiError> {
    let Path((account, sid)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    authorize(&state, &headers, &account, &uri)?;
    state
        .call(&sid, |c| {
            RecordingPageJson::of(c, &state.config.account_sid)
        })
        .map(Json)
        .ok_or_else(|| ApiError::not_found(uri.path()))
}

/// `GET …/Recordings/{RE…}.mp3`: the audio of a recording (Twilio serves recording
/// media without credentials unless told otherwise).
async fn recording_media(
    State(state): Shared,
    path: Result<Path<(String, String)>, PathRejection>,
    uri: Uri,
) -> Result<axum::response::Response, ApiError> {
    let Path((_account, file)) = path.map_err(|_| ApiError::not_found(uri.path()))?;
    let call_sid = file
        .strip_suffix(".mp3")
        .and_then(wire::call_of_recording)
        .ok_or_else(|| ApiError::not_found(uri.path()))?;
    Ok(super::routes::audio(&state, Some(&call_sid)))
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
        .call(sid, |c| CallJson::of(c, &state.config.account_sid))
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
    let params = form_pairs(&body_or_error(body)?);
    let requested = match field(&params, "Status") {
        None => None,
        Some("canceled") => Some(Phase::Canceled),
        Some("completed") => Some(Phase::Completed),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Status must be canceled or completed: {other}"
            )))
        }
    };
    let account = &state.config.account_sid;
    let view = |c: &_| CallJson::of(c, account);
    let call = match requested {
        Some(status) => state.hang_up(sid, status, view),
        // A redirect (Url / Twiml) has no call flow to change here: the call stays as is.
        None => state.call(sid, view),
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
    let pairs = form_pairs(query.unwrap_or_default().as_bytes());
    let list = ListQuery::parse(&pairs)?;
    let mut matching = state.calls(
        |call| list.admits(call),
        |c| CallJson::of(c, &state.config.account_sid),
    );
    matching.reverse();
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
    fn subscriptions_read_repeated_and_joined_values() {
        let s = Subscriptions::from_values(["initiated", "ringing answered", "completed"]);
        assert_eq!(
            s,
            Subscriptions {
                initiated: true,
                ringing: true,
                answered: true
            }
        );
        let only_final = Subscriptions::from_values(["completed", "bogus"]);
        assert!(!only_final.wants(Phase::Ringing));
        assert!(only_final.wants(Phase::Busy));
        assert!(only_final.wants(Phase::Completed));
        assert!(!only_final.wants(Phase::Queued));
    }

    #[test]
    fn accepts_a_complete_request() {
        let new = validate_create(&valid()).unwrap();
        assert_eq!(new.to, "+14155550101");
        assert_eq!(new.ring_timeout, Duration::from_secs(600));
        let AnyHooks::Twilio(hooks) = new.hooks else {
            panic!("Twilio hooks expected");
        };
        let cb = hooks.callback.unwrap();
        assert_eq!(cb.url.as_str(), "https://cv.example/hook?call_id=1");
        assert_eq!(cb.method, CallbackMethod::Post);
        assert_eq!(
            hooks.subscriptions,
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
}
