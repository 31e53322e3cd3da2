//! Waking the voice bot before its call is dialed, so the callee does not answer into
//! silence. The HTTP implementation lives in the server crate.

use async_trait::async_trait;
use std::time::Duration;

/// Calls a bot's warm-up URL.
#[async_trait]
pub trait BotWarmer: Send + Sync + 'static {
    /// One warm-up attempt: `Ok` when the bot answered in time, else why not.
    async fn warm_up(&self, url: &str, timeout: Duration) -> Result<(), String>;
}

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WarmupPolicy {
    /// Longest wait for one attempt.
    pub timeout: Duration,
    /// Attempts before the call fails with `bot_unavailable`.
    pub attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub backoff: Duration,
}

impl Default for WarmupPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}
