//! Retry policy of a single call: how many attempts, how long between them, and which
//! failures are worth another try. Each retry is a call of its own, linked to the first
//! attempt and numbered, so the history of every attempt and its reason is kept.

use super::call::FailureReason;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// When and how often a failed call is tried again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub backoff_seconds: u64,
    /// Each further wait is this many times the previous one.
    pub backoff_multiplier: f64,
    /// Failures that are retried.
    pub retry_on: Vec<FailureReason>,
}

/// Most attempts a policy may ask for.
pub const MAX_ATTEMPTS: u32 = 10;
/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(7 * 24 * 3600);

impl RetryPolicy {
    /// Failures another attempt cannot fix: the number does not exist, someone canceled
    /// the call on purpose, or the system gave up on it after repeated crashes.
    pub const NEVER_RETRIED: [FailureReason; 3] = [
        FailureReason::InvalidNumber,
        FailureReason::Canceled,
        FailureReason::SupervisorGaveUp,
    ];

    /// The retried failures when a policy does not name them.
    pub const DEFAULT_RETRY_ON: [FailureReason; 2] = [FailureReason::Busy, FailureReason::NoAnswer];

    /// Whether attempt number `attempt`, ended by `reason`, gets another attempt.
    pub fn retries(&self, attempt: u32, reason: Option<FailureReason>) -> bool {
        let Some(reason) = reason else { return false };
        attempt < self.max_attempts
            && self.retry_on.contains(&reason)
            && !Self::NEVER_RETRIED.contains(&reason)
    }

    /// How long after attempt number `attempt` ended the next one starts.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let seconds = self.backoff_seconds as f64 * self.backoff_multiplier.powi(exponent);
        if seconds.is_finite() && seconds < MAX_BACKOFF.as_secs_f64() {
            Duration::from_secs_f64(seconds.max(0.0))
        } else {
            MAX_BACKOFF
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff_seconds: 60,
            backoff_multiplier: 2.0,
            retry_on: vec![FailureReason::Busy, FailureReason::InvalidNumber],
        }
    }

    #[test]
    fn retries_listed_failures_until_the_last_attempt() {
        let p = policy();
        assert!(p.retries(1, Some(FailureReason::Busy)));
        assert!(p.retries(2, Some(FailureReason::Busy)));
        assert!(!p.retries(3, Some(FailureReason::Busy)));
        assert!(!p.retries(1, Some(FailureReason::NoAnswer)));
        assert!(!p.retries(1, None));
    }

    #[test]
    fn never_retries_an_invalid_number_even_when_listed() {
        assert!(!policy().retries(1, Some(FailureReason::InvalidNumber)));
    }

    #[test]
    fn backs_off_exponentially_within_a_cap() {
        let p = policy();
        assert_eq!(p.delay_after(1), Duration::from_secs(60));
        assert_eq!(p.delay_after(2), Duration::from_secs(120));
        assert_eq!(p.delay_after(40), MAX_BACKOFF);
    }
}
