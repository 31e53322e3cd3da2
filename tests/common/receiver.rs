//! A local endpoint that records every callback posted to it, whatever the provider:
//! the full URL it was called at, the headers and the body.

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// Longest wait for a callback; everything normally takes well under it.
pub const WAIT: Duration = Duration::from_secs(5);

/// One callback as the receiver got it.
#[derive(Debug)]
pub struct Received {
    /// The full URL, query included, as a receiver behind its public base URL would
    /// rebuild it.
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The body's form fields (none for a body that is not a form).
    pub params: Vec<(String, String)>,
}

impl Received {
    /// The body's form fields.
    pub fn form(&self) -> Vec<(String, String)> {
        self.params.clone()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON callback")
    }

    /// A form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The recording endpoint.
pub struct Receiver {
    pub base: String,
    got: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, got) = mpsc::unbounded_channel();
        let base_for_handler = base.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let base = base_for_handler.clone();
            async move {
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                let is_form = headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
                let params = if is_form {
                    form_urlencoded::parse(&body).into_owned().collect()
                } else {
                    Vec::new()
                };
                let _ = tx.send(Received {
                    url: format!("{base}{path}"),
                    headers,
                    body: body.to_vec(),
                    params,
                });
                "ok"
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, got }
    }

    /// A callback URL for `call`.
    pub fn hook(&self, call: &str) -> String {
        format!("{}/hook?callId={call}", self.base)
    }

    pub async fn next(&mut self) -> Received {
        self.next_within(WAIT).await
    }

    /// The next request, waiting at most `within`.
    pub async fn next_within(&mut self, within: Duration) -> Received {
        timeout(within, self.got.recv())
            .await
            .expect("a request within the time limit")
            .expect("the receiver is running")
    }

    /// Nothing more arrives within `quiet`.
    pub async fn assert_silent(&mut self, quiet: Duration) {
        if let Ok(Some(r)) = timeout(quiet, self.got.recv()).await {
            panic!("unexpected callback: {r:?}");
        }
    }
}
