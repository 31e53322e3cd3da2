//! Status callback delivery, as Twilio does it.
//!
//! Each call with a `StatusCallback` gets one sender task fed by a queue, so its
//! callbacks leave in the order the events happened, each `callback_delay` after its
//! event. A callback is signed with `X-Twilio-Signature` over the exact URL it is sent to
//! (the shared [`sign`], so a receiver checking with `verify` is tested for real). A
//! failed delivery is logged and dropped: Twilio does not retry status callbacks.

use crate::providers::twilio::signature::sign;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use url::Url;

/// How long a receiver gets to answer, as Twilio allows.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// The HTTP method for the callbacks (`StatusCallbackMethod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallbackMethod {
    Post,
    Get,
}

/// Where a call's callbacks go.
#[derive(Clone, Debug)]
pub(crate) struct CallbackTarget {
    pub url: Url,
    pub method: CallbackMethod,
}

/// One callback waiting to leave.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// The form fields, in the order Twilio lists them.
    pub params: Vec<(String, String)>,
    /// When it should leave: the event's time plus the configured delay.
    pub due: tokio::time::Instant,
}

/// Starts the task that delivers one call's callbacks until its queue closes.
pub(crate) fn spawn_sender(
    http: reqwest::Client,
    auth_token: String,
    target: CallbackTarget,
    mut queue: mpsc::UnboundedReceiver<Delivery>,
) -> AbortHandle {
    tokio::spawn(async move {
        while let Some(delivery) = queue.recv().await {
            tokio::time::sleep_until(delivery.due).await;
            deliver(&http, &auth_token, &target, &delivery.params).await;
        }
    })
    .abort_handle()
}

/// The request for one callback: a signed form POST, or for GET the fields in the query
/// and the signature over that full URL alone.
fn build(
    http: &reqwest::Client,
    auth_token: &str,
    target: &CallbackTarget,
    params: &[(String, String)],
) -> reqwest::RequestBuilder {
    match target.method {
        CallbackMethod::Post => {
            let signature = sign(auth_token, target.url.as_str(), params);
            http.post(target.url.clone())
                .header("X-Twilio-Signature", signature)
                .form(params)
        }
        CallbackMethod::Get => {
            let mut url = target.url.clone();
            url.query_pairs_mut().extend_pairs(params);
            let signature = sign(auth_token, url.as_str(), &[]);
            http.get(url).header("X-Twilio-Signature", signature)
        }
    }
}

async fn deliver(
    http: &reqwest::Client,
    auth_token: &str,
    target: &CallbackTarget,
    params: &[(String, String)],
) {
    let status = params
        .iter()
        .find(|(k, _)| k == "CallStatus")
        .map_or("", |(_, v)| v.as_str());
    let request = build(http, auth_token, target, params)
        .header("User-Agent", "TwilioProxy/1.1")
        .timeout(DELIVERY_TIMEOUT);
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            tracing::debug!(url = %target.url, status, "sim callback delivered");
        }
        Ok(response) => {
            tracing::warn!(
                url = %target.url,
                status,
                http_status = response.status().as_u16(),
                "sim callback refused by the receiver; not retried"
            );
        }
        Err(e) => {
            tracing::warn!(url = %target.url, status, error = %e, "sim callback failed; not retried");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::twilio::signature::verify;

    fn params() -> Vec<(String, String)> {
        vec![
            ("CallSid".into(), "CA1".into()),
            ("CallStatus".into(), "ringing".into()),
        ]
    }

    #[test]
    fn a_post_is_signed_over_the_url_and_its_form() {
        let target = CallbackTarget {
            url: Url::parse("http://127.0.0.1:9/hook?call_id=7").unwrap(),
            method: CallbackMethod::Post,
        };
        let req = build(&reqwest::Client::new(), "tok", &target, &params())
            .build()
            .unwrap();
        assert_eq!(req.url().as_str(), "http://127.0.0.1:9/hook?call_id=7");
        let sig = req.headers()["X-Twilio-Signature"].to_str().unwrap();
        assert!(verify(
            "tok",
            "http://127.0.0.1:9/hook?call_id=7",
            &params(),
            sig
        ));
        let body = req.body().and_then(|b| b.as_bytes()).unwrap();
        assert_eq!(body, b"CallSid=CA1&CallStatus=ringing");
    }

    #[test]
    fn a_get_carries_the_fields_in_the_signed_query() {
        let target = CallbackTarget {
            url: Url::parse("http://127.0.0.1:9/hook?call_id=7").unwrap(),
            method: CallbackMethod::Get,
        };
        let req = build(&reqwest::Client::new(), "tok", &target, &params())
            .build()
            .unwrap();
        let full = "http://127.0.0.1:9/hook?call_id=7&CallSid=CA1&CallStatus=ringing";
        assert_eq!(req.url().as_str(), full);
        let sig = req.headers()["X-Twilio-Signature"].to_str().unwrap();
        assert!(verify("tok", full, &[], sig));
    }
}
