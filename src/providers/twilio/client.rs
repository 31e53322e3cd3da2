//! The Twilio voice API client: the [`Provider`] port over Twilio's REST API 2010-04-01.
//!
//! Requests follow Twilio's OpenAPI description of the Calls, Messages and Recordings
//! endpoints: form-encoded
//! bodies, HTTP Basic with the account sid and auth token, JSON answers. The same client
//! dials the embedded simulator (see `crate::sim`) by pointing `api_base` at it.

use super::errors::read_error;
use super::resource::{CallPage, CallResource, MessageResource, RecordingPage};
use super::status::map_status;
use crate::providers::rest::{whole_seconds, PageGuard, RestClient, SetupError};
use async_trait::async_trait;
use callvisor_actors::ports::{
    CallListQuery, DialAccepted, DialRequest, HangUp, Provider, ProviderCallRecord, ProviderError,
    SmsAccepted, SmsRequest,
};
use chrono::Days;
use reqwest::Method;
use std::fmt;
use std::time::Duration;
use url::Url;

/// The most calls Twilio returns in one page of the Calls list.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// The longest ring Twilio allows, in seconds.
pub const MAX_RING_SECONDS: u64 = 600;

/// The call-progress events we subscribe to: all of them, so every step of a call is
/// heard about (the final one Twilio sends regardless).
const STATUS_CALLBACK_EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];

/// Where and how to reach Twilio.
#[derive(Clone)]
pub struct TwilioConfig {
    /// The account the calls are placed on (`AC…`); also the Basic auth user.
    pub account_sid: String,
    /// The account's auth token: the Basic auth password, and the key Twilio signs its
    /// webhooks with.
    pub auth_token: String,
    /// Scheme and host of the API, e.g. `https://api.twilio.com`; the simulator's base
    /// URL in development and tests.
    pub api_base: String,
    /// Longest wait for one request, connection included. A create that times out is
    /// reported as [`ProviderError::Ambiguous`]: it may have dialed.
    pub request_timeout: Duration,
}

/// Why a [`TwilioProvider`] could not be set up.
pub type TwilioSetupError = SetupError;

/// Twilio's voice API behind the [`Provider`] port.
#[derive(Clone)]
pub struct TwilioProvider {
    account_sid: String,
    rest: RestClient,
    /// Calls per page when listing; Twilio's maximum unless a test wants many pages.
    page_size: u32,
}

// The auth token is a credential: it is never printed.
impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("api_base", &self.api_base)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl fmt::Debug for TwilioProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioProvider")
            .field("account_sid", &self.account_sid)
            .field("base", &self.rest.base().as_str())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl TwilioProvider {
    /// A client for the account in `config`.
    pub fn new(config: TwilioConfig) -> Result<Self, TwilioSetupError> {
        let rest = RestClient::new(
            "twilio",
            &config.api_base,
            config.request_timeout,
            (config.account_sid.clone(), config.auth_token),
            read_error,
        )?;
        Ok(Self {
            account_sid: config.account_sid,
            rest,
            page_size: MAX_PAGE_SIZE,
        })
    }

    /// The same client listing `page_size` calls per page (clamped to 1..=1000), so
    /// paging can be exercised with a handful of calls.
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// `{base}/2010-04-01/Accounts/{sid}/{tail…}`, each segment percent-encoded.
    fn account_url(&self, tail: &[&str]) -> Result<Url, ProviderError> {
        let mut segments = vec!["2010-04-01", "Accounts", self.account_sid.as_str()];
        segments.extend_from_slice(tail);
        self.rest.url(&segments)
    }

    fn calls_url(&self) -> Result<Url, ProviderError> {
        self.account_url(&["Calls.json"])
    }

    fn call_url(&self, sid: &str) -> Result<Url, ProviderError> {
        self.account_url(&["Calls", &format!("{sid}.json")])
    }

    fn messages_url(&self) -> Result<Url, ProviderError> {
        self.account_url(&["Messages.json"])
    }

    fn recordings_url(&self, call_sid: &str) -> Result<Url, ProviderError> {
        self.account_url(&["Calls", call_sid, "Recordings.json"])
    }
}

