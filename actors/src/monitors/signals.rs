//! Signals the alert rules read that no actor owns: webhook lag (seen by the HTTP front)
//! and supervisor restarts (seen by each supervisor). Recording one is a lock and a push,
//! cheap enough for every webhook; only the last window is kept, so memory stays bounded.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Most samples kept per signal, whatever the traffic.
const MAX_SAMPLES: usize = 10_000;

/// Recent samples of one signal.
#[derive(Debug, Default)]
struct Window<T> {
    samples: VecDeque<(Instant, T)>,
}

impl<T: Copy> Window<T> {
    fn push(&mut self, at: Instant, value: T, keep: Duration) {
        self.forget(at, keep);
        if self.samples.len() == MAX_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((at, value));
    }

    fn forget(&mut self, now: Instant, keep: Duration) {
        while let Some((at, _)) = self.samples.front() {
            if now.duration_since(*at) > keep {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }
}

/// The shared signals; one per tree.
#[derive(Debug)]
pub struct Signals {
    /// How far back the rules look.
    window: Duration,
    lags: Mutex<Window<Duration>>,
    restarts: Mutex<Window<()>>,
}

impl Default for Signals {
    fn default() -> Self {
        Self::new(Duration::from_secs(300))
    }
}

impl Signals {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            lags: Mutex::default(),
            restarts: Mutex::default(),
        }
    }

    /// A webhook arrived `lag` after the provider sent it.
    pub fn webhook_lag(&self, lag: Duration) {
        let mut lags = self.lags.lock().unwrap_or_else(|p| p.into_inner());
        lags.push(Instant::now(), lag, self.window);
    }

    /// A supervisor restarted one of its actors.
    pub fn restarted(&self) {
        let mut restarts = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        restarts.push(Instant::now(), (), self.window);
    }

    /// The largest lag within the window (zero when no webhook arrived).
    pub fn max_webhook_lag(&self) -> Duration {
        let mut lags = self.lags.lock().unwrap_or_else(|p| p.into_inner());
        lags.forget(Instant::now(), self.window);
        lags.samples
            .iter()
            .map(|(_, lag)| *lag)
            .max()
            .unwrap_or_default()
    }

    /// Restarts within the window.
    pub fn recent_restarts(&self) -> usize {
        let mut restarts = self.restarts.lock().unwrap_or_else(|p| p.into_inner());
        restarts.forget(Instant::now(), self.window);
        restarts.samples.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_the_window_counts() {
        let s = Signals::new(Duration::from_secs(60));
        s.webhook_lag(Duration::from_secs(40));
        s.restarted();
        tokio::time::advance(Duration::from_secs(30)).await;
        s.webhook_lag(Duration::from_secs(2));
        s.restarted();
        assert_eq!(s.max_webhook_lag(), Duration::from_secs(40));
        assert_eq!(s.recent_restarts(), 2);
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(s.max_webhook_lag(), Duration::from_secs(2));
        assert_eq!(s.recent_restarts(), 1);
    }
}
