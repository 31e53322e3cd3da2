//! The Exotel voice API client: the [`Provider`] port over Exotel's Voice API v1.
//!
//! Requests are form-encoded with HTTP Basic (API key : API token); the account sid is
//! in every path. A call is "connected to a call flow": Exotel dials `From` (our callee),
//! shows `CallerId` (the ExoPhone) and runs the flow at `Url` (the bot's answer URL)
//! when the callee answers. Status callbacks are asked for on the `answered` and
//! `terminal` events, as JSON. Exotel's v1 API has no way to hang up a call, which
//! [`Provider::hang_up`] reports as unsupported rather than pretending.

use super::errors::read_error;
use super::resource::{format_time, CallEnvelope, CallPage, CallResource, SmsEnvelope};
use crate::providers::rest::{whole_seconds, PageGuard, RestClient, SetupError};
use async_trait::async_trait;
use callvisor_actors::domain::CallStatus;
use callvisor_actors::ports::{
    CallListQuery, DialAccepted, DialRequest, HangUp, Provider, ProviderCallRecord, ProviderError,
    SmsAccepted, SmsRequest,
};
use reqwest::Method;
use std::fmt;
use std::time::Duration;
use url::Url;

/// The most calls Exotel returns in one page of the bulk list.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The longest ring we ask Exotel for, in seconds.
pub const MAX_RING_SECONDS: u64 = 600;

/// The events we want status callbacks for.
const STATUS_CALLBACK_EVENTS: [&str; 2] = ["terminal", "answered"];

/// The longest `CustomField` Exotel keeps.
const MAX_CUSTOM_FIELD: usize = 128;

/// Where and how to reach Exotel.
#[derive(Clone)]
pub struct ExotelConfig {
    /// The account sid, in every path.
    pub sid: String,
    /// The API key: the Basic auth user.
    pub api_key: String,
    /// The API token: the Basic auth password.
    pub api_token: String,
    /// The ExoPhone calls are placed from; the request's caller id when not set.
    pub caller_id: Option<String>,
    /// Scheme and host of the API, e.g. `https://api.exotel.com` (or
    /// `https://api.in.exotel.com` for the Mumbai cluster).
    pub api_base: String,
    /// Longest wait for one request. A create that times out is
    /// [`ProviderError::Ambiguous`]: it may have dialed.
    pub request_timeout: Duration,
}

// The API token is a credential: it is never printed.
impl fmt::Debug for ExotelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExotelConfig")
            .field("sid", &self.sid)
            .field("api_key", &self.api_key)
            .field("api_token", &"<redacted>")
            .field("caller_id", &self.caller_id)
            .field("api_base", &self.api_base)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Exotel's voice API behind the [`Provider`] port.
#[derive(Clone)]
pub struct ExotelProvider {
    sid: String,
    caller_id: Option<String>,
    rest: RestClient,
    page_size: u32,
}

impl fmt::Debug for ExotelProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExotelProvider")
            .field("sid", &self.sid)
            .field("api_key", &self.rest.user())
            .field("base", &self.rest.base().as_str())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Our call id, as the status-callback URL carries it (`callId`), for `CustomField`.
fn call_id_of(status_callback_url: &str) -> Option<String> {
    let url = Url::parse(status_callback_url).ok()?;
    let id = url
        .query_pairs()
        .find(|(k, _)| k == "callId")
        .map(|(_, v)| v.into_owned())?;
    (!id.is_empty() && id.len() <= MAX_CUSTOM_FIELD).then_some(id)
}

impl ExotelProvider {
    /// A client for the account in `config`.
    pub fn new(config: ExotelConfig) -> Result<Self, SetupError> {
        let rest = RestClient::new(
            "exotel",
            &config.api_base,
            config.request_timeout,
            (config.api_key, config.api_token),
            read_error,
        )?;
        Ok(Self {
            sid: config.sid,
            caller_id: config.caller_id.filter(|c| !c.trim().is_empty()),
            rest,
            page_size: MAX_PAGE_SIZE,
        })
    }

    /// The same client listing `page_size` calls per page (clamped to 1..=100).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// `{base}/v1/Accounts/{sid}/{tail…}`, each segment percent-encoded.
    fn account_url(&self, tail: &[&str]) -> Result<Url, ProviderError> {
        let mut segments = vec!["v1", "Accounts", self.sid.as_str()];
        segments.extend_from_slice(tail);
        self.rest.url(&segments)
    }

