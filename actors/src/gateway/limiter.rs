//! Provider rate limits with governor, on tokio's clock.
//!
//! governor's own clock does not follow tokio's paused time, so the limiter here reads
//! time from tokio and sleeps with tokio: on paused time, an hour of pacing takes no
//! time at all, and tests can check exactly when each request went out. Quotas have no
//! burst: requests are spaced evenly, so no window of the provider's length ever holds
//! more than the quota (a burst of N followed by steady refill would put nearly 2 N in
//! the first window).

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A quota: `requests` per `per`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub per: Duration,
}

impl Rate {
    pub fn per_second(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(1),
        }
    }

    pub fn per_minute(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(60),
        }
    }

    /// Time between two requests.
    pub fn spacing(self) -> Duration {
        self.per / self.requests.max(1)
    }
}

/// Time since the limiter was made, from tokio's clock.
#[derive(Clone, Debug)]
struct TokioTime {
    origin: Instant,
}

impl Clock for TokioTime {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(Instant::now().duration_since(self.origin))
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioTime, NoOpMiddleware<Nanos>>;

/// One rate limit, shared by every request of its class.
pub struct Limiter {
    rate: Rate,
    gcra: Gcra,
    clock: TokioTime,
    /// Requests that had to wait for a permit.
    waited: AtomicU64,
    /// Total time spent waiting, in microseconds.
    waited_micros: AtomicU64,
    granted: AtomicU64,
}

/// What a limiter has done, for the stats endpoint.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimiterStats {
    pub requests_per_second: f64,
    pub granted: u64,
    pub waited: u64,
    pub total_wait_seconds: f64,
}

impl Limiter {
    pub fn new(rate: Rate) -> Arc<Self> {
        let spacing = rate.spacing().max(Duration::from_nanos(1));
        let quota = Quota::with_period(spacing)
            .expect("spacing is not zero")
            .allow_burst(NonZeroU32::MIN);
        let clock = TokioTime {
            origin: Instant::now(),
        };
        Arc::new(Self {
            rate,
            gcra: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            waited: AtomicU64::new(0),
            waited_micros: AtomicU64::new(0),
            granted: AtomicU64::new(0),
        })
    }

    /// Waits (a queue, not an error) until the quota allows one more request; returns
    /// how long that took.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        loop {
            match self.gcra.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait.max(Duration::from_micros(1))).await;
                }
            }
        }
        let waited = started.elapsed();
        self.granted.fetch_add(1, Ordering::Relaxed);
        if !waited.is_zero() {
            self.waited.fetch_add(1, Ordering::Relaxed);
            self.waited_micros
                .fetch_add(waited.as_micros() as u64, Ordering::Relaxed);
        }
        waited
    }

    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            requests_per_second: self.rate.requests as f64 / self.rate.per.as_secs_f64(),
            granted: self.granted.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            total_wait_seconds: self.waited_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_evenly_and_never_bursts() {
        let limiter = Limiter::new(Rate::per_minute(200));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..201 {
            limiter.acquire().await;
            times.push(start.elapsed());
        }
        assert_eq!(times[0], Duration::ZERO);
        assert_eq!(times[1], Duration::from_millis(300));
        // Any 60 s window holds at most 200; the 201st goes out after the first window.
        assert!(times[200] >= Duration::from_secs(60));
        let stats = limiter.stats();
        assert_eq!((stats.granted, stats.waited), (201, 200));
    }
}
