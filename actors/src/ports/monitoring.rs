//! What the monitors need from outside: storage of health checks, sync runs, alerts and
//! the event log; the alert channels; and a look at the process itself.
//!
//! Each concern is a trait of its own so that an adapter implements them in separate
//! files and a test fake can leave out what a test does not touch.

use crate::domain::{AgentId, ClientId};
use crate::monitors::{AlertRecord, HealthCheck, LogEntry, Notice, OutcomeCounts, SyncRun};
use crate::ports::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Results of provider health checks.
#[async_trait]
pub trait HealthStore: Send + Sync + 'static {
    async fn insert_health_check(&self, check: &HealthCheck) -> Result<(), StoreError>;
}

/// The agent a call placed from a number belongs to: its client and answer URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentOwner {
    pub client_id: ClientId,
    pub agent_id: AgentId,
    pub answer_url: String,
}

/// Sync runs, and what reconciliation needs beyond the call store.
#[async_trait]
pub trait SyncStore: Send + Sync + 'static {
    /// Inserts a run, or replaces the run with the same id.
    async fn save_sync_run(&self, run: &SyncRun) -> Result<(), StoreError>;
    /// The latest run that succeeded, if any.
    async fn last_successful_sync(&self) -> Result<Option<SyncRun>, StoreError>;
    /// Marks runs left `in_progress` by a process that stopped as failed; returns how
    /// many there were.
    async fn fail_interrupted_syncs(&self, at: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The one live agent whose caller id is `number`, if exactly one has it.
    async fn agent_by_caller_id(&self, number: &str) -> Result<Option<AgentOwner>, StoreError>;
}

/// Alerts, the event log, and what the alert rules read.
#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    /// Inserts an alert, or replaces the alert with the same id.
    async fn save_alert(&self, alert: &AlertRecord) -> Result<(), StoreError>;
    /// Alerts not resolved yet (to pick up where a restarted AlertManager left off).
    async fn active_alerts(&self) -> Result<Vec<AlertRecord>, StoreError>;
    async fn append_log(&self, entry: &LogEntry) -> Result<(), StoreError>;
    /// How the calls that ended at or after `since` ended.
    async fn call_outcomes_since(&self, since: DateTime<Utc>) -> Result<OutcomeCounts, StoreError>;
}

/// Which records retention deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetainedKind {
    HealthChecks,
    EventLog,
    /// Resolved alerts (an active alert is never deleted, however old).
    ResolvedAlerts,
    /// The event histories (webhooks, dials, restarts) of calls that ended before the
    /// cutoff; the calls themselves, with their outcome, duration and price, stay.
    CallEvents,
}

impl RetainedKind {
    pub const ALL: [RetainedKind; 4] = [
        Self::HealthChecks,
        Self::EventLog,
        Self::ResolvedAlerts,
        Self::CallEvents,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HealthChecks => "health_checks",
            Self::EventLog => "event_log",
            Self::ResolvedAlerts => "alerts",
            Self::CallEvents => "call_events",
        }
    }
}

/// Deleting old records.
#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Deletes the records of `kind` strictly older than `cutoff`; returns how many.
    async fn delete_older_than(
        &self,
        kind: RetainedKind,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
}

/// Why a delivery failed, and whether trying again may help.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    /// A refusal that will not change (a 4xx other than 429) is not retried.
    pub retryable: bool,
}

/// Somewhere alerts are sent: the event log, a webhook, Slack, PagerDuty.
#[async_trait]
pub trait AlertChannel: Send + Sync + 'static {
    /// Short name, used in logs and metric labels.
    fn name(&self) -> &'static str;
    /// One delivery attempt.
    async fn deliver(&self, notice: &Notice) -> Result<(), DeliveryError>;
}

/// A look at the process, for the memory rule.
pub trait ProcessProbe: Send + Sync + 'static {
    /// Resident memory, when the platform tells.
    fn resident_memory_bytes(&self) -> Option<u64>;
}

/// A probe that knows nothing (platforms without `/proc`, tests that do not care).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProbe;

impl ProcessProbe for NoProbe {
    fn resident_memory_bytes(&self) -> Option<u64> {
        None
    }
}