    /// The create-call form.
    fn create_form(&self, request: &DialRequest) -> Vec<(&'static str, String)> {
        let caller_id = self
            .caller_id
            .clone()
            .unwrap_or_else(|| request.from.as_str().to_string());
        let mut form = vec![
            ("From", request.to.as_str().to_string()),
            ("CallerId", caller_id),
            ("Url", request.answer_url.clone()),
            ("StatusCallback", request.status_callback_url.clone()),
        ];
        form.extend(
            STATUS_CALLBACK_EVENTS
                .iter()
                .map(|e| ("StatusCallbackEvents[]", e.to_string())),
        );
        form.push(("StatusCallbackContentType", "application/json".to_string()));
        if let Some(id) = call_id_of(&request.status_callback_url) {
            form.push(("CustomField", id));
        }
        form.push((
            "TimeOut",
            whole_seconds(request.ring_timeout, MAX_RING_SECONDS).to_string(),
        ));
        form
    }

    /// `GET …/Calls/{CallSid}.json?details=true`: the call as Exotel describes it.
    async fn details(&self, provider_call_id: &str) -> Result<CallResource, ProviderError> {
        let mut url = self.account_url(&["Calls", &format!("{provider_call_id}.json")])?;
        url.query_pairs_mut().append_pair("details", "true");
        let found: CallEnvelope = self
            .rest
            .execute_json(self.rest.request(Method::GET, url))
            .await?;
        Ok(found.call)
    }

    /// The first page of the calls created within the range, oldest first.
    fn list_url(&self, query: &CallListQuery) -> Result<Url, ProviderError> {
        let mut url = self.account_url(&["Calls.json"])?;
        let range = format!(
            "gte:{};lte:{}",
            format_time(query.started_after),
            format_time(query.started_before)
        );
        url.query_pairs_mut()
            .append_pair("DateCreated", &range)
            .append_pair("PageSize", &self.page_size.to_string())
            .append_pair("SortBy", "DateCreated:asc");
        Ok(url)
    }
}