/// The Messages form: `To`, `From`, `Body`.
fn sms_form(sms: &SmsRequest) -> [(&'static str, &str); 3] {
    [
        ("To", sms.to.as_str()),
        ("From", sms.from.as_str()),
        ("Body", sms.body.as_str()),
    ]
}

/// Ring time in whole seconds as Twilio takes it: rounded up, at least 1, at most 600.
fn ring_seconds(ring: Duration) -> u64 {
    whole_seconds(ring, MAX_RING_SECONDS)
}

/// The create-call form: one pair per parameter, `StatusCallbackEvent` repeated.
fn create_form(request: &DialRequest) -> Vec<(&'static str, String)> {
    let mut form = vec![
        ("To", request.to.as_str().to_string()),
        ("From", request.from.as_str().to_string()),
        ("Url", request.answer_url.clone()),
        ("StatusCallback", request.status_callback_url.clone()),
        ("StatusCallbackMethod", "POST".to_string()),
    ];
    form.extend(
        STATUS_CALLBACK_EVENTS
            .iter()
            .map(|e| ("StatusCallbackEvent", e.to_string())),
    );
    form.push(("Timeout", ring_seconds(request.ring_timeout).to_string()));
    form
}

/// The list query for the first page. Twilio filters `StartTime` by whole UTC days:
/// `StartTime>` keeps calls started on or after a day, `StartTime<` those started before
/// one; asking for the day after `started_before` makes the window cover the whole last
/// day whichever way the bound is read. The exact bounds are applied to what comes back.
fn list_params(query: &CallListQuery, page_size: u32) -> Vec<(&'static str, String)> {
    let first_day = query.started_after.date_naive();
    let last_day = query.started_before.date_naive();
    let after_last_day = last_day.checked_add_days(Days::new(1)).unwrap_or(last_day);
    let mut params = vec![
        ("StartTime>", first_day.format("%Y-%m-%d").to_string()),
        ("StartTime<", after_last_day.format("%Y-%m-%d").to_string()),
    ];
    if let Some(to) = &query.to {
        params.push(("To", to.clone()));
    }
    params.push(("PageSize", page_size.to_string()));
    params
}

#[async_trait]
impl Provider for TwilioProvider {
    fn name(&self) -> &'static str {
        "twilio"
    }

    async fn create_call(&self, request: &DialRequest) -> Result<DialAccepted, ProviderError> {
        let request = self
            .rest
            .request(Method::POST, self.calls_url()?)
            .form(&create_form(request));
        let created: CallResource = self.rest.execute_json(request).await?;
        let sid = created.sid()?.to_string();
        let status = created
            .status
            .as_deref()
            .map(map_status)
            .transpose()
            .map_err(|e| ProviderError::Protocol(e.to_string()))?
            .unwrap_or(callvisor_actors::domain::CallStatus::Queued);
        Ok(DialAccepted {
            provider_call_id: sid,
            status,
        })
    }

    async fn fetch_call(
        &self,
        provider_call_id: &str,
    ) -> Result<ProviderCallRecord, ProviderError> {
        let request = self
            .rest
            .request(Method::GET, self.call_url(provider_call_id)?);
        let call: CallResource = self.rest.execute_json(request).await?;
        call.into_record()
    }

    async fn hang_up(&self, provider_call_id: &str, how: HangUp) -> Result<(), ProviderError> {
        let status = match how {
            HangUp::Cancel => "canceled",
            HangUp::Complete => "completed",
        };
        let request = self
            .rest
            .request(Method::POST, self.call_url(provider_call_id)?)
            .form(&[("Status", status)]);
        self.rest.execute(request).await.map(drop)
    }

    async fn list_calls(
        &self,
        query: &CallListQuery,
    ) -> Result<Vec<ProviderCallRecord>, ProviderError> {
        let mut url = self.calls_url()?;
        url.query_pairs_mut()
            .extend_pairs(list_params(query, self.page_size));
        let mut guard = PageGuard::default();
        let mut records = Vec::new();
        loop {
            guard.visit(&url)?;
            let page: CallPage = self
                .rest
                .execute_json(self.rest.request(Method::GET, url.clone()))
                .await?;
            // Calls with no time at all cannot be placed in the range; keep them rather
            // than lose a call the API itself chose to list.
            for call in page.calls {
                let in_range = call
                    .listed_at()
                    .is_none_or(|t| t >= query.started_after && t <= query.started_before);
                if in_range {
                    records.push(call.into_record()?);
                }
            }
            match page.next_page_uri.as_deref().filter(|u| !u.is_empty()) {
                Some(next) => url = self.rest.relative(next)?,
                None => return Ok(records),
            }
        }
    }

    /// `POST …/Messages.json`, answered 201 with the Message resource (`SM…`).
    async fn send_sms(&self, sms: &SmsRequest) -> Result<SmsAccepted, ProviderError> {
        let request = self
            .rest
            .request(Method::POST, self.messages_url()?)
            .form(&sms_form(sms));
        let sent: MessageResource = self.rest.execute_json(request).await?;
        sent.into_accepted()
    }

    /// `GET …/Calls/{CallSid}/Recordings.json`: the first recording's audio (its `uri`
    /// as `.mp3`, on the API base), or `None` when the call has no recording.
    async fn recording_url(&self, provider_call_id: &str) -> Result<Option<String>, ProviderError> {
        let request = self
            .rest
            .request(Method::GET, self.recordings_url(provider_call_id)?);
        let page: RecordingPage = self.rest.execute_json(request).await?;
        page.recordings
            .first()
            .and_then(|r| r.media_path())
            .map(|path| self.rest.relative(&path).map(String::from))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::PhoneNumber;
    use chrono::{TimeZone, Utc};

    fn provider(base: &str) -> TwilioProvider {
        TwilioProvider::new(TwilioConfig {
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth_token: "token".into(),
            api_base: base.into(),
            request_timeout: Duration::from_millis(300),
        })
        .unwrap()
    }

    fn dial() -> DialRequest {
        DialRequest {
            to: PhoneNumber::from_trusted("+14155550101".into()),
            from: PhoneNumber::from_trusted("+14155550000".into()),
            answer_url: "https://bot.example/answer".into(),
            status_callback_url: "https://cv.example/webhooks/twilio?call_id=1".into(),
            ring_timeout: Duration::from_secs(30),
            gate: None,
        }
    }

    #[test]
    fn builds_urls_from_the_base() {
        for base in ["https://api.twilio.com", "https://api.twilio.com/"] {
            let p = provider(base);
            assert_eq!(
                p.calls_url().unwrap().as_str(),
                "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls.json"
            );
            assert_eq!(
                p.call_url("CA01").unwrap().as_str(),
                "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls/CA01.json"
            );
        }
        // An id cannot escape its path segment.
        let p = provider("http://127.0.0.1:9");
        assert!(p
            .call_url("../x?y")
            .unwrap()
            .path()
            .ends_with("/Calls/..%2Fx%3Fy.json"));
    }

    #[test]
    fn never_prints_the_token() {
        let config = TwilioConfig {
            account_sid: "AC1".into(),
            auth_token: "secret-token".into(),
            api_base: "https://api.twilio.com".into(),
            request_timeout: Duration::from_secs(1),
        };
        assert!(!format!("{config:?}").contains("secret-token"));
        let p = TwilioProvider::new(config).unwrap();
        assert!(!format!("{p:?}").contains("secret-token"));
    }

    #[test]
    fn refuses_a_bad_base() {
        for base in ["api.twilio.com", "ftp://api.twilio.com", "mailto:x@y"] {
            let r = TwilioProvider::new(TwilioConfig {
                account_sid: "AC1".into(),
                auth_token: "t".into(),
                api_base: base.into(),
                request_timeout: Duration::from_secs(1),
            });
            assert!(matches!(r, Err(TwilioSetupError::BadBase { .. })), "{base}");
        }
    }

    #[test]
    fn create_form_has_every_parameter_once_and_events_repeated() {
        let form = create_form(&dial());
        let get = |k: &str| {
            form.iter()
                .filter(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("To"), ["+14155550101"]);
        assert_eq!(get("From"), ["+14155550000"]);
        assert_eq!(get("Url"), ["https://bot.example/answer"]);
        assert_eq!(
            get("StatusCallback"),
            ["https://cv.example/webhooks/twilio?call_id=1"]
        );
        assert_eq!(get("StatusCallbackMethod"), ["POST"]);
        assert_eq!(
            get("StatusCallbackEvent"),
            ["initiated", "ringing", "answered", "completed"]
        );
        assert_eq!(get("Timeout"), ["30"]);
        let encoded = serde_urlencoded::to_string(&form).unwrap();
        assert!(encoded.contains("StatusCallbackEvent=initiated&StatusCallbackEvent=ringing"));
        assert!(encoded.contains("To=%2B14155550101"));
    }

    #[test]
    fn ring_timeout_is_whole_seconds_within_twilio_limits() {
        assert_eq!(ring_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(ring_seconds(Duration::from_secs(3600)), 600);
    }

    #[test]
    fn list_asks_for_whole_days_covering_the_range() {
        let q = CallListQuery {
            started_after: Utc.with_ymd_and_hms(2025, 3, 1, 23, 0, 0).unwrap(),
            started_before: Utc.with_ymd_and_hms(2025, 3, 2, 1, 0, 0).unwrap(),
            to: Some("+14155550101".into()),
        };
        let params = list_params(&q, 1000);
        assert_eq!(
            params,
            vec![
                ("StartTime>", "2025-03-01".to_string()),
                ("StartTime<", "2025-03-03".to_string()),
                ("To", "+14155550101".to_string()),
                ("PageSize", "1000".to_string()),
            ]
        );
        let mut url = Url::parse("https://api.twilio.com/Calls.json").unwrap();
        url.query_pairs_mut().extend_pairs(params);
        assert_eq!(
            url.query(),
            Some("StartTime%3E=2025-03-01&StartTime%3C=2025-03-03&To=%2B14155550101&PageSize=1000")
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        // Bind then drop, so the port is (almost certainly) closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let p = provider(&format!("http://127.0.0.1:{port}"));
        assert!(matches!(
            p.create_call(&dial()).await,
            Err(ProviderError::Connect(_))
        ));
    }

    #[tokio::test]
    async fn no_answer_after_sending_is_ambiguous() {
        // A server that accepts and reads but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let p = provider(&format!("http://{addr}"));
        assert_eq!(p.create_call(&dial()).await, Err(ProviderError::Ambiguous));
        server.abort();
    }

    #[tokio::test]
    async fn an_unreadable_answer_is_a_protocol_error() {
        use axum::routing::post;
        let app = axum::Router::new().route(
            "/2010-04-01/Accounts/{sid}/Calls.json",
            post(|| async { (axum::http::StatusCode::CREATED, "<Response/>") }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let p = provider(&format!("http://{addr}"));
        assert!(matches!(
            p.create_call(&dial()).await,
            Err(ProviderError::Protocol(_))
        ));
        server.abort();
    }
}
