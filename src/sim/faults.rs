//! Fault injection for the simulator, as a layer around its router, whatever its
//! flavor: HTTP 429 above a configured request rate (with `Retry-After`), outage windows
//! answering 503, and slow answers to write requests; and, at callback delivery, lost,
//! duplicated and reordered status callbacks. It lets tests and benchmarks see how
//! callvisor treats a provider that misbehaves the way real ones do.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// What goes wrong, and when.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Provider API requests per second above which the simulator answers 429 (a
    /// bucket of that many requests, refilled continuously, as providers meter).
    pub rate_limit_per_second: Option<u32>,
    /// Windows (start after the simulator starts, length) in which every API request
    /// answers 503.
    pub outages: Vec<(Duration, Duration)>,
    /// Shortest and longest delay added to the answer of each write request (POST),
    /// after it has taken effect: a delay longer than the client's timeout makes a
    /// create-call whose outcome the client cannot know.
    pub latency: (Duration, Duration),
    /// Share of status callbacks never sent (0..=1).
    pub callback_loss: f64,
    /// Share of status callbacks sent twice.
    pub callback_duplication: f64,
    /// Share of status callbacks held back and sent after the call's next one.
    pub callback_reordering: f64,
}

/// What becomes of one status callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackFate {
    Delivered,
    Lost,
    Duplicated,
    Reordered,
}

/// Counts of injected faults, served at `GET /sim/faults`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultCounts {
    pub rate_limited: u64,
    pub unavailable: u64,
    pub passed: u64,
    pub callbacks_lost: u64,
    pub callbacks_duplicated: u64,
    pub callbacks_reordered: u64,
}

/// Fault injection state of one simulator.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    started: Instant,
    /// The rate-limit bucket: requests it can still take, as of when.
    bucket: Mutex<(f64, Instant)>,
    rate_limited: AtomicU64,
    unavailable: AtomicU64,
    passed: AtomicU64,
    callbacks_lost: AtomicU64,
    callbacks_duplicated: AtomicU64,
    callbacks_reordered: AtomicU64,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Arc<Self> {
        let capacity = config.rate_limit_per_second.unwrap_or(0) as f64;
        Arc::new(Self {
            config,
            started: Instant::now(),
            bucket: Mutex::new((capacity, Instant::now())),
            rate_limited: AtomicU64::new(0),
            unavailable: AtomicU64::new(0),
            passed: AtomicU64::new(0),
            callbacks_lost: AtomicU64::new(0),
            callbacks_duplicated: AtomicU64::new(0),
            callbacks_reordered: AtomicU64::new(0),
        })
    }

    pub fn counts(&self) -> FaultCounts {
        FaultCounts {
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            unavailable: self.unavailable.load(Ordering::Relaxed),
            passed: self.passed.load(Ordering::Relaxed),
            callbacks_lost: self.callbacks_lost.load(Ordering::Relaxed),
            callbacks_duplicated: self.callbacks_duplicated.load(Ordering::Relaxed),
            callbacks_reordered: self.callbacks_reordered.load(Ordering::Relaxed),
        }
    }

    /// Draws what becomes of the next status callback, and counts it.
    pub fn callback_fate(&self) -> CallbackFate {
        use rand::Rng;
        let c = &self.config;
        let draw: f64 = rand::rng().random_range(0.0..1.0);
        let (fate, counter) = if draw < c.callback_loss {
            (CallbackFate::Lost, Some(&self.callbacks_lost))
        } else if draw < c.callback_loss + c.callback_duplication {
            (CallbackFate::Duplicated, Some(&self.callbacks_duplicated))
        } else if draw < c.callback_loss + c.callback_duplication + c.callback_reordering {
            (CallbackFate::Reordered, Some(&self.callbacks_reordered))
        } else {
            (CallbackFate::Delivered, None)
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        fate
    }

    fn in_outage(&self, now: Instant) -> bool {
        let since = now.duration_since(self.started);
        self.config
            .outages
            .iter()
            .any(|(start, length)| since >= *start && since < *start + *length)
    }

    /// Whether one more request now would exceed the configured rate; if not, counts it.
    fn over_rate(&self, now: Instant) -> bool {
        let Some(limit) = self.config.rate_limit_per_second else {
            return false;
        };
        let capacity = limit as f64;
        let mut bucket = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, since) = *bucket;
        let refilled = (tokens + now.duration_since(since).as_secs_f64() * capacity).min(capacity);
        if refilled < 1.0 {
            *bucket = (refilled, now);
            return true;
        }
        *bucket = (refilled - 1.0, now);
        false
    }

    fn latency(&self) -> Duration {
        let (min, max) = self.config.latency;
        if max <= min {
            return min;
        }
        use rand::Rng;
        min + (max - min).mul_f64(rand::rng().random_range(0.0..1.0))
    }
}

/// The layer: applies the configured faults to provider API requests (the simulator's
/// own `/sim/…` and `/health` endpoints are never faulted).
pub async fn inject(State(faults): State<Arc<Faults>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/sim/") || path == "/health" {
        return next.run(request).await;
    }
    let now = Instant::now();
    if faults.in_outage(now) {
        faults.unavailable.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": 503, "message": "Service Unavailable (simulated outage)"})),
        )
            .into_response();
    }
    if faults.over_rate(now) {
        faults.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(
                serde_json::json!({"code": 20429, "status": 429, "message": "Too Many Requests"}),
            ),
        )
            .into_response();
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
        return response;
    }
    faults.passed.fetch_add(1, Ordering::Relaxed);
    let is_write = request.method() == axum::http::Method::POST;
    let response = next.run(request).await;
    let delay = faults.latency();
    if is_write && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

/// Parses outage windows written `START+LENGTH` in seconds, comma-separated
/// (`30+90,600+60`: down from 30 s to 120 s and from 600 s to 660 s after start).
pub fn parse_outages(raw: &str) -> Result<Vec<(Duration, Duration)>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|window| {
            let (start, length) = window
                .split_once('+')
                .ok_or_else(|| format!("outage '{window}' is not START+LENGTH"))?;
            let seconds = |v: &str| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| format!("'{v}' is not a number of seconds"))
            };
            Ok((seconds(start)?, seconds(length)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_outage_windows() {
        assert_eq!(
            parse_outages("30+90, 600+60").unwrap(),
            vec![
                (Duration::from_secs(30), Duration::from_secs(90)),
                (Duration::from_secs(600), Duration::from_secs(60))
            ]
        );
        assert!(parse_outages("30").is_err());
        assert!(parse_outages("x+1").is_err());
        assert_eq!(parse_outages("").unwrap(), vec![]);
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_requests_above_the_rate_and_during_outages() {
        let f = Faults::new(FaultConfig {
            rate_limit_per_second: Some(2),
            outages: vec![(Duration::from_secs(10), Duration::from_secs(5))],
            ..FaultConfig::default()
        });
        let now = Instant::now();
        assert!(!f.over_rate(now));
        assert!(!f.over_rate(now));
        assert!(f.over_rate(now), "a third request in the same second");
        assert!(!f.over_rate(now + Duration::from_secs(1)));
        assert!(!f.in_outage(now + Duration::from_secs(9)));
        assert!(f.in_outage(now + Duration::from_secs(10)));
        assert!(!f.in_outage(now + Duration::from_secs(15)));
    }
}
