//! Provider health: what one check found, and how a probe's result is judged.
//!
//! A probe asks the provider for a call that does not exist. A provider that is up and
//! accepts our credentials answers "not found" at once; one that is down, unreachable or
//! refusing our account shows it. That costs one cheap request, the same on every
//! provider, and travels the gateway like any request (breaker, quota, retries), so it
//! sees the provider exactly as calls do.

use crate::gateway::CircuitState;
use crate::ports::ProviderError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

/// The provider call id the probe asks for; no provider has it.
pub const PROBE_CALL_ID: &str = "CA00000000000000000000000000000000";

/// How the provider is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthStatus {
    Ok,
    Warning,
    Error,
}

impl HealthStatus {
    pub const ALL: [HealthStatus; 3] = [Self::Ok, Self::Warning, Self::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
        }
    }

    /// 0, 1 or 2, as the status gauge exports it.
    pub fn gauge(self) -> f64 {
        match self {
            Self::Ok => 0.0,
            Self::Warning => 1.0,
            Self::Error => 2.0,
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HealthStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|h| h.as_str() == s)
            .ok_or_else(|| format!("unknown health status '{s}' (OK, WARNING, ERROR)"))
    }
}

/// Where a check came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckSource {
    /// The scheduled probe.
    Probe,
    /// A probe asked for over the API.
    Manual,
    /// The provider's own report (Exotel's heartbeat webhook).
    Heartbeat,
}

impl CheckSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Probe => "probe",
            Self::Manual => "manual",
            Self::Heartbeat => "heartbeat",
        }
    }
}

impl FromStr for CheckSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "probe" => Ok(Self::Probe),
            "manual" => Ok(Self::Manual),
            "heartbeat" => Ok(Self::Heartbeat),
            other => Err(format!("unknown check source '{other}'")),
        }
    }
}

/// One health check, as stored in `health_checks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub id: Uuid,
    pub checked_at: DateTime<Utc>,
    pub source: CheckSource,
    pub status: HealthStatus,
    /// Whether calls to us are affected (only the provider's heartbeat can tell).
    pub incoming_affected: Option<bool>,
    /// Whether our calls out are affected.
    pub outgoing_affected: Option<bool>,
    /// How long the provider took to answer the probe.
    pub latency_ms: Option<i64>,
    pub error: Option<String>,
    /// The heartbeat's body, or what the probe saw.
    pub raw: Value,
}

/// What a probe saw.
#[derive(Clone, Debug, PartialEq)]
pub enum ProbeResult {
    /// The circuit is open: the probe was not sent, the provider is known to be failing.
    CircuitOpen,
    /// The provider answered (any answer that proves it up) after this long…
    Answered(Duration, Option<ProviderError>),
    /// …or failed after this long.
    Failed(Duration, ProviderError),
    /// No answer within the check's timeout.
    TimedOut(Duration),
}

impl ProbeResult {
    /// Sorts a provider answer to the probe's lookup into what it proves.
    pub fn of(elapsed: Duration, answer: Result<(), ProviderError>) -> Self {
        match answer {
            Ok(()) => Self::Answered(elapsed, None),
            // The provider looked for the call and did not find it: up and ours.
            Err(e @ ProviderError::Rejected { status: 404, .. }) => {
                Self::Answered(elapsed, Some(e))
            }
            Err(e) => Self::Failed(elapsed, e),
        }
    }
}

/// Judges a probe: ERROR when the provider cannot take calls, WARNING when it takes
/// them with trouble (slow, throttling, answering oddly), OK otherwise.
pub fn judge(
    result: &ProbeResult,
    circuit: Option<CircuitState>,
    slow: Duration,
    source: CheckSource,
    at: DateTime<Utc>,
) -> HealthCheck {
    let (status, latency, error) = match result {
        ProbeResult::CircuitOpen => (
            HealthStatus::Error,
            None,
            Some("the circuit breaker is open: the provider keeps failing".to_string()),
        ),
        ProbeResult::Answered(elapsed, _) if *elapsed > slow => (
            HealthStatus::Warning,
            Some(*elapsed),
            Some(format!(
                "the provider took {:.1} s to answer",
                elapsed.as_secs_f64()
            )),
        ),
        ProbeResult::Answered(elapsed, _) => (HealthStatus::Ok, Some(*elapsed), None),
        ProbeResult::Failed(elapsed, e) => {
            let status = match e {
                ProviderError::Unavailable { .. }
                | ProviderError::Connect(_)
                | ProviderError::Ambiguous
                | ProviderError::Rejected {
                    status: 401 | 403, ..
                } => HealthStatus::Error,
                _ => HealthStatus::Warning,
            };
            (status, Some(*elapsed), Some(e.to_string()))
        }
        ProbeResult::TimedOut(elapsed) => (
            HealthStatus::Error,
            Some(*elapsed),
            Some(format!("no answer within {:.0} s", elapsed.as_secs_f64())),
        ),
    };
    let raw = json!({
        "circuit": circuit.map(CircuitState::as_str),
        "latencyMs": latency.map(|d| d.as_millis() as i64),
        "error": error,
        "probe": PROBE_CALL_ID,
    });
    HealthCheck {
        id: Uuid::now_v7(),
        checked_at: at,
        source,
        status,
        incoming_affected: None,
        outgoing_affected: Some(status == HealthStatus::Error),
        latency_ms: latency.map(|d| d.as_millis() as i64),
        error,
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(result: ProbeResult) -> HealthStatus {
        let slow = Duration::from_secs(5);
        judge(
            &result,
            Some(CircuitState::Closed),
            slow,
            CheckSource::Probe,
            Utc::now(),
        )
        .status
    }

    #[test]
    fn a_provider_that_says_not_found_quickly_is_healthy() {
        let not_found = Err(ProviderError::Rejected {
            status: 404,
            code: None,
            message: "no such call".into(),
        });
        assert_eq!(
            status(ProbeResult::of(
                Duration::from_millis(80),
                not_found.clone()
            )),
            HealthStatus::Ok
        );
        assert_eq!(
            status(ProbeResult::of(Duration::from_secs(6), not_found)),
            HealthStatus::Warning
        );
    }

    #[test]
    fn down_unreachable_or_refusing_our_account_is_an_error() {
        for e in [
            ProviderError::Unavailable { status: 503 },
            ProviderError::Connect("refused".into()),
            ProviderError::Rejected {
                status: 401,
                code: None,
                message: "bad auth".into(),
            },
        ] {
            assert_eq!(
                status(ProbeResult::of(Duration::ZERO, Err(e))),
                HealthStatus::Error
            );
        }
        assert_eq!(status(ProbeResult::CircuitOpen), HealthStatus::Error);
        assert_eq!(
            status(ProbeResult::TimedOut(Duration::from_secs(30))),
            HealthStatus::Error
        );
        let throttled = Err(ProviderError::RateLimited { retry_after: None });
        assert_eq!(
            status(ProbeResult::of(Duration::ZERO, throttled)),
            HealthStatus::Warning
        );
    }
}
