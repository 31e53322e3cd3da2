//! The REST plumbing every provider adapter shares: building request URLs from the API
//! base, HTTP Basic on every request, and turning what came back (or did not) into a
//! [`ProviderError`].
//!
//! The distinction that matters to the caller is whether a request may have taken
//! effect: a refused connection certainly did not (safe to retry), a timeout after the
//! request left may have (a retried create could dial twice), and an HTTP error status
//! says exactly what the provider decided. Each adapter only says how to read its own
//! error body ([`ErrorReader`]); the mapping of statuses is the same for all of them.

use callvisor_actors::ports::ProviderError;
use reqwest::header::RETRY_AFTER;
use std::collections::HashSet;
use std::time::Duration;
use url::Url;

/// A stop for a next-page chain that never ends (a misbehaving server): far more pages
/// than any real day of calls.
const MAX_PAGES: usize = 10_000;

/// Why a provider adapter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The API base is not an absolute http(s) URL.
    #[error("invalid {provider} API base URL '{base}'")]
    BadBase {
        provider: &'static str,
        base: String,
    },
    /// The HTTP client could not be built (TLS backend initialisation).
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

/// The code and message a provider's error body carries, when it could be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ErrorDetails {
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Reads a provider's error body; anything unreadable is simply no details.
pub(crate) type ErrorReader = fn(&[u8]) -> ErrorDetails;

/// An authenticated HTTP client for one provider account.
#[derive(Clone)]
pub(crate) struct RestClient {
    provider: &'static str,
    /// The API base, parsed once so every request URL is built from segments.
    base: Url,
    http: reqwest::Client,
    user: String,
    password: String,
    read_error: ErrorReader,
}

impl RestClient {
    /// A client for `api_base` that authenticates as `user:password` and gives up on a
    /// request after `timeout` (connection included).
    pub fn new(
        provider: &'static str,
        api_base: &str,
        timeout: Duration,
        (user, password): (String, String),
        read_error: ErrorReader,
    ) -> Result<Self, SetupError> {
        let base = Url::parse(api_base)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| SetupError::BadBase {
                provider,
                base: api_base.to_string(),
            })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // No provider API redirects; following one would turn a POST into a GET.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("callvisor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SetupError::Client(e.to_string()))?;
        Ok(Self {
            provider,
            base,
            http,
            user,
            password,
            read_error,
        })
    }

    /// The API base as configured (parsed).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The user HTTP Basic authenticates as (an account id or an API key).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `{base}/{segments…}`, each segment percent-encoded, so an id cannot escape its
    /// path segment.
    pub fn url(&self, segments: &[&str]) -> Result<Url, ProviderError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ProviderError::Connect("API base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// A URI relative to the API base (a next page, a recording), as an absolute URL.
    /// Absolute URIs are refused: following one would send our credentials wherever it
    /// points.
    pub fn relative(&self, uri: &str) -> Result<Url, ProviderError> {
        if !uri.starts_with('/') || uri.starts_with("//") {
            return Err(ProviderError::Protocol(format!(
                "provider URI is not relative to the API: {uri}"
            )));
        }
        let joined = format!("{}{uri}", self.base.as_str().trim_end_matches('/'));
        Url::parse(&joined).map_err(|e| ProviderError::Protocol(format!("bad provider URI: {e}")))
    }

    /// A request to `url`, not yet authenticated (see [`Self::execute`]).
    pub fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.http.request(method, url)
    }

    /// Sends an authenticated request and returns the body of a 2xx answer.
    pub async fn execute(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, ProviderError> {
        let provider = self.provider;
        let response = request
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|e| {
                tracing::debug!(provider, error = %e, "provider request failed");
                from_send_error(&e)
            })?;
        let status = response.status();
        if status.is_success() {
            return response.bytes().await.map(|b| b.to_vec()).map_err(|e| {
                if e.is_timeout() {
                    ProviderError::Ambiguous
                } else {
                    ProviderError::Protocol(format!("reading the response: {e}"))
                }
            });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.unwrap_or_default();
        let error = from_status(
            status.as_u16(),
            retry_after.as_deref(),
            (self.read_error)(&body),
            &body,
        );
        tracing::debug!(provider, status = status.as_u16(), error = %error, "provider refused a request");
        Err(error)
    }

    /// Sends a request and reads its JSON answer as `T`.
    pub async fn execute_json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ProviderError> {
        let body = self.execute(request).await?;
        serde_json::from_slice(&body).map_err(|e| {
            ProviderError::Protocol(format!("undecodable JSON from {}: {e}", self.provider))
        })
    }
}

/// Remembers the pages of one listing, so a next-page chain that loops or never ends is
/// reported instead of followed forever.
#[derive(Debug, Default)]
pub(crate) struct PageGuard {
    seen: HashSet<Url>,
}

