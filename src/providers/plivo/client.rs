//! The Plivo voice API client: the [`Provider`] port over Plivo's REST API v1.
//!
//! Requests are JSON bodies with HTTP Basic (`auth_id:auth_token`). A create is answered
//! with a `request_uuid`, which is the call's provider id until the first callback names
//! the live call by its `CallUUID` (see [`super::status::observe`]: the callback's
//! observation supersedes the request id). Plivo's call list holds finished calls only
//! and takes at most 30 days and 20 calls a page, so longer ranges are split and pages
//! are followed through `meta.next`.

use super::errors::read_error;
use super::resource::{
    to_plivo_number, CallObject, CallPage, CreateResponse, MessageResponse, RecordingPage,
    FILTER_TIME_FORMAT,
};
use crate::providers::rest::{whole_seconds, PageGuard, RestClient, SetupError};
use async_trait::async_trait;
use callvisor_actors::domain::CallStatus;
use callvisor_actors::ports::{
    CallListQuery, DialAccepted, DialRequest, HangUp, Provider, ProviderCallRecord, ProviderError,
    SmsAccepted, SmsRequest,
};
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Serialize;
use std::fmt;
use std::time::Duration;
use url::Url;

/// The most calls Plivo returns in one page of the call list.
pub const MAX_PAGE_SIZE: u32 = 20;

/// The longest range one call-list request may cover.
pub const MAX_LIST_WINDOW: chrono::Duration = chrono::Duration::days(30);

/// The longest ring we ask Plivo for, in seconds.
pub const MAX_RING_SECONDS: u64 = 600;

/// Where and how to reach Plivo.
#[derive(Clone)]
pub struct PlivoConfig {
    /// The account's auth id: in every path, and the Basic auth user.
    pub auth_id: String,
    /// The account's auth token: the Basic auth password, and the key Plivo signs its
    /// callbacks with.
    pub auth_token: String,
    /// Scheme and host of the API, e.g. `https://api.plivo.com`.
    pub api_base: String,
    /// Longest wait for one request. A create that times out is
    /// [`ProviderError::Ambiguous`]: it may have dialed.
    pub request_timeout: Duration,
}

// The auth token is a credential: it is never printed.
impl fmt::Debug for PlivoConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlivoConfig")
            .field("auth_id", &self.auth_id)
            .field("auth_token", &"<redacted>")
            .field("api_base", &self.api_base)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Plivo's voice API behind the [`Provider`] port.
#[derive(Clone)]
pub struct PlivoProvider {
    auth_id: String,
    rest: RestClient,
    /// Calls per page when listing (`limit`); Plivo's maximum unless a test wants more
    /// pages.
    page_size: u32,
}

impl fmt::Debug for PlivoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlivoProvider")
            .field("auth_id", &self.auth_id)
            .field("base", &self.rest.base().as_str())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// The create-call body.
#[derive(Debug, PartialEq, Serialize)]
struct CreateCall<'a> {
    from: String,
    to: String,
    answer_url: &'a str,
    answer_method: &'static str,
    ring_url: &'a str,
    ring_method: &'static str,
    hangup_url: &'a str,
    hangup_method: &'static str,
    ring_timeout: u64,
}

impl<'a> CreateCall<'a> {
    /// Ring and hangup callbacks both go to the status-callback URL, which carries our
    /// call id.
    fn of(request: &'a DialRequest) -> Self {
        Self {
            from: to_plivo_number(request.from.as_str()),
            to: to_plivo_number(request.to.as_str()),
            answer_url: &request.answer_url,
            answer_method: "POST",
            ring_url: &request.status_callback_url,
            ring_method: "POST",
            hangup_url: &request.status_callback_url,
            hangup_method: "POST",
            ring_timeout: whole_seconds(request.ring_timeout, MAX_RING_SECONDS),
        }
    }
}

/// The send-message body: numbers without `+`, as Plivo takes them.
#[derive(Debug, PartialEq, Serialize)]
struct SendMessage<'a> {
    src: String,
    dst: String,
    text: &'a str,
}

impl<'a> SendMessage<'a> {
    fn of(sms: &'a SmsRequest) -> Self {
        Self {
            src: to_plivo_number(sms.from.as_str()),
            dst: to_plivo_number(sms.to.as_str()),
            text: &sms.body,
        }
    }
}