#[async_trait]
impl Provider for ExotelProvider {
    fn name(&self) -> &'static str {
        "exotel"
    }

    async fn create_call(&self, request: &DialRequest) -> Result<DialAccepted, ProviderError> {
        let request = self
            .rest
            .request(Method::POST, self.account_url(&["Calls", "connect.json"])?)
            .form(&self.create_form(request));
        let created: CallEnvelope = self.rest.execute_json(request).await?;
        let record = created.call.into_record()?;
        // What Exotel calls the new call (`queued`, `in-progress`) means it was placed;
        // only callbacks say it was answered.
        let status = match record.observation.status {
            s if s.is_final() => s,
            _ => CallStatus::Queued,
        };
        Ok(DialAccepted {
            provider_call_id: record.provider_call_id,
            status,
        })
    }

    async fn fetch_call(
        &self,
        provider_call_id: &str,
    ) -> Result<ProviderCallRecord, ProviderError> {
        self.details(provider_call_id).await?.into_record()
    }

    async fn hang_up(&self, _provider_call_id: &str, _how: HangUp) -> Result<(), ProviderError> {
        Err(ProviderError::Unsupported(
            "Exotel's v1 API cannot hang up a call",
        ))
    }

    async fn list_calls(
        &self,
        query: &CallListQuery,
    ) -> Result<Vec<ProviderCallRecord>, ProviderError> {
        let mut url = self.list_url(query)?;
        let mut guard = PageGuard::default();
        let mut records = Vec::new();
        loop {
            guard.visit(&url)?;
            let page: CallPage = self
                .rest
                .execute_json(self.rest.request(Method::GET, url.clone()))
                .await?;
            for call in page.calls {
                let in_range = call
                    .created_at()
                    .is_none_or(|t| t >= query.started_after && t <= query.started_before);
                if in_range {
                    let record = call.into_record()?;
                    if query.to.as_deref().is_none_or(|to| record.to == to) {
                        records.push(record);
                    }
                }
            }
            let next = page
                .metadata
                .and_then(|m| m.next_page_uri)
                .filter(|n| !n.is_empty());
            match next {
                Some(next) => url = self.rest.relative(&next)?,
                None => return Ok(records),
            }
        }
    }

    /// `POST …/Sms/send.json` with `From`, `To`, `Body`, answered with
    /// `{"SMSMessage": {"Sid", "Status", …}}`. `From` is the request's sender (an
    /// ExoPhone or sender id): the configured caller id is for calls.
    async fn send_sms(&self, sms: &SmsRequest) -> Result<SmsAccepted, ProviderError> {
        let form = [
            ("From", sms.from.as_str()),
            ("To", sms.to.as_str()),
            ("Body", sms.body.as_str()),
        ];
        let request = self
            .rest
            .request(Method::POST, self.account_url(&["Sms", "send.json"])?)
            .form(&form);
        let sent: SmsEnvelope = self.rest.execute_json(request).await?;
        sent.into_accepted()
    }

    /// The call details' `RecordingUrl`, if the call was recorded.
    async fn recording_url(&self, provider_call_id: &str) -> Result<Option<String>, ProviderError> {
        let call = self.details(provider_call_id).await?;
        Ok(call.recording_url.filter(|u| !u.trim().is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::PhoneNumber;
    use chrono::{TimeZone, Utc};

    fn provider(caller_id: Option<&str>) -> ExotelProvider {
        ExotelProvider::new(ExotelConfig {
            sid: "acme1".into(),
            api_key: "key".into(),
            api_token: "secret-token".into(),
            caller_id: caller_id.map(str::to_string),
            api_base: "https://api.exotel.com".into(),
            request_timeout: Duration::from_secs(1),
        })
        .unwrap()
    }

    fn dial() -> DialRequest {
        DialRequest {
            to: PhoneNumber::from_trusted("+919999900001".into()),
            from: PhoneNumber::from_trusted("+918030752400".into()),
            answer_url: "http://my.exotel.com/acme1/exoml/start_voice/1".into(),
            status_callback_url:
                "https://cv.example/webhooks/exotel/status?token=t&callId=0192-abc".into(),
            ring_timeout: Duration::from_secs(45),
            gate: None,
        }
    }

    #[test]
    fn the_create_form_connects_the_callee_to_the_flow() {
        let form = provider(Some("08030752400")).create_form(&dial());
        let get = |k: &str| {
            form.iter()
                .filter(|(n, _)| *n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("From"), ["+919999900001"]);
        assert_eq!(get("CallerId"), ["08030752400"]);
        assert_eq!(
            get("Url"),
            ["http://my.exotel.com/acme1/exoml/start_voice/1"]
        );
        assert_eq!(get("StatusCallbackEvents[]"), ["terminal", "answered"]);
        assert_eq!(get("StatusCallbackContentType"), ["application/json"]);
        assert_eq!(get("CustomField"), ["0192-abc"]);
        assert_eq!(get("TimeOut"), ["45"]);
        let unset = provider(None).create_form(&dial());
        assert!(unset.contains(&("CallerId", "+918030752400".to_string())));
    }

    #[test]
    fn urls_follow_exotels_layout() {
        let p = provider(None);
        assert_eq!(
            p.account_url(&["Calls", "connect.json"]).unwrap().as_str(),
            "https://api.exotel.com/v1/Accounts/acme1/Calls/connect.json"
        );
        let q = CallListQuery {
            started_after: Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap(),
            started_before: Utc.with_ymd_and_hms(2025, 3, 1, 1, 0, 0).unwrap(),
            to: None,
        };
        let url = p.list_url(&q).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                (
                    "DateCreated".to_string(),
                    "gte:2025-03-01 05:30:00;lte:2025-03-01 06:30:00".to_string()
                ),
                ("PageSize".to_string(), "100".to_string()),
                ("SortBy".to_string(), "DateCreated:asc".to_string()),
            ]
        );
    }

    #[tokio::test]
    async fn hanging_up_is_honestly_unsupported() {
        assert_eq!(
            provider(None).hang_up("c1", HangUp::Cancel).await,
            Err(ProviderError::Unsupported(
                "Exotel's v1 API cannot hang up a call"
            ))
        );
    }

    #[test]
    fn never_prints_the_token() {
        assert!(!format!("{:?}", provider(None)).contains("secret-token"));
    }
}
