//! The circuit breaker: closed → open after N consecutive failures → half-open after a
//! cool-down, letting one probe through → closed on its success, open again on failure.
//!
//! While the circuit is open, requests wait here instead of reaching the provider, so a
//! provider that is down sees one probe per cool-down, not a retry storm. Callers that
//! must not wait (a single call asked for over the API) look at [`Breaker::state`] first
//! and refuse with 503.

use serde::Serialize;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Breaker settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before a probe is let through.
    pub cool_down: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cool_down: Duration::from_secs(60),
        }
    }
}

/// The state of the circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }
}

/// Permission to send one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The circuit is closed.
    Normal,
    /// The one request let through to test a provider that was failing.
    Probe,
}

#[derive(Debug)]
struct Inner {
    state: CircuitState,
    consecutive_failures: u32,
    /// When an open circuit lets its probe through.
    reopens_at: Instant,
    /// Whether the half-open probe is out.
    probe_out: bool,
    opened_count: u64,
}

/// A circuit breaker shared by every request to one provider.
#[derive(Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    inner: Mutex<Inner>,
    changed: Notify,
    provider: &'static str,
}

impl Breaker {
    pub fn new(policy: BreakerPolicy, provider: &'static str) -> Self {
        publish(provider, CircuitState::Closed);
        Self {
            policy,
            inner: Mutex::new(Inner {
                state: CircuitState::Closed,
                consecutive_failures: 0,
                reopens_at: Instant::now(),
                probe_out: false,
                opened_count: 0,
            }),
            changed: Notify::new(),
            provider,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state as a caller deciding whether to wait would see it.
    pub fn state(&self) -> CircuitState {
        let inner = self.lock();
        if inner.state == CircuitState::Open && Instant::now() >= inner.reopens_at {
            CircuitState::HalfOpen
        } else {
            inner.state
        }
    }

    /// How many times the circuit has opened.
    pub fn opened_count(&self) -> u64 {
        self.lock().opened_count
    }

    /// Waits until a request may go out.
    pub async fn admit(&self) -> Admission {
        loop {
            let notified = self.changed.notified();
            let wait = {
                let mut inner = self.lock();
                let now = Instant::now();
                match inner.state {
                    CircuitState::Closed => return Admission::Normal,
                    CircuitState::Open if now >= inner.reopens_at => {
                        inner.state = CircuitState::HalfOpen;
                        inner.probe_out = true;
                        publish(self.provider, CircuitState::HalfOpen);
                        return Admission::Probe;
                    }
                    CircuitState::HalfOpen if !inner.probe_out => {
                        inner.probe_out = true;
                        return Admission::Probe;
                    }
                    CircuitState::Open => Some(inner.reopens_at - now),
                    CircuitState::HalfOpen => None,
                }
            };
            match wait {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep(d) => {}
                        _ = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Records what became of an admitted request. `failed` is a failure of the
    /// provider (5xx, unreachable, no answer), not a refusal of the request itself.
    pub fn record(&self, admission: Admission, failed: bool) {
        let mut inner = self.lock();
        let before = inner.state;
        if admission == Admission::Probe {
            inner.probe_out = false;
        }
        if !failed {
            inner.consecutive_failures = 0;
            inner.state = CircuitState::Closed;
        } else {
            inner.consecutive_failures += 1;
            let trips = admission == Admission::Probe
                || (inner.state == CircuitState::Closed
                    && inner.consecutive_failures >= self.policy.failure_threshold);
            if trips {
                inner.state = CircuitState::Open;
                inner.reopens_at = Instant::now() + self.policy.cool_down;
                inner.opened_count += 1;
                metrics::counter!("callvisor_circuit_opened_total", "provider" => self.provider)
                    .increment(1);
            }
        }
        let after = inner.state;
        drop(inner);
        if before != after {
            tracing::warn!(
                provider = self.provider,
                from = before.as_str(),
                to = after.as_str(),
                "circuit breaker"
            );
            publish(self.provider, after);
            self.changed.notify_waiters();
        }
    }
}

/// Exports the state as a gauge: 0 closed, 1 half-open, 2 open.
fn publish(provider: &'static str, state: CircuitState) {
    let value = match state {
        CircuitState::Closed => 0.0,
        CircuitState::HalfOpen => 1.0,
        CircuitState::Open => 2.0,
    };
    metrics::gauge!("callvisor_circuit_state", "provider" => provider).set(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(
            BreakerPolicy {
                failure_threshold: 3,
                cool_down: Duration::from_secs(60),
            },
            "test",
        )
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_the_threshold_and_lets_one_probe_through_per_cool_down() {
        let b = breaker();
        for _ in 0..2 {
            let a = b.admit().await;
            b.record(a, true);
        }
        assert_eq!(b.state(), CircuitState::Closed);
        let a = b.admit().await;
        b.record(a, true);
        assert_eq!(b.state(), CircuitState::Open);

        let start = Instant::now();
        assert_eq!(b.admit().await, Admission::Probe);
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(60),
            "the probe waits out the cool-down"
        );
        // A failed probe opens the circuit again for a whole cool-down.
        b.record(Admission::Probe, true);
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.admit().await, Admission::Probe);
        assert_eq!(start.elapsed(), Duration::from_secs(120));
        b.record(Admission::Probe, false);
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(b.admit().await, Admission::Normal);
        assert_eq!(b.opened_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn while_the_probe_is_out_others_wait_and_go_once_it_succeeds() {
        let b = std::sync::Arc::new(breaker());
        for _ in 0..3 {
            b.record(Admission::Normal, true);
        }
        let probe = b.admit().await;
        assert_eq!(probe, Admission::Probe);
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.admit().await })
        };
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(
            !waiter.is_finished(),
            "nobody passes while the probe is out"
        );
        b.record(probe, false);
        assert_eq!(waiter.await.unwrap(), Admission::Normal);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_count_of_consecutive_failures() {
        let b = breaker();
        b.record(Admission::Normal, true);
        b.record(Admission::Normal, true);
        b.record(Admission::Normal, false);
        b.record(Admission::Normal, true);
        b.record(Admission::Normal, true);
        assert_eq!(b.state(), CircuitState::Closed);
    }
}
