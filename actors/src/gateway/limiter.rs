//! Provider rate limits with governor, on tokio's clock.
//!
//! governor's own clock does not follow tokio's paused time, so the limiter here reads
//! time from tokio and sleeps with tokio: on paused time, an hour of pacing takes no
//! time at all, and tests can check exactly when each request went out.
//!
//! Two rules together: governor spaces requests evenly (one per `per / requests`) with a
//! tolerance of one request, so a permit taken a little late — timers fire up to a
//! millisecond late — does not push every later one back, and the achieved rate is the
//! configured one; and a log of the last `requests` grants makes sure no window of the
//! provider's length ever holds more than the quota, even right after an idle spell.

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
    /// Waiters line up here, first come first served, so only the head of the line
    /// sleeps on the quota: a crowd of waiters all waking at each permit would cost
    /// CPU and make every permit late.
    line: tokio::sync::Mutex<()>,
    /// When the last `rate.requests` permits were granted, oldest first.
    recent: std::sync::Mutex<std::collections::VecDeque<Instant>>,
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
            .allow_burst(NonZeroU32::MIN.saturating_add(1));
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
            line: tokio::sync::Mutex::new(()),
            recent: std::sync::Mutex::new(std::collections::VecDeque::new()),
        })
    }

    /// Waits (a queue, not an error) until the quota allows one more request; returns
    /// how long that took.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let _turn = self.line.lock().await;
        loop {
            if let Some(window_opens) = self.window_opens() {
                if Instant::now() < window_opens {
                    tokio::time::sleep_until(window_opens).await;
                    continue;
                }
            }
            match self.gcra.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(self.clock.now());
                    tokio::time::sleep(wait.max(Duration::from_micros(1))).await;
                }
            }
        }
        self.remember(Instant::now());
        let waited = started.elapsed();
        self.granted.fetch_add(1, Ordering::Relaxed);
        if !waited.is_zero() {
            self.waited.fetch_add(1, Ordering::Relaxed);
            self.waited_micros
                .fetch_add(waited.as_micros() as u64, Ordering::Relaxed);
        }
        waited
    }

    /// When the oldest of the last `requests` grants leaves the window, if the log is
    /// full.
    fn window_opens(&self) -> Option<Instant> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        (recent.len() >= self.rate.requests as usize)
            .then(|| recent.front().map(|oldest| *oldest + self.rate.per))
            .flatten()
    }

    fn remember(&self, granted_at: Instant) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.push_back(granted_at);
        while recent.len() > self.rate.requests.max(1) as usize {
            recent.pop_front();
        }
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
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_secs(60))
                .count();
            assert!(in_window <= 200, "{in_window} in the minute after {t:?}");
        }
        assert_eq!(
            times[200],
            Duration::from_secs(60),
            "the 201st waits for the window"
        );
        // Evenly spaced in between: no burst beyond the one-request tolerance.
        assert_eq!(times[3] - times[2], Duration::from_millis(300));
        assert_eq!(limiter.stats().granted, 201);
    }
}
