//! The alert rules: pure functions from a snapshot of the system to alerts raised or
//! resolved. The AlertManager gathers the snapshot; nothing here does I/O, so every
//! threshold is tested directly.
//!
//! A figure the snapshot could not get (a store that failed, an actor that did not
//! answer) decides nothing: its alert is neither raised nor resolved on a guess.

use super::alert::{Alert, Level};
use crate::domain::CallStatus;
use crate::gateway::CircuitState;
use serde_json::json;
use std::time::Duration;

/// The final statuses that count as errors: calls the system failed to carry, as
/// opposed to people who were busy or did not answer.
pub const ERROR_STATUSES: [CallStatus; 2] = [CallStatus::Failed, CallStatus::Timeout];

/// How the calls of a window ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    /// Calls that reached a final status.
    pub ended: u64,
    /// Of those, calls that ended in one of [`ERROR_STATUSES`].
    pub errors: u64,
}

/// The slot line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueueSnapshot {
    pub waiting: usize,
    /// How long the longest-waiting call has waited.
    pub longest_wait: Duration,
}

/// What the rules look at; `None` where a figure could not be read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub outcomes: Option<OutcomeCounts>,
    pub circuit: Option<(CircuitState, u64)>,
    pub queue: Option<QueueSnapshot>,
    /// The largest webhook lag seen in the signal window.
    pub webhook_lag: Option<Duration>,
    pub memory_bytes: Option<u64>,
    /// Supervisor restarts in the signal window.
    pub restarts: Option<usize>,
}

/// The thresholds of every rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// The sliding window the error rate is computed over.
    pub error_rate_window: Duration,
    /// Fewer ended calls than this in the window prove nothing either way.
    pub error_rate_min_calls: u64,
    /// Error rates above this are a warning…
    pub error_rate_warning: f64,
    /// …and above this critical.
    pub error_rate_critical: f64,
    /// More calls waiting for a slot than this is a backlog.
    pub queue_backlog: usize,
    /// A call waiting longer than this for its slot.
    pub queue_wait: Duration,
    pub webhook_lag: Duration,
    pub memory_warning_bytes: u64,
    pub memory_critical_bytes: u64,
    /// This many supervisor restarts within the signal window is a storm.
    pub restart_storm: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            error_rate_window: Duration::from_secs(300),
            error_rate_min_calls: 20,
            error_rate_warning: 0.10,
            error_rate_critical: 0.20,
            queue_backlog: 500,
            queue_wait: Duration::from_secs(120),
            webhook_lag: Duration::from_secs(30),
            memory_warning_bytes: 1024 * 1024 * 1024,
            memory_critical_bytes: 2 * 1024 * 1024 * 1024,
            restart_storm: 10,
        }
    }
}

/// What a rule concluded.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Raise(Alert),
    Resolve(&'static str),
}

/// The rules, with the little they remember between two looks.
#[derive(Clone, Debug)]
pub struct Rules {
    pub thresholds: Thresholds,
    /// How many times the circuit had opened at the previous look.
    circuit_opened: Option<u64>,
}

impl Rules {
    pub fn new(thresholds: Thresholds) -> Self {
        Self {
            thresholds,
            circuit_opened: None,
        }
    }

    /// Every verdict the snapshot supports.
    pub fn evaluate(&mut self, s: &Snapshot) -> Vec<Verdict> {
        let t = &self.thresholds;
        let mut verdicts = Vec::new();
        if let Some(o) = s.outcomes {
            verdicts.push(error_rate(o, t));
        }
        if let Some((state, opened)) = s.circuit {
            let reopened = self.circuit_opened.is_some_and(|before| opened > before);
            self.circuit_opened = Some(opened);
            verdicts.push(if state != CircuitState::Closed || reopened {
                Verdict::Raise(Alert::new(
                    "circuit_open",
                    Level::Critical,
                    "Provider circuit breaker opened",
                    json!({"state": state.as_str(), "timesOpened": opened}),
                ))
            } else {
                Verdict::Resolve("circuit_open")
            });
        }
        if let Some(q) = s.queue {
            verdicts.push(above(
                q.waiting > t.queue_backlog,
                "queue_backlog",
                Level::Warning,
                "Calls are piling up waiting for a slot",
                json!({"waiting": q.waiting, "threshold": t.queue_backlog}),
            ));
            verdicts.push(above(
                q.longest_wait > t.queue_wait,
                "queue_wait",
                Level::Warning,
                "Calls wait too long for a slot",
                json!({"longestWaitSeconds": q.longest_wait.as_secs_f64(), "thresholdSeconds": t.queue_wait.as_secs_f64()}),
            ));
        }
        if let Some(lag) = s.webhook_lag {
            verdicts.push(above(
                lag > t.webhook_lag,
                "webhook_lag",
                Level::Warning,
                "Provider webhooks arrive late",
                json!({"lagSeconds": lag.as_secs_f64(), "thresholdSeconds": t.webhook_lag.as_secs_f64()}),
            ));
        }
        if let Some(bytes) = s.memory_bytes {
            let level = if bytes > t.memory_critical_bytes {
                Some(Level::Critical)
            } else if bytes > t.memory_warning_bytes {
                Some(Level::Warning)
            } else {
                None
            };
            verdicts.push(leveled(
                level,
                "memory",
                "Process memory is high",
                json!({"residentBytes": bytes, "warningBytes": t.memory_warning_bytes, "criticalBytes": t.memory_critical_bytes}),
            ));
        }
        if let Some(restarts) = s.restarts {
            verdicts.push(above(
                restarts >= t.restart_storm,
                "restart_storm",
                Level::Critical,
                "Supervisors keep restarting actors",
                json!({"restarts": restarts, "threshold": t.restart_storm}),
            ));
        }
        verdicts
    }
}

