//! Which failed provider requests are tried again, and after how long: exponential
//! backoff (2 s, 4 s, 8 s by default) with random extra so that many callers failing at
//! once do not retry in step, and never sooner than the provider's `Retry-After`.

use crate::ports::ProviderError;
use rand::Rng;
use std::time::Duration;

/// Retry settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Whether `error` on attempt `attempt` (0 = the first) is worth another attempt.
    /// A request that may have taken effect (no answer after sending) is retried only
    /// when repeating it is harmless.
    pub fn should_retry(&self, attempt: u32, error: &ProviderError, idempotent: bool) -> bool {
        attempt < self.max_retries
            && match error {
                ProviderError::RateLimited { .. }
                | ProviderError::Unavailable { .. }
                | ProviderError::Connect(_) => true,
                ProviderError::Ambiguous => idempotent,
                _ => false,
            }
    }

    /// How long to wait before retry number `attempt + 1`.
    pub fn delay(&self, attempt: u32, error: &ProviderError) -> Duration {
        let backoff = self.base_delay * 2u32.saturating_pow(attempt);
        let jitter = backoff.mul_f64(rand::rng().random_range(0.0..0.2));
        let retry_after = match error {
            ProviderError::RateLimited { retry_after } => retry_after.unwrap_or_default(),
            _ => Duration::ZERO,
        };
        (backoff + jitter).max(retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_exponentially_and_honours_retry_after() {
        let p = RetryPolicy::default();
        let unavailable = ProviderError::Unavailable { status: 503 };
        for (attempt, nominal) in [(0, 2), (1, 4), (2, 8)] {
            let d = p.delay(attempt, &unavailable);
            let nominal = Duration::from_secs(nominal);
            assert!(d >= nominal && d <= nominal.mul_f64(1.2), "{d:?}");
        }
        let limited = ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(p.delay(0, &limited), Duration::from_secs(30));
    }

    #[test]
    fn retries_only_what_is_safe_and_only_so_often() {
        let p = RetryPolicy::default();
        assert!(p.should_retry(0, &ProviderError::Connect("refused".into()), false));
        assert!(!p.should_retry(3, &ProviderError::Connect("refused".into()), false));
        assert!(
            !p.should_retry(0, &ProviderError::Ambiguous, false),
            "a create may have dialed"
        );
        assert!(p.should_retry(0, &ProviderError::Ambiguous, true));
        let refused = ProviderError::Rejected {
            status: 400,
            code: None,
            message: "bad".into(),
        };
        assert!(!p.should_retry(0, &refused, true));
    }
}
