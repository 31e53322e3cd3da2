//! One provider request through the breaker, the limiter, the provider and the retry
//! policy, with its metrics.

use super::breaker::{Admission, Breaker, CircuitState};
use super::limiter::Limiter;
use super::retry::RetryPolicy;
use super::{GatewayConfig, GatewayStats};
use crate::ports::{Provider, ProviderError};
use std::future::Future;
use std::sync::Arc;
use tokio::time::Instant;

/// Which quota a request draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiClass {
    CreateCall,
    Other,
    Sms,
}

impl ApiClass {
    fn label(self) -> &'static str {
        match self {
            Self::CreateCall => "create_call",
            Self::Other => "other",
            Self::Sms => "sms",
        }
    }
}

/// The shared machinery of one provider's requests.
pub struct Pipeline {
    provider: Arc<dyn Provider>,
    breaker: Breaker,
    create_call: Arc<Limiter>,
    other: Arc<Limiter>,
    sms: Arc<Limiter>,
    retry: RetryPolicy,
}

impl Pipeline {
    pub fn new(config: GatewayConfig) -> Self {
        let create_call = Limiter::new(config.limits.create_call);
        let other = if config.limits.shared {
            Arc::clone(&create_call)
        } else {
            Limiter::new(config.limits.other)
        };
        let name = config.provider.name();
        Self {
            breaker: Breaker::new(config.breaker, name),
            provider: config.provider,
            create_call,
            other,
            sms: Limiter::new(config.limits.sms),
            retry: config.retry,
        }
    }

    pub fn provider(&self) -> Arc<dyn Provider> {
        Arc::clone(&self.provider)
    }

    pub fn stats(&self) -> GatewayStats {
        GatewayStats {
            provider: self.provider.name().to_string(),
            circuit_state: self.breaker.state(),
            circuit_opened: self.breaker.opened_count(),
            create_call_limiter: self.create_call.stats(),
            other_limiter: self.other.stats(),
            sms_limiter: self.sms.stats(),
        }
    }

    /// Sends a request built by `attempt` until it succeeds, fails for good, or runs out
    /// of retries. `idempotent` says whether a request that may have taken effect can be
    /// sent again.
    pub async fn run<T, A, F>(
        &self,
        class: ApiClass,
        operation: &'static str,
        idempotent: bool,
        attempt: A,
    ) -> Result<T, ProviderError>
    where
        A: Fn() -> F,
        F: Future<Output = Result<T, ProviderError>>,
    {
        let provider = self.provider.name();
        let limiter = match class {
            ApiClass::CreateCall => &self.create_call,
            ApiClass::Other => &self.other,
            ApiClass::Sms => &self.sms,
        };
        let mut tries = 0;
        loop {
            let admission = self.breaker.admit().await;
            let waited = limiter.acquire().await;
            if admission == Admission::Normal && self.breaker.state() != CircuitState::Closed {
                // The circuit opened while this request queued for its permit.
                continue;
            }
            if !waited.is_zero() {
                metrics::counter!("callvisor_rate_limiter_waits_total", "provider" => provider, "class" => class.label())
                    .increment(1);
                metrics::histogram!("callvisor_rate_limiter_wait_seconds", "provider" => provider, "class" => class.label())
                    .record(waited.as_secs_f64());
            }
            let started = Instant::now();
            let result = attempt().await;
            metrics::histogram!(
                "callvisor_provider_request_duration_seconds",
                "provider" => provider, "operation" => operation
            )
            .record(started.elapsed().as_secs_f64());
            metrics::counter!(
                "callvisor_provider_requests_total",
                "provider" => provider, "operation" => operation, "outcome" => outcome_label(&result)
            )
            .increment(1);
            let provider_failed = matches!(&result, Err(e) if e.is_provider_failure());
            self.breaker.record(admission, provider_failed);
            match result {
                Err(error) if self.retry.should_retry(tries, &error, idempotent) => {
                    let delay = self.retry.delay(tries, &error);
                    tracing::info!(provider, operation, %error, ?delay, "retrying provider request");
                    metrics::counter!("callvisor_provider_retries_total", "provider" => provider, "operation" => operation)
                        .increment(1);
                    tokio::time::sleep(delay).await;
                    tries += 1;
                }
                done => return done,
            }
        }
    }
}

/// A bounded label for a request's outcome.
fn outcome_label<T>(result: &Result<T, ProviderError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(ProviderError::RateLimited { .. }) => "rate_limited",
        Err(ProviderError::Unavailable { .. }) => "unavailable",
        Err(ProviderError::Connect(_)) => "connect_error",
        Err(ProviderError::Ambiguous) => "ambiguous",
        Err(ProviderError::Rejected { .. }) => "rejected",
        Err(ProviderError::Unsupported(_)) => "unsupported",
        Err(ProviderError::Protocol(_)) => "protocol_error",
        Err(ProviderError::Withheld) => "withheld",
    }
}