/// Warning above the warning rate, critical above the critical rate, and nothing
/// either way below the minimum sample.
fn error_rate(o: OutcomeCounts, t: &Thresholds) -> Verdict {
    if o.ended < t.error_rate_min_calls || o.ended == 0 {
        return Verdict::Resolve("error_rate");
    }
    let rate = o.errors as f64 / o.ended as f64;
    let level = if rate > t.error_rate_critical {
        Some(Level::Critical)
    } else if rate > t.error_rate_warning {
        Some(Level::Warning)
    } else {
        None
    };
    leveled(
        level,
        "error_rate",
        "Call error rate is high",
        json!({
            "errorRate": rate,
            "ended": o.ended,
            "errors": o.errors,
            "windowSeconds": t.error_rate_window.as_secs(),
            "warningAbove": t.error_rate_warning,
            "criticalAbove": t.error_rate_critical,
        }),
    )
}

fn above(
    breached: bool,
    key: &'static str,
    level: Level,
    title: &str,
    detail: serde_json::Value,
) -> Verdict {
    leveled(breached.then_some(level), key, title, detail)
}

fn leveled(
    level: Option<Level>,
    key: &'static str,
    title: &str,
    detail: serde_json::Value,
) -> Verdict {
    match level {
        Some(level) => Verdict::Raise(Alert::new(key, level, title, detail)),
        None => Verdict::Resolve(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate_verdict(ended: u64, errors: u64) -> Verdict {
        let mut rules = Rules::new(Thresholds::default());
        let snapshot = Snapshot {
            outcomes: Some(OutcomeCounts { ended, errors }),
            ..Snapshot::default()
        };
        rules.evaluate(&snapshot).remove(0)
    }

    fn level(v: &Verdict) -> Option<Level> {
        match v {
            Verdict::Raise(a) => Some(a.level),
            Verdict::Resolve(_) => None,
        }
    }

    #[test]
    fn error_rate_thresholds_and_minimum_sample() {
        assert_eq!(level(&rate_verdict(100, 9)), None, "9 % is fine");
        assert_eq!(
            level(&rate_verdict(100, 10)),
            None,
            "exactly 10 % is not above"
        );
        assert_eq!(level(&rate_verdict(100, 15)), Some(Level::Warning));
        assert_eq!(level(&rate_verdict(100, 25)), Some(Level::Critical));
        assert_eq!(
            level(&rate_verdict(19, 19)),
            None,
            "below the minimum sample"
        );
        assert_eq!(level(&rate_verdict(0, 0)), None);
    }

    #[test]
    fn the_circuit_rule_sees_an_opening_even_if_it_closed_again_between_looks() {
        let mut rules = Rules::new(Thresholds::default());
        let look = |rules: &mut Rules, state, opened| {
            let s = Snapshot {
                circuit: Some((state, opened)),
                ..Snapshot::default()
            };
            level(&rules.evaluate(&s)[0])
        };
        assert_eq!(look(&mut rules, CircuitState::Closed, 0), None);
        assert_eq!(
            look(&mut rules, CircuitState::Open, 1),
            Some(Level::Critical)
        );
        assert_eq!(
            look(&mut rules, CircuitState::HalfOpen, 1),
            Some(Level::Critical)
        );
        assert_eq!(look(&mut rules, CircuitState::Closed, 1), None);
        assert_eq!(
            look(&mut rules, CircuitState::Closed, 2),
            Some(Level::Critical)
        );
    }

    #[test]
    fn unknown_figures_decide_nothing() {
        let mut rules = Rules::new(Thresholds::default());
        assert!(rules.evaluate(&Snapshot::default()).is_empty());
    }

    #[test]
    fn queue_lag_memory_and_restarts() {
        let mut rules = Rules::new(Thresholds::default());
        let s = Snapshot {
            queue: Some(QueueSnapshot {
                waiting: 501,
                longest_wait: Duration::from_secs(30),
            }),
            webhook_lag: Some(Duration::from_secs(31)),
            memory_bytes: Some(3 * 1024 * 1024 * 1024),
            restarts: Some(9),
            ..Snapshot::default()
        };
        let levels: Vec<Option<Level>> = rules.evaluate(&s).iter().map(level).collect();
        assert_eq!(
            levels,
            [
                Some(Level::Warning),
                None,
                Some(Level::Warning),
                Some(Level::Critical),
                None
            ]
        );
    }
}