impl PageGuard {
    /// Call before fetching each page.
    pub fn visit(&mut self, url: &Url) -> Result<(), ProviderError> {
        if !self.seen.insert(url.clone()) || self.seen.len() > MAX_PAGES {
            return Err(ProviderError::Protocol(
                "the call list's next-page chain does not end".into(),
            ));
        }
        Ok(())
    }
}

/// A duration in whole seconds as providers take it: rounded up, at least 1, at most
/// `max`.
pub(crate) fn whole_seconds(d: Duration, max: u64) -> u64 {
    let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    whole.clamp(1, max)
}

/// The error for a request that got no HTTP response.
pub(crate) fn from_send_error(e: &reqwest::Error) -> ProviderError {
    if e.is_connect() || e.is_builder() {
        // Connecting (DNS, TCP, TLS) failed, or the request could not even be built:
        // nothing reached the provider. A connect timeout lands here too, which is right.
        ProviderError::Connect(e.to_string())
    } else if e.is_redirect() {
        ProviderError::Protocol(format!("unexpected redirect: {e}"))
    } else {
        // Timed out, or the connection broke after the request was written: the
        // provider may have acted on it.
        ProviderError::Ambiguous
    }
}

/// The error for a response with a non-success HTTP status.
pub(crate) fn from_status(
    status: u16,
    retry_after: Option<&str>,
    details: ErrorDetails,
    body: &[u8],
) -> ProviderError {
    match status {
        429 => ProviderError::RateLimited {
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        500..=599 => ProviderError::Unavailable { status },
        400..=499 => ProviderError::Rejected {
            status,
            code: details.code.filter(|c| !c.is_empty()),
            message: details
                .message
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| fallback_message(status, body)),
        },
        other => ProviderError::Protocol(format!("unexpected HTTP status {other}")),
    }
}

/// A JSON string or number as text; anything else as absent.
pub(crate) fn json_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// A message for an error response that is not the provider's JSON: the start of the
/// body, or the status's reason phrase when the body is empty.
fn fallback_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_string()
    } else {
        text.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> ErrorDetails {
        ErrorDetails::default()
    }

    #[test]
    fn rate_limit_reads_retry_after_seconds() {
        assert_eq!(
            from_status(429, Some("7"), none(), b""),
            ProviderError::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
        assert_eq!(
            from_status(429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), none(), b""),
            ProviderError::RateLimited { retry_after: None }
        );
        assert_eq!(
            from_status(429, None, none(), b""),
            ProviderError::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn server_errors_are_unavailable() {
        for s in [500, 502, 503, 504] {
            assert_eq!(
                from_status(s, None, none(), b"{}"),
                ProviderError::Unavailable { status: s }
            );
        }
    }

    #[test]
    fn client_errors_without_details_still_explain() {
        assert_eq!(
            from_status(404, None, none(), b""),
            ProviderError::Rejected {
                status: 404,
                code: None,
                message: "Not Found".into()
            }
        );
        assert_eq!(
            from_status(403, None, none(), b"<html>denied</html>"),
            ProviderError::Rejected {
                status: 403,
                code: None,
                message: "<html>denied</html>".into()
            }
        );
    }

    #[test]
    fn other_statuses_are_protocol_errors() {
        assert!(matches!(
            from_status(302, None, none(), b""),
            ProviderError::Protocol(_)
        ));
    }

    #[test]
    fn whole_seconds_round_up_within_limits() {
        assert_eq!(whole_seconds(Duration::from_secs(30), 600), 30);
        assert_eq!(whole_seconds(Duration::from_millis(1500), 600), 2);
        assert_eq!(whole_seconds(Duration::ZERO, 600), 1);
        assert_eq!(whole_seconds(Duration::from_secs(3600), 600), 600);
    }

    #[test]
    fn urls_stay_under_the_base() {
        let client = RestClient::new(
            "test",
            "http://127.0.0.1:9/",
            Duration::from_secs(1),
            ("u".into(), "p".into()),
            |_| ErrorDetails::default(),
        )
        .unwrap();
        assert_eq!(
            client.url(&["v1", "a/b"]).unwrap().as_str(),
            "http://127.0.0.1:9/v1/a%2Fb"
        );
        assert_eq!(
            client.relative("/v1/x?y=1").unwrap().as_str(),
            "http://127.0.0.1:9/v1/x?y=1"
        );
        assert!(client.relative("https://evil.example/steal").is_err());
        assert!(client.relative("//evil.example/steal").is_err());
        for base in ["api.example.com", "ftp://api.example.com", "mailto:x@y"] {
            let r = RestClient::new(
                "test",
                base,
                Duration::from_secs(1),
                ("u".into(), "p".into()),
                |_| ErrorDetails::default(),
            );
            assert!(matches!(r, Err(SetupError::BadBase { .. })), "{base}");
        }
    }
}