/// `[after, before]` cut into consecutive windows of at most 30 days.
fn windows(after: DateTime<Utc>, before: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    let mut start = after;
    while start < before {
        let end = (start + MAX_LIST_WINDOW).min(before);
        out.push((start, end));
        start = end;
    }
    if out.is_empty() {
        out.push((after, before));
    }
    out
}

impl PlivoProvider {
    /// A client for the account in `config`.
    pub fn new(config: PlivoConfig) -> Result<Self, SetupError> {
        let rest = RestClient::new(
            "plivo",
            &config.api_base,
            config.request_timeout,
            (config.auth_id.clone(), config.auth_token),
            read_error,
        )?;
        Ok(Self {
            auth_id: config.auth_id,
            rest,
            page_size: MAX_PAGE_SIZE,
        })
    }

    /// The same client listing `page_size` calls per page (clamped to 1..=20).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// `{base}/v1/Account/{auth_id}/{tail…}/`, each segment percent-encoded; Plivo's
    /// paths end with a slash.
    fn account_url(&self, tail: &[&str]) -> Result<Url, ProviderError> {
        let mut segments = vec!["v1", "Account", self.auth_id.as_str()];
        segments.extend_from_slice(tail);
        segments.push("");
        self.rest.url(&segments)
    }

    /// The first page of the calls that ended within one window.
    fn list_url(
        &self,
        (after, before): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Url, ProviderError> {
        let mut url = self.account_url(&["Call"])?;
        url.query_pairs_mut()
            .append_pair(
                "end_time__gte",
                &after.format(FILTER_TIME_FORMAT).to_string(),
            )
            .append_pair(
                "end_time__lte",
                &before.format(FILTER_TIME_FORMAT).to_string(),
            )
            .append_pair("limit", &self.page_size.to_string())
            .append_pair("offset", "0");
        Ok(url)
    }

    async fn delete(&self, tail: &[&str]) -> Result<(), ProviderError> {
        let request = self.rest.request(Method::DELETE, self.account_url(tail)?);
        self.rest.execute(request).await.map(drop)
    }
}

#[async_trait]
impl Provider for PlivoProvider {
    fn name(&self) -> &'static str {
        "plivo"
    }

    async fn create_call(&self, request: &DialRequest) -> Result<DialAccepted, ProviderError> {
        let request = self
            .rest
            .request(Method::POST, self.account_url(&["Call"])?)
            .json(&CreateCall::of(request));
        let created: CreateResponse = self.rest.execute_json(request).await?;
        Ok(DialAccepted {
            provider_call_id: created.request_uuid()?,
            status: CallStatus::Queued,
        })
    }

    async fn fetch_call(
        &self,
        provider_call_id: &str,
    ) -> Result<ProviderCallRecord, ProviderError> {
        let request = self
            .rest
            .request(Method::GET, self.account_url(&["Call", provider_call_id])?);
        let call: CallObject = self.rest.execute_json(request).await?;
        call.into_record()
    }

