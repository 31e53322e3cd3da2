//! Status callback delivery, the same for every flavor.
//!
//! Each call gets one sender task fed by a queue, so its callbacks leave in the order
//! the events happened, each `callback_delay` after its event. The flavor builds each
//! request whole (URL, method, headers with its signature, body); every callback of
//! every flavor then leaves through [`deliver`], the one place a delivery happens. A
//! failed delivery is logged and dropped: none of the providers retries status
//! callbacks in a way the simulator needs to reproduce. The configured faults may drop
//! a callback, send it twice, or hold it back until after the next one.

use super::faults::{CallbackFate, Faults};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use url::Url;

/// How long a receiver gets to answer, as the providers allow.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// The HTTP method of a callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallbackMethod {
    Post,
    Get,
}

impl CallbackMethod {
    /// `POST` or `GET` (any case); `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "POST" => Some(Self::Post),
            "GET" => Some(Self::Get),
            _ => None,
        }
    }
}

/// One callback, ready to leave: the flavor encoded and signed it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CallbackRequest {
    pub url: Url,
    pub method: CallbackMethod,
    pub headers: Vec<(&'static str, String)>,
    /// Content type and bytes, for a request with a body.
    pub body: Option<(String, Vec<u8>)>,
    /// What the callback reports, for the logs.
    pub status: String,
}

/// One callback waiting to leave.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub request: CallbackRequest,
    /// When it should leave: the event's time plus the configured delay.
    pub due: tokio::time::Instant,
}

/// Starts the task that delivers one call's callbacks until its queue closes.
pub(crate) fn spawn_sender(
    http: reqwest::Client,
    faults: Arc<Faults>,
    mut queue: mpsc::UnboundedReceiver<Delivery>,
) -> AbortHandle {
    tokio::spawn(async move {
        // A callback held back to be delivered after the next one.
        let mut held: Option<CallbackRequest> = None;
        while let Some(delivery) = queue.recv().await {
            tokio::time::sleep_until(delivery.due).await;
            let just_held = match faults.callback_fate() {
                CallbackFate::Lost => false,
                CallbackFate::Duplicated => {
                    deliver(&http, &delivery.request).await;
                    deliver(&http, &delivery.request).await;
                    false
                }
                CallbackFate::Reordered if held.is_none() => {
                    held = Some(delivery.request);
                    true
                }
                CallbackFate::Reordered | CallbackFate::Delivered => {
                    deliver(&http, &delivery.request).await;
                    false
                }
            };
            if !just_held {
                if let Some(late) = held.take() {
                    deliver(&http, &late).await;
                }
            }
        }
        if let Some(late) = held {
            deliver(&http, &late).await;
        }
    })
    .abort_handle()
}

/// The HTTP request for a callback.
fn build(http: &reqwest::Client, callback: &CallbackRequest) -> reqwest::RequestBuilder {
    let mut request = match callback.method {
        CallbackMethod::Post => http.post(callback.url.clone()),
        CallbackMethod::Get => http.get(callback.url.clone()),
    };
    for (name, value) in &callback.headers {
        request = request.header(*name, value);
    }
    if let Some((content_type, bytes)) = &callback.body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes.clone());
    }
    request.timeout(DELIVERY_TIMEOUT)
}

/// Sends one callback; every flavor's callbacks leave through here.
pub(crate) async fn deliver(http: &reqwest::Client, callback: &CallbackRequest) {
    let (url, status) = (&callback.url, callback.status.as_str());
    match build(http, callback).send().await {
        Ok(response) if response.status().is_success() => {
            tracing::debug!(%url, status, "sim callback delivered");
        }
        Ok(response) => {
            tracing::warn!(
                %url,
                status,
                http_status = response.status().as_u16(),
                "sim callback refused by the receiver; not retried"
            );
        }
        Err(e) => {
            tracing::warn!(%url, status, error = %e, "sim callback failed; not retried");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_request_as_the_flavor_made_it() {
        let callback = CallbackRequest {
            url: Url::parse("http://127.0.0.1:9/hook?callId=7").unwrap(),
            method: CallbackMethod::Post,
            headers: vec![("X-Sig", "abc".into())],
            body: Some(("application/json".into(), b"{}".to_vec())),
            status: "ringing".into(),
        };
        let req = build(&reqwest::Client::new(), &callback).build().unwrap();
        assert_eq!(req.method(), reqwest::Method::POST);
        assert_eq!(req.url().as_str(), "http://127.0.0.1:9/hook?callId=7");
        assert_eq!(req.headers()["X-Sig"], "abc");
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(req.body().and_then(|b| b.as_bytes()), Some(&b"{}"[..]));
        assert_eq!(CallbackMethod::parse("get"), Some(CallbackMethod::Get));
        assert_eq!(CallbackMethod::parse("PUT"), None);
    }
}