    /// `DELETE …/Call/{uuid}/` ends a live call, answered or not. An id Plivo does not
    /// know as a call may still be a request waiting in Plivo's queue (its id is the
    /// request id until a callback names the call): that is canceled with
    /// `DELETE …/Request/{uuid}/`.
    async fn hang_up(&self, provider_call_id: &str, _how: HangUp) -> Result<(), ProviderError> {
        match self.delete(&["Call", provider_call_id]).await {
            Err(not_a_call @ ProviderError::Rejected { status: 404, .. }) => {
                match self.delete(&["Request", provider_call_id]).await {
                    Err(ProviderError::Rejected { status: 404, .. }) => Err(not_a_call),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// Finished calls only (Plivo lists no live call here), those that ended within the
    /// range and, where the record says when they began, began within it too.
    async fn list_calls(
        &self,
        query: &CallListQuery,
    ) -> Result<Vec<ProviderCallRecord>, ProviderError> {
        let mut records = Vec::new();
        for window in windows(query.started_after, query.started_before) {
            let mut url = self.list_url(window)?;
            let mut guard = PageGuard::default();
            loop {
                guard.visit(&url)?;
                let page: CallPage = self
                    .rest
                    .execute_json(self.rest.request(Method::GET, url.clone()))
                    .await?;
                for call in page.objects {
                    let began_in_range = call
                        .initiated_at()
                        .is_none_or(|t| t >= query.started_after && t <= query.started_before);
                    if began_in_range {
                        let record = call.into_record()?;
                        if query.to.as_deref().is_none_or(|to| record.to == to) {
                            records.push(record);
                        }
                    }
                }
                match page.meta.and_then(|m| m.next).filter(|n| !n.is_empty()) {
                    Some(next) => url = self.rest.relative(&next)?,
                    None => break,
                }
            }
        }
        Ok(records)
    }

    /// `POST …/Message/` with `src`, `dst`, `text`, answered 202 with the message uuids.
    async fn send_sms(&self, sms: &SmsRequest) -> Result<SmsAccepted, ProviderError> {
        let request = self
            .rest
            .request(Method::POST, self.account_url(&["Message"])?)
            .json(&SendMessage::of(sms));
        let sent: MessageResponse = self.rest.execute_json(request).await?;
        sent.into_accepted()
    }

    /// `GET …/Recording/?call_uuid={uuid}`: the first recording's `recording_url`.
    async fn recording_url(&self, provider_call_id: &str) -> Result<Option<String>, ProviderError> {
        let mut url = self.account_url(&["Recording"])?;
        url.query_pairs_mut()
            .append_pair("call_uuid", provider_call_id);
        let page: RecordingPage = self
            .rest
            .execute_json(self.rest.request(Method::GET, url))
            .await?;
        Ok(page.first_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callvisor_actors::domain::PhoneNumber;
    use chrono::TimeZone;

    fn provider(base: &str) -> PlivoProvider {
        PlivoProvider::new(PlivoConfig {
            auth_id: "MAXXXXXXXXXXXXXXXXXX".into(),
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
            status_callback_url: "https://cv.example/webhooks/plivo/status?callId=1".into(),
            ring_timeout: Duration::from_millis(29_500),
            gate: None,
        }
    }

    #[test]
    fn builds_plivo_urls_with_their_trailing_slash() {
        let p = provider("https://api.plivo.com");
        assert_eq!(
            p.account_url(&["Call"]).unwrap().as_str(),
            "https://api.plivo.com/v1/Account/MAXXXXXXXXXXXXXXXXXX/Call/"
        );
        assert_eq!(
            p.account_url(&["Call", "a/b"]).unwrap().as_str(),
            "https://api.plivo.com/v1/Account/MAXXXXXXXXXXXXXXXXXX/Call/a%2Fb/"
        );
        let t = |h| Utc.with_ymd_and_hms(2025, 3, 1, h, 0, 0).unwrap();
        assert_eq!(
            p.with_page_size(5).list_url((t(1), t(2))).unwrap().query(),
            Some("end_time__gte=2025-03-01+01%3A00%3A00&end_time__lte=2025-03-01+02%3A00%3A00&limit=5&offset=0")
        );
    }

    #[test]
    fn the_create_body_is_plivos_json() {
        let body = serde_json::to_value(CreateCall::of(&dial())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "from": "14155550000",
                "to": "14155550101",
                "answer_url": "https://bot.example/answer",
                "answer_method": "POST",
                "ring_url": "https://cv.example/webhooks/plivo/status?callId=1",
                "ring_method": "POST",
                "hangup_url": "https://cv.example/webhooks/plivo/status?callId=1",
                "hangup_method": "POST",
                "ring_timeout": 30
            })
        );
    }

    #[test]
    fn long_ranges_are_split_into_thirty_day_windows() {
        let start = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let w = windows(start, start + chrono::Duration::days(75));
        assert_eq!(w.len(), 3);
        assert_eq!(w[0], (start, start + chrono::Duration::days(30)));
        assert_eq!(w[2].1, start + chrono::Duration::days(75));
        assert!(w.windows(2).all(|p| p[0].1 == p[1].0));
        assert_eq!(windows(start, start).len(), 1);
    }

    #[test]
    fn never_prints_the_token() {
        let config = PlivoConfig {
            auth_id: "MA1".into(),
            auth_token: "secret-token".into(),
            api_base: "https://api.plivo.com".into(),
            request_timeout: Duration::from_secs(1),
        };
        assert!(!format!("{config:?}").contains("secret-token"));
        let p = PlivoProvider::new(config).unwrap();
        assert!(!format!("{p:?}").contains("secret-token"));
    }
}
